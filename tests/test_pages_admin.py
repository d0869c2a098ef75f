"""Admin pages: centres, units and beds, users, the on-call rota and the integrations, used
through their forms the way an administrator's browser does."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.support.pages import main_text, sign_in, submit
from tests.support.world import PASSWORD, World

NEW_CENTRE = {
    "name": "Les Hirondelles",
    "operator": "ASBL Inventée",
    "kind": "emergency_shelter",
    "country": "BE",
    "community": "french",
    "province": "BE-WNA",
    "municipality": "Dinant",
    "languages": "fr, nl",
    "latitude": "50,26",  # a decimal comma, as Belgians write it
    "longitude": "4.91",
    "address": "Rue Imaginaire 3, 5500 Dinant",
    "unit_name": "Accueil",
    "unit_min_age": "12",
    "unit_max_age": "17",
    "unit_gender_policy": "mixed",
    "unit_bed_labels": "H1, H2, H3",
}
SECRET = "a-webhook-secret-nobody-may-read"


def field_error(html: str, field_id: str) -> str:
    """The error shown beside a field, which the field points to (aria-describedby)."""
    found = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', html)
    assert found, f"no error beside {field_id}"
    assert re.search(rf'aria-invalid="true" aria-describedby="[^"]*{field_id}-error"', html)
    return unescape(found.group(1))


async def api(client, world: World, path: str):
    response = await client.get(f"/api{path}", headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    return response.json()


def centre_id_from(location: str) -> int:
    found = re.fullmatch(r"/admin/centres/(\d+)\?done=saved", location)
    assert found, location
    return int(found.group(1))


async def test_an_admin_creates_a_centre_with_its_first_unit_and_beds(client, world: World):
    await sign_in(client, "admin")
    form = await client.get("/admin/centres/new")
    assert form.status_code == 200
    assert 'for="centre-name"' in form.text and 'id="centre-unit_bed_labels"' in form.text

    sent = [*NEW_CENTRE.items(), ("capabilities", "trauma"), ("capabilities", "addiction")]
    created = await submit(client, "/admin/centres/new", sent)
    assert created.status_code == 303
    centre_id = centre_id_from(created.headers["location"])

    page = await client.get(created.headers["location"])
    shown = main_text(page.text)
    assert "Done." in shown and "Les Hirondelles" in shown
    assert all(label in shown for label in ("H1", "H2", "H3"))

    centre = await api(client, world, f"/centres/{centre_id}")
    assert centre["latitude"] == pytest.approx(50.26)
    assert centre["capabilities"] == ["addiction", "trauma"]
    assert centre["languages"] == ["fr", "nl"]
    [unit] = centre["units"]
    assert (unit["name"], unit["min_age"], unit["max_age"]) == ("Accueil", 12, 17)
    assert [bed["label"] for bed in unit["beds"]] == ["H1", "H2", "H3"]

    listing = main_text((await client.get("/admin")).text)
    assert "Les Hirondelles" in listing and "Maison des Tilleuls" in listing


async def test_a_wrong_centre_form_shows_each_error_beside_its_field(client, world: World):
    await sign_in(client, "admin")
    before = len(await api(client, world, "/centres?include_inactive=true"))

    typo = await submit(
        client, "/admin/centres/new", {**NEW_CENTRE, "latitude": "fifty", "unit_max_age": ""}
    )
    assert typo.status_code == 422
    assert field_error(typo.text, "centre-latitude") == "Enter a number, for example 50.47."
    assert field_error(typo.text, "centre-unit_max_age") == "Required."
    # What was typed is still there.
    assert 'value="Les Hirondelles"' in typo.text

    elsewhere = await submit(client, "/admin/centres/new", {**NEW_CENTRE, "country": "NL"})
    assert elsewhere.status_code == 422
    assert "is not in NL" in field_error(elsewhere.text, "centre-province")

    ages = await submit(client, "/admin/centres/new", {**NEW_CENTRE, "unit_min_age": "18"})
    assert ages.status_code == 422
    assert "greater than max_age" in field_error(ages.text, "centre-unit_min_age")

    unnamed = await submit(client, "/admin/centres/new", {**NEW_CENTRE, "name": " "})
    assert field_error(unnamed.text, "centre-name") == "Required."

    assert len(await api(client, world, "/centres?include_inactive=true")) == before


async def girls_beds(client, world: World) -> dict[str, dict]:
    """The beds of centre A's girls' unit, by label, as the JSON API shows them."""
    centre = await api(client, world, f"/centres/{world.centre_a['id']}")
    return {bed["label"]: bed for bed in centre["units"][0]["beds"]}


async def test_an_admin_adds_removes_and_deactivates_beds(client, world: World):
    await sign_in(client, "admin")
    girls = world.centre_a["units"][0]["id"]
    path = f"/admin/centres/{world.centre_a['id']}"

    added = await submit(client, f"{path}/units/{girls}/beds", {"labels": "A4, A5"})
    assert added.status_code == 303 and added.headers["location"] == f"{path}?done=saved"
    assert list(await girls_beds(client, world)) == ["A1", "A2", "A3", "A4", "A5"]

    clash = await submit(client, f"{path}/units/{girls}/beds", {"labels": "A6, A1"})
    assert clash.status_code == 409
    assert "already has a bed labelled 'A1'" in field_error(clash.text, f"beds-{girls}-labels")
    assert "A6" not in await girls_beds(client, world)

    # A bed never used is removed; one with a history is deactivated instead.
    a5 = (await girls_beds(client, world))["A5"]["id"]
    removed = await submit(client, f"{path}/beds/{a5}/delete")
    assert removed.headers["location"] == f"{path}?done=deleted"
    assert "A5" not in await girls_beds(client, world)

    a2 = world.bed(world.centre_a, "A2")
    await client.post(
        f"/api/beds/{a2}/status", json={"status": "out_of_service"}, headers=world.auth("staff_a")
    )
    kept = await submit(client, f"{path}/beds/{a2}/delete")
    assert kept.headers["location"] == f"{path}?done=kept"
    assert "instead of removed" in main_text((await client.get(kept.headers["location"])).text)
    assert (await girls_beds(client, world))["A2"]["active"] is False

    # An occupied bed stays in the registry.
    a1 = world.bed(world.centre_a, "A1")
    await client.post(
        f"/api/beds/{a1}/status", json={"status": "occupied"}, headers=world.auth("staff_a")
    )
    busy = await submit(client, f"{path}/beds/{a1}/active", {"active": "0"})
    assert busy.status_code == 409
    assert "free it before" in main_text(busy.text)
    assert (await girls_beds(client, world))["A1"]["active"] is True


async def test_an_admin_adds_a_unit_and_changes_its_ages(client, world: World):
    await sign_in(client, "admin")
    centre_id = world.centre_b["id"]
    path = f"/admin/centres/{centre_id}"
    added = await submit(
        client,
        f"{path}/units",
        {
            "name": "Mères",
            "min_age": "14",
            "max_age": "18",
            "gender_policy": "girls",
            "bed_labels": "M1",
        },
    )
    assert added.status_code == 303
    unit = (await api(client, world, f"/centres/{centre_id}"))["units"][-1]
    assert unit["name"] == "Mères" and [b["label"] for b in unit["beds"]] == ["M1"]

    change = {
        "name": "Mères",
        "min_age": "16",
        "max_age": "15",
        "gender_policy": "girls",
        "active": "1",
    }
    wrong = await submit(client, f"{path}/units/{unit['id']}", change)
    assert wrong.status_code == 422
    assert "greater than max_age" in field_error(wrong.text, f"unit-{unit['id']}-min_age")

    changed = await submit(client, f"{path}/units/{unit['id']}", {**change, "max_age": "21"})
    assert changed.status_code == 303
    unit = (await api(client, world, f"/centres/{centre_id}"))["units"][-1]
    assert (unit["min_age"], unit["max_age"], unit["active"]) == (16, 21, True)

    # A unit of another centre is not reachable through this centre's address.
    other = world.centre_a["units"][0]["id"]
    assert (await submit(client, f"{path}/units/{other}", change)).status_code == 404


async def test_an_admin_edits_a_centre_and_cannot_close_it_while_a_bed_is_taken(
    client, world: World
):
    await sign_in(client, "admin")
    centre = world.centre_a
    path = f"/admin/centres/{centre['id']}"
    page = await client.get(path)
    assert 'value="Maison des Tilleuls"' in page.text
    form = {
        "name": "Maison des Tilleuls",
        "operator": "ASBL Exemple",
        "kind": "youth_aid_residential",
        "country": "BE",
        "community": "french",
        "province": "BE-WLG",
        "municipality": "Liège",
        "latitude": "50.63",
        "longitude": "5.57",
        "languages": "fr, de",
        "capabilities": "trauma",
        "address": "Rue Inventée 1, 4000 Liège",
        "active": "1",
    }
    saved = await submit(client, path, form)
    assert saved.status_code == 303
    assert (await api(client, world, f"/centres/{centre['id']}"))["languages"] == ["de", "fr"]

    await client.post(
        f"/api/beds/{world.bed(centre, 'B1')}/status",
        json={"status": "occupied"},
        headers=world.auth("staff_a"),
    )
    closing = dict(form)
    del closing["active"]
    refused = await submit(client, path, closing)
    assert refused.status_code == 409
    assert "held or occupied" in field_error(refused.text, "centre-active")
    assert (await api(client, world, f"/centres/{centre['id']}"))["active"] is True


async def test_an_admin_creates_centre_staff_bound_to_a_centre(client, world: World):
    await sign_in(client, "admin")
    centre_id = world.centre_b["id"]
    person = {
        "username": "night.staff",
        "display_name": "Night Staff",
        "role": "centre_staff",
        "language": "nl",
        "password": "a-long-enough-password",
        "service": "",
        "email": "night@example.org",
    }
    unbound = await submit(client, "/admin/users", person)
    assert unbound.status_code == 422
    assert "at least one centre" in field_error(unbound.text, "user-new-centre_ids")
    assert "a-long-enough-password" not in unbound.text

    created = await submit(
        client, "/admin/users", [*person.items(), ("centre_ids", str(centre_id))]
    )
    assert created.status_code == 303
    user_id = int(re.fullmatch(r"/admin/users/(\d+)\?done=saved", created.headers["location"])[1])
    user = await api(client, world, f"/users/{user_id}")
    assert (user["role"], user["language"], user["centre_ids"]) == (
        "centre_staff",
        "nl",
        [centre_id],
    )

    listing = main_text((await client.get("/admin/users")).text)
    assert "Night Staff" in listing and "Esperanto (test)" in listing

    taken = await submit(client, "/admin/users", [*person.items(), ("centre_ids", str(centre_id))])
    assert taken.status_code == 409
    assert "is taken" in field_error(taken.text, "user-new-username")

    short = await submit(client, "/admin/users", {**person, "username": "x2", "password": "short"})
    assert field_error(short.text, "user-new-username") == "At least 3 characters."

    await sign_in(client, "night.staff", "a-long-enough-password")


async def test_an_admin_changes_a_role_and_keeps_the_password(client, world: World):
    await sign_in(client, "admin")
    officer = world.users["officer"].user_id
    page = await client.get(f"/admin/users/{officer}")
    assert page.status_code == 200 and 'value="Officer"' in page.text
    form = {
        "display_name": "Officer",
        "role": "coordinator",
        "language": "en",
        "service": "SAJ Namur",
        "email": "",
        "password": "",
        "active": "1",
        # A box left ticked from another role is ignored: centres are for centre staff.
        "centre_ids": str(world.centre_a["id"]),
    }
    saved = await submit(client, f"/admin/users/{officer}", form)
    assert saved.status_code == 303
    user = await api(client, world, f"/users/{officer}")
    assert (user["role"], user["centre_ids"], user["active"]) == ("coordinator", [], True)
    await sign_in(client, "officer", PASSWORD)  # the empty password field kept the password

    await sign_in(client, "admin")
    staff = world.users["staff_a"].user_id
    unbound = await submit(
        client, f"/admin/users/{staff}", {**form, "role": "centre_staff", "centre_ids": ""}
    )
    assert unbound.status_code == 422
    assert "at least one centre" in field_error(unbound.text, "user-centre_ids")

    assert (await client.get("/admin/users/99999")).status_code == 404


async def test_a_shift_keeps_its_local_times_and_a_skipped_hour_is_refused(client, world: World):
    await sign_in(client, "admin")
    coordinator = world.users["coordinator"].user_id
    form = await client.get("/admin/rota")
    people = re.search(r'(?s)<select id="shift-user_id".*?</select>', form.text).group(0)
    assert "Coordinator (coordinator)" in people and "Admin (admin)" in people
    assert "officer" not in people and "staff_a" not in people

    shift = {
        "region": "BE-WNA",
        "level": "1",
        "user_id": str(coordinator),
        "starts_local": "2030-01-10T20:00",
        "ends_local": "2030-01-11T08:00",
        "repeat_weeks": "1",
        "note": "",
    }
    added = await submit(client, "/admin/rota/shifts", shift)
    assert added.status_code == 303 and added.headers["location"] == "/admin/rota?done=saved"
    listed = main_text((await client.get("/admin/rota")).text)
    assert "10/01/30, 20:00" in listed and "11/01/30, 08:00" in listed and "Namur" in listed
    [stored] = await api(client, world, "/oncall/shifts")
    assert (stored["starts_local"], stored["ends_local"]) == (
        "2030-01-10T20:00",
        "2030-01-11T08:00",
    )

    # 02:30 on the last Sunday of March 2030 never happens in Brussels.
    gap = await submit(
        client,
        "/admin/rota/shifts",
        {**shift, "starts_local": "2030-03-31T02:30", "ends_local": "2030-03-31T09:00"},
    )
    assert gap.status_code == 422
    assert "clocks go forward" in field_error(gap.text, "shift-starts_local")
    assert 'value="2030-03-31T02:30"' in gap.text
    assert len(await api(client, world, "/oncall/shifts")) == 1

    unreadable = await submit(client, "/admin/rota/shifts", {**shift, "ends_local": "tomorrow"})
    assert "Enter a date and time" in field_error(unreadable.text, "shift-ends_local")
    no_weeks = await submit(client, "/admin/rota/shifts", {**shift, "repeat_weeks": "0"})
    assert field_error(no_weeks.text, "shift-repeat_weeks") == "At least 1."

    removed = await submit(client, f"/admin/rota/shifts/{stored['id']}/delete")
    assert removed.status_code == 303
    assert await api(client, world, "/oncall/shifts") == []


async def test_an_admin_sets_a_regions_escalation(client, world: World):
    await sign_in(client, "admin")
    policy = {
        "region": "BE-WLG",
        "level_1": "5",
        "level_2": "10",
        "level_3": "15",
        "reminder_minutes": "20",
    }
    saved = await submit(client, "/admin/rota/policies", policy)
    assert saved.status_code == 303
    [stored] = await api(client, world, "/oncall/policies")
    assert (stored["region"], stored["level_minutes"], stored["reminder_minutes"]) == (
        "BE-WLG",
        [5, 10, 15],
        20,
    )
    assert "Liège (BE-WLG)" in main_text((await client.get("/admin/rota")).text)

    too_long = await submit(
        client, "/admin/rota/policies", {**policy, "level_2": "5000", "existing": "1"}
    )
    assert too_long.status_code == 422
    assert field_error(too_long.text, "policy-BE-WLG-level_2") == "At most 1.440."


async def test_a_webhook_secret_never_appears_in_a_page(client, world: World):
    await sign_in(client, "admin")
    hook = [
        ("name", "Police, missing persons unit"),
        ("channel", "webhook"),
        ("url", "https://hooks.example.org/safebed?token=abc123"),
        ("secret", SECRET),
        ("email", ""),
        ("language", "nl"),
        ("kinds", "runaway"),
        ("kinds", "runaway_unresolved"),
        ("regions", "BE-WLG"),
        ("regions", "BE"),
    ]
    no_url = await submit(
        client, "/admin/integrations/subscriptions", [(k, "" if k == "url" else v) for k, v in hook]
    )
    assert no_url.status_code == 422
    assert field_error(no_url.text, "subscription-url") == "A webhook needs a url."
    assert SECRET not in no_url.text

    added = await submit(client, "/admin/integrations/subscriptions", hook)
    assert added.status_code == 303
    [stored] = await api(client, world, "/subscriptions")
    assert stored["has_secret"] and stored["kinds"] == ["runaway", "runaway_unresolved"]
    assert stored["regions"] == ["BE-WLG", "BE"]

    page = await client.get("/admin/integrations")
    shown = main_text(page.text)
    assert "Police, missing persons unit" in shown and "Secret set" in shown
    assert SECRET not in page.text and "abc123" not in page.text

    off = await submit(
        client, f"/admin/integrations/subscriptions/{stored['id']}/active", {"active": "0"}
    )
    assert off.status_code == 303
    assert (await api(client, world, "/subscriptions"))[0]["active"] is False
    assert SECRET not in (await client.get(off.headers["location"])).text

    removed = await submit(client, f"/admin/integrations/subscriptions/{stored['id']}/delete")
    assert removed.status_code == 303
    assert await api(client, world, "/subscriptions") == []


async def test_the_smtp_password_is_written_never_shown(client, world: World):
    await sign_in(client, "admin")
    smtp = {
        "host": "smtp.example.org",
        "port": "587",
        "security": "starttls",
        "username": "safebed",
        "password": "smtp-password-kept-secret",
        "sender": "alerts@example.org",
    }
    saved = await submit(client, "/admin/integrations/smtp", smtp)
    assert saved.status_code == 303
    page = await client.get("/admin/integrations")
    assert "Password set" in main_text(page.text)
    assert "smtp-password-kept-secret" not in page.text

    # Saved again with the password field empty: the stored password stays.
    again = await submit(
        client, "/admin/integrations/smtp", {**smtp, "password": "", "port": "465"}
    )
    assert again.status_code == 303
    stored = await api(client, world, "/settings/smtp")
    assert (stored["port"], stored["has_password"]) == (465, True)

    bad_port = await submit(client, "/admin/integrations/smtp", {**smtp, "port": "99999"})
    assert bad_port.status_code == 422
    assert field_error(bad_port.text, "smtp-port") == "At most 65.535."
    assert "smtp-password-kept-secret" not in bad_port.text

    removed = await submit(client, "/admin/integrations/smtp/delete")
    assert removed.status_code == 303
    assert (await api(client, world, "/settings/smtp"))["configured"] is False


ADMIN_PAGES = [
    "/admin",
    "/admin/centres/new",
    "/admin/centres/{centre}",
    "/admin/users",
    "/admin/users/{user}",
    "/admin/rota",
    "/admin/integrations",
]


@pytest.mark.parametrize("role", ["officer", "coordinator", "analyst", "staff_a"])
async def test_only_admins_open_the_admin_pages(client, world: World, role: str):
    await sign_in(client, role)
    ids = {"centre": world.centre_a["id"], "user": world.users["officer"].user_id}
    for path in ADMIN_PAGES:
        response = await client.get(path.format(**ids))
        assert response.status_code == 403, path
        assert 'action="/admin' not in response.text and "Tilleuls" not in response.text
    refused = await submit(client, "/admin/centres/new", NEW_CENTRE)
    assert refused.status_code == 403
    refused = await submit(client, "/admin/integrations/smtp/delete")
    assert refused.status_code == 403
    assert len(await api(client, world, "/centres")) == 2


async def test_signed_out_the_admin_pages_ask_to_sign_in(client, world: World):
    response = await client.get("/admin/rota")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/admin/rota"
