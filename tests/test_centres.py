"""The registry as an admin keeps it: centres, units and beds; the centre list; provinces."""

from __future__ import annotations

import pytest

from backend.tables import User
from capacity.geography import PROVINCES
from capacity.tables import OccupancyEvent
from tests.support.capacity import assert_problem, events_of, row_counts

NEW_CENTRE = {
    "name": "Het Kompas",
    "operator": "vzw Voorbeeld",
    "country": "BE",
    "community": "flemish",
    "province": "BE-VOV",
    "municipality": "Gent",
    "latitude": 51.054342,
    "longitude": 3.717424,
    "kind": "emergency_shelter",
    "capabilities": ["trauma", "addiction", "trauma"],
    "languages": ["nl", "fr", "en"],
    "address": "Voorbeeldstraat 12, 9000 Gent",
    "address_confidential": False,
    "units": [
        {
            "name": "Meisjes",
            "min_age": 12,
            "max_age": 17,
            "gender_policy": "girls",
            "bed_labels": ["K1", "K2"],
        },
        {
            "name": "Gemengd",
            "min_age": 6,
            "max_age": 11,
            "gender_policy": "mixed",
            "bed_labels": ["G1"],
        },
    ],
}


async def create(client, world, body=NEW_CENTRE) -> dict:
    response = await client.post("/api/centres", headers=world.auth("admin"), json=body)
    assert response.status_code == 201, response.text
    return response.json()


def without_freshness(centre: dict) -> dict:
    return {key: value for key, value in centre.items() if key != "freshness"}


# ---------------------------------------------------------------------------
# Creating


async def test_admin_creates_a_centre_with_units_and_beds(client, world):
    counts = await row_counts()
    centre = await create(client, world)

    for key in (
        "name",
        "operator",
        "country",
        "community",
        "province",
        "municipality",
        "latitude",
        "longitude",
        "kind",
        "address",
        "address_confidential",
    ):
        assert centre[key] == NEW_CENTRE[key], key
    assert centre["capabilities"] == ["addiction", "trauma"]
    assert centre["languages"] == ["en", "fr", "nl"]
    assert centre["active"] is True
    assert centre["freshness"]["stale"] is False
    assert [
        (u["name"], u["min_age"], u["max_age"], u["gender_policy"]) for u in centre["units"]
    ] == [
        ("Meisjes", 12, 17, "girls"),
        ("Gemengd", 6, 11, "mixed"),
    ]
    beds = [b for unit in centre["units"] for b in unit["beds"]]
    assert [b["label"] for b in beds] == ["K1", "K2", "G1"]
    assert all(b["status"] == "available" and b["active"] for b in beds)
    assert all(b["expected_departure"] is None for b in beds)

    # Each new bed starts its history with one event, signed by the admin.
    assert await row_counts() == {
        "centre": counts["centre"] + 1,
        "unit": counts["unit"] + 2,
        "bed": counts["bed"] + 3,
        "event": counts["event"] + 3,
    }
    for bed in beds:
        [event] = await events_of(bed["id"])
        assert (event["from_status"], event["to_status"]) == (None, "available")
        assert event["actor"] == world.users["admin"].user_id

    shown = await client.get(f"/api/centres/{centre['id']}", headers=world.auth("admin"))
    assert without_freshness(shown.json()) == without_freshness(centre)


async def test_coordinates_come_back_as_entered(client, world):
    centre = await create(client, world)
    shown = (await client.get(f"/api/centres/{centre['id']}", headers=world.auth("officer"))).json()
    assert (shown["latitude"], shown["longitude"]) == (51.054342, 3.717424)
    assert world.centre_a["latitude"] == 50.63


async def test_admin_adds_a_unit_and_beds(client, world):
    centre = world.centre_a["id"]
    unit = await client.post(
        f"/api/centres/{centre}/units",
        headers=world.auth("admin"),
        json={"name": "Mixte", "min_age": 14, "max_age": 18, "gender_policy": "mixed"},
    )
    assert unit.status_code == 201, unit.text
    assert unit.json()["beds"] == []
    assert unit.json()["centre_id"] == centre

    beds = await client.post(
        f"/api/units/{unit.json()['id']}/beds",
        headers=world.auth("admin"),
        json={"labels": ["M2", "M1"]},
    )
    assert beds.status_code == 201, beds.text
    assert [(b["label"], b["status"], b["unit_id"]) for b in beds.json()] == [
        ("M2", "available", unit.json()["id"]),
        ("M1", "available", unit.json()["id"]),
    ]

    shown = (await client.get(f"/api/centres/{centre}", headers=world.auth("admin"))).json()
    [mixte] = [u for u in shown["units"] if u["name"] == "Mixte"]
    assert [b["label"] for b in mixte["beds"]] == ["M1", "M2"]
    # The same label may exist in another unit of the same centre.
    again = await client.post(
        f"/api/units/{unit.json()['id']}/beds", headers=world.auth("admin"), json={"labels": ["A1"]}
    )
    assert again.status_code == 201, again.text


async def test_a_confidential_centre_created_by_an_admin_hides_its_address(client, world):
    body = {**NEW_CENTRE, "name": "Refuge", "address": "Secret 1", "address_confidential": True}
    centre = await create(client, world, body)
    assert centre["address"] == "Secret 1"
    shown = await client.get(f"/api/centres/{centre['id']}", headers=world.auth("officer"))
    assert shown.json()["address"] is None
    assert "Secret 1" not in shown.text


# ---------------------------------------------------------------------------
# Changing: only the fields sent change


@pytest.mark.parametrize(
    "patch",
    [
        {"name": "Maison des Tilleuls (rénovée)"},
        {"operator": "Nouvel opérateur"},
        {"municipality": "Seraing", "latitude": 50.58, "longitude": 5.5},
        {"kind": "emergency_shelter"},
        {"capabilities": ["secure", "disability", "secure"]},
        {"capabilities": []},
        {"languages": ["de"]},
        {"community": "german_speaking"},
        {"address": "Rue Nouvelle 3"},
        {"province": "BE-WNA"},
    ],
)
async def test_patch_centre_changes_only_the_fields_sent(client, world, patch):
    url = f"/api/centres/{world.centre_a['id']}"
    before = (await client.get(url, headers=world.auth("admin"))).json()

    response = await client.patch(url, headers=world.auth("admin"), json=patch)

    assert response.status_code == 200, response.text
    after = (await client.get(url, headers=world.auth("admin"))).json()
    assert without_freshness(response.json()) == without_freshness(after)
    expected = {**before, **patch}
    if "capabilities" in patch:
        expected["capabilities"] = sorted(set(patch["capabilities"]))
    assert without_freshness(after) == without_freshness(expected)


async def test_patch_confidentiality_hides_the_address_from_officers(client, world):
    url = f"/api/centres/{world.centre_a['id']}"
    response = await client.patch(
        url, headers=world.auth("admin"), json={"address_confidential": True}
    )
    assert response.status_code == 200
    assert response.json()["address"] == "Rue Inventée 1, 4000 Liège"
    assert (await client.get(url, headers=world.auth("officer"))).json()["address"] is None
    assert (await client.get(url, headers=world.auth("staff_a"))).json()["address"] is not None


async def test_an_empty_patch_changes_nothing(client, world):
    url = f"/api/centres/{world.centre_a['id']}"
    before = (await client.get(url, headers=world.auth("admin"))).json()
    response = await client.patch(url, headers=world.auth("admin"), json={})
    assert response.status_code == 200
    assert without_freshness(response.json()) == without_freshness(before)


async def test_patch_unit_changes_only_the_fields_sent(client, world):
    unit = world.centre_a["units"][0]
    url = f"/api/units/{unit['id']}"
    admin = world.auth("admin")

    renamed = await client.patch(url, headers=admin, json={"name": "Filles 12-18"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() == {**unit, "name": "Filles 12-18"}

    widened = await client.patch(url, headers=admin, json={"max_age": 18, "gender_policy": "mixed"})
    assert widened.json() == {
        **unit,
        "name": "Filles 12-18",
        "max_age": 18,
        "gender_policy": "mixed",
    }

    # The new range is what the vacancy search uses.
    result = await client.get(
        "/api/vacancies", headers=world.auth("officer"), params={"age": 18, "gender": "boy"}
    )
    assert {b["label"] for c in result.json()["centres"] for b in c["beds"]} == {"A1", "A2", "A3"}


async def test_patch_bed_changes_only_the_fields_sent(client, world):
    bed = world.bed(world.centre_a, "A1")
    events_before = await events_of(bed)
    response = await client.patch(
        f"/api/beds/{bed}", headers=world.auth("admin"), json={"label": "A1 fenêtre"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "id": bed,
        "unit_id": world.centre_a["units"][0]["id"],
        "label": "A1 fenêtre",
        "status": "available",
        "expected_departure": None,
        "active": True,
    }
    same = await client.patch(f"/api/beds/{bed}", headers=world.auth("admin"), json={})
    assert same.json() == response.json()
    # Renaming is no status change: the log has nothing new.
    assert await events_of(bed) == events_before


async def test_a_deactivated_centre_leaves_the_list_and_the_search(client, world):
    url = f"/api/centres/{world.centre_b['id']}"
    response = await client.patch(url, headers=world.auth("admin"), json={"active": False})
    assert response.status_code == 200
    assert response.json()["active"] is False

    listed = await client.get("/api/centres", headers=world.auth("officer"))
    assert [c["name"] for c in listed.json()] == ["Maison des Tilleuls"]
    everything = await client.get(
        "/api/centres", headers=world.auth("admin"), params={"include_inactive": True}
    )
    assert [c["name"] for c in everything.json()] == ["Esperanto (test)", "Maison des Tilleuls"]
    result = await client.get("/api/vacancies", headers=world.auth("officer"))
    assert [c["name"] for c in result.json()["centres"]] == ["Maison des Tilleuls"]
    # Still readable by id, history and all.
    assert (await client.get(url, headers=world.auth("admin"))).status_code == 200
    assert await OccupancyEvent.count().where(OccupancyEvent.centre == world.centre_b["id"]) == 2

    back = await client.patch(url, headers=world.auth("admin"), json={"active": True})
    assert back.json()["active"] is True
    listed = await client.get("/api/centres", headers=world.auth("officer"))
    assert len(listed.json()) == 2


# ---------------------------------------------------------------------------
# The centre list


@pytest.fixture
async def three_countries(client, world) -> None:
    for body in (
        {**NEW_CENTRE, "units": []},
        {
            **NEW_CENTRE,
            "name": "De Haven",
            "country": "NL",
            "community": None,
            "province": "NL-ZE",
            "municipality": "Middelburg",
            "kind": "mena_reception",
            "units": [],
        },
        {
            **NEW_CENTRE,
            "name": "Foyer Lux",
            "country": "LU",
            "community": None,
            "province": "LU-LU",
            "municipality": "Luxembourg",
            "kind": "emergency_shelter",
            "units": [],
        },
    ):
        await create(client, world, body)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["De Haven", "Esperanto (test)", "Foyer Lux", "Het Kompas", "Maison des Tilleuls"]),
        ({"country": "BE"}, ["Esperanto (test)", "Het Kompas", "Maison des Tilleuls"]),
        ({"country": "NL"}, ["De Haven"]),
        ({"country": "LU"}, ["Foyer Lux"]),
        ({"province": "BE-WLG"}, ["Maison des Tilleuls"]),
        ({"province": "BE-VOV"}, ["Het Kompas"]),
        ({"province": "BE-VAN"}, []),
        ({"kind": "emergency_shelter"}, ["Foyer Lux", "Het Kompas"]),
        ({"kind": "specialised_exploitation"}, ["Esperanto (test)"]),
        ({"country": "BE", "kind": "emergency_shelter"}, ["Het Kompas"]),
        ({"country": "NL", "province": "BE-WLG"}, []),
    ],
)
async def test_centre_list_filters(client, world, three_countries, params, expected):
    response = await client.get("/api/centres", headers=world.auth("analyst"), params=params)
    assert response.status_code == 200, response.text
    assert [c["name"] for c in response.json()] == expected
    for centre in response.json():
        assert centre["units"] == []  # the list is light; details are per centre
        assert set(centre["freshness"]) == {"last_update_at", "minutes_since_update", "stale"}


async def test_centre_list_rejects_an_unknown_province(client, world):
    response = await client.get(
        "/api/centres", headers=world.auth("officer"), params={"province": "BE-XYZ"}
    )
    assert_problem(response, 422, field="province")


# ---------------------------------------------------------------------------
# Provinces


async def test_provinces_of_the_three_countries(client, world):
    response = await client.get("/api/geography/provinces", headers=world.auth("officer"))
    assert response.status_code == 200
    provinces = response.json()
    codes = [p["code"] for p in provinces]
    assert len(codes) == len(set(codes)) == len(PROVINCES)
    by_country = {}
    for province in provinces:
        assert province["code"].startswith(province["country"] + "-")
        by_country.setdefault(province["country"], []).append(province["code"])
    # Ten Belgian provinces plus the Brussels-Capital Region, twelve Dutch provinces,
    # twelve Luxembourg cantons.
    assert {country: len(codes) for country, codes in by_country.items()} == {
        "BE": 11,
        "NL": 12,
        "LU": 12,
    }
    names = {p["code"]: p["name"] for p in provinces}
    assert names["BE-WLG"] == "Liège"
    assert names["BE-VAN"] == "Antwerp"
    assert names["BE-BRU"] == "Brussels-Capital Region"


@pytest.mark.parametrize(
    ("language", "antwerp", "liege"),
    [("fr", "Anvers", "Liège"), ("nl", "Antwerpen", "Luik"), ("de", "Antwerpen", "Lüttich")],
)
async def test_province_names_in_the_readers_language(client, world, language, antwerp, liege):
    await User.update({User.language: language}).where(User.id == world.users["officer"].user_id)
    response = await client.get("/api/geography/provinces", headers=world.auth("officer"))
    names = {p["code"]: p["name"] for p in response.json()}
    assert (names["BE-VAN"], names["BE-WLG"]) == (antwerp, liege)


@pytest.mark.parametrize("target", ["unit", "centre"])
async def test_a_unit_or_centre_with_someone_placed_cannot_be_deactivated(client, world, target):
    bed = world.bed(world.centre_a, "A2")
    response = await client.post(
        f"/api/beds/{bed}/status", headers=world.auth("staff_a"), json={"status": "occupied"}
    )
    assert response.status_code == 200, response.text
    unit_id = world.centre_a["units"][0]["id"]
    path = f"/api/units/{unit_id}" if target == "unit" else f"/api/centres/{world.centre_a['id']}"
    response = await client.patch(path, headers=world.auth("admin"), json={"active": False})
    body = assert_problem(response, 409, "active")
    assert body["busy_beds"] == 1
    # Once the minor has left, it can go.
    response = await client.post(
        f"/api/beds/{bed}/status", headers=world.auth("staff_a"), json={"status": "available"}
    )
    assert response.status_code == 200, response.text
    response = await client.patch(path, headers=world.auth("admin"), json={"active": False})
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
