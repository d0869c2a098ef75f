"""Runaway episodes through the HTTP API: the report by centre staff, the default risk, the
checklist, the return, the bed kept for the keep-bed period and the stay ended as not
returned after it; and the scheduled jobs that record the facts alerts are made of
(runaways, holds about to expire, centres whose bed statuses went stale)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from backend import events
from backend.identity import Role
from backend.settings import SettingsError, load_settings
from backend.tables import AuditEntry
from backend.timeutil import utcnow
from capacity import service as capacity
from placement import runaways, service
from tests.support.capacity import assert_problem
from tests.support.placement import (
    add_user,
    answer,
    centre_bed_status,
    create_request,
    flagged_case,
    held,
    open_case,
    request_detail,
    set_bed_status,
)
from tests.support.world import make_centre

REPORTED_KEYS = {
    "episode_id",
    "stay_id",
    "case_id",
    "case_code",
    "centre_id",
    "bed_id",
    "request_id",
    "officer_id",
    "service",
    "risk_level",
    "kind",
    "last_seen_at",
    "reported_at",
    "keep_bed_until",
    "age",
    "gender",
    "exploitation_flagged",
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def stay_at_a(client, world, *, age: int = 15, flagged: bool = False, bed: str = "A1"):
    """A girl admitted to bed `bed` of centre A: (the stay, the request id)."""
    if flagged:
        case = await flagged_case(client, world, age=age)
    else:
        case = await open_case(client, world, age=age)
    created = await create_request(client, world, case["case_code"])
    request_id = created["request"]["id"]
    the_hold = await held(client, world, request_id, world.bed(world.centre_a, bed))
    stay = await answer(client, world, the_hold["id"], "admit", "staff_a")
    assert stay["status"] == "active" and stay["runaway_count"] == 0
    return stay, request_id


async def report(client, world, stay_id: int, actor: str = "staff_a", **fields):
    body = {"last_seen_at": utcnow().isoformat(), **fields}
    return await client.post(f"/api/stays/{stay_id}/runaways", json=body, headers=world.auth(actor))


async def reported(client, world, stay_id: int, actor: str = "staff_a", **fields) -> dict:
    response = await report(client, world, stay_id, actor, **fields)
    assert response.status_code == 201, response.text
    return response.json()


async def checklist(client, world, episode_id: int, actor: str, body: dict):
    return await client.patch(
        f"/api/runaways/{episode_id}/checklist", json=body, headers=world.auth(actor)
    )


async def back(client, world, episode_id: int, actor: str = "staff_a", body=None):
    return await client.post(
        f"/api/runaways/{episode_id}/return", json=body, headers=world.auth(actor)
    )


async def stay_of(client, world, request_id: int) -> dict:
    return (await request_detail(client, world, request_id))["stay"]


async def payloads(kind: str) -> list[dict]:
    return [event["payload"] for event in await events.events_of(kind)]


# ---------------------------------------------------------------------------
# Reporting


async def test_centre_staff_report_a_runaway_and_the_bed_is_kept(client, world):
    stay, request_id = await stay_at_a(client, world)
    a1 = world.bed(world.centre_a, "A1")
    last_seen = utcnow()
    before = utcnow()
    episode = await reported(
        client,
        world,
        stay["id"],
        last_seen_at=last_seen.isoformat(),
        circumstances="Did not come back from school.",
    )
    after = utcnow()

    assert episode["open"] is True and episode["returned_at"] is None
    assert episode["stay_id"] == stay["id"] and episode["stay_status"] == "on_runaway"
    assert episode["case_code"] == stay["case_code"]
    assert (episode["centre_id"], episode["bed_id"]) == (world.centre_a["id"], a1)
    assert (episode["centre_name"], episode["bed_label"]) == ("Maison des Tilleuls", "A1")
    assert episode["kind"] == "missing"
    assert episode["risk_level"] == "medium"
    assert episode["reported_by"] == "staff_a"
    assert at(episode["last_seen_at"]) == last_seen
    assert before <= at(episode["reported_at"]) <= after
    # The bed is kept 72 hours by default.
    assert at(episode["keep_bed_until"]) == at(episode["reported_at"]) + timedelta(hours=72)
    assert episode["checklist"]["police_informed_at"] is None
    assert episode["stay_ended_at"] is None

    # The stay is on a runaway, the bed still occupied: nobody else gets it meanwhile.
    current = await stay_of(client, world, request_id)
    assert current["status"] == "on_runaway"
    assert current["open_runaway_id"] == episode["id"] and current["runaway_count"] == 1
    assert await centre_bed_status(client, world, world.centre_a["id"], a1) == "occupied"
    listed = await client.get("/api/stays", headers=world.auth("staff_a"))
    [shown] = [s for s in listed.json() if s["id"] == stay["id"]]
    assert shown["status"] == "on_runaway" and shown["open_runaway_id"] == episode["id"]

    [payload] = await payloads(runaways.RUNAWAY_REPORTED)
    assert set(payload) == REPORTED_KEYS
    assert payload["episode_id"] == episode["id"]
    assert payload["stay_id"] == stay["id"] and payload["request_id"] == request_id
    assert payload["case_code"] == stay["case_code"]
    assert payload["officer_id"] == world.users["officer"].user_id
    assert payload["service"] == "SAJ Namur"
    assert (payload["risk_level"], payload["kind"]) == ("medium", "missing")
    assert (payload["age"], payload["gender"], payload["exploitation_flagged"]) == (
        15,
        "girl",
        False,
    )
    assert at(payload["keep_bed_until"]) == at(episode["keep_bed_until"])
    assert at(payload["last_seen_at"]).utcoffset() == timedelta(0)

    entry = await AuditEntry.select().where(AuditEntry.action == "report_runaway").first()
    assert (
        entry["case_code"] == stay["case_code"] and entry["actor"] == world.users["staff_a"].user_id
    )


async def test_only_the_stay_s_centre_reports_and_only_on_an_active_stay(client, world):
    stay, request_id = await stay_at_a(client, world)
    for actor in ("staff_b", "officer", "coordinator", "analyst"):
        response = await report(client, world, stay["id"], actor)
        assert_problem(response, 403)
    assert (await stay_of(client, world, request_id))["status"] == "active"
    assert await payloads(runaways.RUNAWAY_REPORTED) == []

    for unknown in (999_999, 2**40):
        assert_problem(await report(client, world, unknown), 404, field="stay_id")

    # An admin may report too; a second report on the same absence is a conflict.
    await reported(client, world, stay["id"], "admin")
    assert_problem(await report(client, world, stay["id"]), 409, field="stay_id")

    ended, _ = await stay_at_a(client, world, bed="A2")
    response = await client.post(
        f"/api/stays/{ended['id']}/end", json={"reason": "discharge"}, headers=world.auth("staff_a")
    )
    assert response.status_code == 200, response.text
    problem = assert_problem(await report(client, world, ended["id"]), 409, field="stay_id")
    assert "ended" in problem["detail"]
    assert len(await payloads(runaways.RUNAWAY_REPORTED)) == 1


async def test_bad_report_times_and_fields_are_refused_and_nothing_changes(client, world):
    stay, request_id = await stay_at_a(client, world)
    admitted = at(stay["admitted_at"])
    for last_seen in (utcnow() + timedelta(hours=1), admitted - timedelta(minutes=1)):
        response = await report(client, world, stay["id"], last_seen_at=last_seen.isoformat())
        assert_problem(response, 422, field="last_seen_at")
    # A time without its offset would be ambiguous; an unknown field is never ignored.
    naive = utcnow().replace(tzinfo=None).isoformat()
    assert_problem(await report(client, world, stay["id"], last_seen_at=naive), 400)
    assert_problem(await report(client, world, stay["id"], name="Jeanne"), 400)
    assert_problem(await report(client, world, stay["id"], kind="abroad"), 400)
    response = await client.post(
        f"/api/stays/{stay['id']}/runaways", json={}, headers=world.auth("staff_a")
    )
    assert_problem(response, 400)
    assert (await stay_of(client, world, request_id))["status"] == "active"
    assert await payloads(runaways.RUNAWAY_REPORTED) == []

    # A phone clock a few minutes ahead is tolerated.
    ahead = (utcnow() + timedelta(minutes=3)).isoformat()
    episode = await reported(
        client, world, stay["id"], kind="away_without_authorisation", last_seen_at=ahead
    )
    assert episode["kind"] == "away_without_authorisation"
    # ... and read as now, so that a return right after it is not "before last seen".
    assert episode["last_seen_at"] == episode["reported_at"]
    assert (await back(client, world, episode["id"])).status_code == 200


@pytest.mark.parametrize(
    ("flagged", "age", "explicit", "expected"),
    [
        (True, 15, None, "high"),  # an active exploitation flag
        (False, 13, None, "high"),  # under 14
        (False, 15, None, "medium"),
        (True, 15, "low", "low"),  # the reporter's judgement wins
        (False, 15, "high", "high"),
    ],
)
async def test_default_risk_level(client, world, flagged, age, explicit, expected):
    stay, _ = await stay_at_a(client, world, age=age, flagged=flagged)
    fields = {"risk_level": explicit} if explicit else {}
    episode = await reported(client, world, stay["id"], **fields)
    assert episode["risk_level"] == expected
    [payload] = await payloads(runaways.RUNAWAY_REPORTED)
    assert payload["risk_level"] == expected
    assert (payload["age"], payload["exploitation_flagged"]) == (age, flagged)


async def test_a_withdrawn_flag_no_longer_raises_the_risk(client, world):
    case = await flagged_case(client, world)
    flag_id = case["flags"][0]["id"]
    response = await client.post(
        f"/api/cases/{case['case_code']}/flags",
        json={
            "exploitation_type": "loverboy_grooming",
            "discovered_on": date.today().isoformat(),
            "source_service": "SAJ Namur",
            "status": "withdrawn",
            "supersedes": flag_id,
        },
        headers=world.auth("officer"),
    )
    assert response.status_code == 201, response.text
    created = await create_request(client, world, case["case_code"])
    the_hold = await held(client, world, created["request"]["id"], world.bed(world.centre_a, "A1"))
    stay = await answer(client, world, the_hold["id"], "admit", "staff_a")
    assert (await reported(client, world, stay["id"]))["risk_level"] == "medium"


# ---------------------------------------------------------------------------
# The checklist


async def test_checklist_items_are_recorded_with_time_and_user(client, world):
    stay, _ = await stay_at_a(client, world)
    episode = await reported(client, world, stay["id"])
    number = episode["id"]

    before = utcnow()
    response = await checklist(
        client, world, number, "staff_a", {"police_informed": True, "police_reference": "PV 123"}
    )
    assert response.status_code == 200, response.text
    items = response.json()["checklist"]
    assert items["police_informed_by"] == "staff_a" and items["police_reference"] == "PV 123"
    police_at = at(items["police_informed_at"])
    assert before <= police_at <= utcnow()
    assert items["hotline_informed_at"] is None

    # The officer informs the hotline, the coordinator the referring service: PATCH changes
    # only what is sent, and an item already recorded keeps its first time and author.
    response = await checklist(client, world, number, "officer", {"hotline_informed": True})
    assert response.status_code == 200, response.text
    response = await checklist(
        client,
        world,
        number,
        "coordinator",
        {"referring_service_informed": True, "police_informed": True},
    )
    assert response.status_code == 200, response.text
    items = response.json()["checklist"]
    assert items["hotline_informed_by"] == "officer"
    assert items["referring_service_informed_by"] == "coordinator"
    assert items["police_informed_by"] == "staff_a"
    assert at(items["police_informed_at"]) == police_at
    assert items["police_reference"] == "PV 123"

    # A mistaken tick is cleared, with its reference.
    response = await checklist(client, world, number, "admin", {"police_informed": False})
    assert response.status_code == 200, response.text
    items = response.json()["checklist"]
    assert items["police_informed_at"] is None and items["police_reference"] is None
    assert items["hotline_informed_by"] == "officer"

    audited = await AuditEntry.select().where(AuditEntry.action == "update_runaway_checklist")
    assert len(audited) == 4


async def test_checklist_rules(client, world):
    stay, _ = await stay_at_a(client, world)
    number = (await reported(client, world, stay["id"]))["id"]

    # A police reference needs the police informed (now or before).
    response = await checklist(client, world, number, "staff_a", {"police_reference": "PV 9"})
    assert_problem(response, 422, field="police_reference")
    response = await checklist(
        client, world, number, "staff_a", {"police_informed": False, "police_reference": "PV 9"}
    )
    assert_problem(response, 422, field="police_reference")
    # The return interview is planned after the return, not before it.
    response = await checklist(
        client, world, number, "staff_a", {"return_interview_planned_on": date.today().isoformat()}
    )
    assert_problem(response, 422, field="return_interview_planned_on")
    assert_problem(await checklist(client, world, number, "staff_a", {"hotline": True}), 400)

    # Who may tick: not another centre, not another service's officer, not an analyst.
    await add_user(world, "officer_liege", Role.PLACEMENT_OFFICER, service="SAJ Liège")
    for actor in ("staff_b", "officer_liege"):
        response = await checklist(client, world, number, actor, {"hotline_informed": True})
        assert_problem(response, 403, field="episode_id")
    assert_problem(await checklist(client, world, number, "analyst", {}), 403)
    assert_problem(await checklist(client, world, 999_999, "staff_a", {}), 404)

    response = await client.get(f"/api/runaways/{number}", headers=world.auth("admin"))
    untouched = response.json()["checklist"]
    assert all(value is None for value in untouched.values()), untouched

    # After the return: the interview, on or after the day of the return.
    assert (await back(client, world, number, body={})).status_code == 200
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    response = await checklist(
        client, world, number, "staff_a", {"return_interview_planned_on": yesterday}
    )
    assert_problem(response, 422, field="return_interview_planned_on")
    in_two_days = (date.today() + timedelta(days=2)).isoformat()
    response = await checklist(
        client, world, number, "officer", {"return_interview_planned_on": in_two_days}
    )
    assert response.status_code == 200, response.text
    items = response.json()["checklist"]
    assert items["return_interview_planned_on"] == in_two_days
    assert items["return_interview_planned_by"] == "officer"


# ---------------------------------------------------------------------------
# The return


async def test_return_closes_the_episode_and_counts_add_up(client, world):
    stay, request_id = await stay_at_a(client, world)
    a1 = world.bed(world.centre_a, "A1")
    first = await reported(client, world, stay["id"])

    for actor in ("staff_b", "officer", "analyst"):
        assert_problem(await back(client, world, first["id"], actor, {}), 403)
    # The body is optional: the return is now.
    before = utcnow()
    response = await back(client, world, first["id"])
    assert response.status_code == 200, response.text
    closed = response.json()
    assert closed["open"] is False and closed["returned_by"] == "staff_a"
    assert before <= at(closed["returned_at"]) <= utcnow()
    assert closed["stay_status"] == "active"
    assert_problem(await back(client, world, first["id"]), 409, field="episode_id")
    current = await stay_of(client, world, request_id)
    assert current["status"] == "active" and current["open_runaway_id"] is None
    assert await centre_bed_status(client, world, world.centre_a["id"], a1) == "occupied"

    # A second absence, closed by the coordinator with the time she came back.
    second = await reported(client, world, stay["id"])
    last_seen = at(second["last_seen_at"])
    response = await back(
        client,
        world,
        second["id"],
        "coordinator",
        {"returned_at": (last_seen - timedelta(minutes=1)).isoformat()},
    )
    assert_problem(response, 422, field="returned_at")
    response = await back(
        client,
        world,
        second["id"],
        "coordinator",
        {"returned_at": (utcnow() + timedelta(hours=1)).isoformat()},
    )
    assert_problem(response, 422, field="returned_at")
    returned_at = utcnow()
    response = await back(
        client, world, second["id"], "coordinator", {"returned_at": returned_at.isoformat()}
    )
    assert response.status_code == 200, response.text
    assert at(response.json()["returned_at"]) == returned_at

    current = await stay_of(client, world, request_id)
    assert current["runaway_count"] == 2 and current["status"] == "active"
    case = await client.get(f"/api/cases/{stay['case_code']}", headers=world.auth("officer"))
    assert case.json()["runaway_count"] == 2

    returned = await payloads(runaways.RUNAWAY_RETURNED)
    assert [p["episode_id"] for p in returned] == [first["id"], second["id"]]
    for payload in returned:
        assert set(payload) == {"episode_id", "stay_id", "case_code", "centre_id", "returned_at"}
        assert payload["stay_id"] == stay["id"] and payload["case_code"] == stay["case_code"]
        assert payload["centre_id"] == world.centre_a["id"]
    assert at(returned[1]["returned_at"]) == returned_at


async def test_a_stay_on_runaway_may_still_end_and_the_episode_stays_open(client, world):
    stay, request_id = await stay_at_a(client, world)
    episode = await reported(client, world, stay["id"])
    response = await client.post(
        f"/api/stays/{stay['id']}/end", json={"reason": "transfer"}, headers=world.auth("staff_a")
    )
    assert response.status_code == 200, response.text
    assert response.json()["open_runaway_id"] == episode["id"]
    # The keep-bed job has nothing left to do for it.
    assert await runaways.end_stays_not_returned(now=utcnow() + timedelta(days=4)) == 0
    response = await back(client, world, episode["id"])
    assert response.status_code == 200, response.text
    assert response.json()["stay_status"] == "ended"
    assert (await stay_of(client, world, request_id))["end_reason"] == "transfer"


# ---------------------------------------------------------------------------
# The keep-bed period


async def test_keep_bed_expiry_ends_the_stay_and_offers_the_bed(client, world):
    a1 = world.bed(world.centre_a, "A1")
    stay, request_id = await stay_at_a(client, world)
    # Every other bed for girls is out of service: the next girl's request waits.
    for label in ("A2", "A3"):
        await set_bed_status(
            client, world, world.bed(world.centre_a, label), "out_of_service", "staff_a"
        )
    for label in ("E1", "E2"):
        await set_bed_status(
            client, world, world.bed(world.centre_b, label), "out_of_service", "staff_b"
        )
    waiting_case = await open_case(client, world, age=14)
    waiting = (await create_request(client, world, waiting_case["case_code"]))["request"]
    assert waiting["status"] == "waiting"

    episode = await reported(client, world, stay["id"])
    deadline = at(episode["keep_bed_until"])

    assert await runaways.end_stays_not_returned(now=deadline - timedelta(minutes=1)) == 0
    assert (await stay_of(client, world, request_id))["status"] == "on_runaway"
    assert await centre_bed_status(client, world, world.centre_a["id"], a1) == "occupied"
    assert await payloads(service.WAITING_REQUEST_OFFER) == []

    when = deadline + timedelta(minutes=1)
    assert await runaways.end_stays_not_returned(now=when) == 1
    ended = await stay_of(client, world, request_id)
    assert ended["status"] == "ended" and ended["end_reason"] == "not_returned"
    assert at(ended["ended_at"]) == when
    assert ended["open_runaway_id"] == episode["id"]
    assert await centre_bed_status(client, world, world.centre_a["id"], a1) == "available"
    # The freed bed goes to the waiting girl.
    [offer] = await payloads(service.WAITING_REQUEST_OFFER)
    assert (offer["request_id"], offer["bed_id"]) == (waiting["id"], a1)
    response = await client.get(f"/api/runaways/{episode['id']}", headers=world.auth("staff_a"))
    still_away = response.json()
    assert still_away["open"] is True and at(still_away["stay_ended_at"]) == when
    assert still_away["stay_status"] == "ended"
    system = await AuditEntry.select().where(AuditEntry.actor_role == "system")
    assert [(e["case_code"], e["action"], e["detail"]) for e in system] == [
        (stay["case_code"], "end_stay", "not_returned")
    ]

    # Twice is once.
    assert await runaways.end_stays_not_returned(now=when + timedelta(hours=1)) == 0
    assert len(await payloads(service.WAITING_REQUEST_OFFER)) == 1
    assert await centre_bed_status(client, world, world.centre_a["id"], a1) == "available"

    # She comes back later: the episode closes, the stay stays ended.
    response = await back(client, world, episode["id"])
    assert response.status_code == 200, response.text
    closed = response.json()
    assert closed["open"] is False and closed["stay_status"] == "ended"
    assert (await stay_of(client, world, request_id))["status"] == "ended"
    assert await centre_bed_status(client, world, world.centre_a["id"], a1) == "available"


async def test_the_keep_bed_period_follows_the_setting(client, world, monkeypatch):
    monkeypatch.setenv("KEEP_BED_HOURS", "12")
    monkeypatch.setattr(runaways, "get_settings", load_settings)
    stay, _ = await stay_at_a(client, world)
    episode = await reported(client, world, stay["id"])
    assert at(episode["keep_bed_until"]) == at(episode["reported_at"]) + timedelta(hours=12)


# ---------------------------------------------------------------------------
# Reading


async def test_who_sees_which_episodes(client, world):
    stay_a, _ = await stay_at_a(client, world)
    open_one = await reported(client, world, stay_a["id"])
    stay_b, _ = await stay_at_a(client, world, bed="A2")
    closed_one = await reported(client, world, stay_b["id"])
    assert (await back(client, world, closed_one["id"])).status_code == 200
    await add_user(world, "officer_liege", Role.PLACEMENT_OFFICER, service="SAJ Liège")

    async def listed(actor: str, query: str = "") -> list[int]:
        response = await client.get(f"/api/runaways{query}", headers=world.auth(actor))
        assert response.status_code == 200, response.text
        return [episode["id"] for episode in response.json()]

    both = [closed_one["id"], open_one["id"]]  # newest first
    for actor in ("admin", "coordinator", "officer", "staff_a"):
        assert await listed(actor) == both, actor
    assert await listed("staff_b") == []
    assert await listed("officer_liege") == []
    assert await listed("staff_a", "?open=true") == [open_one["id"]]
    assert await listed("coordinator", "?open=false") == [closed_one["id"]]
    assert await listed("coordinator", f"?centre_id={world.centre_b['id']}") == []
    response = await client.get(
        f"/api/runaways?centre_id={world.centre_a['id']}", headers=world.auth("staff_b")
    )
    assert_problem(response, 403, field="centre_id")
    assert_problem(await client.get("/api/runaways", headers=world.auth("analyst")), 403)

    for actor in ("admin", "coordinator", "officer", "staff_a"):
        response = await client.get(f"/api/runaways/{open_one['id']}", headers=world.auth(actor))
        assert response.status_code == 200, response.text
    for actor in ("staff_b", "officer_liege"):
        response = await client.get(f"/api/runaways/{open_one['id']}", headers=world.auth(actor))
        assert_problem(response, 403, field="episode_id")
    response = await client.get("/api/runaways/999999", headers=world.auth("admin"))
    assert_problem(response, 404, field="episode_id")

    # Reads are audited, one entry per episode listed, and refused reads too.
    actions = [row["action"] for row in await AuditEntry.select(AuditEntry.action)]
    assert actions.count("list_runaways") == 4 * 2 + 1 + 1
    assert actions.count("read_runaway") == 4
    assert actions.count("read_runaway_refused") == 2


# ---------------------------------------------------------------------------
# Facts for alerts: unresolved runaways, holds about to expire, stale centres


async def test_a_runaway_still_open_after_a_day_is_recorded_once(client, world):
    stay, _ = await stay_at_a(client, world, flagged=True)
    episode = await reported(client, world, stay["id"])
    reported_at = at(episode["reported_at"])
    other, _ = await stay_at_a(client, world, bed="A2")
    returned = await reported(client, world, other["id"])
    assert (await back(client, world, returned["id"])).status_code == 200

    assert await runaways.record_unresolved(now=reported_at + timedelta(hours=23)) == 0
    when = reported_at + timedelta(hours=25)
    assert await runaways.record_unresolved(now=when) == 1
    assert await runaways.record_unresolved(now=when + timedelta(hours=30)) == 0
    [payload] = await payloads(runaways.RUNAWAY_UNRESOLVED)
    assert set(payload) == REPORTED_KEYS | {"hours_missing"}
    assert payload["episode_id"] == episode["id"]
    assert payload["hours_missing"] == 25
    assert payload["exploitation_flagged"] is True and payload["risk_level"] == "high"


async def test_a_hold_about_to_expire_is_recorded_once(client, world):
    case = await open_case(client, world)
    created = await create_request(client, world, case["case_code"])
    the_hold = await held(client, world, created["request"]["id"], world.bed(world.centre_a, "A1"))
    expires_at = at(the_hold["expires_at"])

    assert await service.record_expiring_holds(now=expires_at - timedelta(minutes=31)) == 0
    assert await service.record_expiring_holds(now=expires_at - timedelta(minutes=20)) == 1
    assert await service.record_expiring_holds(now=expires_at - timedelta(minutes=5)) == 0
    [payload] = await payloads(service.HOLD_EXPIRING)
    assert payload == {
        "hold_id": the_hold["id"],
        "request_id": created["request"]["id"],
        "centre_id": world.centre_a["id"],
        "officer_id": world.users["officer"].user_id,
        "expires_at": expires_at.isoformat(),
    }

    # An accepted hold counts too; an expired or admitted one does not.
    other = await open_case(client, world)
    second = await create_request(client, world, other["case_code"])
    accepted = await held(client, world, second["request"]["id"], world.bed(world.centre_a, "A2"))
    await answer(client, world, accepted["id"], "accept", "staff_a")
    await answer(client, world, the_hold["id"], "admit", "staff_a")
    soon = at(accepted["expires_at"]) - timedelta(minutes=10)
    assert await service.record_expiring_holds(now=soon) == 1
    assert [p["hold_id"] for p in await payloads(service.HOLD_EXPIRING)] == [
        the_hold["id"],
        accepted["id"],
    ]
    assert await service.record_expiring_holds(now=at(accepted["expires_at"])) == 0


async def test_a_stale_centre_is_recorded_once_per_stale_period(client, world):
    await make_centre(world.users["admin"], name="Sans lits")  # no bed: nothing to keep true
    now = utcnow()
    assert await capacity.record_stale_centres(now=now) == 0
    later = now + timedelta(hours=25)
    assert await capacity.record_stale_centres(now=later) == 2
    assert await capacity.record_stale_centres(now=later + timedelta(hours=1)) == 0
    stale = await payloads(capacity.OCCUPANCY_STALE)
    assert {p["centre_id"] for p in stale} == {world.centre_a["id"], world.centre_b["id"]}
    for payload in stale:
        assert set(payload) == {"centre_id", "centre_name", "province", "last_change_at"}
    [centre_a] = [p for p in stale if p["centre_id"] == world.centre_a["id"]]
    assert (centre_a["centre_name"], centre_a["province"]) == ("Maison des Tilleuls", "BE-WLG")
    assert at(centre_a["last_change_at"]) <= now

    # Staff confirm the beds: fresh again; a new stale period is a new fact.
    response = await client.post(
        f"/api/centres/{world.centre_a['id']}/confirm", headers=world.auth("staff_a")
    )
    assert response.status_code == 200, response.text
    assert await capacity.record_stale_centres(now=utcnow() + timedelta(hours=1)) == 0
    assert await capacity.record_stale_centres(now=utcnow() + timedelta(hours=25)) == 1
    newest = (await payloads(capacity.OCCUPANCY_STALE))[-1]
    assert newest["centre_id"] == world.centre_a["id"]
    assert at(newest["last_change_at"]) > at(centre_a["last_change_at"])


# ---------------------------------------------------------------------------
# Settings


def test_runaway_and_alert_settings(monkeypatch):
    for name in ("KEEP_BED_HOURS", "RUNAWAY_UNRESOLVED_HOURS", "HOLD_EXPIRING_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (
        settings.keep_bed_hours,
        settings.runaway_unresolved_hours,
        settings.hold_expiring_minutes,
    ) == (72, 24, 30)
    monkeypatch.setenv("KEEP_BED_HOURS", "48")
    monkeypatch.setenv("HOLD_EXPIRING_MINUTES", "15")
    settings = load_settings()
    assert (settings.keep_bed_hours, settings.hold_expiring_minutes) == (48, 15)


@pytest.mark.parametrize(
    "name", ["KEEP_BED_HOURS", "RUNAWAY_UNRESOLVED_HOURS", "HOLD_EXPIRING_MINUTES"]
)
@pytest.mark.parametrize("value", ["0", "-3", "three days", "1000000"])
def test_bad_runaway_settings_are_named(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()
