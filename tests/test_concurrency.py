"""No double booking, through a real server process and real concurrent database connections.

The app runs under uvicorn on 127.0.0.1, on the migrated test database (started once for
this module: each test then resets the database and builds the small test world while the
server is idle). A test fires its requests all at once (asyncio.gather): the server runs them
on its own database connections, as it would for officers on different machines. On SQLite
the test and the server share the database file.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from backend.tables import IdempotencyRecord
from capacity import service as capacity
from capacity.schemas import BedStatusChange
from capacity.vocabulary import BedStatus
from placement.tables import Hold, PlacementRequest, RequestEvent
from tests.support.capacity import assert_problem, bed_status
from tests.support.placement import create_request, hold, open_case
from tests.support.server import AppServer
from tests.support.world import World

# The scheduler would only add noise here (its own tests are in test_scheduler.py).
SERVER_ENV = {"SCHEDULER_ENABLED": "0"}


@pytest.fixture(scope="module")
def server(migrated: None) -> Iterator[AppServer]:
    with AppServer(env=SERVER_ENV) as running:
        yield running


@pytest.fixture
async def http(server: AppServer, world: World) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the server, once this test's world is built."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
        yield client


async def leave_one_free_bed(world: World) -> int:
    """Every bed of the network out of service but A1 (centre A, girls 12-17)."""
    last_bed = world.bed(world.centre_a, "A1")
    for centre in (world.centre_a, world.centre_b):
        for unit in centre["units"]:
            for bed in unit["beds"]:
                if bed["id"] != last_bed:
                    await capacity.change_bed_status(
                        world.users["admin"],
                        bed["id"],
                        BedStatusChange(status=BedStatus.OUT_OF_SERVICE, reason="repairs"),
                    )
    return last_bed


async def history(http: httpx.AsyncClient, world: World, bed_id: int) -> list[dict]:
    response = await http.get(f"/api/beds/{bed_id}/history", headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    return response.json()


async def test_fifty_requests_race_for_the_last_free_bed_and_one_wins(
    http: httpx.AsyncClient, world: World
):
    last_bed = await leave_one_free_bed(world)
    cases = await asyncio.gather(*(open_case(http, world) for _ in range(50)))
    created = await asyncio.gather(*(create_request(http, world, c["case_code"]) for c in cases))
    # Every request is shown the one bed left: it stays open, ready to hold it.
    assert {tuple(c["bed_id"] for c in made["match"]["candidates"]) for made in created} == {
        (last_bed,)
    }
    request_ids = [made["request"]["id"] for made in created]

    responses = await asyncio.gather(
        *(hold(http, world, request_id, last_bed) for request_id in request_ids)
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: 49}, [r.text for r in responses if r.status_code != 201]
    [won] = [r.json() for r in responses if r.status_code == 201]
    assert won["bed_id"] == last_bed and won["status"] == "pending"
    for response in responses:
        if response.status_code == 409:
            problem = assert_problem(response, 409, field="bed_id")
            assert "Bed A1" in problem["detail"], problem
            assert "no longer available" in problem["detail"], problem

    # The bed was held once, by the winner, and its history says so exactly once.
    assert await bed_status(last_bed) == "held"
    events = await history(http, world, last_bed)
    assert [e["to_status"] for e in events].count("held") == 1, events
    assert events[-1]["to_status"] == "held"
    assert events[-1]["reason"] == f"held for request {won['request_id']}"
    assert await Hold.count() == 1
    # The 49 others are still open, with nothing held in their history.
    rows = await PlacementRequest.select(PlacementRequest.id, PlacementRequest.status)
    by_status = Counter(row["status"] for row in rows)
    assert by_status == {"open": 49, "held": 1}
    assert {row["id"] for row in rows if row["status"] == "held"} == {won["request_id"]}
    assert await RequestEvent.count().where(RequestEvent.action == "held") == 1


async def test_one_request_holds_one_bed_at_a_time(http: httpx.AsyncClient, world: World):
    # Twenty free beds that suit the girl: A1-A3 and seventeen more in the same unit.
    response = await http.post(
        f"/api/units/{world.centre_a['units'][0]['id']}/beds",
        headers=world.auth("admin"),
        json={"labels": [f"A{n}" for n in range(4, 21)]},
    )
    assert response.status_code == 201, response.text
    beds = [world.bed(world.centre_a, label) for label in ("A1", "A2", "A3")]
    beds += [bed["id"] for bed in response.json()]
    assert len(beds) == 20
    case = await open_case(http, world)
    request_id = (await create_request(http, world, case["case_code"]))["request"]["id"]

    responses = await asyncio.gather(*(hold(http, world, request_id, bed) for bed in beds))

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: 19}, [r.text for r in responses if r.status_code != 201]
    [won] = [r.json() for r in responses if r.status_code == 201]
    for response in responses:
        if response.status_code == 409:
            problem = assert_problem(response, 409, field="request_id")
            assert f"Request {request_id} is held" in problem["detail"], problem
    assert await Hold.count() == 1
    for bed in beds:
        expected = "held" if bed == won["bed_id"] else "available"
        assert await bed_status(bed) == expected, bed
        if bed != won["bed_id"]:
            assert [e["to_status"] for e in await history(http, world, bed)] == ["available"]
    detail = await http.get(f"/api/requests/{request_id}", headers=world.auth("officer"))
    assert detail.json()["status"] == "held"
    assert detail.json()["hold"]["bed_id"] == won["bed_id"]


async def test_ten_retries_with_one_idempotency_key_create_one_request(
    http: httpx.AsyncClient, world: World
):
    case = await open_case(http, world)
    body = {"case_code": case["case_code"], "urgency": "immediate", "notes": "night call"}
    headers = {**world.auth("officer"), "Idempotency-Key": "night-call-0001"}

    responses = await asyncio.gather(
        *(http.post("/api/requests", json=body, headers=headers) for _ in range(10))
    )

    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1, "every retry gets the first answer"
    replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
    assert replayed.count("true") == 9, replayed
    request_id = responses[0].json()["request"]["id"]
    rows = await PlacementRequest.select(PlacementRequest.id)
    assert rows == [{"id": request_id}]
    assert await RequestEvent.count().where(RequestEvent.action == "created") == 1
    assert await IdempotencyRecord.count() == 1


async def test_a_batch_confirmation_racing_single_holds_never_fails_with_a_server_error(
    http: httpx.AsyncClient, world: World
):
    """The coordinator confirms a batch of holds while officers hold some of the same beds one
    by one: each call either wins or gets a clear 409, never a 500 (on PostgreSQL the two
    would deadlock if they took the bed rows and the registry's stamp in different orders),
    and no bed ends up held twice."""
    beds = [world.bed(world.centre_a, label) for label in ("A1", "A2", "A3")]
    for centre in (world.centre_a, world.centre_b):
        for unit in centre["units"]:
            for bed in unit["beds"]:
                await capacity.change_bed_status(
                    world.users["admin"],
                    bed["id"],
                    BedStatusChange(status=BedStatus.OUT_OF_SERVICE, reason="full"),
                )
    cases = await asyncio.gather(*(open_case(http, world) for _ in range(6)))
    created = await asyncio.gather(*(create_request(http, world, c["case_code"]) for c in cases))
    assert {made["request"]["status"] for made in created} == {"waiting"}
    for bed in beds:
        await capacity.change_bed_status(
            world.users["admin"], bed, BedStatusChange(status=BedStatus.AVAILABLE, reason="free")
        )
    batch, singles = created[:3], created[3:]
    confirm = http.post(
        "/api/allocations/confirm",
        headers=world.auth("coordinator"),
        json={
            "assignments": [
                {"request_id": made["request"]["id"], "bed_id": bed}
                for made, bed in zip(batch, beds, strict=True)
            ]
        },
    )
    responses = await asyncio.gather(
        confirm,
        *(
            hold(http, world, made["request"]["id"], bed)
            for made, bed in zip(singles, beds[::-1], strict=True)
        ),
    )
    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    held_beds = [row["bed"] for row in await Hold.select(Hold.bed)]
    assert len(held_beds) == len(set(held_beds))
    if responses[0].status_code == 201:
        assert sorted(held_beds) == sorted(beds)
    for bed in beds:
        events = await history(http, world, bed)
        assert [e["to_status"] for e in events].count("held") <= 1, events
