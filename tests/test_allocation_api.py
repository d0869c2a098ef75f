"""Batch allocation through the API (DESIGN §5): a coordinator assigns many waiting requests
to the free beds at once, maximising the urgency-weighted score, and confirms the holds all
together or not at all."""

from __future__ import annotations

import pytest

from backend.settings import get_settings
from backend.timeutil import local_today
from placement.matching import DEFAULT_WEIGHTS
from placement.tables import Hold
from placement.vocabulary import Urgency
from tests.support.capacity import assert_problem
from tests.support.placement import (
    bed_history,
    centre_bed_status,
    create_request,
    flag_case,
    held,
    open_case,
    request_detail,
    set_bed_status,
)
from tests.support.world import World


def all_beds(world: World) -> dict[str, tuple[dict, int]]:
    """Every bed of the network by label, with its centre."""
    return {
        bed["label"]: (centre, bed["id"])
        for centre in (world.centre_a, world.centre_b)
        for unit in centre["units"]
        for bed in unit["beds"]
    }


async def waiting_requests(client, world: World) -> dict[str, dict]:
    """Four requests made to wait (no bed free when they came), then three beds freed.

    X: a flagged girl, immediate (any girls' bed; the specialised one suits her best).
    Y: a flagged girl, immediate, who needs a secure unit: only Esperanto's E beds.
    Z: a girl, planned for today.
    W: a boy, within 24 hours.
    Free afterwards: A1 (girls, Tilleuls), E1 (Esperanto), B1 (boys, Tilleuls).
    """
    for _, bed_id in all_beds(world).values():
        await set_bed_status(client, world, bed_id, "out_of_service", "admin")

    async def waiting(code: str, **fields) -> dict:
        created = await create_request(client, world, code, **fields)
        assert created["request"]["status"] == "waiting", created
        assert created["match"]["candidate_count"] == 0
        return created["request"]

    x = (await flagged(client, world))["case_code"]
    y = (await flagged(client, world))["case_code"]
    z = (await open_case(client, world, age=14))["case_code"]
    w = (await open_case(client, world, age=16, gender="boy"))["case_code"]
    today = local_today(get_settings().display_timezone)
    requests = {
        "X": await waiting(x),
        "Y": await waiting(y, required_capabilities=["secure"]),
        "Z": await waiting(z, urgency="planned", needed_on=today.isoformat()),
        "W": await waiting(w, urgency="within_24h"),
    }
    for label in ("A1", "E1", "B1"):
        await set_bed_status(client, world, all_beds(world)[label][1], "available", "admin")
    # A freed bed is offered to the waiting list, never held by itself.
    for request in requests.values():
        assert (await request_detail(client, world, request["id"]))["status"] == "waiting"
    return requests


async def flagged(client, world: World) -> dict:
    case = await open_case(client, world)
    return await flag_case(client, world, case["case_code"])


async def propose(client, world: World, actor: str = "coordinator"):
    return await client.post("/api/allocations/proposals", headers=world.auth(actor))


async def confirm(client, world: World, assignments: list[dict], actor: str = "coordinator"):
    return await client.post(
        "/api/allocations/confirm", json={"assignments": assignments}, headers=world.auth(actor)
    )


def assignments_of(proposals: list[dict]) -> list[dict]:
    return [{"request_id": p["request_id"], "bed_id": p["bed_id"]} for p in proposals]


async def status_of_bed(client, world: World, label: str) -> str:
    centre, bed_id = all_beds(world)[label]
    return await centre_bed_status(client, world, centre["id"], bed_id)


async def status_of_request(client, world: World, request: dict) -> str:
    return (await request_detail(client, world, request["id"]))["status"]


async def test_proposals_maximise_the_urgency_weighted_score(client, world):
    requests = await waiting_requests(client, world)
    beds = {label: bed_id for label, (_, bed_id) in all_beds(world).items()}
    response = await propose(client, world)
    assert response.status_code == 200, response.text
    allocation = response.json()

    by_request = {p["request_id"]: p for p in allocation["proposals"]}
    # X could take E1 (her best bed), but then Y, who can only go to E1, would stay without
    # a place: the best total gives X the girls' bed A1, as a fallback placement.
    assert by_request[requests["X"]["id"]]["bed_id"] == beds["A1"]
    assert by_request[requests["X"]["id"]]["fallback"] is True
    assert by_request[requests["Y"]["id"]]["bed_id"] == beds["E1"]
    assert by_request[requests["Y"]["id"]]["fallback"] is False
    assert by_request[requests["W"]["id"]]["bed_id"] == beds["B1"]
    # A1 was contested by X (immediate) and Z (planned): the immediate request has it.
    assert allocation["unassigned_request_ids"] == [requests["Z"]["id"]]
    assert requests["Z"]["id"] not in by_request

    # Each bed at most once; the proposal says what each pair is worth.
    assert len({p["bed_id"] for p in allocation["proposals"]}) == len(allocation["proposals"]) == 3
    for proposal in allocation["proposals"]:
        weight = DEFAULT_WEIGHTS.urgency_weight[Urgency(proposal["urgency"])]
        expected = weight * (DEFAULT_WEIGHTS.placement_base + proposal["score"])
        assert proposal["weighted_score"] == pytest.approx(expected, abs=0.02)
        assert proposal["case_code"]
    assert allocation["total_weighted_score"] == pytest.approx(
        sum(p["weighted_score"] for p in allocation["proposals"]), abs=0.05
    )
    x_there = by_request[requests["X"]["id"]]
    assert x_there["urgency"] == "immediate" and x_there["centre_id"] == world.centre_a["id"]

    # A proposal holds nothing.
    for label in ("A1", "E1", "B1"):
        assert await status_of_bed(client, world, label) == "available"
    for request in requests.values():
        assert await status_of_request(client, world, request) == "waiting"
    assert await Hold.count() == 0
    holds = await client.get("/api/holds", headers=world.auth("coordinator"))
    assert holds.json() == []


async def test_confirm_holds_every_proposed_bed(client, world):
    requests = await waiting_requests(client, world)
    proposals = (await propose(client, world)).json()["proposals"]

    response = await confirm(client, world, assignments_of(proposals))
    assert response.status_code == 201, response.text
    holds = response.json()
    assert {(h["request_id"], h["bed_id"]) for h in holds} == {
        (p["request_id"], p["bed_id"]) for p in proposals
    }
    assert {h["status"] for h in holds} == {"pending"}
    for label in ("A1", "E1", "B1"):
        assert await status_of_bed(client, world, label) == "held"
    for name in ("X", "Y", "W"):
        detail = await request_detail(client, world, requests[name]["id"])
        assert detail["status"] == "held"
        assert detail["hold"]["bed_id"] in {p["bed_id"] for p in proposals}
        assert detail["events"][-1]["action"] == "held"
        assert detail["events"][-1]["actor"] == "coordinator"
    assert await status_of_request(client, world, requests["Z"]) == "waiting"
    # The centres see the holds to answer.
    staff_b_holds = (await client.get("/api/holds", headers=world.auth("staff_b"))).json()
    assert [h["request_id"] for h in staff_b_holds] == [requests["Y"]["id"]]

    # Nothing left to propose but Z, and no bed free for her.
    again = (await propose(client, world)).json()
    assert again["proposals"] == []
    assert again["unassigned_request_ids"] == [requests["Z"]["id"]]


async def test_confirm_holds_nothing_when_one_bed_was_taken_meanwhile(client, world):
    requests = await waiting_requests(client, world)
    beds = {label: bed_id for label, (_, bed_id) in all_beds(world).items()}
    proposals = (await propose(client, world)).json()["proposals"]
    assert beds["E1"] in {p["bed_id"] for p in proposals}

    # Meanwhile an officer holds E1 for Z, who was left out of the proposal.
    taken = await held(client, world, requests["Z"]["id"], beds["E1"])
    history_before = {
        label: await bed_history(client, world, beds[label]) for label in ("A1", "B1")
    }

    response = await confirm(client, world, assignments_of(proposals))
    problem = assert_problem(response, 409, field="assignments")
    assert "Nothing was held" in problem["detail"]
    assert f"request {requests['Y']['id']}" in problem["detail"]
    assert f"bed {beds['E1']}" in problem["detail"]
    assert problem["request_id"] == requests["Y"]["id"]
    assert problem["bed_id"] == beds["E1"]

    # Not one of the other holds stayed: their beds are free, their requests still wait.
    for label in ("A1", "B1"):
        assert await status_of_bed(client, world, label) == "available"
        assert await bed_history(client, world, beds[label]) == history_before[label]
    for name in ("X", "Y", "W"):
        detail = await request_detail(client, world, requests[name]["id"])
        assert detail["status"] == "waiting"
        assert detail["holds"] == []
        assert "held" not in [event["action"] for event in detail["events"]]
    assert await status_of_bed(client, world, "E1") == "held"
    assert [row["id"] for row in await Hold.select(Hold.id)] == [taken["id"]]
    assert await status_of_request(client, world, requests["Z"]) == "held"

    # A fresh proposal works around the taken bed.
    fresh = (await propose(client, world)).json()
    assert beds["E1"] not in {p["bed_id"] for p in fresh["proposals"]}
    response = await confirm(client, world, assignments_of(fresh["proposals"]))
    assert response.status_code == 201, response.text


async def test_a_request_or_bed_twice_is_refused(client, world):
    requests = await waiting_requests(client, world)
    beds = {label: bed_id for label, (_, bed_id) in all_beds(world).items()}
    x, w = requests["X"]["id"], requests["W"]["id"]

    response = await confirm(
        client,
        world,
        [{"request_id": x, "bed_id": beds["A1"]}, {"request_id": x, "bed_id": beds["E1"]}],
    )
    problem = assert_problem(response, 422, field="assignments")
    assert f"request_id {x}" in problem["detail"] and "twice" in problem["detail"]

    response = await confirm(
        client,
        world,
        [{"request_id": x, "bed_id": beds["A1"]}, {"request_id": w, "bed_id": beds["A1"]}],
    )
    problem = assert_problem(response, 422, field="assignments")
    assert f"bed_id {beds['A1']}" in problem["detail"] and "twice" in problem["detail"]

    assert_problem(await confirm(client, world, []), 400, field="assignments")
    assert await Hold.count() == 0
    for label in ("A1", "E1", "B1"):
        assert await status_of_bed(client, world, label) == "available"
    for request in requests.values():
        assert await status_of_request(client, world, request) == "waiting"


@pytest.mark.parametrize("actor", ["officer", "analyst", "staff_a", "admin"])
async def test_only_coordinators_allocate(client, world, actor):
    code = (await open_case(client, world))["case_code"]
    request = (await create_request(client, world, code))["request"]
    bed = world.bed(world.centre_a, "A1")
    assert_problem(await propose(client, world, actor), 403)
    response = await confirm(client, world, [{"request_id": request["id"], "bed_id": bed}], actor)
    assert_problem(response, 403)
    assert await Hold.count() == 0
    assert await centre_bed_status(client, world, world.centre_a["id"], bed) == "available"
