"""Youth cases and follow-up flags through the API (DESIGN §6): pseudonymous cases, flags that
are only ever added to, and who may see which case."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from backend.identity import Role
from backend.settings import get_settings
from backend.timeutil import local_today
from placement.tables import CaseFlag, RequestEvent
from tests.support.capacity import assert_problem
from tests.support.placement import (
    add_user,
    answer,
    birth_for_age,
    create_request,
    flag_case,
    held,
    open_case,
)

CASE_CODE = re.compile(r"^C-[BCDFGHJKMNPQRSTVWXZ23456789]{8}$")
CASE_FIELDS = {
    "case_code",
    "birth_year",
    "birth_month",
    "age",
    "gender",
    "languages",
    "nationality_group",
    "migration_status",
    "care_needs",
    "service",
    "opened_at",
    "closed_at",
    "exploitation_flagged",
    "flags",
    "runaway_count",
    "purged_at",
}


def today():
    """Today where the users are: the date the app checks birth months and flags against."""
    return local_today(get_settings().display_timezone)


def case_body(age: int = 15, **fields) -> dict:
    return {**birth_for_age(age, today()), "gender": "girl", "languages": ["fr"], **fields}


async def post_case(client, world, body: dict, actor: str = "officer"):
    return await client.post("/api/cases", json=body, headers=world.auth(actor))


async def post_flag(client, world, case_code: str, actor: str = "officer", **fields):
    body = {
        "exploitation_type": "loverboy_grooming",
        "discovered_on": today().isoformat(),
        "source_service": "SAJ Namur",
        **fields,
    }
    return await client.post(f"/api/cases/{case_code}/flags", json=body, headers=world.auth(actor))


async def get_case(client, world, case_code: str, actor: str = "officer"):
    return await client.get(f"/api/cases/{case_code}", headers=world.auth(actor))


async def listed_codes(client, world, actor: str) -> set[str]:
    response = await client.get("/api/cases", headers=world.auth(actor))
    assert response.status_code == 200, response.text
    return {case["case_code"] for case in response.json()}


async def requested_codes(client, world, actor: str) -> set[str]:
    response = await client.get("/api/requests", headers=world.auth(actor))
    assert response.status_code == 200, response.text
    return {request["case_code"] for request in response.json()}


# ---------------------------------------------------------------------------
# Opening a case


async def test_open_case_generates_a_code_and_computes_the_age(client, world):
    response = await post_case(
        client,
        world,
        case_body(
            16,
            languages=["fr", "ro", "fr"],
            nationality_group="eu",
            migration_status="none",
            care_needs=["trauma"],
        ),
    )
    assert response.status_code == 201, response.text
    case = response.json()
    assert CASE_CODE.match(case["case_code"]), case["case_code"]
    assert case["age"] == 16
    assert case["gender"] == "girl"
    assert case["languages"] == ["fr", "ro"]
    assert case["nationality_group"] == "eu"
    assert case["care_needs"] == ["trauma"]
    assert case["service"] == "SAJ Namur"
    assert case["flags"] == [] and case["exploitation_flagged"] is False
    # Pseudonymous: the answer holds no name, address or national number, only these facts.
    assert set(case) == CASE_FIELDS

    again = await open_case(client, world)
    assert again["case_code"] != case["case_code"]
    assert CASE_CODE.match(again["case_code"])


async def test_the_case_schema_has_no_identifying_field(client, world):
    schema = (await client.get("/schema/openapi.json")).json()
    fields = set(schema["components"]["schemas"]["CaseCreate"]["properties"])
    assert fields == {
        "birth_year",
        "birth_month",
        "gender",
        "languages",
        "nationality_group",
        "migration_status",
        "care_needs",
    }


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "Invented Name"),
        ("first_name", "Invented"),
        ("address", "Rue Inventée 3"),
        ("national_number", "00.00.00-000.00"),
    ],
)
async def test_identifying_fields_are_refused(client, world, field, value):
    response = await post_case(client, world, case_body(**{field: value}))
    problem = assert_problem(response, 400, field=field)
    assert field in problem["detail"]
    assert (await client.get("/api/cases", headers=world.auth("officer"))).json() == []


async def test_a_birth_month_in_the_future_is_refused(client, world):
    now = today()
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    response = await post_case(
        client, world, case_body(birth_year=year, birth_month=month, gender="boy")
    )
    problem = assert_problem(response, 422, field="birth_month")
    assert "future" in problem["detail"]


async def test_youth_aid_ends_at_25(client, world):
    assert (await post_case(client, world, case_body(25))).status_code == 201
    response = await post_case(client, world, case_body(26))
    problem = assert_problem(response, 422, field="birth_year")
    assert "25" in problem["detail"]
    assert len(await listed_codes(client, world, "officer")) == 1


@pytest.mark.parametrize(
    "field, value",
    [
        ("gender", "female"),
        ("migration_status", "refugee"),
        ("nationality_group", "romanian"),
        ("care_needs", ["therapy"]),
        ("birth_month", 13),
    ],
)
async def test_values_outside_the_vocabulary_are_refused(client, world, field, value):
    response = await post_case(client, world, case_body(**{field: value}))
    problem = assert_problem(response, 400)
    fields = [error["field"] for error in problem["errors"]]
    assert fields and fields[0].split("[")[0] == field, problem


async def test_an_unaccompanied_foreign_minor_is_accepted(client, world):
    case = await open_case(
        client,
        world,
        migration_status="unaccompanied_foreign_minor",
        nationality_group="non_eu",
        languages=["ar", "fr"],
    )
    assert case["migration_status"] == "unaccompanied_foreign_minor"
    read = (await get_case(client, world, case["case_code"])).json()
    assert read["migration_status"] == "unaccompanied_foreign_minor"
    assert read["nationality_group"] == "non_eu"


async def test_patch_updates_needs_and_languages(client, world):
    case = await open_case(client, world, care_needs=["trauma"], nationality_group="belgian")
    url = f"/api/cases/{case['case_code']}"
    response = await client.patch(
        url,
        json={"languages": ["nl", "fr"], "care_needs": ["exploitation_care", "addiction"]},
        headers=world.auth("officer"),
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["languages"] == ["fr", "nl"]
    assert changed["care_needs"] == ["addiction", "exploitation_care"]
    assert changed["nationality_group"] == "belgian"  # not sent, not changed
    read = (await get_case(client, world, case["case_code"])).json()
    assert read["languages"] == ["fr", "nl"]
    assert read["care_needs"] == ["addiction", "exploitation_care"]

    refused = await client.patch(url, json={"name": "Invented"}, headers=world.auth("officer"))
    assert_problem(refused, 400, field="name")
    refused = await client.patch(url, json={"birth_year": 2010}, headers=world.auth("officer"))
    assert_problem(refused, 400, field="birth_year")


# ---------------------------------------------------------------------------
# Follow-up flags: added, corrected, withdrawn, never edited


async def test_flag_history_corrections_and_withdrawals(client, world):
    code = (await open_case(client, world))["case_code"]
    first = (await post_flag(client, world, code, exploitation_type="loverboy_grooming")).json()
    assert first["exploitation_flagged"] is True
    [grooming] = first["flags"]
    second = await post_flag(
        client, world, code, exploitation_type="sextortion", source_service="Police Liège"
    )
    assert second.status_code == 201, second.text
    sextortion = second.json()["flags"][-1]

    # A correction: the grooming turned out to be prostitution.
    corrected = await post_flag(
        client,
        world,
        code,
        exploitation_type="prostitution",
        note="confirmed by the police liaison",
        supersedes=grooming["id"],
    )
    assert corrected.status_code == 201, corrected.text
    prostitution = corrected.json()["flags"][-1]
    assert prostitution["supersedes"] == grooming["id"]

    # The correction itself is withdrawn: it no longer applies.
    withdrawn = await post_flag(
        client,
        world,
        code,
        exploitation_type="prostitution",
        status="withdrawn",
        supersedes=prostitution["id"],
    )
    assert withdrawn.status_code == 201, withdrawn.text
    withdrawal = withdrawn.json()["flags"][-1]
    assert withdrawal["status"] == "withdrawn"

    case = (await get_case(client, world, code)).json()
    flags = case["flags"]
    # Every flag ever added, oldest first; only the latest versions are current.
    assert [f["id"] for f in flags] == [
        grooming["id"],
        sextortion["id"],
        prostitution["id"],
        withdrawal["id"],
    ]
    assert [f["exploitation_type"] for f in flags] == [
        "loverboy_grooming",
        "sextortion",
        "prostitution",
        "prostitution",
    ]
    assert [f["current"] for f in flags] == [False, True, False, True]
    assert [f["superseded_by"] for f in flags] == [prostitution["id"], None, withdrawal["id"], None]
    assert [f["supersedes"] for f in flags] == [None, None, grooming["id"], prostitution["id"]]
    assert [f["status"] for f in flags] == ["active", "active", "active", "withdrawn"]
    assert flags[0]["note"] == "" and flags[2]["note"] == "confirmed by the police liaison"
    assert flags[1]["source_service"] == "Police Liège"
    assert {f["added_by"] for f in flags} == {"officer"}
    # The sextortion flag still stands.
    assert case["exploitation_flagged"] is True

    # Withdrawing the last active flag: the case is no longer flagged.
    last = await post_flag(
        client,
        world,
        code,
        exploitation_type="sextortion",
        status="withdrawn",
        supersedes=sextortion["id"],
    )
    assert last.status_code == 201, last.text
    assert last.json()["exploitation_flagged"] is False
    [summary] = (await client.get("/api/cases", headers=world.auth("officer"))).json()
    assert summary["exploitation_flagged"] is False
    assert len((await get_case(client, world, code)).json()["flags"]) == 5


async def test_a_withdrawal_names_the_flag_it_withdraws(client, world):
    code = (await open_case(client, world))["case_code"]
    await flag_case(client, world, code)
    response = await post_flag(client, world, code, status="withdrawn")
    problem = assert_problem(response, 422, field="supersedes")
    assert "supersedes" in problem["detail"]
    case = (await get_case(client, world, code)).json()
    assert len(case["flags"]) == 1 and case["exploitation_flagged"] is True


async def test_a_superseded_flag_cannot_be_superseded_again(client, world):
    code = (await open_case(client, world))["case_code"]
    [old] = (await flag_case(client, world, code))["flags"]
    await flag_case(client, world, code, exploitation_type="trafficking", supersedes=old["id"])
    response = await post_flag(client, world, code, exploitation_type="other", supersedes=old["id"])
    problem = assert_problem(response, 409, field="supersedes")
    assert str(old["id"]) in problem["detail"] and "already superseded" in problem["detail"]
    assert len((await get_case(client, world, code)).json()["flags"]) == 2


async def test_a_flag_of_another_case_cannot_be_superseded(client, world):
    mine = (await open_case(client, world))["case_code"]
    other = (await open_case(client, world))["case_code"]
    [foreign] = (await flag_case(client, world, other))["flags"]
    response = await post_flag(client, world, mine, supersedes=foreign["id"])
    problem = assert_problem(response, 422, field="supersedes")
    assert str(foreign["id"]) in problem["detail"] and mine in problem["detail"]
    response = await post_flag(client, world, mine, supersedes=987654)
    assert_problem(response, 422, field="supersedes")
    assert (await get_case(client, world, mine)).json()["flags"] == []
    assert (await get_case(client, world, other)).json()["flags"][0]["current"] is True


async def test_a_flag_discovered_in_the_future_is_refused(client, world):
    code = (await open_case(client, world))["case_code"]
    tomorrow = (today() + timedelta(days=1)).isoformat()
    problem = assert_problem(
        await post_flag(client, world, code, discovered_on=tomorrow), 422, field="discovered_on"
    )
    assert "future" in problem["detail"]
    before_birth = "2000-01-01"
    assert_problem(
        await post_flag(client, world, code, discovered_on=before_birth), 422, field="discovered_on"
    )
    assert_problem(
        await post_flag(client, world, code, exploitation_type="blackmail"),
        400,
        field="exploitation_type",
    )
    assert (await get_case(client, world, code)).json()["flags"] == []


async def test_flags_and_request_history_cannot_be_edited_or_deleted(client, world):
    code = (await open_case(client, world))["case_code"]
    [flag] = (await flag_case(client, world, code))["flags"]
    request = (await create_request(client, world, code))["request"]
    flags_before = await CaseFlag.select().order_by(CaseFlag.id)
    events_before = await RequestEvent.select().order_by(RequestEvent.id)
    assert flags_before and events_before

    with pytest.raises(Exception, match="append-only"):
        await CaseFlag.update({CaseFlag.status: "withdrawn"}).where(CaseFlag.id == flag["id"])
    with pytest.raises(Exception, match="append-only"):
        await CaseFlag.delete().where(CaseFlag.id == flag["id"])
    with pytest.raises(Exception, match="append-only"):
        await RequestEvent.update({RequestEvent.reason: "rewritten"}).where(
            RequestEvent.request == request["id"]
        )
    with pytest.raises(Exception, match="append-only"):
        await RequestEvent.delete().where(RequestEvent.request == request["id"])

    assert await CaseFlag.select().order_by(CaseFlag.id) == flags_before
    assert await RequestEvent.select().order_by(RequestEvent.id) == events_before
    case = (await get_case(client, world, code)).json()
    assert case["flags"][0]["status"] == "active" and case["exploitation_flagged"] is True


# ---------------------------------------------------------------------------
# Who sees which case


async def test_an_officer_of_another_service_does_not_see_the_case(client, world):
    code = (await open_case(client, world))["case_code"]
    await create_request(client, world, code)
    await add_user(world, "officer_elsewhere", Role.PLACEMENT_OFFICER, service="SPJ Autre")
    await add_user(world, "officer_colleague", Role.PLACEMENT_OFFICER, service="SAJ Namur")

    problem = assert_problem(await get_case(client, world, code, "officer_elsewhere"), 403)
    assert code in problem["detail"]
    assert code not in await listed_codes(client, world, "officer_elsewhere")
    assert code not in await requested_codes(client, world, "officer_elsewhere")
    assert_problem(await post_flag(client, world, code, "officer_elsewhere"), 403)
    patched = await client.patch(
        f"/api/cases/{code}", json={"languages": ["nl"]}, headers=world.auth("officer_elsewhere")
    )
    assert_problem(patched, 403)
    # Their own case they see.
    theirs = (await open_case(client, world, "officer_elsewhere"))["case_code"]
    assert await listed_codes(client, world, "officer_elsewhere") == {theirs}
    assert theirs not in await listed_codes(client, world, "officer")

    # A colleague of the same service sees the case and its request.
    assert (await get_case(client, world, code, "officer_colleague")).status_code == 200
    assert code in await listed_codes(client, world, "officer_colleague")
    assert code in await requested_codes(client, world, "officer_colleague")
    # The coordinator sees every case.
    assert (await get_case(client, world, code, "coordinator")).status_code == 200
    assert (await get_case(client, world, theirs, "coordinator")).status_code == 200
    assert await listed_codes(client, world, "coordinator") == {code, theirs}
    assert code in await requested_codes(client, world, "coordinator")


async def test_centre_staff_see_a_case_only_while_it_is_at_their_centre(client, world):
    code = (await open_case(client, world))["case_code"]
    request = (await create_request(client, world, code))["request"]
    # Before any hold, no centre sees the case.
    for staff in ("staff_a", "staff_b"):
        assert_problem(await get_case(client, world, code, staff), 403)
        assert code not in await listed_codes(client, world, staff)
        assert code not in await requested_codes(client, world, staff)

    hold = await held(client, world, request["id"], world.bed(world.centre_a, "A1"))
    assert (await get_case(client, world, code, "staff_a")).status_code == 200
    assert await listed_codes(client, world, "staff_a") == {code}
    assert await requested_codes(client, world, "staff_a") == {code}
    assert_problem(await get_case(client, world, code, "staff_b"), 403)
    assert code not in await listed_codes(client, world, "staff_b")

    # Refused: the case is no longer the centre's business.
    await answer(client, world, hold["id"], "refuse", "staff_a", {"reason": "unsuitable_group"})
    assert_problem(await get_case(client, world, code, "staff_a"), 403)
    assert code not in await listed_codes(client, world, "staff_a")
    assert code not in await requested_codes(client, world, "staff_a")
    assert_problem(await post_flag(client, world, code, "staff_a"), 403)

    # Held again and placed at the same centre: staff see it and may add a flag.
    hold = await held(client, world, request["id"], world.bed(world.centre_a, "A2"))
    await answer(client, world, hold["id"], "accept", "staff_a")
    await answer(client, world, hold["id"], "admit", "staff_a")
    assert (await get_case(client, world, code, "staff_a")).status_code == 200
    flagged = await post_flag(
        client, world, code, "staff_a", exploitation_type="prostitution", source_service="MdT"
    )
    assert flagged.status_code == 201, flagged.text
    assert flagged.json()["flags"][-1]["added_by"] == "staff_a"
    assert flagged.json()["exploitation_flagged"] is True
    assert_problem(await get_case(client, world, code, "staff_b"), 403)


async def test_an_analyst_has_no_case_route(client, world):
    code = (await open_case(client, world))["case_code"]
    headers = world.auth("analyst")
    responses = [
        await client.post("/api/cases", json=case_body(), headers=headers),
        await client.get("/api/cases", headers=headers),
        await client.get(f"/api/cases/{code}", headers=headers),
        await client.patch(f"/api/cases/{code}", json={"languages": ["nl"]}, headers=headers),
        await post_flag(client, world, code, "analyst"),
    ]
    for response in responses:
        assert_problem(response, 403)
    assert (await get_case(client, world, code)).json()["flags"] == []


async def test_an_admin_reads_cases_but_adds_no_flag(client, world):
    code = (await open_case(client, world))["case_code"]
    assert (await get_case(client, world, code, "admin")).status_code == 200
    assert_problem(await post_flag(client, world, code, "admin"), 403)
    assert_problem(await post_case(client, world, case_body(), "admin"), 403)
    assert (await get_case(client, world, code)).json()["flags"] == []


async def test_an_unknown_case_code_is_not_found(client, world):
    unknown = "C-BCDFGHJK"
    problem = assert_problem(await get_case(client, world, unknown), 404, field="case_code")
    assert unknown in problem["detail"]
    assert_problem(await post_flag(client, world, unknown), 404, field="case_code")
    patched = await client.patch(
        f"/api/cases/{unknown}", json={"languages": ["nl"]}, headers=world.auth("officer")
    )
    assert_problem(patched, 404, field="case_code")
    response = await client.post(
        "/api/requests",
        json={"case_code": unknown, "urgency": "immediate"},
        headers=world.auth("officer"),
    )
    assert_problem(response, 404, field="case_code")


async def test_a_case_closes_only_when_nothing_is_in_progress(client, world):
    from tests.support.placement import answer, create_request, held, open_case

    case = await open_case(client, world)
    code = case["case_code"]
    request = (await create_request(client, world, code))["request"]
    busy = await client.post(f"/api/cases/{code}/close", headers=world.auth("officer"))
    assert busy.status_code == 409 and "request in progress" in busy.json()["detail"]
    hold = await held(client, world, request["id"], world.bed(world.centre_a, "A1"))
    stay = await answer(client, world, hold["id"], "admit", "staff_a")
    placed = await client.post(f"/api/cases/{code}/close", headers=world.auth("officer"))
    assert placed.status_code == 409 and "end the stay" in placed.json()["detail"]
    ended = await client.post(
        f"/api/stays/{stay['id']}/end", json={"reason": "discharge"}, headers=world.auth("staff_a")
    )
    assert ended.status_code == 200
    staff = await client.post(f"/api/cases/{code}/close", headers=world.auth("staff_a"))
    assert staff.status_code == 403
    closed = await client.post(f"/api/cases/{code}/close", headers=world.auth("officer"))
    assert closed.status_code == 200 and closed.json()["closed_at"] is not None
    again = await client.post(f"/api/cases/{code}/close", headers=world.auth("officer"))
    assert again.status_code == 409
    # A closed case takes no new request.
    refused = await client.post(
        "/api/requests",
        json={"case_code": code, "urgency": "immediate"},
        headers=world.auth("officer"),
    )
    assert refused.status_code in (409, 422)
