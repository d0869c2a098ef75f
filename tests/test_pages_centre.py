"""The occupancy board of centre staff, through its pages: every bed as a tile with its
status written out, one small form per change (answer a hold, admit, report a runaway and
the return, end a stay, out of service and back, "everything is current"), and what a
refused change shows."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from backend.timeutil import utcnow
from capacity import service as capacity
from frontend import i18n
from frontend.centre import local_now_input
from placement import runaways
from tests.support.pages import main_text, sign_in, submit, text_of
from tests.support.placement import (
    answer,
    centre_bed_status,
    create_request,
    held,
    open_case,
    request_detail,
    set_bed_status,
)


async def board(client, centre_id: int, status: int = 200) -> str:
    response = await client.get(f"/board/{centre_id}")
    assert response.status_code == status, response.text
    return response.text


def tile(html: str, bed_id: int) -> str:
    """The visible text of one bed's tile."""
    start = html.index(f'id="bed-{bed_id}"')
    ends = [html.find(mark, start) for mark in ('<li class="tile ', "</section>")]
    text = text_of(html[start - 30 : min(end for end in ends if end > 0)].split(">", 1)[1])
    return text.replace(" :", ":")


def tile_class(html: str, bed_id: int) -> str:
    found = re.search(rf'<li class="tile ([^"]*)" id="bed-{bed_id}">', html)
    assert found
    return found.group(1)


async def act(client, path: str, data: dict | None = None, status: int = 303):
    response = await submit(client, path, data)
    assert response.status_code == status, main_text(response.text)
    if status == 303:
        assert response.headers["location"].startswith("/board/")
    return response


async def held_at_a(client, world, label: str = "A1") -> dict:
    """A girl's urgent request, with bed `label` of centre A held for it (through the API)."""
    case = await open_case(client, world)
    request = (await create_request(client, world, case["case_code"]))["request"]
    return await held(client, world, request["id"], world.bed(world.centre_a, label))


async def test_signed_out_the_board_asks_to_sign_in(client, world):
    response = await client.get(f"/board/{world.centre_a['id']}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/board/{world.centre_a['id']}"


async def test_staff_see_their_centre_with_every_status_written(client, world):
    a = world.centre_a["id"]
    await set_bed_status(client, world, world.bed(world.centre_a, "B2"), "out_of_service", "admin")
    hold = await held_at_a(client, world, "A2")
    await sign_in(client, "staff_a")

    response = await client.get("/board")
    assert response.status_code == 303 and response.headers["location"] == f"/board/{a}"
    html = await board(client, a)
    text = main_text(html)
    assert "Maison des Tilleuls" in text and "Filles" in text and "Garçons" in text
    assert "data-live" in html
    assert "Bed statuses updated" in text
    assert re.search(r"Free 3 Held 1 Occupied 0 Away: runaway 0 Out of service 1", text)
    assert tile(html, world.bed(world.centre_a, "A1")).startswith("A1 Free")
    held_tile = tile(html, hold["bed_id"])
    assert held_tile.startswith("A2 Held")
    assert hold["case_code"] in held_tile and "Tonight (immediate)" in held_tile
    assert "Waiting for your answer" in held_tile
    assert tile_class(html, world.bed(world.centre_a, "B2")) == "status-out_of_service"
    assert "B2 Out of service" in tile(html, world.bed(world.centre_a, "B2"))
    # Another centre's beds are not on this board.
    assert "E1" not in text


async def test_admins_choose_among_all_centres(client, world):
    await sign_in(client, "admin")
    response = await client.get("/board")
    assert response.status_code == 200
    text = main_text(response.text)
    assert "Maison des Tilleuls" in text and "Esperanto (test)" in text
    html = await board(client, world.centre_b["id"])
    assert "Esperanto (test)" in main_text(html)
    assert tile(html, world.bed(world.centre_b, "E1")).startswith("E1 Free")


async def test_accept_then_admit_a_hold(client, world):
    a = world.centre_a["id"]
    hold = await held_at_a(client, world)
    await sign_in(client, "staff_a")

    response = await act(client, f"/board/{a}/holds/{hold['id']}/accept")
    assert response.headers["location"] == f"/board/{a}?done=saved"
    html = await board(client, a)
    assert "Done." in main_text((await client.get(response.headers["location"])).text)
    accepted = tile(html, hold["bed_id"])
    assert "Accepted: admit by" in accepted and "Accept " not in accepted
    assert (await request_detail(client, world, hold["request_id"]))["status"] == "accepted"

    await act(client, f"/board/{a}/holds/{hold['id']}/admit")
    html = await board(client, a)
    placed = tile(html, hold["bed_id"])
    assert placed.startswith("A1 Occupied") and hold["case_code"] in placed
    assert "Report runaway" in placed
    detail = await request_detail(client, world, hold["request_id"])
    assert detail["status"] == "placed" and detail["stay"]["status"] == "active"


async def test_admit_straight_from_a_pending_hold(client, world):
    a = world.centre_a["id"]
    hold = await held_at_a(client, world, "A3")
    await sign_in(client, "staff_a")
    await act(client, f"/board/{a}/holds/{hold['id']}/admit")
    assert await centre_bed_status(client, world, a, hold["bed_id"]) == "occupied"


async def test_a_refusal_needs_a_reason(client, world):
    a = world.centre_a["id"]
    hold = await held_at_a(client, world)
    await sign_in(client, "staff_a")
    path = f"/board/{a}/holds/{hold['id']}/refuse"

    response = await act(client, path, {"reason": ""}, status=422)
    html = response.text
    field = f"refuse-{hold['id']}-reason"
    assert f'aria-describedby="{field}-error"' in html
    assert re.search(rf'<p class="field-error" id="{field}-error">Choose why you refuse.</p>', html)
    assert "<details open>" in html
    assert "Nothing was saved: see the message beside the field below." in main_text(html)

    response = await act(client, path, {"reason": "other", "text": " "}, status=422)
    field = f"refuse-{hold['id']}-text"
    assert re.search(
        rf'<p class="field-error" id="{field}-error">Say why when the reason is “Other”.</p>',
        response.text,
    )
    # The chosen reason is kept in the form.
    assert '<option value="other" selected>' in response.text
    assert await centre_bed_status(client, world, a, hold["bed_id"]) == "held"

    await act(client, path, {"reason": "other", "text": "Group too tense tonight"})
    assert tile(await board(client, a), hold["bed_id"]).startswith("A1 Free")
    detail = await request_detail(client, world, hold["request_id"])
    assert detail["status"] in ("open", "held", "waiting")
    assert detail["holds"][0]["status"] == "refused"
    assert detail["holds"][0]["refusal_text"] == "Group too tense tonight"


async def test_runaway_reported_followed_returned_and_stay_ended(client, world):
    a = world.centre_a["id"]
    hold = await held_at_a(client, world)
    await sign_in(client, "staff_a")
    await act(client, f"/board/{a}/holds/{hold['id']}/admit")
    stay_id = (await request_detail(client, world, hold["request_id"]))["stay"]["id"]

    # A time is required.
    response = await act(
        client, f"/board/{a}/stays/{stay_id}/runaway", {"last_seen_at": "yesterday"}, status=422
    )
    assert "Enter the date and time the minor was last seen." in response.text
    # Not in the future (the board's time is Brussels time).
    later = local_now_input(utcnow() + timedelta(hours=3))
    response = await act(
        client, f"/board/{a}/stays/{stay_id}/runaway", {"last_seen_at": later}, status=422
    )
    assert re.search(
        rf'id="runaway-{stay_id}-last_seen_at-error">The time last seen must be after',
        response.text,
    )

    await act(
        client,
        f"/board/{a}/stays/{stay_id}/runaway",
        {
            "last_seen_at": local_now_input(utcnow()),
            "kind": "missing",
            "risk_level": "high",
            "circumstances": "Left after dinner",
        },
    )
    html = await board(client, a)
    away = tile(html, hold["bed_id"])
    assert tile_class(html, hold["bed_id"]) == "status-on_runaway"
    assert away.startswith("A1 Away: runaway")
    assert "Missing" in away and "Risk: High" in away and "Left after dinner" in away
    assert "Checklist: 0 of 3 done" in away
    assert "Away: runaway 1" in main_text(html)
    episode_id = await client.get(f"/api/stays?centre_id={a}", headers=world.auth("staff_a"))
    episode_id = episode_id.json()[0]["open_runaway_id"]

    await act(
        client,
        f"/board/{a}/runaways/{episode_id}/checklist",
        {"item": "police_informed", "value": "true", "police_reference": "PV-2041"},
    )
    await act(
        client,
        f"/board/{a}/runaways/{episode_id}/checklist",
        {"item": "hotline_informed", "value": "true"},
    )
    away = tile(await board(client, a), hold["bed_id"])
    assert "Checklist: 2 of 3 done" in away
    assert "Police informed:" in away
    assert "by staff_a" in away and "reference PV-2041" in away
    assert "Referring service informed: not yet" in away
    response = await client.get(f"/api/runaways/{episode_id}", headers=world.auth("staff_a"))
    checklist = response.json()["checklist"]
    assert checklist["police_reference"] == "PV-2041" and checklist["hotline_informed_by"]

    await act(client, f"/board/{a}/runaways/{episode_id}/return")
    back = tile(await board(client, a), hold["bed_id"])
    assert back.startswith("A1 Occupied") and "1 runaway during this stay" in back
    assert "Mark returned" not in back

    response = await act(
        client, f"/board/{a}/stays/{stay_id}/end", {"reason": "not_returned"}, status=422
    )
    assert "Choose why the stay ends." in response.text
    await act(client, f"/board/{a}/stays/{stay_id}/end", {"reason": "transfer"})
    assert tile(await board(client, a), hold["bed_id"]).startswith("A1 Free")
    stay = (await request_detail(client, world, hold["request_id"]))["stay"]
    assert stay["status"] == "ended" and stay["end_reason"] == "transfer"


async def test_a_runaway_past_the_keep_bed_period_is_still_followed(client, world):
    a = world.centre_a["id"]
    hold = await held_at_a(client, world)
    await answer(client, world, hold["id"], "admit", "staff_a")
    stay = (await request_detail(client, world, hold["request_id"]))["stay"]
    response = await client.post(
        f"/api/stays/{stay['id']}/runaways",
        json={"last_seen_at": utcnow().isoformat()},
        headers=world.auth("staff_a"),
    )
    episode = response.json()
    ended_at = datetime.fromisoformat(episode["keep_bed_until"]) + timedelta(minutes=1)
    assert await runaways.end_stays_not_returned(now=ended_at) == 1
    await sign_in(client, "staff_a")

    html = await board(client, a)
    assert tile(html, hold["bed_id"]).startswith("A1 Free")
    text = main_text(html)
    assert "Runaways still open (the bed was released)" in text
    assert f"Case {hold['case_code']} · bed A1" in text and "Mark returned" in text

    await act(client, f"/board/{a}/runaways/{episode['id']}/return")
    assert "Runaways still open" not in main_text(await board(client, a))
    response = await client.get(f"/api/runaways/{episode['id']}", headers=world.auth("staff_a"))
    assert response.json()["open"] is False


async def test_out_of_service_and_back(client, world):
    a = world.centre_a["id"]
    b1 = world.bed(world.centre_a, "B1")
    await sign_in(client, "staff_a")
    path = f"/board/{a}/beds/{b1}/status"

    response = await act(
        client, path, {"status": "out_of_service", "expected_status": "available"}, status=422
    )
    assert re.search(
        rf'id="bed-{b1}-reason-error">Say why the bed is out of service.</p>', response.text
    )
    await act(
        client,
        path,
        {"status": "out_of_service", "expected_status": "available", "reason": "Water leak"},
    )
    html = await board(client, a)
    assert tile(html, b1).startswith("B1 Out of service") and "Back in service" in tile(html, b1)
    assert await centre_bed_status(client, world, a, b1) == "out_of_service"

    await act(client, path, {"status": "available", "expected_status": "out_of_service"})
    assert tile(await board(client, a), b1).startswith("B1 Free")


async def test_a_change_made_meanwhile_is_not_overwritten(client, world):
    a = world.centre_a["id"]
    b1 = world.bed(world.centre_a, "B1")
    await sign_in(client, "staff_a")
    html = await board(client, a)
    assert tile(html, b1).startswith("B1 Free")
    # A colleague puts the bed out of service while this board is open.
    await set_bed_status(client, world, b1, "out_of_service", "staff_a")

    response = await act(
        client,
        f"/board/{a}/beds/{b1}/status",
        {"status": "out_of_service", "expected_status": "available", "reason": "Broken"},
        status=409,
    )
    text = main_text(response.text)
    assert "Bed B1 changed since you loaded the board: it is now “Out of service”." in text
    assert "Nothing was saved" in text
    assert tile(response.text, b1).startswith("B1 Out of service")

    # And a hold answered by a colleague: a second answer is refused, readably.
    hold = await held_at_a(client, world)
    await act(client, f"/board/{a}/holds/{hold['id']}/accept")
    response = await act(client, f"/board/{a}/holds/{hold['id']}/accept", status=409)
    assert "This hold was answered, withdrawn or expired" in main_text(response.text)


async def test_everything_is_current_refreshes_a_stale_board(client, world, monkeypatch):
    a = world.centre_a["id"]
    # Three days pass without any change or confirmation.
    later = utcnow() + timedelta(days=3)
    monkeypatch.setattr(capacity, "utcnow", lambda: later)
    monkeypatch.setattr(i18n, "utcnow", lambda: later)
    await sign_in(client, "staff_a")

    html = await board(client, a)
    assert 'class="freshness stale"' in html and "Out of date" in main_text(html)
    assert "Bed statuses updated 3 days ago" in main_text(html)

    await act(client, f"/board/{a}/confirm")
    html = await board(client, a)
    assert "Out of date" not in main_text(html) and 'class="freshness"' in html
    response = await client.get(f"/api/centres/{a}", headers=world.auth("staff_a"))
    freshness = response.json()["freshness"]
    assert freshness["stale"] is False and freshness["minutes_since_update"] == 0


async def test_staff_of_another_centre_can_neither_see_nor_act(client, world):
    a = world.centre_a["id"]
    a1 = world.bed(world.centre_a, "A1")
    hold = await held_at_a(client, world)
    await sign_in(client, "staff_b")

    response = await client.get("/board")
    assert response.headers["location"] == f"/board/{world.centre_b['id']}"
    response = await client.get(f"/board/{a}")
    assert response.status_code == 403 and "Not for your role" in main_text(response.text)
    assert hold["case_code"] not in response.text
    for path, data in [
        (f"/board/{a}/confirm", {}),
        (f"/board/{a}/holds/{hold['id']}/accept", {}),
        (f"/board/{a}/holds/{hold['id']}/refuse", {"reason": "safety"}),
        (f"/board/{a}/holds/{hold['id']}/admit", {}),
        (f"/board/{a}/beds/{a1}/status", {"status": "out_of_service", "reason": "x"}),
        # Through their own board's address, the hold is still centre A's.
        (f"/board/{world.centre_b['id']}/holds/{hold['id']}/accept", {}),
    ]:
        response = await submit(client, path, data)
        assert response.status_code == 403, (path, response.status_code)
    assert await centre_bed_status(client, world, a, hold["bed_id"]) == "held"
    assert (await request_detail(client, world, hold["request_id"]))["status"] == "held"


async def test_other_roles_have_no_board(client, world):
    for name in ("officer", "coordinator", "analyst"):
        await sign_in(client, name)
        assert (await client.get("/board")).status_code == 403
        assert (await client.get(f"/board/{world.centre_a['id']}")).status_code == 403
