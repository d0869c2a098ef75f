"""A placement request from first search to discharge, through the HTTP API: ranked candidates,
holds and their deadlines, the centre's answer, admission, refusal, expiry, cancellation,
fallback placements, the guard on manual bed changes, validation and idempotent retries."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from backend import events
from backend.timeutil import utcnow
from placement import service
from placement.tables import Hold, PlacementRequest
from tests.support.capacity import assert_problem
from tests.support.placement import (
    answer,
    bed_history,
    centre_bed_status,
    create_request,
    flagged_case,
    held,
    hold,
    open_case,
    request_detail,
    set_bed_status,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def transitions(detail: dict) -> list[tuple]:
    """(action, from, to, actor) of every status change of a request, in order."""
    return [
        (event["action"], event["from_status"], event["to_status"], event["actor"])
        for event in detail["events"]
        if event["to_status"] is not None
    ]


def actions(detail: dict) -> list[str]:
    return [event["action"] for event in detail["events"]]


async def held_request(client, world, *, flagged: bool = True, bed: str = "E1", **fields):
    """A request for a 15-year-old girl, with `bed` held for it: (request, hold)."""
    if flagged:
        case = await flagged_case(client, world)
    else:
        case = await open_case(client, world)
    created = await create_request(client, world, case["case_code"], **fields)
    centre = world.centre_b if bed.startswith("E") else world.centre_a
    the_hold = await held(client, world, created["request"]["id"], world.bed(centre, bed))
    return created["request"], the_hold


# ---------------------------------------------------------------------------
# The whole lifecycle


async def test_request_hold_accept_admit_discharge(client, world):
    case = await flagged_case(client, world)
    assert case["exploitation_flagged"] is True
    e1, e2 = world.bed(world.centre_b, "E1"), world.bed(world.centre_b, "E2")

    created = await create_request(client, world, case["case_code"], urgency="immediate")
    request, match = created["request"], created["match"]
    assert request["status"] == "open"
    assert match["request_status"] == "open"

    # The specialised centre's beds come first; the general girls' beds follow as fallbacks.
    candidates = match["candidates"]
    assert {c["bed_id"] for c in candidates[:2]} == {e1, e2}
    first = candidates[0]
    assert first["rank"] == 1
    assert first["centre_name"] == "Esperanto (test)"
    assert first["specialised"] is True and first["fallback"] is False
    assert first["reasons"] and all(isinstance(reason, str) for reason in first["reasons"])
    assert first["parts"] and all(part["reason"] for part in first["parts"])
    assert first["score"] == pytest.approx(sum(part["points"] for part in first["parts"]), abs=0.1)
    assert [c["score"] for c in candidates] == sorted(
        (c["score"] for c in candidates), reverse=True
    )
    assert {c["centre_name"] for c in candidates[2:]} == {"Maison des Tilleuls"}
    assert all(c["fallback"] for c in candidates[2:])
    # The boys' beds are excluded, and counted.
    assert match["candidate_count"] == 5
    assert match["excluded"]["gender"] == 2
    assert match["total_beds"] == 7
    assert match["candidate_count"] + sum(match["excluded"].values()) == match["total_beds"]
    assert "2 excluded by gender" in match["exclusion_summary"]

    before = utcnow()
    the_hold = await held(client, world, request["id"], e1)
    after = utcnow()
    assert the_hold["status"] == "pending"
    assert the_hold["bed_id"] == e1 and the_hold["centre_id"] == world.centre_b["id"]
    # An immediate request: the centre answers within 30 minutes, the bed is kept 2 hours.
    assert before + timedelta(minutes=30) <= at(the_hold["respond_by"])
    assert at(the_hold["respond_by"]) <= after + timedelta(minutes=30)
    assert before + timedelta(hours=2) <= at(the_hold["expires_at"])
    assert at(the_hold["expires_at"]) <= after + timedelta(hours=2)
    # The confidential address stays hidden from the officer while the centre has not said yes.
    assert the_hold["centre_address"] is None
    assert await centre_bed_status(client, world, world.centre_b["id"], e1) == "held"

    detail = await request_detail(client, world, request["id"])
    assert detail["status"] == "held"
    assert detail["hold"]["id"] == the_hold["id"]
    assert detail["hold"]["centre_address"] is None

    # The centre sees the hold, with its own address, and accepts.
    waiting_for_centre = await client.get("/api/holds/", headers=world.auth("staff_b"))
    assert [h["id"] for h in waiting_for_centre.json()] == [the_hold["id"]]
    accepted = await answer(client, world, the_hold["id"], "accept", "staff_b")
    assert accepted["status"] == "accepted"
    detail = await request_detail(client, world, request["id"])
    assert detail["status"] == "accepted"
    assert detail["hold"]["centre_address"] == "Adresse confidentielle 7"
    assert await centre_bed_status(client, world, world.centre_b["id"], e1) == "held"

    stay = await answer(client, world, the_hold["id"], "admit", "staff_b")
    assert stay["status"] == "active"
    assert stay["bed_id"] == e1 and stay["fallback"] is False and stay["unmet_needs"] == []
    detail = await request_detail(client, world, request["id"])
    assert detail["status"] == "placed"
    assert detail["stay"]["id"] == stay["id"]
    assert detail["hold"] is None  # no hold in force any more: it became the stay
    assert [h["status"] for h in detail["holds"]] == ["admitted"]
    assert await centre_bed_status(client, world, world.centre_b["id"], e1) == "occupied"

    ended = await client.post(
        f"/api/stays/{stay['id']}/end", json={"reason": "discharge"}, headers=world.auth("staff_b")
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "ended"
    assert ended.json()["end_reason"] == "discharge"
    assert await centre_bed_status(client, world, world.centre_b["id"], e1) == "available"

    detail = await request_detail(client, world, request["id"])
    assert transitions(detail) == [
        ("created", None, "open", "officer"),
        ("held", "open", "held", "officer"),
        ("accepted", "held", "accepted", "staff_b"),
        ("admitted", "accepted", "placed", "staff_b"),
    ]
    assert actions(detail) == ["created", "candidates_shown", "held", "accepted", "admitted"]
    held_event = detail["events"][2]
    assert "E1" in held_event["reason"] and "Esperanto (test)" in held_event["reason"]
    assert held_event["detail"]["hold_id"] == the_hold["id"]
    times = [at(event["at"]) for event in detail["events"]]
    assert times == sorted(times)

    # The bed's own history tells the same story.
    history = [(e["from_status"], e["to_status"]) for e in await bed_history(client, world, e1)]
    assert history == [
        (None, "available"),
        ("available", "held"),
        ("held", "occupied"),
        ("occupied", "available"),
    ]


# ---------------------------------------------------------------------------
# Refusal


async def test_refusal_frees_the_bed_and_reopens_the_request(client, world):
    request, the_hold = await held_request(client, world)
    e1 = the_hold["bed_id"]

    other = await client.post(
        f"/api/holds/{the_hold['id']}/refuse",
        json={"reason": "other"},
        headers=world.auth("staff_b"),
    )
    body = assert_problem(other, 422, field="text")
    assert "text" in body["detail"]
    assert (await request_detail(client, world, request["id"]))["status"] == "held"

    refused = await answer(
        client,
        world,
        the_hold["id"],
        "refuse",
        "staff_b",
        {"reason": "unsuitable_group", "text": "Group already full of younger girls"},
    )
    assert refused["status"] == "refused"
    assert refused["refusal_reason"] == "unsuitable_group"

    detail = await request_detail(client, world, request["id"])
    assert detail["status"] == "open"
    assert detail["hold"] is None
    assert detail["holds"][0]["refusal_reason"] == "unsuitable_group"
    assert detail["holds"][0]["refusal_text"] == "Group already full of younger girls"
    last = detail["events"][-1]
    assert (last["action"], last["from_status"], last["to_status"], last["actor"]) == (
        "refused",
        "held",
        "open",
        "staff_b",
    )
    assert "unsuitable_group" in last["reason"]
    assert await centre_bed_status(client, world, world.centre_b["id"], e1) == "available"

    # The request is open again: the officer can hold another bed.
    again = await held(client, world, request["id"], world.bed(world.centre_b, "E2"))
    assert again["status"] == "pending"


async def test_only_the_centres_own_staff_answer_a_hold(client, world):
    request, the_hold = await held_request(client, world)

    for action, body in (("accept", None), ("refuse", {"reason": "safety"}), ("admit", None)):
        response = await client.post(
            f"/api/holds/{the_hold['id']}/{action}", json=body, headers=world.auth("staff_a")
        )
        assert_problem(response, 403, field="centre_id")

    by_officer = await client.post(
        f"/api/holds/{the_hold['id']}/accept", headers=world.auth("officer")
    )
    body = assert_problem(by_officer, 403)
    assert "placement_officer" in body["detail"]

    detail = await request_detail(client, world, request["id"])
    assert detail["status"] == "held"
    assert detail["hold"]["status"] == "pending"
    assert await centre_bed_status(client, world, world.centre_b["id"], the_hold["bed_id"]) == (
        "held"
    )


# ---------------------------------------------------------------------------
# Deadlines


async def test_expired_hold_frees_the_bed_once(client, world):
    request, the_hold = await held_request(client, world)
    later = utcnow() + timedelta(hours=3)

    assert await service.release_expired_holds(now=later) == 1

    detail = await request_detail(client, world, request["id"])
    assert detail["status"] == "open"
    assert detail["holds"][0]["status"] == "expired"
    last = detail["events"][-1]
    assert (last["action"], last["from_status"], last["to_status"], last["actor"]) == (
        "hold_expired",
        "held",
        "open",
        None,
    )
    assert await centre_bed_status(client, world, world.centre_b["id"], the_hold["bed_id"]) == (
        "available"
    )
    expired_events = await events.events_of(service.HOLD_EXPIRED)
    assert [e["payload"]["hold_id"] for e in expired_events] == [the_hold["id"]]

    # A second run finds nothing to do.
    assert await service.release_expired_holds(now=later) == 0
    assert await request_detail(client, world, request["id"]) == detail
    history = await bed_history(client, world, the_hold["bed_id"])
    assert [e["to_status"] for e in history] == ["available", "held", "available"]
    assert len(await events.events_of(service.HOLD_EXPIRED)) == 1


async def test_a_hold_still_in_time_is_not_released(client, world):
    request, _ = await held_request(client, world)
    assert await service.release_expired_holds(now=utcnow() + timedelta(minutes=90)) == 0
    assert (await request_detail(client, world, request["id"]))["status"] == "held"


async def test_an_overdue_answer_is_recorded_once(client, world):
    request, the_hold = await held_request(client, world)

    # Before the deadline, nothing is overdue.
    assert await service.record_overdue_responses(now=utcnow() + timedelta(minutes=20)) == 0
    assert await events.events_of(service.HOLD_RESPONSE_OVERDUE) == []

    later = utcnow() + timedelta(minutes=31)
    assert await service.record_overdue_responses(now=later) == 1
    overdue = await events.events_of(service.HOLD_RESPONSE_OVERDUE)
    assert len(overdue) == 1
    payload = overdue[0]["payload"]
    assert payload["hold_id"] == the_hold["id"]
    assert payload["request_id"] == request["id"]
    assert payload["centre_id"] == world.centre_b["id"]
    assert payload["officer_id"] == world.users["officer"].user_id

    assert await service.record_overdue_responses(now=later + timedelta(minutes=5)) == 0
    assert len(await events.events_of(service.HOLD_RESPONSE_OVERDUE)) == 1
    detail = await request_detail(client, world, request["id"])
    assert actions(detail).count("response_overdue") == 1
    # Overdue is a warning, not a change: the hold and the bed are still there.
    assert detail["status"] == "held"
    assert detail["hold"]["status"] == "pending"


# ---------------------------------------------------------------------------
# Cancellation


async def test_cancelling_the_hold_frees_the_bed(client, world):
    request, the_hold = await held_request(client, world)
    response = await client.post(
        f"/api/holds/{the_hold['id']}/cancel",
        json={"reason": "family found a place"},
        headers=world.auth("officer"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    detail = await request_detail(client, world, request["id"])
    assert detail["status"] == "open"
    assert detail["events"][-1]["action"] == "hold_cancelled"
    assert detail["events"][-1]["reason"] == "family found a place"
    assert await centre_bed_status(client, world, world.centre_b["id"], the_hold["bed_id"]) == (
        "available"
    )


async def test_cancelling_the_request_frees_the_bed_and_ends_it(client, world):
    request, the_hold = await held_request(client, world)
    response = await client.post(
        f"/api/requests/{request['id']}/cancel",
        json={"reason": "returned home"},
        headers=world.auth("officer"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["hold"] is None
    detail = await request_detail(client, world, request["id"])
    assert detail["holds"][0]["status"] == "cancelled"
    assert detail["events"][-1]["action"] == "cancelled"
    assert detail["events"][-1]["reason"] == "returned home"
    assert await centre_bed_status(client, world, world.centre_b["id"], the_hold["bed_id"]) == (
        "available"
    )

    again = await hold(client, world, request["id"], world.bed(world.centre_b, "E2"))
    body = assert_problem(again, 409, field="request_id")
    assert "cancelled" in body["detail"]
    assert await Hold.count().where(Hold.request == request["id"]) == 1
    assert await centre_bed_status(
        client, world, world.centre_b["id"], world.bed(world.centre_b, "E2")
    ) == ("available")


# ---------------------------------------------------------------------------
# Fallback placement


async def test_fallback_when_the_specialised_beds_are_out_of_service(client, world):
    for label in ("E1", "E2"):
        await set_bed_status(
            client, world, world.bed(world.centre_b, label), "out_of_service", "staff_b"
        )
    case = await flagged_case(client, world)
    created = await create_request(client, world, case["case_code"])
    match = created["match"]
    first = match["candidates"][0]
    assert first["centre_name"] == "Maison des Tilleuls"
    assert first["specialised"] is False
    assert first["fallback"] is True
    assert any("fallback" in reason.lower() for reason in first["reasons"])
    assert all(c["fallback"] for c in match["candidates"])
    assert match["excluded"]["not_available"] == 2

    the_hold = await held(client, world, created["request"]["id"], first["bed_id"])
    assert the_hold["fallback"] is True
    await answer(client, world, the_hold["id"], "accept", "staff_a")
    stay = await answer(client, world, the_hold["id"], "admit", "staff_a")
    assert stay["fallback"] is True
    assert "exploitation_care" in stay["unmet_needs"]
    detail = await request_detail(client, world, created["request"]["id"])
    assert detail["stay"]["fallback"] is True
    assert "fallback" in detail["events"][-1]["reason"]


# ---------------------------------------------------------------------------
# Beds that a hold or a stay owns


async def test_staff_cannot_free_a_held_or_occupied_bed_by_hand(client, world):
    _, the_hold = await held_request(client, world, flagged=False, bed="A1")
    a1 = the_hold["bed_id"]

    response = await client.post(
        f"/api/beds/{a1}/status", json={"status": "available"}, headers=world.auth("staff_a")
    )
    body = assert_problem(response, 409, field="status")
    assert "accept" in body["detail"] and "refuse" in body["detail"]
    assert await centre_bed_status(client, world, world.centre_a["id"], a1) == "held"

    await answer(client, world, the_hold["id"], "accept", "staff_a")
    stay = await answer(client, world, the_hold["id"], "admit", "staff_a")
    for target in ("available", "out_of_service"):
        response = await client.post(
            f"/api/beds/{a1}/status", json={"status": target}, headers=world.auth("staff_a")
        )
        body = assert_problem(response, 409, field="status")
        assert "end the stay" in body["detail"]
    assert await centre_bed_status(client, world, world.centre_a["id"], a1) == "occupied"

    # Through the stay, it works.
    ended = await client.post(
        f"/api/stays/{stay['id']}/end", json={"reason": "transfer"}, headers=world.auth("staff_a")
    )
    assert ended.status_code == 200, ended.text
    assert await centre_bed_status(client, world, world.centre_a["id"], a1) == "available"


async def test_the_same_bed_cannot_be_held_twice(client, world):
    first_request, first_hold = await held_request(client, world, flagged=False, bed="A1")
    a1 = first_hold["bed_id"]
    other_case = await open_case(client, world)
    second = (await create_request(client, world, other_case["case_code"]))["request"]
    assert a1 not in [c["bed_id"] for c in (await rematch(client, world, second["id"]))]

    response = await hold(client, world, second["id"], a1)
    body = assert_problem(response, 409, field="bed_id")
    assert "no longer available" in body["detail"]

    # Nothing half-written.
    detail = await request_detail(client, world, second["id"])
    assert detail["status"] == "open"
    assert detail["holds"] == []
    assert "held" not in actions(detail)
    assert await Hold.count().where(Hold.request == second["id"]) == 0
    history = await bed_history(client, world, a1)
    assert [e["to_status"] for e in history].count("held") == 1
    assert (await request_detail(client, world, first_request["id"]))["hold"]["id"] == (
        first_hold["id"]
    )


async def rematch(client, world, request_id: int) -> list[dict]:
    response = await client.post(f"/api/requests/{request_id}/match", headers=world.auth("officer"))
    assert response.status_code == 200, response.text
    return response.json()["candidates"]


async def test_a_bed_that_breaks_a_hard_rule_cannot_be_held(client, world):
    case = await open_case(client, world)
    request = (await create_request(client, world, case["case_code"]))["request"]

    boys_bed = world.bed(world.centre_a, "B1")
    body = assert_problem(await hold(client, world, request["id"], boys_bed), 409, field="bed_id")
    assert "gender" in body["detail"]
    assert body["excluded_by"] == "gender"
    assert await centre_bed_status(client, world, world.centre_a["id"], boys_bed) == "available"

    body = assert_problem(await hold(client, world, request["id"], 987654), 404, field="bed_id")
    assert "987654" in body["detail"]
    assert (await request_detail(client, world, request["id"]))["status"] == "open"
    assert await Hold.count() == 0


async def test_a_bed_in_an_excluded_province_cannot_be_held(client, world):
    case = await open_case(client, world)
    request = (
        await create_request(client, world, case["case_code"], excluded_provinces=["BE-WLG"])
    )["request"]
    response = await hold(client, world, request["id"], world.bed(world.centre_a, "A1"))
    body = assert_problem(response, 409, field="bed_id")
    assert "excluded zone" in body["detail"]


# ---------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    ("fields", "status", "field", "words"),
    [
        ({"urgency": "planned"}, 422, "needed_on", "needed_on"),
        (
            {"urgency": "planned", "needed_on": (date.today() - timedelta(days=2)).isoformat()},
            422,
            "needed_on",
            "past",
        ),
        ({"danger_latitude": 50.5}, 422, "danger_longitude", "danger point"),
        ({"danger_longitude": 4.5}, 422, "danger_latitude", "danger point"),
        ({"safety_distance_km": 20}, 422, "safety_distance_km", "danger point"),
        ({"excluded_provinces": ["BE-XYZ"]}, 422, "excluded_provinces", "BE-XYZ"),
        (
            {"required_capabilities": ["trauma"], "preferred_capabilities": ["trauma"]},
            422,
            "preferred_capabilities",
            "trauma",
        ),
    ],
    ids=[
        "planned-without-day",
        "day-in-the-past",
        "danger-latitude-only",
        "danger-longitude-only",
        "distance-without-danger",
        "unknown-province",
        "required-and-preferred",
    ],
)
async def test_a_bad_request_is_refused_and_nothing_is_written(
    client, world, fields, status, field, words
):
    case = await open_case(client, world)
    body = {"case_code": case["case_code"], "urgency": "immediate", **fields}
    response = await client.post("/api/requests", json=body, headers=world.auth("officer"))
    problem = assert_problem(response, status, field=field)
    assert words in problem["detail"]
    assert await PlacementRequest.count() == 0


async def test_an_unknown_field_is_refused(client, world):
    # A body that does not decode is a 400 (docs/architecture.md), like every other route's.
    case = await open_case(client, world)
    body = {"case_code": case["case_code"], "urgency": "immediate", "girl_name": "Invented"}
    response = await client.post("/api/requests", json=body, headers=world.auth("officer"))
    problem = assert_problem(response, 400, field="girl_name")
    assert "girl_name" in problem["detail"]
    assert await PlacementRequest.count() == 0


async def test_a_case_has_one_live_request_at_a_time(client, world):
    case = await open_case(client, world)
    first = (await create_request(client, world, case["case_code"]))["request"]
    body = {"case_code": case["case_code"], "urgency": "within_24h"}
    response = await client.post("/api/requests", json=body, headers=world.auth("officer"))
    problem = assert_problem(response, 409, field="case_code")
    assert "in progress" in problem["detail"]
    assert await PlacementRequest.count() == 1

    # Once the first is cancelled, a new one may be made.
    cancelled = await client.post(
        f"/api/requests/{first['id']}/cancel",
        json={"reason": "wrong urgency"},
        headers=world.auth("officer"),
    )
    assert cancelled.status_code == 200, cancelled.text
    response = await client.post("/api/requests", json=body, headers=world.auth("officer"))
    assert response.status_code == 201, response.text


# ---------------------------------------------------------------------------
# Idempotent retries


async def test_retrying_a_request_with_the_same_key_creates_one(client, world):
    case = await flagged_case(client, world)
    body = {"case_code": case["case_code"], "urgency": "immediate"}
    headers = {**world.auth("officer"), "Idempotency-Key": "req-7f3a-0001"}

    first = await client.post("/api/requests", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    retry = await client.post("/api/requests", json=body, headers=headers)
    assert retry.status_code == 201, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert await PlacementRequest.count() == 1

    changed = await client.post(
        "/api/requests", json={**body, "urgency": "within_24h"}, headers=headers
    )
    problem = assert_problem(changed, 422, field="Idempotency-Key")
    assert "Idempotency-Key" in problem["detail"]
    assert await PlacementRequest.count() == 1


async def test_retrying_a_hold_with_the_same_key_holds_once(client, world):
    case = await flagged_case(client, world)
    request = (await create_request(client, world, case["case_code"]))["request"]
    e1, e2 = world.bed(world.centre_b, "E1"), world.bed(world.centre_b, "E2")
    headers = {**world.auth("officer"), "Idempotency-Key": "hold-7f3a-0001"}
    path = f"/api/requests/{request['id']}/holds"

    first = await client.post(path, json={"bed_id": e1}, headers=headers)
    assert first.status_code == 201, first.text
    retry = await client.post(path, json={"bed_id": e1}, headers=headers)
    assert retry.status_code == 201, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert await Hold.count() == 1
    assert [e["to_status"] for e in await bed_history(client, world, e1)].count("held") == 1

    other_bed = await client.post(path, json={"bed_id": e2}, headers=headers)
    assert_problem(other_bed, 422, field="Idempotency-Key")
    assert await Hold.count() == 1
    assert await centre_bed_status(client, world, world.centre_b["id"], e2) == "available"


@pytest.mark.parametrize("route", ["/api/holds", "/api/stays"])
@pytest.mark.parametrize("centre_id", [-1, 2**31, 318398395008])
async def test_a_centre_filter_no_centre_can_have_is_a_clear_404(client, world, route, centre_id):
    response = await client.get(f"{route}?centre_id={centre_id}", headers=world.auth("admin"))
    assert response.status_code == 404, response.text
    assert response.json()["errors"][0]["field"] == "centre_id"
