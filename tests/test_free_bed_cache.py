"""Matching keeps the pool of free beds in memory while the registry is unchanged; any change
to a centre, unit or bed — through the API or straight in the database — is seen by the
next search."""

from __future__ import annotations

from capacity import service as capacity
from capacity.tables import Bed, Centre, Unit
from tests.support.placement import create_request, open_case, set_bed_status


async def candidate_beds(client, world, request_id: int) -> set[int]:
    response = await client.post(f"/api/requests/{request_id}/match", headers=world.auth("officer"))
    assert response.status_code == 200, response.text
    return {candidate["bed_id"] for candidate in response.json()["candidates"]}


async def girls_request(client, world) -> tuple[int, set[int]]:
    case = await open_case(client, world)
    created = await create_request(client, world, case["case_code"])
    return created["request"]["id"], {c["bed_id"] for c in created["match"]["candidates"]}


async def test_the_stamp_changes_with_every_centre_unit_and_bed_change(world):
    seen = {await capacity.capacity_stamp()}
    a1 = world.bed(world.centre_a, "A1")
    unit = world.centre_a["units"][0]["id"]
    for change in (
        Bed.update({Bed.label: "A1x"}).where(Bed.id == a1),
        Unit.update({Unit.name: "Filles (haut)"}).where(Unit.id == unit),
        Centre.update({Centre.operator: "Autre"}).where(Centre.id == world.centre_a["id"]),
    ):
        await change
        stamp = await capacity.capacity_stamp()
        assert stamp not in seen
        seen.add(stamp)
    [added] = await capacity.create_beds(world.users["admin"], unit, ["A9"])
    assert await capacity.capacity_stamp() not in seen
    seen.add(await capacity.capacity_stamp())
    assert (await capacity.delete_bed(added.id)).deleted
    assert await capacity.capacity_stamp() not in seen
    assert None not in seen


async def test_a_bed_taken_out_of_service_disappears_from_the_next_search(client, world):
    request_id, first = await girls_request(client, world)
    a1 = world.bed(world.centre_a, "A1")
    assert a1 in first
    await set_bed_status(client, world, a1, "out_of_service", "staff_a")
    assert a1 not in await candidate_beds(client, world, request_id)
    await set_bed_status(client, world, a1, "available", "staff_a")
    assert a1 in await candidate_beds(client, world, request_id)


async def test_a_change_made_in_the_database_directly_is_seen(client, world):
    request_id, first = await girls_request(client, world)
    unit_a_beds = {bed["id"] for bed in world.centre_a["units"][0]["beds"]}
    assert unit_a_beds <= first
    # An administrator's SQL fix, not through the app: the unit now takes 16-17 only.
    await Unit.update({Unit.min_age: 16}).where(Unit.id == world.centre_a["units"][0]["id"])
    assert not unit_a_beds & await candidate_beds(client, world, request_id)


async def test_a_planned_search_follows_expected_departures(client, world):
    from datetime import date, timedelta

    a2 = world.bed(world.centre_a, "A2")
    await set_bed_status(client, world, a2, "occupied", "staff_a")

    async def set_departure(days: int) -> None:
        response = await client.put(
            f"/api/beds/{a2}/expected-departure",
            json={"expected_departure": (date.today() + timedelta(days=days)).isoformat()},
            headers=world.auth("staff_a"),
        )
        assert response.status_code == 200, response.text

    await set_departure(3)
    case = await open_case(client, world)
    in_five_days = (date.today() + timedelta(days=5)).isoformat()
    created = await create_request(
        client, world, case["case_code"], urgency="planned", needed_on=in_five_days
    )
    [later] = [c for c in created["match"]["candidates"] if c["bed_id"] == a2]
    assert later["free_now"] is False
    await set_departure(10)
    assert a2 not in await candidate_beds(client, world, created["request"]["id"])
