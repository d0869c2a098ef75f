"""The waiting list: a request no bed fits waits; the bed that frees first (discharge, refusal,
expiry, back in service) is offered to the highest-priority waiting request it suits."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from backend import events
from backend.timeutil import utcnow
from placement import service
from tests.support.placement import (
    answer,
    create_request,
    held,
    open_case,
    request_detail,
    set_bed_status,
)

OFFER = service.WAITING_REQUEST_OFFER


async def boys_request(client, world, **fields) -> dict:
    """A request for a 15-year-old boy (only the beds B1 and B2 suit him)."""
    case = await open_case(client, world, gender="boy")
    return await create_request(client, world, case["case_code"], **fields)


async def waiting_boy(client, world, **fields) -> dict:
    created = await boys_request(client, world, **fields)
    assert created["request"]["status"] == "waiting", created
    return created["request"]


async def offers() -> list[dict]:
    return [event["payload"] for event in await events.events_of(OFFER)]


def offered_events(detail: dict) -> list[dict]:
    return [event for event in detail["events"] if event["action"] == "offered"]


async def waiting_ids(client, world) -> list[int]:
    response = await client.get("/api/requests/waiting", headers=world.auth("officer"))
    assert response.status_code == 200, response.text
    assert {request["status"] for request in response.json()} <= {"waiting"}
    return [request["id"] for request in response.json()]


async def test_a_request_no_bed_fits_waits(client, world):
    for label in ("B1", "B2"):
        await set_bed_status(
            client, world, world.bed(world.centre_a, label), "out_of_service", "staff_a"
        )
    before = utcnow()

    created = await boys_request(client, world)
    request, match = created["request"], created["match"]
    assert request["status"] == "waiting"
    assert match["request_status"] == "waiting"
    assert match["candidates"] == [] and match["candidate_count"] == 0
    assert match["excluded"]["not_available"] == 2
    assert match["excluded"]["gender"] == 5
    assert sum(match["excluded"].values()) == match["total_beds"] == 7
    assert "2 excluded by availability" in match["exclusion_summary"]
    assert "5 by gender" in match["exclusion_summary"]

    detail = await request_detail(client, world, request["id"])
    assert detail["status"] == "waiting"
    assert before <= datetime.fromisoformat(detail["waiting_since"]) <= utcnow()
    last = detail["events"][-1]
    assert (last["action"], last["from_status"], last["to_status"]) == (
        "no_candidate",
        "open",
        "waiting",
    )
    assert "gender" in last["reason"]
    assert await waiting_ids(client, world) == [request["id"]]
    # An immediate request left without a bed is a fact the on-call coordinator hears about.
    unmatched = await events.events_of(service.URGENT_REQUEST_UNMATCHED)
    assert [event["payload"]["request_id"] for event in unmatched] == [request["id"]]


async def _occupy_b1(client, world, how: str) -> dict:
    """Make bed B1 unavailable in the way `how` will later free it; returns what frees it."""
    b1 = world.bed(world.centre_a, "B1")
    if how == "back_in_service":
        await set_bed_status(client, world, b1, "out_of_service", "staff_a")
        return {}
    first = (await boys_request(client, world))["request"]
    the_hold = await held(client, world, first["id"], b1)
    if how == "discharge":
        await answer(client, world, the_hold["id"], "accept", "staff_a")
        stay = await answer(client, world, the_hold["id"], "admit", "staff_a")
        return {"stay": stay}
    return {"hold": the_hold}


async def _free_b1(client, world, how: str, occupant: dict) -> None:
    b1 = world.bed(world.centre_a, "B1")
    if how == "discharge":
        response = await client.post(
            f"/api/stays/{occupant['stay']['id']}/end",
            json={"reason": "discharge"},
            headers=world.auth("staff_a"),
        )
        assert response.status_code == 200, response.text
    elif how == "refusal":
        await answer(
            client, world, occupant["hold"]["id"], "refuse", "staff_a", {"reason": "safety"}
        )
    elif how == "expiry":
        assert await service.release_expired_holds(now=utcnow() + timedelta(hours=3)) == 1
    elif how == "back_in_service":
        await set_bed_status(client, world, b1, "available", "staff_a")
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["discharge", "refusal", "expiry", "back_in_service"])
async def test_a_freed_bed_is_offered_to_the_waiting_request(client, world, how):
    b1, b2 = world.bed(world.centre_a, "B1"), world.bed(world.centre_a, "B2")
    await set_bed_status(client, world, b2, "out_of_service", "staff_a")
    occupant = await _occupy_b1(client, world, how)
    waiting = await waiting_boy(client, world)
    assert await offers() == []

    await _free_b1(client, world, how, occupant)

    [offer] = await offers()
    assert offer["request_id"] == waiting["id"]
    assert offer["bed_id"] == b1
    assert offer["officer_id"] == world.users["officer"].user_id
    assert offer["centre_id"] == world.centre_a["id"]
    detail = await request_detail(client, world, waiting["id"])
    assert detail["status"] == "waiting"  # an offer, not a hold: the officer decides
    [event] = offered_events(detail)
    assert event["detail"]["bed_id"] == b1
    assert "B1" in event["reason"]

    # The officer holds the offered bed straight from the waiting list.
    the_hold = await held(client, world, waiting["id"], b1)
    assert the_hold["status"] == "pending"
    detail = await request_detail(client, world, waiting["id"])
    assert detail["status"] == "held"
    assert detail["waiting_since"] is None
    last = detail["events"][-1]
    assert (last["action"], last["from_status"], last["to_status"]) == ("held", "waiting", "held")
    assert await waiting_ids(client, world) == []


async def test_priority_is_urgency_then_time_waited(client, world):
    b1, b2 = world.bed(world.centre_a, "B1"), world.bed(world.centre_a, "B2")
    for bed in (b1, b2):
        await set_bed_status(client, world, bed, "out_of_service", "staff_a")
    in_three_days = (date.today() + timedelta(days=3)).isoformat()
    planned = await waiting_boy(client, world, urgency="planned", needed_on=in_three_days)
    within_a_day = await waiting_boy(client, world, urgency="within_24h")
    immediate_first = await waiting_boy(client, world, urgency="immediate")
    immediate_second = await waiting_boy(client, world, urgency="immediate")

    assert await waiting_ids(client, world) == [
        immediate_first["id"],
        immediate_second["id"],
        within_a_day["id"],
        planned["id"],
    ]

    await set_bed_status(client, world, b1, "available", "staff_a")
    assert [offer["request_id"] for offer in await offers()] == [immediate_first["id"]]
    await held(client, world, immediate_first["id"], b1)

    await set_bed_status(client, world, b2, "available", "staff_a")
    assert [(offer["request_id"], offer["bed_id"]) for offer in await offers()] == [
        (immediate_first["id"], b1),
        (immediate_second["id"], b2),
    ]
    for request in (within_a_day, planned):
        assert offered_events(await request_detail(client, world, request["id"])) == []
    assert await waiting_ids(client, world) == [
        immediate_second["id"],
        within_a_day["id"],
        planned["id"],
    ]


async def test_a_waiting_request_the_bed_does_not_suit_is_skipped(client, world):
    for centre, labels, staff in (
        (world.centre_a, ("A1", "A2", "A3", "B1", "B2"), "staff_a"),
        (world.centre_b, ("E1", "E2"), "staff_b"),
    ):
        for label in labels:
            await set_bed_status(client, world, world.bed(centre, label), "out_of_service", staff)
    girl = await open_case(client, world)
    girl_request = (await create_request(client, world, girl["case_code"]))["request"]
    assert girl_request["status"] == "waiting"
    boy_request = await waiting_boy(client, world, urgency="within_24h")
    # The girl's immediate request comes first on the list...
    assert await waiting_ids(client, world) == [girl_request["id"], boy_request["id"]]

    # ...but a boys' bed does not suit her: it goes to the boy.
    await set_bed_status(client, world, world.bed(world.centre_a, "B1"), "available", "staff_a")
    assert [offer["request_id"] for offer in await offers()] == [boy_request["id"]]
    assert offered_events(await request_detail(client, world, girl_request["id"])) == []

    # A girls' bed goes to her.
    a1 = world.bed(world.centre_a, "A1")
    await set_bed_status(client, world, a1, "available", "staff_a")
    assert [(o["request_id"], o["bed_id"]) for o in await offers()][-1] == (girl_request["id"], a1)
    assert len(offered_events(await request_detail(client, world, girl_request["id"]))) == 1


async def test_one_open_offer_at_a_time_per_request(client, world):
    """An officer who has not yet answered an offer does not take every bed that frees up:
    the next bed goes to the next request in line; once the first offered bed is gone, the
    first request is back in line."""
    b1, b2 = world.bed(world.centre_a, "B1"), world.bed(world.centre_a, "B2")
    for bed in (b1, b2):
        await set_bed_status(client, world, bed, "out_of_service", "staff_a")
    first = await waiting_boy(client, world)
    second = await waiting_boy(client, world)

    await set_bed_status(client, world, b1, "available", "staff_a")
    await set_bed_status(client, world, b2, "available", "staff_a")
    assert [(o["request_id"], o["bed_id"]) for o in await offers()] == [
        (first["id"], b1),
        (second["id"], b2),
    ]

    # B1 is taken out of service again before the first officer answered: the next bed
    # that frees is offered to the first request again.
    await set_bed_status(client, world, b1, "out_of_service", "staff_a")
    await set_bed_status(client, world, b1, "available", "staff_a")
    assert [(o["request_id"], o["bed_id"]) for o in await offers()][-1] == (first["id"], b1)
