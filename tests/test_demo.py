"""The demo network: its shape, its honest history, idempotence, reset, and the issue's
"done when" scenario through the HTTP API with demo accounts."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from contextlib import asynccontextmanager
from datetime import timedelta
from itertools import pairwise

import pytest

from backend.demo import (
    DEMO_CENTRES,
    DEMO_PASSWORD,
    DEMO_USERS,
    ESPERANTO,
    DemoRefused,
    load_demo,
)
from backend.identity import Role
from backend.settings import get_settings
from backend.tables import User
from backend.timeutil import as_utc, utcnow
from capacity import bed_states
from capacity.geography import PROVINCES, province_codes
from capacity.tables import Bed, Centre, CentreStaff, OccupancyEvent, Unit
from capacity.vocabulary import BedStatus, CentreKind, Country
from tests.support.http import app_client

DEMO = {user.username: user for user in DEMO_USERS}
TABLES = (Centre, Unit, Bed, OccupancyEvent, User, CentreStaff)


@pytest.fixture
async def demo(db: None) -> str:
    return await load_demo()


@asynccontextmanager
async def signed_in(app, username: str):
    """An HTTP client signed in with a demo user's password; the cookie jar keeps the session."""
    async with app_client(app) as http:
        user = DEMO[username]
        response = await http.post(
            "/api/auth/login", json={"username": user.username, "password": user.password}
        )
        assert response.status_code == 200, response.text
        assert response.json()["role"] == user.role
        yield http


async def counts() -> dict[str, int]:
    return {table._meta.tablename: await table.count() for table in TABLES}


async def beds_with_centre() -> list[dict]:
    return await Bed.select(
        *Bed.all_columns(),
        Bed.unit.centre.as_alias("centre_id"),
        Bed.unit.centre.name.as_alias("centre_name"),
        Bed.unit.min_age.as_alias("min_age"),
        Bed.unit.max_age.as_alias("max_age"),
        Bed.unit.gender_policy.as_alias("gender_policy"),
        Bed.unit.centre.province.as_alias("province"),
    )


@pytest.mark.pure
def test_catalogue_is_well_formed():
    assert all(centre.province in PROVINCES for centre in DEMO_CENTRES)
    assert len({centre.name for centre in DEMO_CENTRES}) == len(DEMO_CENTRES)
    for centre in DEMO_CENTRES:
        assert PROVINCES[centre.province].country is centre.country
        assert len({unit.name for unit in centre.units}) == len(centre.units)
        for unit in centre.units:
            assert unit.min_age <= unit.max_age
    assert len(DEMO_PASSWORD) >= 10
    assert {user.centre for user in DEMO_USERS} - {None} <= {c.name for c in DEMO_CENTRES}


async def test_the_network_has_the_promised_shape(demo):
    assert "loaded" in demo
    centres = await Centre.select()
    assert 38 <= len(centres) <= 48
    belgian = [c for c in centres if c.get("country") == Country.BE]
    assert {c["province"] for c in belgian} == set(province_codes(Country.BE))
    assert {c["country"] for c in centres} == {"BE", "NL", "LU"}
    assert {c["kind"] for c in belgian} == set(CentreKind)
    kinds = Counter(c["kind"] for c in belgian)
    assert kinds.most_common(1)[0][0] == CentreKind.YOUTH_AID_RESIDENTIAL
    assert 2 <= kinds[CentreKind.PUBLIC_YOUTH_INSTITUTION] <= 5

    for centre in centres:
        province, community = centre["province"], centre["community"]
        if centre["country"] != "BE":
            assert community is None
        elif province.startswith("BE-V"):
            assert community == "flemish"
        elif province == "BE-BRU":
            assert community in ("french", "flemish")
        elif community == "german_speaking":
            assert province == "BE-WLG"
        else:
            assert community == "french"
        if centre["country"] == "BE":
            assert 49.4 < centre["latitude"] < 51.6 and 2.5 < centre["longitude"] < 6.5
    assert sum(1 for c in centres if c["community"] == "german_speaking") == 1

    # Esperanto: the one specialised centre in Belgium, 20 beds, confidential address.
    specialised = [c for c in belgian if c["kind"] == CentreKind.SPECIALISED_EXPLOITATION]
    assert [c["name"] for c in specialised] == [ESPERANTO]
    esperanto = specialised[0]
    assert esperanto["address_confidential"] and esperanto["address"]
    assert esperanto["province"] == "BE-WBR" and esperanto["community"] == "french"
    assert {"trauma", "secure"} <= set(esperanto["capabilities"])

    beds = await beds_with_centre()
    assert 550 <= len(beds) <= 650
    statuses = Counter(bed["status"] for bed in beds)
    assert statuses[BedStatus.OCCUPIED] > 0.8 * len(beds)
    assert 10 <= statuses[BedStatus.AVAILABLE] <= 0.15 * len(beds)
    assert statuses[BedStatus.OUT_OF_SERVICE] >= 1
    assert statuses[BedStatus.HELD] == 0  # only a placement request holds a bed
    esperanto_beds = [bed for bed in beds if bed["centre_id"] == esperanto["id"]]
    assert len(esperanto_beds) == 20
    assert 1 <= sum(1 for b in esperanto_beds if b["status"] == BedStatus.AVAILABLE) <= 2

    # A free bed in Liège province that takes a 15-year-old girl.
    assert any(
        bed["province"] == "BE-WLG"
        and bed["status"] == BedStatus.AVAILABLE
        and bed["min_age"] <= 15 <= bed["max_age"]
        and bed["gender_policy"] in ("girls", "mixed")
        for bed in beds
    )
    # Forecasts: some occupied beds have an expected departure in the coming weeks.
    today = utcnow().astimezone(get_settings().display_timezone).date()
    departures = [bed for bed in beds if bed["expected_departure"] is not None]
    assert len(departures) >= 20
    assert all(bed["status"] == BedStatus.OCCUPIED for bed in departures)
    assert all(
        today < bed["expected_departure"] <= today + timedelta(days=60) for bed in departures
    )


async def test_demo_users_exist_with_their_roles_and_centres(demo):
    users = {row["username"]: row for row in await User.select()}
    assert set(users) == set(DEMO)
    roles = Counter(user.role for user in DEMO_USERS)
    assert all(roles[role] >= 2 for role in Role)
    centre_names = {row["id"]: row["name"] for row in await Centre.select(Centre.id, Centre.name)}
    bindings = defaultdict(set)
    for row in await CentreStaff.select():
        bindings[row["user"]].add(centre_names[row["centre"]])
    for user in DEMO_USERS:
        row = users[user.username]
        assert row["role"] == user.role and row["active"]
        assert len(user.password) >= 10
        expected = {user.centre} if user.centre else set()
        assert bindings[row["id"]] == expected
    provinces = {c.name: c.province for c in DEMO_CENTRES}
    staff_centres = [u.centre for u in DEMO_USERS if u.role is Role.CENTRE_STAFF]
    assert ESPERANTO in staff_centres
    assert sum(1 for name in staff_centres if provinces[name] == "BE-WLG") >= 2


async def test_history_is_honest(demo):
    beds = {bed["id"]: bed for bed in await beds_with_centre()}
    events = await OccupancyEvent.select().order_by(OccupancyEvent.at).order_by(OccupancyEvent.id)
    assert 2 * len(beds) <= len(events) <= 4 * len(beds)
    by_bed = defaultdict(list)
    for event in events:
        by_bed[event["bed"]].append(event)
    assert set(by_bed) == set(beds)
    now = utcnow()
    for bed_id, history in by_bed.items():
        bed = beds[bed_id]
        first = history[0]
        assert first["from_status"] is None and first["to_status"] == BedStatus.AVAILABLE
        assert first["reason"] == "bed created"
        assert as_utc(first["at"]) == as_utc(bed["created_at"])
        for before, after in pairwise(history):
            assert after["from_status"] == before["to_status"]
            assert bed_states.can_transition(
                BedStatus(before["to_status"]), BedStatus(after["to_status"])
            )
            assert as_utc(before["at"]) < as_utc(after["at"])
        assert history[-1]["to_status"] == bed["status"]
        assert all(event["centre"] == bed["centre_id"] for event in history)
        assert all(as_utc(event["at"]) < now for event in history)
    # Event ids grow with time, as they do when events are written as things happen.
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)


async def test_loading_twice_changes_nothing(demo):
    before = await counts()
    statuses = {row["id"]: row["status"] for row in await Bed.select(Bed.id, Bed.status)}
    summary = await load_demo()
    assert "not loaded" in summary and "already holds" in summary
    assert await counts() == before
    assert {row["id"]: row["status"] for row in await Bed.select(Bed.id, Bed.status)} == statuses


async def test_reset_erases_everything_and_loads_again(demo, monkeypatch):
    from capacity import service

    fresh = await counts()
    bed = await Bed.select(Bed.id).where(Bed.status == BedStatus.AVAILABLE).first()
    await service.transition_bed(bed["id"], BedStatus.OCCUPIED, actor_id=None, reason="test")
    await User.insert(
        User(username="extra", display_name="Extra", role="analyst", created_at=utcnow())
    )
    assert await counts() != fresh

    production = dataclasses.replace(get_settings(), environment="production")
    monkeypatch.setattr("backend.demo.get_settings", lambda: production)
    with pytest.raises(DemoRefused, match="production"):
        await load_demo(reset=True)
    monkeypatch.undo()

    summary = await load_demo(reset=True)
    assert "erased" in summary and "loaded" in summary
    assert await counts() == fresh
    assert not await User.exists().where(User.username == "extra")


async def test_freshness_and_confidential_address_through_the_api(demo, app):
    async with signed_in(app, "coordinator.south") as http:
        response = await http.get("/api/centres/")
        assert response.status_code == 200, response.text
        centres = response.json()
    stale = {c["name"] for c in centres if c["freshness"]["stale"]}
    fresh = {c["name"] for c in centres if not c["freshness"]["stale"]}
    assert stale == {c.name for c in DEMO_CENTRES if c.stale}
    assert 3 <= len(stale) < len(fresh)
    assert all(c["freshness"]["minutes_since_update"] > 24 * 60 for c in centres
               if c["name"] in stale)  # fmt: skip
    assert all(c["freshness"]["minutes_since_update"] <= 24 * 60 for c in centres
               if c["name"] in fresh)  # fmt: skip
    esperanto_id = next(c["id"] for c in centres if c["name"] == ESPERANTO)

    async with signed_in(app, "officer.liege") as http:
        esperanto = (await http.get(f"/api/centres/{esperanto_id}")).json()
        assert esperanto["address_confidential"] is True
        assert esperanto["address"] is None
        listed = (await http.get("/api/centres/")).json()
        assert next(c for c in listed if c["name"] == ESPERANTO)["address"] is None
        assert all(c["address"] for c in listed if not c["address_confidential"])
    for username in ("staff.esperanto", "admin"):
        async with signed_in(app, username) as http:
            esperanto = (await http.get(f"/api/centres/{esperanto_id}")).json()
            assert esperanto["address"], username
    async with signed_in(app, "staff.tilleuls") as http:
        assert (await http.get(f"/api/centres/{esperanto_id}")).json()["address"] is None


async def test_done_when_an_officer_finds_a_bed_in_liege_and_other_staff_cannot_touch_it(demo, app):
    """The issue's scenario: a demo officer signs in and finds, through the API, the centres
    with a free bed for a 15-year-old girl in Liège province; centre staff of another centre
    get 403 changing one of those beds."""
    query = {"province": "BE-WLG", "age": 15, "gender": "girl"}
    async with signed_in(app, "officer.liege") as officer:
        response = await officer.get("/api/vacancies", params=query)
        assert response.status_code == 200, response.text
        found = response.json()["centres"]
        assert found, "no free bed for a 15-year-old girl in Liège province"
        for centre in found:
            assert centre["province"] == "BE-WLG" and centre["free_now"] >= 1
            for bed in centre["beds"]:
                assert bed["min_age"] <= 15 <= bed["max_age"]
                assert bed["gender_policy"] in ("girls", "mixed")
                assert bed["status"] == "available" and bed["free_now"]
        names = {centre["name"] for centre in found}
        assert "Maison Les Tilleuls" in names
        # A stale centre is shown with its freshness, so the officer knows to call first.
        assert {c["freshness"]["stale"] for c in found} == {True, False}

        target = next(c for c in found if c["name"] == "Maison Les Tilleuls")
        bed_id = target["beds"][0]["id"]
        # An officer does not change beds either.
        denied = await officer.post(f"/api/beds/{bed_id}/status", json={"status": "occupied"})
        assert denied.status_code == 403, denied.text

    # Staff of another centre in the same province: 403, and nothing written.
    other = DEMO["staff.eupen"]
    assert other.centre != target["name"]
    events_before = await OccupancyEvent.count()
    async with signed_in(app, other.username) as staff:
        response = await staff.post(
            f"/api/beds/{bed_id}/status", json={"status": "occupied", "reason": "admission"}
        )
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await OccupancyEvent.count() == events_before
    assert (await Bed.select(Bed.status).where(Bed.id == bed_id).first())["status"] == "available"

    # The centre's own staff may: the bed becomes occupied and the officer no longer sees it.
    async with signed_in(app, "staff.tilleuls") as staff:
        response = await staff.post(
            f"/api/beds/{bed_id}/status", json={"status": "occupied", "reason": "admission"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "occupied"
    async with signed_in(app, "officer.liege") as officer:
        again = (await officer.get("/api/vacancies", params=query)).json()["centres"]
        assert bed_id not in {bed["id"] for centre in again for bed in centre["beds"]}
