"""Alert helpers for API tests: rota, subscriptions, SMTP, a placed minor, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.placement import answer, create_request, flagged_case, held
from tests.support.world import World

SECRET = "a-webhook-secret-of-test-" + "s" * 8


def local(moment: datetime) -> str:
    """A UTC moment as a Brussels wall-clock time, the way admins type shifts."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Europe/Brussels")).strftime("%Y-%m-%dT%H:%M:%S")


async def on_call(
    client, world: World, user: str, level: int = 1, region: str = "BE", hours: float = 8
) -> list[dict]:
    """`user` on call at `level` from a minute ago for `hours`."""
    now = datetime.now(UTC)
    body = {
        "region": region,
        "level": level,
        "user_id": world.users[user].user_id,
        "starts_local": local(now - timedelta(minutes=1)),
        "ends_local": local(now + timedelta(hours=hours)),
    }
    response = await client.post("/api/oncall/shifts", json=body, headers=world.auth("admin"))
    assert response.status_code == 201, response.text
    return response.json()


async def personal_webhook(client, world: World, user: str, url: str, **fields) -> dict:
    body = {
        "name": f"pager of {user}",
        "channel": "webhook",
        "url": url,
        "secret": SECRET,
        "user_id": world.users[user].user_id,
        **fields,
    }
    response = await client.post("/api/subscriptions", json=body, headers=world.auth("admin"))
    assert response.status_code == 201, response.text
    return response.json()


async def external_webhook(client, world: World, url: str, kinds: list[str], **fields) -> dict:
    body = {
        "name": "Missing persons unit",
        "channel": "webhook",
        "url": url,
        "secret": SECRET,
        "kinds": kinds,
        **fields,
    }
    response = await client.post("/api/subscriptions", json=body, headers=world.auth("admin"))
    assert response.status_code == 201, response.text
    return response.json()


async def use_mailbox(client, world: World, port: int) -> None:
    body = {"host": "127.0.0.1", "port": port, "security": "none", "sender": "alerts@safebed.test"}
    response = await client.put("/api/settings/smtp", json=body, headers=world.auth("admin"))
    assert response.status_code == 200, response.text


async def set_email(client, world: World, user: str, address: str, language: str = "en") -> None:
    response = await client.patch(
        f"/api/users/{world.users[user].user_id}",
        json={"email": address, "language": language},
        headers=world.auth("admin"),
    )
    assert response.status_code == 200, response.text


async def placed_minor(client, world: World, age: int = 14, bed: str = "A1") -> dict[str, Any]:
    """A flagged girl placed in centre A (bed A1): returns the stay."""
    case = await flagged_case(client, world, age=age)
    request = await create_request(client, world, case["case_code"])
    hold = await held(client, world, request["request"]["id"], world.bed(world.centre_a, bed))
    stay = await answer(client, world, hold["id"], "admit", "staff_a")
    return {**stay, "case_code": case["case_code"], "request_id": request["request"]["id"]}


async def report_runaway(client, world: World, stay_id: int, **fields) -> dict:
    body = {"last_seen_at": datetime.now(UTC).isoformat(), **fields}
    response = await client.post(
        f"/api/stays/{stay_id}/runaways", json=body, headers=world.auth("staff_a")
    )
    assert response.status_code == 201, response.text
    return response.json()


async def eventually(
    check: Callable[[], Awaitable[Any]],
    timeout: float = 10.0,  # noqa: ASYNC109 (a polling deadline, not a cancellation)
) -> Any:
    """Await `check()` until it returns something truthy (the event loop keeps running)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def received(
    receiver,
    count: int,
    kind: str | None = None,
    timeout: float = 10.0,  # noqa: ASYNC109 (a polling deadline, not a cancellation)
):
    async def enough():
        got = receiver.of_kind(kind) if kind else receiver.accepted()
        return got if len(got) >= count else None

    return await eventually(enough, timeout)
