"""The coordinator's pages: alerts to acknowledge and resolve, the network's vacancies, who
is on call, and batch allocation of the waiting list. In-process, through the pages and the
JSON API, as a coordinator (or an admin) would use them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifications import service as alerts
from tests.support.alerts import on_call, placed_minor, report_runaway
from tests.support.pages import main_text, sign_in, submit
from tests.support.placement import create_request, open_case, request_detail, set_bed_status
from tests.support.world import World, centre_body

COORDINATOR_PAGES = ("/alerts", "/network", "/rota", "/allocation")


async def the_alert(client, world: World, kind: str = "runaway") -> dict:
    response = await client.get(f"/api/alerts?kind={kind}", headers=world.auth("coordinator"))
    assert response.status_code == 200, response.text
    [alert] = response.json()
    return alert


def card(html: str, alert_id: int) -> str:
    """The visible text of one alert's card on the alerts page."""
    found = re.search(rf'(?s)<li[^>]*id="alert-{alert_id}".*?</li>', html)
    assert found, f"alert {alert_id} is not on the page"
    return main_text(f"<main>{found.group(0)}</main>")


def section(html: str, heading_id: str) -> str:
    found = re.search(rf'(?s)<section aria-labelledby="{heading_id}">.*?</section>', html)
    assert found, heading_id
    return found.group(0)


# ---------------------------------------------------------------------------
# Alerts


async def test_a_runaway_appears_on_the_open_alerts_with_its_level_and_age(client, world: World):
    await on_call(client, world, "coordinator")
    await on_call(client, world, "admin", level=2)
    stay = await placed_minor(client, world)
    await report_runaway(client, world, stay["id"], risk_level="high")
    alert = await the_alert(client, world)

    await sign_in(client, "coordinator")
    response = await client.get("/alerts")
    assert response.status_code == 200
    assert "data-live" in response.text  # refreshed by the live stream
    assert 'id="open-heading"' in response.text
    opened = section(response.text, "open-heading")
    assert f'id="alert-{alert["id"]}"' in opened
    text = card(response.text, alert["id"])
    assert "Runaway" in text
    assert "Severity: Critical" in text
    assert "Level 1 — on call" in text
    assert "second ago" in text or "seconds ago" in text
    assert "Maison des Tilleuls" in text and "Liège" in text
    assert stay["case_code"] in text
    assert "Risk High" in text and "Missing" in text and "14 years old" in text
    assert "Flagged: exploitation risk" in text

    # Nobody acknowledges in time: the backup is paged, and the page says so.
    assert await alerts.escalate_due(datetime.now(UTC) + timedelta(hours=1)) == 1
    text = card((await client.get("/alerts")).text, alert["id"])
    assert "Level 2 — backup" in text


async def test_with_nobody_on_call_the_page_says_every_coordinator_was_paged(client, world: World):
    stay = await placed_minor(client, world)
    await report_runaway(client, world, stay["id"])
    alert = await the_alert(client, world)
    await sign_in(client, "admin")
    text = card((await client.get("/alerts")).text, alert["id"])
    assert "Nobody on call: every coordinator paged" in text


async def test_acknowledge_then_resolve_through_the_page(client, world: World):
    await on_call(client, world, "coordinator")
    stay = await placed_minor(client, world)
    await report_runaway(client, world, stay["id"])
    alert = await the_alert(client, world)
    await sign_in(client, "coordinator")

    response = await submit(client, f"/alerts/{alert['id']}/acknowledge")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/alerts?done=")
    page = await client.get(response.headers["location"])
    assert "Done." in main_text(page.text)
    acknowledged = section(page.text, "acknowledged-heading")
    assert f'id="alert-{alert["id"]}"' in acknowledged
    assert "Acknowledged by coordinator" in card(page.text, alert["id"])
    assert "Acknowledge" not in re.findall(r"<button[^>]*>([^<]*)</button>", acknowledged)
    assert (await the_alert(client, world))["status"] == "acknowledged"

    # A second acknowledgement (say, from a page left open) is refused, said at the top.
    again = await submit(client, f"/alerts/{alert['id']}/acknowledge")
    assert again.status_code == 409
    assert re.search(r'class="error"[^>]*>[^<]*already acknowledged', again.text)

    response = await submit(
        client, f"/alerts/{alert['id']}/resolve", {"note": "Found at her aunt's, safe."}
    )
    assert response.status_code == 303
    resolved = await the_alert(client, world)
    assert resolved["status"] == "resolved"
    assert resolved["resolution_note"] == "Found at her aunt's, safe."
    assert resolved["resolved_by"] == "coordinator"
    page = await client.get("/alerts")
    assert f'id="alert-{alert["id"]}"' in section(page.text, "resolved-heading")
    assert f'id="alert-{alert["id"]}"' not in section(page.text, "open-heading")
    assert "Found at her aunt's, safe." in card(page.text, alert["id"])


async def test_a_too_long_note_is_refused_beside_the_field(client, world: World):
    stay = await placed_minor(client, world)
    await report_runaway(client, world, stay["id"])
    alert = await the_alert(client, world)
    await sign_in(client, "coordinator")

    response = await submit(client, f"/alerts/{alert['id']}/resolve", {"note": "x" * 2001})
    assert response.status_code == 422
    field = f"note-{alert['id']}"
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', response.text)
    assert f'aria-describedby="{field}-error' in response.text
    assert re.search(rf'<p class="field-error" id="{field}-error">[^<]*2000', response.text)
    assert (await the_alert(client, world))["status"] == "open"


async def test_an_unknown_alert_shows_the_not_found_page(client, world: World):
    await sign_in(client, "coordinator")
    response = await submit(client, "/alerts/999999/acknowledge")
    assert response.status_code == 404
    assert "Not found" in main_text(response.text)


# ---------------------------------------------------------------------------
# Network


async def test_the_network_page_draws_the_vacancies_and_the_specialised_places(
    client, world: World
):
    await sign_in(client, "coordinator")
    response = await client.get("/network")
    assert response.status_code == 200
    svg = re.search(r"(?s)<svg\b[^>]*>.*?</svg>", response.text)
    assert svg and 'role="img"' in svg.group(0)
    assert re.search(r"<title[^>]*>Free beds by province</title>", svg.group(0))
    assert "Walloon Brabant: 2 free" in svg.group(0)  # the description says the numbers too
    text = main_text(response.text)
    assert "7 beds free now in the network." in text
    assert "Esperanto (test): 2 of 2 free" in text
    assert "Maison des Tilleuls" in text and "Youth-aid residential" in text
    assert "Out of date" not in text  # both centres changed their beds just now

    # A specialised bed is taken: the page (refreshed live) shows one place left.
    await set_bed_status(client, world, world.bed(world.centre_b, "E1"), "occupied", "staff_b")
    text = main_text((await client.get("/network")).text)
    assert "Esperanto (test): 1 of 2 free" in text
    assert "6 beds free now in the network." in text

    # A centre that never said anything about its beds is flagged, in words.
    response = await client.post(
        "/api/centres", json=centre_body(name="Le Relais"), headers=world.auth("admin")
    )
    assert response.status_code == 201, response.text
    html = (await client.get("/network")).text
    row = re.search(rf'(?s)<tr id="centre-{response.json()["id"]}">.*?</tr>', html)
    assert row and "never Out of date" in main_text(f"<main>{row.group(0)}</main>")
    assert "Namur: 0 free" in html  # its province is drawn, with nothing free


async def test_the_admin_sees_the_network_too(client, world: World):
    await sign_in(client, "admin")
    response = await client.get("/network")
    assert response.status_code == 200
    assert "Esperanto (test): 2 of 2 free" in main_text(response.text)


# ---------------------------------------------------------------------------
# Rota


async def test_the_rota_shows_who_is_on_call_and_the_shifts_in_local_time(client, world: World):
    [shift] = await on_call(client, world, "coordinator", level=2, region="BE-WLG", hours=4)
    await sign_in(client, "coordinator")
    response = await client.get("/rota")
    assert response.status_code == 200
    html = response.text
    liege = re.search(r'(?s)<div class="card" id="oncall-BE-WLG">.*?</div>', html)
    assert liege, "Liège has shifts: it has its own card"
    assert "Level 2 — backup coordinator" in main_text(f"<main>{liege.group(0)}</main>")
    belgium = re.search(r'(?s)<div class="card" id="oncall-BE">.*?</div>', html)
    assert "Level 1 — on call Nobody" in main_text(f"<main>{belgium.group(0)}</main>")

    row = re.search(rf'(?s)<tr id="shift-{shift["id"]}">.*?</tr>', html)
    assert row
    ends = datetime.fromisoformat(shift["ends_at"]).astimezone(ZoneInfo("Europe/Brussels"))
    assert ends.strftime("%H:%M") in main_text(f"<main>{row.group(0)}</main>")
    assert "Liège" in main_text(f"<main>{row.group(0)}</main>")
    # Read-only here: no form to change the rota.
    assert 'action="/admin/rota' not in html


# ---------------------------------------------------------------------------
# Allocation


async def a_waiting_request(client, world: World) -> tuple[dict, int]:
    """A girl's request that had to wait (no bed free), then bed A1 freed."""
    for centre in (world.centre_a, world.centre_b):
        for unit in centre["units"]:
            for bed in unit["beds"]:
                await set_bed_status(client, world, bed["id"], "out_of_service", "admin")
    case = await open_case(client, world, age=14)
    created = await create_request(client, world, case["case_code"])
    assert created["request"]["status"] == "waiting"
    bed_a1 = world.bed(world.centre_a, "A1")
    await set_bed_status(client, world, bed_a1, "available", "admin")
    return created["request"], bed_a1


async def test_allocation_proposes_and_confirms_holds(client, world: World):
    request, bed_a1 = await a_waiting_request(client, world)
    await sign_in(client, "coordinator")

    page = await client.get("/allocation")
    assert page.status_code == 200
    assert 'action="/allocation/propose"' in page.text
    assert "Compute proposals" in main_text(page.text)

    proposed = await submit(client, "/allocation/propose")
    assert proposed.status_code == 200
    text = main_text(proposed.text)
    assert f"Request {request['id']}" in text
    assert "bed A1 at Maison des Tilleuls" in text
    box = re.search(rf'<input type="checkbox" id="assign-{request["id"]}"[^>]*>', proposed.text)
    assert box and f'value="{request["id"]}:{bed_a1}"' in box.group(0)
    assert "checked" in box.group(0)
    assert f'<label for="assign-{request["id"]}">' in proposed.text

    confirmed = await submit(
        client, "/allocation/confirm", {"assignment": f"{request['id']}:{bed_a1}"}
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["location"].startswith("/allocation?done=")
    after = await client.get(confirmed.headers["location"])
    assert "The beds are held." in main_text(after.text)
    assert (await request_detail(client, world, request["id"]))["status"] == "held"


async def test_allocation_with_nothing_ticked_says_so_beside_the_list(client, world: World):
    request, _ = await a_waiting_request(client, world)
    await sign_in(client, "coordinator")
    response = await submit(client, "/allocation/confirm", {})
    assert response.status_code == 422
    assert re.search(
        r'<p class="field-error" id="assignments-error">Choose at least one', response.text
    )
    assert 'aria-describedby="assignments-error"' in response.text
    # The proposals are shown again, unticked as sent.
    box = re.search(rf'<input type="checkbox" id="assign-{request["id"]}"[^>]*>', response.text)
    assert box and "checked" not in box.group(0)
    assert (await request_detail(client, world, request["id"]))["status"] == "waiting"


async def test_allocation_with_a_malformed_choice_is_refused(client, world: World):
    request, _ = await a_waiting_request(client, world)
    await sign_in(client, "coordinator")
    response = await submit(client, "/allocation/confirm", {"assignment": "twelve:A1"})
    assert response.status_code == 422
    assert "cannot be read" in main_text(response.text)
    assert (await request_detail(client, world, request["id"]))["status"] == "waiting"


async def test_a_bed_taken_meanwhile_holds_nothing_and_says_why_at_the_top(client, world: World):
    request, bed_a1 = await a_waiting_request(client, world)
    await sign_in(client, "coordinator")
    proposed = await submit(client, "/allocation/propose")
    assert f'value="{request["id"]}:{bed_a1}"' in proposed.text

    await set_bed_status(client, world, bed_a1, "out_of_service", "staff_a")
    response = await submit(
        client, "/allocation/confirm", {"assignment": f"{request['id']}:{bed_a1}"}
    )
    assert response.status_code == 409
    assert re.search(
        r'<p class="error" role="alert" id="form-error">Nothing was held', response.text
    )
    assert 'action="/allocation/propose"' in response.text  # compute them again
    assert (await request_detail(client, world, request["id"]))["status"] == "waiting"


# ---------------------------------------------------------------------------
# Who may see these pages


@pytest.mark.parametrize("username", ["officer", "staff_a", "analyst"])
async def test_other_roles_are_refused(client, world: World, username: str):
    await sign_in(client, username)
    for path in COORDINATOR_PAGES:
        response = await client.get(path)
        assert response.status_code == 403, path
        assert 'id="open-heading"' not in response.text and "<svg" not in response.text
    for path in ("/alerts/1/acknowledge", "/alerts/1/resolve", "/allocation/propose"):
        assert (await submit(client, path)).status_code == 403, path


async def test_admins_see_alerts_network_and_rota_but_do_not_allocate(client, world: World):
    await sign_in(client, "admin")
    for path in ("/alerts", "/network", "/rota"):
        assert (await client.get(path)).status_code == 200, path
    assert (await client.get("/allocation")).status_code == 403
    assert "Edit the rota" in main_text((await client.get("/rota")).text)


async def test_signed_out_visitors_are_sent_to_sign_in(client, world: World):
    for path in COORDINATOR_PAGES:
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == f"/login?next={path}"
