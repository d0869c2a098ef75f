"""Vacancy search as an officer uses it: filters, free now or by a date, what is never shown,
confidential addresses, and how fresh each centre's data is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from backend.settings import get_settings
from backend.timeutil import utcnow
from capacity import service
from capacity.tables import Centre
from tests.support.capacity import add_old_bed, assert_problem, change, hold
from tests.support.world import World

ACTORS = ("admin", "officer", "coordinator", "analyst", "staff_a", "staff_b")


def brussels_today() -> date:
    return utcnow().astimezone(get_settings().display_timezone).date()


def centre_body(name: str, **fields) -> dict:
    body = {
        "name": name,
        "operator": "Stichting Voorbeeld",
        "country": "BE",
        "community": "french",
        "province": "BE-WLG",
        "municipality": "Liège",
        "latitude": 50.6,
        "longitude": 5.6,
        "kind": "youth_aid_residential",
        "capabilities": [],
        "languages": ["fr"],
        "address": f"{name}, rue Inventée 2",
        "units": [],
    }
    body.update(fields)
    return body


@dataclass
class Network:
    world: World
    ids: dict[str, int]
    """Centre name → id."""
    beds: dict[str, int]
    """Bed label → id, for every bed of the network."""


@pytest.fixture
async def network(client, world) -> Network:
    """The test world plus a Dutch and a Luxembourg centre (mixed units), and things that are
    switched off: a whole centre, a unit of centre A and bed A3."""
    admin = world.auth("admin")
    created = {}
    for body in (
        centre_body(
            "Het Anker",
            country="NL",
            community=None,
            province="NL-LI",
            municipality="Maastricht",
            kind="emergency_shelter",
            capabilities=["addiction"],
            languages=["nl"],
            units=[
                {
                    "name": "Gemengd",
                    "min_age": 14,
                    "max_age": 17,
                    "gender_policy": "mixed",
                    "bed_labels": ["C1", "C2"],
                }
            ],
        ),
        centre_body(
            "Foyer du Sud",
            country="LU",
            community=None,
            province="LU-ES",
            municipality="Esch-sur-Alzette",
            kind="mena_reception",
            units=[
                {
                    "name": "Mixte",
                    "min_age": 10,
                    "max_age": 15,
                    "gender_policy": "mixed",
                    "bed_labels": ["D1"],
                }
            ],
        ),
        centre_body(
            "Centre fermé",
            kind="youth_aid_residential",
            units=[
                {
                    "name": "Mixte",
                    "min_age": 0,
                    "max_age": 25,
                    "gender_policy": "mixed",
                    "bed_labels": ["X1"],
                }
            ],
        ),
    ):
        response = await client.post("/api/centres", headers=admin, json=body)
        assert response.status_code == 201, response.text
        created[body["name"]] = response.json()
    closed = created["Centre fermé"]["id"]
    assert (
        await client.patch(f"/api/centres/{closed}", headers=admin, json={"active": False})
    ).status_code == 200

    unit = await client.post(
        f"/api/centres/{world.centre_a['id']}/units",
        headers=admin,
        json={
            "name": "Ancienne aile",
            "min_age": 0,
            "max_age": 25,
            "gender_policy": "mixed",
            "bed_labels": ["I1"],
        },
    )
    assert unit.status_code == 201, unit.text
    assert (
        await client.patch(f"/api/units/{unit.json()['id']}", headers=admin, json={"active": False})
    ).status_code == 200
    a3 = world.bed(world.centre_a, "A3")
    assert (
        await client.patch(f"/api/beds/{a3}", headers=admin, json={"active": False})
    ).status_code == 200

    ids = {
        world.centre_a["name"]: world.centre_a["id"],
        world.centre_b["name"]: world.centre_b["id"],
    }
    ids.update({name: c["id"] for name, c in created.items()})
    beds = {}
    for centre in (world.centre_a, world.centre_b, *created.values()):
        for u in centre["units"]:
            beds.update({b["label"]: b["id"] for b in u["beds"]})
    beds["I1"] = unit.json()["beds"][0]["id"]
    return Network(world=world, ids=ids, beds=beds)


async def search(client, network: Network, who: str = "officer", **params) -> dict:
    response = await client.get("/api/vacancies", headers=network.world.auth(who), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def labels(result: dict) -> set[str]:
    return {bed["label"] for centre in result["centres"] for bed in centre["beds"]}


def names(result: dict) -> set[str]:
    return {centre["name"] for centre in result["centres"]}


TILLEULS = "Maison des Tilleuls"
ESPERANTO = "Esperanto (test)"
ANKER = "Het Anker"
FOYER = "Foyer du Sud"
EVERY_FREE_BED = {"A1", "A2", "B1", "B2", "E1", "E2", "C1", "C2", "D1"}


# ---------------------------------------------------------------------------
# Filters


async def test_without_filters_every_free_active_bed_and_nothing_switched_off(client, network):
    result = await search(client, network)
    assert labels(result) == EVERY_FREE_BED
    assert names(result) == {TILLEULS, ESPERANTO, ANKER, FOYER}
    assert result["total_free_now"] == len(EVERY_FREE_BED)
    for centre in result["centres"]:
        assert centre["free_now"] == len(centre["beds"])
        assert centre["free_by_date"] is None
        assert all(bed["free_now"] and bed["status"] == "available" for bed in centre["beds"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"country": "BE"}, {"A1", "A2", "B1", "B2", "E1", "E2"}),
        ({"country": "NL"}, {"C1", "C2"}),
        ({"country": "LU"}, {"D1"}),
        ({"province": "BE-WBR"}, {"E1", "E2"}),
        ({"province": "BE-WLG"}, {"A1", "A2", "B1", "B2"}),
        ({"province": "NL-LI"}, {"C1", "C2"}),
        ({"province": "BE-VAN"}, set()),
        ({"country": "NL", "province": "BE-WLG"}, set()),
        ({"kind": "specialised_exploitation"}, {"E1", "E2"}),
        ({"kind": "youth_aid_residential"}, {"A1", "A2", "B1", "B2"}),
        ({"kind": "psychiatric_youth"}, set()),
        ({"capability": "trauma"}, {"A1", "A2", "B1", "B2", "E1", "E2"}),
        ({"capability": ["trauma", "secure"]}, {"E1", "E2"}),
        ({"capability": "addiction"}, {"C1", "C2"}),
        ({"capability": ["addiction", "trauma"]}, set()),
        ({"age": 13}, {"A1", "A2", "B1", "B2", "E1", "E2", "D1"}),
        ({"age": 12}, {"A1", "A2", "B1", "B2", "E1", "E2", "D1"}),
        ({"age": 14}, EVERY_FREE_BED),
        ({"age": 17}, {"A1", "A2", "B1", "B2", "E1", "E2", "C1", "C2"}),
        ({"age": 18}, {"E1", "E2"}),
        ({"age": 10}, {"D1"}),
        ({"age": 9}, set()),
        ({"age": 25}, set()),
        ({"gender": "girl"}, {"A1", "A2", "E1", "E2", "C1", "C2", "D1"}),
        ({"gender": "boy"}, {"B1", "B2", "C1", "C2", "D1"}),
        ({"gender": "other"}, {"C1", "C2", "D1"}),
        ({"age": 15, "gender": "girl", "province": "BE-WLG"}, {"A1", "A2"}),
        ({"age": 15, "gender": "girl", "capability": "trauma"}, {"A1", "A2", "E1", "E2"}),
        ({"age": 16, "gender": "other", "country": "BE"}, set()),
    ],
)
async def test_filters(client, network, params, expected):
    result = await search(client, network, **params)
    assert labels(result) == expected
    assert result["total_free_now"] == len(expected)
    for centre in result["centres"]:
        for bed in centre["beds"]:
            if "age" in params:
                assert bed["min_age"] <= params["age"] <= bed["max_age"]
            if "gender" in params:
                allowed = {"girl": {"girls", "mixed"}, "boy": {"boys", "mixed"}, "other": {"mixed"}}
                assert bed["gender_policy"] in allowed[params["gender"]]
        if "capability" in params:
            wanted = params["capability"]
            assert set([wanted] if isinstance(wanted, str) else wanted) <= set(
                centre["capabilities"]
            )


async def test_a_centre_is_listed_only_with_a_bed_that_fits(client, network):
    result = await search(client, network, gender="boy", country="BE")
    assert names(result) == {TILLEULS}
    [tilleuls] = result["centres"]
    assert tilleuls["free_now"] == 2
    assert {b["unit_name"] for b in tilleuls["beds"]} == {"Garçons"}


# ---------------------------------------------------------------------------
# Free now, or free by a date


async def _occupy(client, network: Network, label: str, leaving_in_days: int | None) -> None:
    world = network.world
    headers = world.auth("admin")
    bed = network.beds[label]
    assert (await change(client, headers, bed, "occupied", "admitted")).status_code == 200
    if leaving_in_days is not None:
        day = (brussels_today() + timedelta(days=leaving_in_days)).isoformat()
        response = await client.put(
            f"/api/beds/{bed}/expected-departure", headers=headers, json={"expected_departure": day}
        )
        assert response.status_code == 200, response.text


async def test_free_now_versus_free_by_a_date(client, network):
    await _occupy(client, network, "A1", leaving_in_days=3)
    await _occupy(client, network, "A2", leaving_in_days=None)
    await _occupy(client, network, "B1", leaving_in_days=10)
    await _occupy(client, network, "B2", leaving_in_days=0)
    await hold(network.beds["E1"])
    await change(client, network.world.auth("admin"), network.beds["E2"], "out_of_service")
    today = brussels_today()

    now = await search(client, network, country="BE")
    assert labels(now) == set()
    assert now["total_free_now"] == 0

    by_today = await search(client, network, country="BE", free_by=today.isoformat())
    assert labels(by_today) == {"B2"}
    assert by_today["total_free_now"] == 0

    by_five = await search(
        client, network, country="BE", free_by=(today + timedelta(days=5)).isoformat()
    )
    assert labels(by_five) == {"A1", "B2"}
    [tilleuls] = by_five["centres"]
    assert tilleuls["free_now"] == 0
    assert tilleuls["free_by_date"] == 2
    beds = {b["label"]: b for b in tilleuls["beds"]}
    assert beds["A1"]["free_now"] is False
    assert beds["A1"]["status"] == "occupied"
    assert beds["A1"]["expected_departure"] == (today + timedelta(days=3)).isoformat()

    by_ten = await search(
        client, network, country="BE", free_by=(today + timedelta(days=10)).isoformat()
    )
    # The held and the out-of-service beds never count; an occupied bed without a date neither.
    assert labels(by_ten) == {"A1", "B1", "B2"}

    girls = await search(
        client,
        network,
        gender="girl",
        country="BE",
        free_by=(today + timedelta(days=10)).isoformat(),
    )
    assert labels(girls) == {"A1"}


async def test_free_now_and_free_by_date_counted_per_centre(client, network):
    await _occupy(client, network, "A1", leaving_in_days=2)
    await _occupy(client, network, "C1", leaving_in_days=1)
    day = (brussels_today() + timedelta(days=2)).isoformat()

    result = await search(client, network, free_by=day)

    counts = {c["name"]: (c["free_now"], c["free_by_date"]) for c in result["centres"]}
    assert counts == {
        TILLEULS: (3, 4),  # A2, B1, B2 free now; A1 by then
        ESPERANTO: (2, 2),
        ANKER: (1, 2),
        FOYER: (1, 1),
    }
    assert result["total_free_now"] == 7
    # Most free beds first.
    assert result["centres"][0]["name"] == TILLEULS


async def test_a_bed_freed_again_is_back_in_the_search(client, network):
    bed = network.beds["D1"]
    await _occupy(client, network, "D1", leaving_in_days=None)
    assert "D1" not in labels(await search(client, network, country="LU"))
    await change(client, network.world.auth("admin"), bed, "available", "left")
    assert labels(await search(client, network, country="LU")) == {"D1"}


async def test_switched_off_things_never_appear_even_by_a_date(client, network):
    far = (brussels_today() + timedelta(days=365)).isoformat()
    for params in ({}, {"free_by": far}, {"age": 20}, {"province": "BE-WLG"}, {"gender": "other"}):
        result = await search(client, network, who="admin", **params)
        assert not {"A3", "I1", "X1"} & labels(result), params
        assert "Centre fermé" not in names(result)


# ---------------------------------------------------------------------------
# Confidential addresses


@pytest.mark.parametrize("actor", ACTORS)
async def test_confidential_address_only_for_admins_and_that_centres_staff(client, network, actor):
    result = await search(client, network, who=actor)
    by_name = {c["name"]: c for c in result["centres"]}
    esperanto = by_name[ESPERANTO]
    assert esperanto["address_confidential"] is True
    if actor in ("admin", "staff_b"):
        assert esperanto["address"] == "Adresse confidentielle 7"
    else:
        assert esperanto["address"] is None
        assert "Adresse confidentielle" not in str(result)
    assert by_name[TILLEULS]["address"] == "Rue Inventée 1, 4000 Liège"


# ---------------------------------------------------------------------------
# Freshness


def _freshness_of(result: dict, name: str) -> dict:
    [centre] = [c for c in result["centres"] if c["name"] == name]
    return centre["freshness"]


async def _old_centre(client, world: World, name: str, hours_ago: float) -> tuple[int, int]:
    """A centre whose only bed, and therefore its whole history, dates from `hours_ago`."""
    response = await client.post(
        "/api/centres", headers=world.auth("admin"), json=centre_body(name, province="BE-WNA")
    )
    assert response.status_code == 201, response.text
    centre = response.json()["id"]
    bed = await add_old_bed(centre, utcnow() - timedelta(hours=hours_ago), label=f"{name[:3]}1")
    return centre, bed


async def test_fresh_centre_just_changed(client, network):
    await change(client, network.world.auth("staff_a"), network.beds["B1"], "occupied")
    fresh = _freshness_of(await search(client, network), TILLEULS)
    assert fresh["stale"] is False
    assert fresh["minutes_since_update"] == 0


async def test_a_centre_whose_last_event_is_over_a_day_old_is_stale(client, world):
    centre, _bed = await _old_centre(client, world, "Vieux Moulin", hours_ago=25)
    result = await search(client, network_of(world), province="BE-WNA")
    old = _freshness_of(result, "Vieux Moulin")
    assert old["stale"] is True
    assert 25 * 60 - 1 <= old["minutes_since_update"] <= 25 * 60 + 1
    shown = await client.get(f"/api/centres/{centre}", headers=world.auth("officer"))
    assert shown.json()["freshness"]["stale"] is True
    assert shown.json()["freshness"]["last_update_at"] == old["last_update_at"]
    listed = await client.get(
        "/api/centres", headers=world.auth("officer"), params={"province": "BE-WNA"}
    )
    assert listed.json()[0]["freshness"]["stale"] is True


async def test_a_centre_changed_23_hours_ago_is_not_yet_stale(client, world):
    await _old_centre(client, world, "Vieux Moulin", hours_ago=23)
    old = _freshness_of(await search(client, network_of(world), province="BE-WNA"), "Vieux Moulin")
    assert old["stale"] is False
    assert 23 * 60 - 1 <= old["minutes_since_update"] <= 23 * 60 + 1


async def test_staff_confirmation_refreshes_a_stale_centre(client, world):
    centre, _bed = await _old_centre(client, world, "Vieux Moulin", hours_ago=30)
    await service.set_staff_centres(world.users["staff_a"].user_id, [world.centre_a["id"], centre])
    network = network_of(world)
    assert _freshness_of(await search(client, network, province="BE-WNA"), "Vieux Moulin")["stale"]

    confirmed = await client.post(f"/api/centres/{centre}/confirm", headers=world.auth("staff_a"))

    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["freshness"]["stale"] is False
    assert confirmed.json()["freshness"]["minutes_since_update"] == 0
    fresh = _freshness_of(await search(client, network, province="BE-WNA"), "Vieux Moulin")
    assert fresh["stale"] is False
    assert fresh["minutes_since_update"] == 0
    # Someone else's confirmation is refused and changes nothing.
    other, _ = await _old_centre(client, world, "Autre Moulin", hours_ago=30)
    refused = await client.post(f"/api/centres/{other}/confirm", headers=world.auth("staff_b"))
    assert_problem(refused, 403)
    assert _freshness_of(await search(client, network, province="BE-WNA"), "Autre Moulin")["stale"]


async def test_a_status_change_refreshes_a_stale_centre(client, world):
    centre, bed = await _old_centre(client, world, "Vieux Moulin", hours_ago=48)
    await service.set_staff_centres(world.users["staff_a"].user_id, [world.centre_a["id"], centre])
    assert (
        await change(client, world.auth("staff_a"), bed, "out_of_service", "repair")
    ).status_code == 200
    assert (
        await change(client, world.auth("staff_a"), bed, "available", "repaired")
    ).status_code == 200
    fresh = _freshness_of(
        await search(client, network_of(world), province="BE-WNA"), "Vieux Moulin"
    )
    assert fresh == {**fresh, "stale": False, "minutes_since_update": 0}


async def test_freshness_follows_the_later_of_change_and_confirmation(client, world):
    centre, _bed = await _old_centre(client, world, "Vieux Moulin", hours_ago=1.5)
    # A confirmation older than the last change does not make it look older...
    await Centre.update({Centre.last_confirmed_at: utcnow() - timedelta(hours=30)}).where(
        Centre.id == centre
    )
    result = _freshness_of(
        await search(client, network_of(world), province="BE-WNA"), "Vieux Moulin"
    )
    assert result["stale"] is False
    assert 89 <= result["minutes_since_update"] <= 91

    # ...and a recent confirmation makes an old history fresh.
    other, _ = await _old_centre(client, world, "Autre Moulin", hours_ago=72)
    await Centre.update({Centre.last_confirmed_at: utcnow() - timedelta(minutes=10)}).where(
        Centre.id == other
    )
    result = _freshness_of(
        await search(client, network_of(world), province="BE-WNA"), "Autre Moulin"
    )
    assert result["stale"] is False
    assert 9 <= result["minutes_since_update"] <= 11

    # Both old: stale, aged by the later one.
    await Centre.update({Centre.last_confirmed_at: utcnow() - timedelta(hours=26)}).where(
        Centre.id == other
    )
    result = _freshness_of(
        await search(client, network_of(world), province="BE-WNA"), "Autre Moulin"
    )
    assert result["stale"] is True
    assert 26 * 60 - 1 <= result["minutes_since_update"] <= 26 * 60 + 1


async def test_a_centre_never_updated_is_stale_with_unknown_age(client, world):
    response = await client.post(
        "/api/centres", headers=world.auth("admin"), json=centre_body("Vide")
    )
    freshness = response.json()["freshness"]
    assert freshness == {"last_update_at": None, "minutes_since_update": None, "stale": True}


async def test_with_equal_free_beds_the_stale_centre_comes_last(client, world):
    await _old_centre(client, world, "A Vieux Moulin", hours_ago=30)
    await _old_centre(client, world, "B Jeune Moulin", hours_ago=1)
    result = await search(client, network_of(world), province="BE-WNA")
    assert [c["name"] for c in result["centres"]] == ["B Jeune Moulin", "A Vieux Moulin"]


def network_of(world: World) -> Network:
    return Network(world=world, ids={}, beds={})
