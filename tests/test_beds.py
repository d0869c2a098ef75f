"""A bed's status through the API: every transition, its event log, expected departures,
removal, and two people changing the same bed at once."""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import date, timedelta

import pytest

from backend.database import is_sqlite, write_transaction
from backend.errors import Conflict
from backend.settings import get_settings
from backend.timeutil import utcnow
from capacity import bed_states, service
from capacity.tables import Bed, OccupancyEvent
from capacity.vocabulary import BedStatus
from tests.support.capacity import (
    assert_problem,
    assert_status_matches_last_event,
    bed_status,
    change,
    events_of,
    hold,
    row_counts,
)

MANUAL = sorted(bed_states.MANUAL_TARGETS)
ALLOWED_BY_HAND = [
    (start, target)
    for start in BedStatus
    for target in MANUAL
    if bed_states.can_transition(start, target)
]
REFUSED_BY_HAND = [
    (start, target)
    for start in BedStatus
    for target in MANUAL
    if not bed_states.can_transition(start, target)
]


def brussels_today() -> date:
    return utcnow().astimezone(get_settings().display_timezone).date()


async def bring_to(client, world, bed: int, status: BedStatus) -> None:
    """Move a bed to `status` the way users do (holds through the placement domain's door)."""
    if await bed_status(bed) == status.value:
        return
    if status is BedStatus.HELD:
        await hold(bed)
    else:
        response = await change(client, world.auth("staff_a"), bed, status.value, "setup")
        assert response.status_code == 200, response.text
    assert await bed_status(bed) == status.value


def test_the_transition_lists_cover_the_design():
    assert set(ALLOWED_BY_HAND) == {
        (BedStatus.AVAILABLE, BedStatus.OCCUPIED),
        (BedStatus.AVAILABLE, BedStatus.OUT_OF_SERVICE),
        (BedStatus.OCCUPIED, BedStatus.AVAILABLE),
        (BedStatus.OCCUPIED, BedStatus.OUT_OF_SERVICE),
        (BedStatus.OUT_OF_SERVICE, BedStatus.AVAILABLE),
        (BedStatus.HELD, BedStatus.AVAILABLE),
        (BedStatus.HELD, BedStatus.OCCUPIED),
        (BedStatus.HELD, BedStatus.OUT_OF_SERVICE),
    }


# ---------------------------------------------------------------------------
# Allowed and refused transitions


@pytest.mark.parametrize(("start", "target"), ALLOWED_BY_HAND, ids=lambda s: str(s))
async def test_allowed_transition_writes_exactly_one_event(client, world, start, target):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, start)
    before = await events_of(bed)
    moment_before = utcnow()

    response = await change(client, world.auth("staff_a"), bed, target.value, "night admission")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == target.value
    after = await events_of(bed)
    assert len(after) == len(before) + 1
    event = after[-1]
    assert event["from_status"] == start.value
    assert event["to_status"] == target.value
    assert event["actor"] == world.users["staff_a"].user_id
    assert event["reason"] == "night admission"
    assert moment_before - timedelta(seconds=1) <= event["at"] <= utcnow() + timedelta(seconds=1)
    await assert_status_matches_last_event(bed)

    shown = await client.get(f"/api/centres/{world.centre_a['id']}", headers=world.auth("staff_a"))
    beds = {b["id"]: b for unit in shown.json()["units"] for b in unit["beds"]}
    assert beds[bed]["status"] == target.value


@pytest.mark.parametrize(("start", "target"), REFUSED_BY_HAND, ids=lambda s: str(s))
async def test_refused_transition_answers_409_naming_the_allowed_ones(client, world, start, target):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, start)
    before = await events_of(bed)

    response = await change(client, world.auth("staff_a"), bed, target.value)

    problem = assert_problem(response, 409, field="status")
    allowed = bed_states.allowed_targets(start)
    assert problem["allowed"] == [str(a) for a in allowed]
    assert problem["current_status"] == start.value
    for name in allowed:
        assert str(name) in problem["detail"]
    assert await events_of(bed) == before
    assert await bed_status(bed) == start.value


@pytest.mark.parametrize("start", list(BedStatus), ids=str)
async def test_a_hold_cannot_be_requested_by_hand(client, world, start):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, start)
    before = await events_of(bed)

    for who in ("staff_a", "admin"):
        response = await change(client, world.auth(who), bed, "held", "keeping it for a friend")
        problem = assert_problem(response, field="status")
        assert "placement request" in problem["detail"]

    assert await events_of(bed) == before
    assert await bed_status(bed) == start.value


async def test_the_placement_domain_holds_a_bed_through_the_service(client, world):
    bed = world.bed(world.centre_a, "A2")
    await hold(bed, "request R-1")

    [*_, event] = await events_of(bed)
    assert (event["from_status"], event["to_status"], event["reason"]) == (
        "available",
        "held",
        "request R-1",
    )
    assert event["actor"] is None
    shown = await client.get(f"/api/beds/{bed}/history", headers=world.auth("staff_a"))
    assert shown.json()[-1]["actor"] is None
    assert shown.json()[-1]["to_status"] == "held"


@pytest.mark.parametrize(
    "start", [BedStatus.HELD, BedStatus.OCCUPIED, BedStatus.OUT_OF_SERVICE], ids=str
)
async def test_only_an_available_bed_can_be_held(client, world, start):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, start)
    before = await events_of(bed)
    with pytest.raises(Conflict) as refused:
        await hold(bed)
    assert refused.value.extra["allowed"] == bed_states.allowed_targets(start)
    assert await events_of(bed) == before


async def test_a_deactivated_bed_cannot_change_status(client, world):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, BedStatus.OUT_OF_SERVICE)
    await bring_to(client, world, bed, BedStatus.AVAILABLE)
    deleted = await client.delete(f"/api/beds/{bed}", headers=world.auth("admin"))
    assert deleted.json()["deleted"] is False
    before = await events_of(bed)

    response = await change(client, world.auth("staff_a"), bed, "occupied")

    assert_problem(response, 409)
    with pytest.raises(Conflict):
        await hold(bed)
    assert await events_of(bed) == before


# ---------------------------------------------------------------------------
# The event log always agrees with the bed


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_status_equals_last_event_over_random_changes(client, world, seed):
    rng = random.Random(seed)
    labels = ["A1", "A2", "A3"]
    beds = {label: world.bed(world.centre_a, label) for label in labels}
    model = {label: BedStatus.AVAILABLE for label in labels}
    expected_events = {label: 1 for label in labels}  # the creation event

    for _ in range(30):
        label = rng.choice(labels)
        bed = beds[label]
        current = model[label]
        if rng.random() < 0.2:
            # The placement domain's door.
            if bed_states.can_transition(current, BedStatus.HELD):
                await hold(bed)
                model[label] = BedStatus.HELD
                expected_events[label] += 1
            else:
                with pytest.raises(Conflict):
                    await hold(bed)
        else:
            target = rng.choice(list(BedStatus))
            who = rng.choice(["staff_a", "admin"])
            response = await change(client, world.auth(who), bed, target.value, f"step {_}")
            if target is BedStatus.HELD:
                assert_problem(response, field="status")
            elif bed_states.can_transition(current, target):
                assert response.status_code == 200, response.text
                model[label] = target
                expected_events[label] += 1
            else:
                assert_problem(response, 409, field="status")
        for each in labels:
            assert await bed_status(beds[each]) == model[each].value
        await assert_status_matches_last_event(bed)

    for label in labels:
        assert len(await events_of(beds[label])) == expected_events[label]
        await assert_status_matches_last_event(beds[label])


# ---------------------------------------------------------------------------
# Events are append-only, even to someone with raw SQL


async def _attempt(sql: str) -> Exception | None:
    try:
        await OccupancyEvent.raw(sql)
    except Exception as error:  # each driver raises its own class
        return error
    return None


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE occupancy_event SET reason = 'rewritten'",
        "UPDATE occupancy_event SET to_status = 'available' WHERE to_status = 'occupied'",
        "UPDATE occupancy_event SET at = at",
        "DELETE FROM occupancy_event WHERE from_status IS NOT NULL",
        "DELETE FROM occupancy_event WHERE from_status IS NULL",
        "DELETE FROM occupancy_event",
    ],
)
async def test_raw_sql_cannot_edit_or_delete_history(client, world, sql):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, BedStatus.OCCUPIED)
    await bring_to(client, world, bed, BedStatus.AVAILABLE)
    # A bed with a single (creation) event: deleting every row must not touch it either.
    events_before = await OccupancyEvent.select().order_by(OccupancyEvent.id)

    error = await _attempt(sql)

    assert error is not None, f"{sql!r} was allowed"
    assert "append-only" in str(error)
    assert await OccupancyEvent.select().order_by(OccupancyEvent.id) == events_before


async def test_orm_cannot_edit_or_delete_history_either(client, world):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, BedStatus.OCCUPIED)
    events_before = await events_of(bed)
    with pytest.raises(Exception, match="append-only"):
        await OccupancyEvent.update({OccupancyEvent.reason: "x"}).where(OccupancyEvent.bed == bed)
    with pytest.raises(Exception, match="append-only"):
        await OccupancyEvent.delete().where(OccupancyEvent.bed == bed)
    with pytest.raises(Exception, match="append-only"):
        async with write_transaction():
            await OccupancyEvent.delete().where(OccupancyEvent.id == events_before[-1]["id"])
    assert await events_of(bed) == events_before


async def test_only_the_sole_creation_event_of_an_unused_bed_may_go(client, world):
    """The one delete the database allows: what removing a never-used bed needs."""
    bed = world.bed(world.centre_a, "A1")
    [creation] = await events_of(bed)
    await OccupancyEvent.raw("DELETE FROM occupancy_event WHERE id = {}", creation["id"])
    assert await events_of(bed) == []


# ---------------------------------------------------------------------------
# History


async def test_history_is_oldest_first_with_actor_names(client, world):
    bed = world.bed(world.centre_a, "A1")
    steps = [("staff_a", "occupied", "admitted"), ("admin", "available", "discharged")]
    for who, status, reason in steps:
        assert (await change(client, world.auth(who), bed, status, reason)).status_code == 200
    await hold(bed, "request R-7")
    assert (
        await change(client, world.auth("staff_a"), bed, "occupied", "arrived")
    ).status_code == 200

    for reader in ("admin", "coordinator", "staff_a"):
        response = await client.get(f"/api/beds/{bed}/history", headers=world.auth(reader))
        assert response.status_code == 200, response.text
        history = response.json()
        assert [(e["actor"], e["from_status"], e["to_status"], e["reason"]) for e in history] == [
            ("admin", None, "available", "bed created"),
            ("staff_a", "available", "occupied", "admitted"),
            ("admin", "occupied", "available", "discharged"),
            (None, "available", "held", "request R-7"),
            ("staff_a", "held", "occupied", "arrived"),
        ]
        moments = [e["at"] for e in history]
        assert moments == sorted(moments)
        assert all(e["bed_id"] == bed for e in history)
        assert all(e["at"].endswith(("Z", "+00:00")) for e in history)


async def test_history_of_an_unknown_bed_is_404(client, world):
    response = await client.get("/api/beds/987654/history", headers=world.auth("admin"))
    problem = assert_problem(response, 404, field="bed_id")
    assert "987654" in problem["detail"]


# ---------------------------------------------------------------------------
# Expected departure


async def _departure(client, world, bed: int, value, who: str = "staff_a"):
    return await client.put(
        f"/api/beds/{bed}/expected-departure",
        headers=world.auth(who),
        json={"expected_departure": value},
    )


async def test_expected_departure_set_on_an_occupied_bed(client, world):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, BedStatus.OCCUPIED)
    events_before = await events_of(bed)
    day = (brussels_today() + timedelta(days=10)).isoformat()

    response = await _departure(client, world, bed, day)

    assert response.status_code == 200, response.text
    assert response.json()["expected_departure"] == day
    assert response.json()["status"] == "occupied"
    shown = await client.get(f"/api/centres/{world.centre_a['id']}", headers=world.auth("officer"))
    beds = {b["id"]: b for unit in shown.json()["units"] for b in unit["beds"]}
    assert beds[bed]["expected_departure"] == day
    # A forecast, not a status change: the log is untouched.
    assert await events_of(bed) == events_before

    today = brussels_today().isoformat()
    assert (await _departure(client, world, bed, today, "admin")).json()[
        "expected_departure"
    ] == today
    cleared = await _departure(client, world, bed, None)
    assert cleared.status_code == 200
    assert cleared.json()["expected_departure"] is None


@pytest.mark.parametrize("start", [BedStatus.AVAILABLE, BedStatus.OUT_OF_SERVICE], ids=str)
async def test_expected_departure_refused_on_a_bed_nobody_occupies(client, world, start):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, start)
    response = await _departure(
        client, world, bed, (brussels_today() + timedelta(days=3)).isoformat()
    )
    assert_problem(response, 409, field="expected_departure")
    row = await Bed.select(Bed.expected_departure).where(Bed.id == bed).first()
    assert row["expected_departure"] is None


async def test_expected_departure_in_the_past_is_refused(client, world):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, BedStatus.OCCUPIED)
    response = await _departure(
        client, world, bed, (brussels_today() - timedelta(days=2)).isoformat()
    )
    problem = assert_problem(response, field="expected_departure")
    assert "past" in problem["detail"]
    row = await Bed.select(Bed.expected_departure).where(Bed.id == bed).first()
    assert row["expected_departure"] is None


@pytest.mark.parametrize("target", ["available", "out_of_service"])
async def test_expected_departure_cleared_when_the_bed_is_freed(client, world, target):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, BedStatus.OCCUPIED)
    day = (brussels_today() + timedelta(days=4)).isoformat()
    assert (await _departure(client, world, bed, day)).status_code == 200

    response = await change(client, world.auth("staff_a"), bed, target, "left")

    assert response.json()["expected_departure"] is None
    row = await Bed.select(Bed.expected_departure).where(Bed.id == bed).first()
    assert row["expected_departure"] is None
    # Occupied again later: the old date does not come back.
    await bring_to(client, world, bed, BedStatus.AVAILABLE)
    await bring_to(client, world, bed, BedStatus.OCCUPIED)
    row = await Bed.select(Bed.expected_departure).where(Bed.id == bed).first()
    assert row["expected_departure"] is None


# ---------------------------------------------------------------------------
# Removing a bed


async def test_a_never_used_bed_is_deleted(client, world):
    bed = world.bed(world.centre_a, "A3")
    counts = await row_counts()

    response = await client.delete(f"/api/beds/{bed}", headers=world.auth("admin"))

    assert response.status_code == 200, response.text
    assert response.json() == {"id": bed, "deleted": True, "bed": None}
    after = await row_counts()
    assert after["bed"] == counts["bed"] - 1
    assert after["event"] == counts["event"] - 1
    assert await Bed.count().where(Bed.id == bed) == 0
    shown = await client.get(f"/api/centres/{world.centre_a['id']}", headers=world.auth("admin"))
    assert "A3" not in [b["label"] for unit in shown.json()["units"] for b in unit["beds"]]
    assert_problem(await client.get(f"/api/beds/{bed}/history", headers=world.auth("admin")), 404)
    assert_problem(await client.delete(f"/api/beds/{bed}", headers=world.auth("admin")), 404)


async def test_a_bed_with_history_is_deactivated_instead_and_keeps_it(client, world):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, BedStatus.OCCUPIED)
    await bring_to(client, world, bed, BedStatus.AVAILABLE)
    history = (await client.get(f"/api/beds/{bed}/history", headers=world.auth("admin"))).json()

    response = await client.delete(f"/api/beds/{bed}", headers=world.auth("admin"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deleted"] is False
    assert body["bed"]["active"] is False
    assert body["bed"]["status"] == "available"
    kept = await client.get(f"/api/beds/{bed}/history", headers=world.auth("admin"))
    assert kept.json() == history
    shown = await client.get(f"/api/centres/{world.centre_a['id']}", headers=world.auth("admin"))
    beds = {b["id"]: b for unit in shown.json()["units"] for b in unit["beds"]}
    assert beds[bed]["active"] is False
    vacancies = await client.get("/api/vacancies", headers=world.auth("officer"))
    assert bed not in [b["id"] for c in vacancies.json()["centres"] for b in c["beds"]]

    # And it can come back.
    back = await client.patch(
        f"/api/beds/{bed}", headers=world.auth("admin"), json={"active": True}
    )
    assert back.status_code == 200
    assert back.json()["active"] is True
    vacancies = await client.get("/api/vacancies", headers=world.auth("officer"))
    assert bed in [b["id"] for c in vacancies.json()["centres"] for b in c["beds"]]


@pytest.mark.parametrize("start", [BedStatus.OCCUPIED, BedStatus.HELD], ids=str)
async def test_a_bed_in_use_cannot_be_deactivated_or_deleted(client, world, start):
    bed = world.bed(world.centre_a, "A1")
    await bring_to(client, world, bed, start)
    counts = await row_counts()

    deleted = await client.delete(f"/api/beds/{bed}", headers=world.auth("admin"))
    patched = await client.patch(
        f"/api/beds/{bed}", headers=world.auth("admin"), json={"active": False}
    )

    for response in (deleted, patched):
        problem = assert_problem(response, 409)
        assert problem["current_status"] == start.value
    row = await Bed.select(Bed.active, Bed.status).where(Bed.id == bed).first()
    assert row == {"active": True, "status": start.value}
    assert await row_counts() == counts


async def test_renaming_a_bed_onto_a_sibling_label_is_refused(client, world):
    bed = world.bed(world.centre_a, "A1")
    response = await client.patch(
        f"/api/beds/{bed}", headers=world.auth("admin"), json={"label": "A2"}
    )
    assert_problem(response, 409, field="label")
    renamed = await client.patch(
        f"/api/beds/{bed}", headers=world.auth("admin"), json={"label": "A1-bis"}
    )
    assert renamed.status_code == 200
    assert renamed.json()["label"] == "A1-bis"
    assert renamed.json()["status"] == "available"


# ---------------------------------------------------------------------------
# Two people change the same bed at once


async def test_conditional_update_refuses_a_change_based_on_a_stale_read(world, monkeypatch):
    """Two requests read the bed as available; the first wins, the second writes nothing."""
    bed = world.bed(world.centre_a, "A1")
    stale = await service._bed_row(bed)
    async with write_transaction():
        await service.transition_bed(
            bed, BedStatus.OCCUPIED, actor_id=world.users["staff_a"].user_id, reason="first"
        )
    events_before = await events_of(bed)

    async def stale_read(bed_id: int):
        return dict(stale)

    monkeypatch.setattr(service, "_bed_row", stale_read)
    with pytest.raises(Conflict) as refused:
        async with write_transaction():
            await service.transition_bed(
                bed,
                BedStatus.OUT_OF_SERVICE,
                actor_id=world.users["admin"].user_id,
                reason="second",
            )
    monkeypatch.undo()

    assert "someone else" in refused.value.detail
    assert await bed_status(bed) == "occupied"
    assert await events_of(bed) == events_before
    await assert_status_matches_last_event(bed)


async def test_two_holds_on_one_bed_at_once_only_one_wins(world):
    bed = world.bed(world.centre_a, "A1")
    results = await asyncio.gather(
        hold(bed, "request 1"), hold(bed, "request 2"), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "NoneType"]
    events = await events_of(bed)
    assert [e["to_status"] for e in events] == ["available", "held"]
    await assert_status_matches_last_event(bed)


async def test_two_requests_from_the_same_start_state_only_one_wins(client, world):
    bed = world.bed(world.centre_a, "A1")
    # Two staff members record an admission into the same free bed at the same moment.
    responses = await asyncio.gather(
        change(client, world.auth("staff_a"), bed, "occupied", "admission by the police"),
        change(client, world.auth("admin"), bed, "occupied", "admission by a youth worker"),
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409], [r.text for r in responses]
    [winner] = [r.json() for r in responses if r.status_code == 200]
    events = await events_of(bed)
    assert len(events) == 2
    assert events[-1]["from_status"] == "available"
    assert events[-1]["to_status"] == winner["status"]
    await assert_status_matches_last_event(bed)


async def test_two_transactions_that_both_read_the_bed_free_write_once(world, monkeypatch):
    """Both transactions read 'available' before either writes (where the engine lets them:
    SQLite's immediate transactions queue the second before it reads). The conditional
    update lets exactly one through."""
    bed = world.bed(world.centre_a, "A1")
    real_read = service._bed_row
    readers: set[asyncio.Task] = set()
    both_read = asyncio.Event()

    async def read_then_wait_for_the_other(bed_id: int):
        row = await real_read(bed_id)
        task = asyncio.current_task()
        if task not in readers:
            readers.add(task)
            if len(readers) == 2:
                both_read.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(both_read.wait(), timeout=0.5)
        return row

    monkeypatch.setattr(service, "_bed_row", read_then_wait_for_the_other)

    async def admit(who: str) -> None:
        async with write_transaction():
            await service.transition_bed(
                bed, BedStatus.OCCUPIED, actor_id=world.users[who].user_id, reason=who
            )

    results = await asyncio.gather(admit("staff_a"), admit("admin"), return_exceptions=True)
    monkeypatch.undo()

    [refused] = [r for r in results if isinstance(r, Exception)]
    assert isinstance(refused, Conflict), refused
    if not is_sqlite():
        assert "someone else" in refused.detail
    events = await events_of(bed)
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        (None, "available"),
        ("available", "occupied"),
    ]
    await assert_status_matches_last_event(bed)


async def test_a_change_based_on_what_the_user_saw_is_refused_if_the_bed_moved_since(client, world):
    bed = world.bed(world.centre_a, "A1")
    headers = world.auth("staff_a")
    # Two colleagues look at the same free bed; the first records an admission.
    assert (await change(client, headers, bed, "occupied")).status_code == 200
    # The second, still seeing it free, marks it out of service: refused, nothing written.
    response = await client.post(
        f"/api/beds/{bed}/status",
        headers=headers,
        json={"status": "out_of_service", "expected_status": "available"},
    )
    body = assert_problem(response, 409, "status")
    assert body["current_status"] == "occupied"
    assert await bed_status(bed) == "occupied"
    assert len(await events_of(bed)) == 2
    # Saying what is really there goes through.
    response = await client.post(
        f"/api/beds/{bed}/status",
        headers=headers,
        json={"status": "out_of_service", "expected_status": "occupied"},
    )
    assert response.status_code == 200, response.text
