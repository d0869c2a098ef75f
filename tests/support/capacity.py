"""Helpers for capacity tests: problem-details checks, row counts, events, holds, old history."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

import httpx

from backend.database import write_transaction
from capacity import service
from capacity.tables import Bed, Centre, OccupancyEvent, Unit
from capacity.vocabulary import BedStatus

PROBLEM_TYPE = "application/problem+json"


def assert_problem(
    response: httpx.Response, status: int | None = None, field: str | None = None
) -> dict[str, Any]:
    """An RFC 9457 problem: its media type, the standard members, and the field at fault."""
    assert response.status_code != 500, response.text
    assert 400 <= response.status_code < 500, response.text
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_TYPE), response.headers
    body = response.json()
    for member in ("type", "title", "status", "detail"):
        assert member in body, body
    assert body["status"] == response.status_code
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if field is not None:
        fields = [error.get("field") for error in body.get("errors") or []]
        assert field in fields, body
    return body


async def row_counts() -> dict[str, int]:
    return {
        "centre": await Centre.count(),
        "unit": await Unit.count(),
        "bed": await Bed.count(),
        "event": await OccupancyEvent.count(),
    }


async def events_of(bed_id: int) -> list[dict[str, Any]]:
    """A bed's events in the order they happened."""
    return (
        await OccupancyEvent.select()
        .where(OccupancyEvent.bed == bed_id)
        .order_by(OccupancyEvent.at)
        .order_by(OccupancyEvent.id)
    )


async def bed_status(bed_id: int) -> str:
    row = await Bed.select(Bed.status).where(Bed.id == bed_id).first()
    assert row is not None
    return row["status"]


async def assert_status_matches_last_event(bed_id: int) -> None:
    events = await events_of(bed_id)
    assert events, f"bed {bed_id} has no event"
    assert await bed_status(bed_id) == events[-1]["to_status"]
    # The chain is unbroken: every event starts where the previous one ended.
    assert events[0]["from_status"] is None
    for before, after in pairwise(events):
        assert after["from_status"] == before["to_status"]


async def hold(bed_id: int, reason: str = "held for a placement request") -> None:
    """Hold a bed the way the placement domain does: through the capacity service."""
    async with write_transaction():
        await service.transition_bed(bed_id, BedStatus.HELD, actor_id=None, reason=reason)


async def change(
    client: httpx.AsyncClient, headers: dict[str, str], bed_id: int, status: str, reason: str = ""
) -> httpx.Response:
    return await client.post(
        f"/api/beds/{bed_id}/status", headers=headers, json={"status": status, "reason": reason}
    )


async def add_old_bed(
    centre_id: int,
    at: datetime,
    *,
    label: str = "OLD1",
    status: BedStatus = BedStatus.AVAILABLE,
    min_age: int = 12,
    max_age: int = 17,
    gender_policy: str = "mixed",
) -> int:
    """A unit and bed whose whole history lies at `at` (events cannot be edited afterwards,
    so an old state is made by writing old events directly)."""
    unit = (
        await Unit.insert(
            Unit(
                centre=centre_id,
                name="Old unit",
                min_age=min_age,
                max_age=max_age,
                gender_policy=gender_policy,
            )
        ).returning(Unit.id)
    )[0]["id"]
    bed = (
        await Bed.insert(Bed(unit=unit, label=label, status=status.value, created_at=at)).returning(
            Bed.id
        )
    )[0]["id"]
    await OccupancyEvent.insert(
        OccupancyEvent(
            bed=bed,
            centre=centre_id,
            at=at,
            from_status=None,
            to_status="available",
            reason="bed created",
        )
    )
    if status is not BedStatus.AVAILABLE:
        await OccupancyEvent.insert(
            OccupancyEvent(
                bed=bed,
                centre=centre_id,
                at=at,
                from_status="available",
                to_status=status.value,
                reason="",
            )
        )
    return bed
