"""The placement officer's pages: a new request from the phone-call form, the ranked beds
with their reasons and a one-click hold, cancelling, the officer's requests and the waiting
list; and who may not open them."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from backend.identity import Role
from frontend.live import network_version
from tests.support.pages import main_text, sign_in, submit
from tests.support.placement import (
    add_user,
    birth_for_age,
    create_request,
    held,
    open_case,
    request_detail,
    set_bed_status,
)

URGENT_GIRL = {
    "urgency": "immediate",
    "gender": "girl",
    "age": "15",
    "languages": "fr",
    "requesting_service": "SAJ Namur",
}


def request_id_of(response) -> int:
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/requests/(\d+)\?done=created", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


async def bed_status(client, world, centre: dict, label: str) -> str:
    response = await client.get(f"/api/centres/{centre['id']}", headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    beds = [bed for unit in response.json()["units"] for bed in unit["beds"]]
    return next(bed["status"] for bed in beds if bed["label"] == label)


async def cases_of_officer(client, world) -> list[dict]:
    response = await client.get("/api/cases", headers=world.auth("officer"))
    assert response.status_code == 200, response.text
    return response.json()


def error_beside(html: str, field: str) -> str:
    """The error message shown under a field, checked to be tied to that field."""
    found = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', html, re.S)
    assert found, f"no error beside {field}"
    assert f'aria-describedby="{field}-error"' in html or re.search(
        rf'aria-describedby="[^"]*\b{field}-error\b', html
    )
    return found.group(1).strip()


async def test_the_form_starts_with_urgent_defaults_and_nothing_guessed(client, world):
    await sign_in(client, "officer")
    response = await client.get("/requests/new")
    assert response.status_code == 200
    html = response.text
    assert re.search(r'value="immediate"\s+checked', html)
    assert 'name="requesting_service" value="SAJ Namur"' in html
    # The minor's age and gender are asked, never pre-filled.
    assert not re.search(r'name="gender" value="\w+"\s+checked', html)
    assert re.search(r'id="age" name="age"[^>]* value=""', html)
    text = main_text(html)
    for words in (
        "Tonight (immediate)",
        "Walloon Brabant",
        "Unaccompanied foreign minor",
        "Loverboy / grooming",
        "Trauma care",
        "Find a bed",
    ):
        assert words in text
    assert 'name="_csrf_token"' in html


async def test_a_new_case_with_a_flag_gets_ranked_beds_with_reasons(client, world):
    await sign_in(client, "officer")
    response = await submit(
        client,
        "/requests/new",
        {**URGENT_GIRL, "exploitation_type": "loverboy_grooming", "excluded_provinces": "BE-WLG"},
    )
    request_id = request_id_of(response)

    page = await client.get(f"/requests/{request_id}?done=created")
    assert page.status_code == 200
    assert "data-live" in page.text
    text = main_text(page.text)
    assert "Done." in text
    assert f"Request {request_id}" in text and "Open" in text
    # Liège (centre A) is excluded for her safety; her flag puts the specialised place first.
    assert "2 suitable beds, best first." in text
    assert "1. Esperanto (test) · bed E" in text
    assert "Maison des Tilleuls" not in text
    assert "Care for victims of exploitation" in text
    assert "Free now" in text
    assert "2 beds excluded by gender policy" in text
    assert "3 beds excluded by safety zone" in text
    assert text.count("Hold this bed") == 2

    # The case was opened (pseudonymous, 15) with the flag, and the request is on it.
    [case] = await cases_of_officer(client, world)
    assert case["age"] == 15 and case["exploitation_flagged"] is True
    detail = await request_detail(client, world, request_id)
    assert detail["case_code"] == case["case_code"]
    assert detail["excluded_provinces"] == ["BE-WLG"]
    assert detail["requesting_service"] == "SAJ Namur"


async def test_exclusion_counts_explain_why_there_is_no_bed(client, world):
    await sign_in(client, "officer")
    response = await submit(client, "/requests/new", {**URGENT_GIRL, "age": "8"})
    request_id = request_id_of(response)
    text = main_text((await client.get(f"/requests/{request_id}")).text)
    assert "Waiting" in text
    assert "No suitable bed right now" in text
    assert "7 beds excluded by age" in text
    assert "Hold this bed" not in text


async def test_an_officer_holds_a_bed_in_one_click(client, world):
    case = await open_case(client, world)
    request = (await create_request(client, world, case["case_code"]))["request"]
    a1 = world.bed(world.centre_a, "A1")
    await sign_in(client, "officer")

    response = await submit(client, f"/requests/{request['id']}/hold", {"bed_id": str(a1)})

    assert response.status_code == 303
    assert response.headers["location"] == f"/requests/{request['id']}?done=held"
    assert await bed_status(client, world, world.centre_a, "A1") == "held"
    text = main_text((await client.get(response.headers["location"])).text)
    assert "Held bed" in text and "Waiting for the centre" in text
    assert "Maison des Tilleuls" in text and "bed A1" in text
    assert "Centre answers by" in text
    assert "Hold this bed" not in text
    assert "Bed held" in text  # the history
    # A held request is not searched again: no new candidate list is recorded.
    before = await request_detail(client, world, request["id"])
    await client.get(f"/requests/{request['id']}")
    after = await request_detail(client, world, request["id"])
    assert after["events"] == before["events"]


async def test_a_bed_taken_meanwhile_is_refused_with_a_clear_message(client, world):
    first = await open_case(client, world)
    second = await open_case(client, world)
    other = (await create_request(client, world, first["case_code"]))["request"]
    mine = (await create_request(client, world, second["case_code"]))["request"]
    a1 = world.bed(world.centre_a, "A1")
    await held(client, world, other["id"], a1)
    await sign_in(client, "officer")

    response = await submit(client, f"/requests/{mine['id']}/hold", {"bed_id": str(a1)})

    assert response.status_code == 409
    assert "This bed is no longer free" in main_text(response.text)
    assert (await request_detail(client, world, mine["id"]))["status"] == "open"


async def test_errors_are_shown_beside_their_fields_and_nothing_is_written(client, world):
    await sign_in(client, "officer")
    no_gender = {**URGENT_GIRL, "gender": ""}
    response = await submit(client, "/requests/new", no_gender)
    assert response.status_code == 422
    assert error_beside(response.text, "gender") == "Choose the gender."
    assert '<a href="#gender-error">Choose the gender.</a>' in response.text  # the summary
    assert 'value="15"' in response.text  # what was typed stays

    bad_year = {**URGENT_GIRL, "age": "", "birth_year": "1800", "birth_month": "3"}
    response = await submit(client, "/requests/new", bad_year)
    assert response.status_code == 422
    assert error_beside(response.text, "birth_year").startswith("Choose a birth year from")

    response = await submit(client, "/requests/new", {**URGENT_GIRL, "urgency": "planned"})
    assert response.status_code == 422
    assert "needs the day the bed is needed" in error_beside(response.text, "needed_on")

    yesterday = (date.today() - timedelta(days=2)).isoformat()
    past = {**URGENT_GIRL, "urgency": "planned", "needed_on": yesterday}
    response = await submit(client, "/requests/new", past)
    assert error_beside(response.text, "needed_on") == "This day is in the past."

    response = await submit(client, "/requests/new", {**URGENT_GIRL, "age": ""})
    assert error_beside(response.text, "age") == "Give the age, or the birth year and month."

    both = [
        *URGENT_GIRL.items(),
        ("required_capabilities", "trauma"),
        ("preferred_capabilities", "trauma"),
    ]
    response = await submit(client, "/requests/new", both)
    assert "both required and preferred" in error_beside(response.text, "preferred_capabilities")

    response = await submit(client, "/requests/new", {**URGENT_GIRL, "languages_other": "arabic!"})
    assert "two or three letters" in error_beside(response.text, "languages_other")

    assert await cases_of_officer(client, world) == []


async def test_a_planned_request_with_birth_year_and_month(client, world):
    await sign_in(client, "officer")
    birth = birth_for_age(14)
    body = {
        **URGENT_GIRL,
        "age": "",
        "birth_year": str(birth["birth_year"]),
        "birth_month": str(birth["birth_month"]),
        "urgency": "planned",
        "needed_on": (date.today() + timedelta(days=7)).isoformat(),
    }
    request_id = request_id_of(await submit(client, "/requests/new", body))
    detail = await request_detail(client, world, request_id)
    assert detail["urgency"] == "planned"
    assert detail["needed_on"] == body["needed_on"]
    [case] = await cases_of_officer(client, world)
    assert case["age"] == 14


async def test_an_existing_case_is_used_by_its_code(client, world):
    case = await open_case(client, world, gender="boy")
    await sign_in(client, "officer")
    code = case["case_code"]
    response = await submit(
        client, "/requests/new", {"urgency": "within_24h", "case_code": code.lower()}
    )
    request_id = request_id_of(response)
    detail = await request_detail(client, world, request_id)
    assert detail["case_code"] == case["case_code"]
    assert detail["urgency"] == "within_24h"
    assert len(await cases_of_officer(client, world)) == 1

    response = await submit(client, "/requests/new", {"urgency": "immediate", "case_code": code})
    assert response.status_code == 409
    assert "already has a request in progress" in error_beside(response.text, "case_code")

    response = await submit(
        client, "/requests/new", {"urgency": "immediate", "case_code": "C-NOPE"}
    )
    assert response.status_code == 404
    assert "No case has this code" in error_beside(response.text, "case_code")


async def test_cancelling_needs_a_reason_and_frees_the_bed(client, world):
    case = await open_case(client, world)
    request = (await create_request(client, world, case["case_code"]))["request"]
    await held(client, world, request["id"], world.bed(world.centre_a, "A2"))
    await sign_in(client, "officer")

    response = await submit(client, f"/requests/{request['id']}/cancel", {"reason": " "})
    assert response.status_code == 422
    assert error_beside(response.text, "reason") == "Say why the request is cancelled."

    response = await submit(
        client, f"/requests/{request['id']}/cancel", {"reason": "Family found a solution"}
    )
    assert response.status_code == 303
    text = main_text((await client.get(response.headers["location"])).text)
    assert "Cancelled" in text and "Request cancelled" in text
    assert "Family found a solution" in text
    assert "Cancel this request" not in text
    assert await bed_status(client, world, world.centre_a, "A2") == "available"


async def test_my_requests_and_the_waiting_list(client, world):
    b1, b2 = world.bed(world.centre_a, "B1"), world.bed(world.centre_a, "B2")
    await set_bed_status(client, world, b2, "out_of_service", "staff_a")
    await set_bed_status(client, world, b1, "out_of_service", "staff_a")
    boy = await open_case(client, world, gender="boy")
    girl = await open_case(client, world)
    waiting = (await create_request(client, world, boy["case_code"]))["request"]
    open_one = (await create_request(client, world, girl["case_code"]))["request"]
    assert waiting["status"] == "waiting"
    await sign_in(client, "officer")

    text = main_text((await client.get("/requests")).text)
    assert f"Request {waiting['id']} · {boy['case_code']}" in text
    assert f"Request {open_one['id']} · {girl['case_code']}" in text
    assert text.index(f"Request {open_one['id']}") < text.index(f"Request {waiting['id']}")

    page = await client.get("/waiting")
    assert page.status_code == 200 and "data-live" in page.text
    text = main_text(page.text)
    assert f"No. 1 Request {waiting['id']} · {boy['case_code']}" in text
    assert f"Request {open_one['id']}" not in text
    assert "waiting" in text and "ago" in text


async def test_a_bed_offered_to_a_waiting_request_is_shown_and_held(client, world):
    b1, b2 = world.bed(world.centre_a, "B1"), world.bed(world.centre_a, "B2")
    await set_bed_status(client, world, b2, "out_of_service", "staff_a")
    await set_bed_status(client, world, b1, "out_of_service", "staff_a")
    boy = await open_case(client, world, gender="boy")
    waiting = (await create_request(client, world, boy["case_code"]))["request"]
    await set_bed_status(client, world, b1, "available", "staff_a")
    await sign_in(client, "officer")

    html = (await client.get(f"/requests/{waiting['id']}")).text
    text = main_text(html)
    assert "A bed became free for this request" in text
    offer = html[html.index('id="offer-title"') : html.index("</section>")]
    assert f'name="bed_id" value="{b1}"' in offer

    response = await submit(client, f"/requests/{waiting['id']}/hold", {"bed_id": str(b1)})
    assert response.status_code == 303
    assert await bed_status(client, world, world.centre_a, "B1") == "held"


async def test_showing_a_request_does_not_wake_the_live_pages(client, world):
    """The page records each candidate list it shows; that must not count as a change, or
    the open page would refresh itself without end."""
    case = await open_case(client, world)
    request = (await create_request(client, world, case["case_code"]))["request"]
    await sign_in(client, "officer")
    before = await network_version()
    assert (await client.get(f"/requests/{request['id']}", headers={"X-Live": "1"})).is_success
    assert await network_version() == before


async def test_a_coordinator_uses_the_same_pages(client, world):
    await sign_in(client, "coordinator")
    response = await submit(client, "/requests/new", {**URGENT_GIRL, "requesting_service": ""})
    request_id = request_id_of(response)
    detail = await request_detail(client, world, request_id, actor="coordinator")
    assert detail["requesting_service"] == "Coordination"
    assert (await client.get("/waiting")).status_code == 200


@pytest.mark.parametrize("who", ["analyst", "staff_a", "admin"])
@pytest.mark.parametrize("path", ["/requests/new", "/requests", "/waiting", "/requests/{id}"])
async def test_other_roles_are_refused(client, world, who, path):
    case = await open_case(client, world)
    request = (await create_request(client, world, case["case_code"]))["request"]
    await sign_in(client, who)
    response = await client.get(path.format(id=request["id"]))
    assert response.status_code == 403
    assert case["case_code"] not in response.text
    assert 'name="urgency"' not in response.text


async def test_other_roles_cannot_post_either(client, world):
    case = await open_case(client, world)
    request = (await create_request(client, world, case["case_code"]))["request"]
    await sign_in(client, "staff_a")
    a1 = world.bed(world.centre_a, "A1")
    response = await submit(client, f"/requests/{request['id']}/hold", {"bed_id": str(a1)})
    assert response.status_code == 403
    assert await bed_status(client, world, world.centre_a, "A1") == "available"


async def test_another_services_request_is_not_shown(client, world):
    case = await open_case(client, world)
    request = (await create_request(client, world, case["case_code"]))["request"]
    await add_user(world, "officer_liege", Role.PLACEMENT_OFFICER, service="SAJ Liège")
    await sign_in(client, "officer_liege")
    response = await client.get(f"/requests/{request['id']}")
    assert response.status_code == 403
    assert case["case_code"] not in response.text
    assert (await client.get("/requests/999999")).status_code == 404


async def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    response = await client.get("/requests/new")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/requests/new"


async def test_searching_again_shows_the_beds_of_now(client, world):
    case = await open_case(client, world)
    request = (await create_request(client, world, case["case_code"]))["request"]
    await sign_in(client, "officer")

    response = await submit(client, f"/requests/{request['id']}/match")
    assert response.status_code == 303
    text = main_text((await client.get(response.headers["location"])).text)
    assert "Done." in text and "5 suitable beds, best first." in text

    await held(client, world, request["id"], world.bed(world.centre_a, "A3"))
    response = await submit(client, f"/requests/{request['id']}/match")
    assert response.status_code == 409
    assert "This request is now “Held”" in main_text(response.text)
