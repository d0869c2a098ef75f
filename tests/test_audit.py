"""The audit log of youth cases (DESIGN §6): every read and change of a case is written down,
the log cannot be edited, and case data never reaches the application logs."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from backend.identity import Role
from backend.tables import AuditEntry
from backend.timeutil import as_utc, utcnow
from tests.support.capacity import assert_problem
from tests.support.placement import (
    add_user,
    answer,
    create_request,
    flag_case,
    held,
    open_case,
    request_detail,
)


async def entries(after_id: int = 0) -> list[tuple[str | None, str, str, str]]:
    """(actor's username, role, case code, action) of every audit entry, oldest first."""
    rows = (
        await AuditEntry.select(
            AuditEntry.actor.username.as_alias("by"),
            AuditEntry.actor_role,
            AuditEntry.case_code,
            AuditEntry.action,
        )
        .where(AuditEntry.id > after_id)
        .order_by(AuditEntry.id)
    )
    return [(row["by"], row["actor_role"], row["case_code"], row["action"]) for row in rows]


async def last_id() -> int:
    row = await AuditEntry.select(AuditEntry.id).order_by(AuditEntry.id, ascending=False).first()
    return row["id"] if row else 0


OFFICER = ("officer", "placement_officer")
STAFF_A = ("staff_a", "centre_staff")


async def test_every_read_and_change_of_a_case_is_audited(client, world):
    started = utcnow()
    code = (await open_case(client, world))["case_code"]
    other = (await open_case(client, world, age=14))["case_code"]
    assert await entries() == [(*OFFICER, code, "open_case"), (*OFFICER, other, "open_case")]

    mark = await last_id()
    response = await client.get(f"/api/cases/{code}", headers=world.auth("officer"))
    assert response.status_code == 200
    assert await entries(mark) == [(*OFFICER, code, "read_case")]

    # A list writes one entry per case it shows.
    mark = await last_id()
    response = await client.get("/api/cases", headers=world.auth("officer"))
    assert {case["case_code"] for case in response.json()} == {code, other}
    assert sorted(await entries(mark)) == sorted(
        [(*OFFICER, code, "list_cases"), (*OFFICER, other, "list_cases")]
    )
    mark = await last_id()
    response = await client.get("/api/cases", headers=world.auth("staff_a"))
    assert response.json() == []
    assert await entries(mark) == []

    mark = await last_id()
    await flag_case(client, world, code)
    assert await entries(mark) == [(*OFFICER, code, "add_flag")]

    mark = await last_id()
    request = (await create_request(client, world, code))["request"]
    assert await entries(mark) == [
        (*OFFICER, code, "create_request"),
        (*OFFICER, code, "match"),
    ]

    mark = await last_id()
    response = await client.post(
        f"/api/requests/{request['id']}/match", headers=world.auth("officer")
    )
    assert response.status_code == 200, response.text
    assert await entries(mark) == [(*OFFICER, code, "match")]

    mark = await last_id()
    hold = await held(client, world, request["id"], world.bed(world.centre_b, "E1"))
    assert await entries(mark) == [(*OFFICER, code, "hold")]

    mark = await last_id()
    await answer(client, world, hold["id"], "accept", "staff_b")
    await answer(client, world, hold["id"], "admit", "staff_b")
    assert await entries(mark) == [
        ("staff_b", "centre_staff", code, "accept_hold"),
        ("staff_b", "centre_staff", code, "admit"),
    ]

    mark = await last_id()
    await request_detail(client, world, request["id"])
    assert await entries(mark) == [(*OFFICER, code, "read_request")]

    mark = await last_id()
    await request_detail(client, world, request["id"], "coordinator")
    assert await entries(mark) == [("coordinator", "coordinator", code, "read_request")]

    # Every entry carries its time and its actor.
    rows = await AuditEntry.select().order_by(AuditEntry.id)
    ids = {principal.user_id for principal in world.users.values()}
    for row in rows:
        assert started - timedelta(seconds=1) <= as_utc(row["at"]) <= utcnow()
        assert row["actor"] in ids
    assert {row["case_code"] for row in rows} == {code, other}


async def test_a_refused_read_is_audited_as_refused_and_reveals_nothing(client, world):
    code = (await open_case(client, world))["case_code"]
    request = (await create_request(client, world, code))["request"]
    await add_user(world, "officer_elsewhere", Role.PLACEMENT_OFFICER, service="SPJ Autre")
    before = await entries()

    for actor in ("officer_elsewhere", "staff_a"):
        response = await client.get(f"/api/cases/{code}", headers=world.auth(actor))
        assert_problem(response, 403)
        response = await client.get(f"/api/requests/{request['id']}", headers=world.auth(actor))
        assert_problem(response, 403)
        assert_problem(
            await client.post(
                f"/api/cases/{code}/flags",
                json={
                    "exploitation_type": "other",
                    "discovered_on": (utcnow().date() - timedelta(days=30)).isoformat(),
                    "source_service": "SPJ Autre",
                },
                headers=world.auth(actor),
            ),
            403,
        )
    # The role guard refuses the analyst before any case is touched.
    assert_problem(await client.get(f"/api/cases/{code}", headers=world.auth("analyst")), 403)
    # Each refused attempt to read leaves a trace; nothing was read, and the lists they may
    # see are empty.
    refused = (await entries())[len(before) :]
    assert [(entry[0], entry[3]) for entry in refused] == [
        (actor, action)
        for actor in ("officer_elsewhere", "staff_a")
        for action in ("read_case_refused", "read_request_refused")
    ]
    assert all(entry[2] == code for entry in refused)
    after = await entries()
    for actor in ("officer_elsewhere", "staff_a"):
        response = await client.get("/api/cases", headers=world.auth(actor))
        assert response.json() == []
    assert await entries() == after


async def test_an_unknown_case_writes_no_entry(client, world):
    await open_case(client, world)
    before = await entries()
    response = await client.get("/api/cases/C-BCDFGHJK", headers=world.auth("coordinator"))
    assert_problem(response, 404)
    assert await entries() == before


async def test_the_audit_log_is_append_only(client, world):
    code = (await open_case(client, world))["case_code"]
    await client.get(f"/api/cases/{code}", headers=world.auth("officer"))
    before = await AuditEntry.select().order_by(AuditEntry.id)
    assert len(before) == 2

    with pytest.raises(Exception, match="append-only"):
        await AuditEntry.update({AuditEntry.action: "nothing_happened"}).where(
            AuditEntry.case_code == code
        )
    with pytest.raises(Exception, match="append-only"):
        await AuditEntry.update({AuditEntry.actor: None}).where(AuditEntry.id == before[0]["id"])
    with pytest.raises(Exception, match="append-only"):
        await AuditEntry.delete().where(AuditEntry.case_code == code)
    with pytest.raises(Exception, match="append-only"):
        await AuditEntry.delete(force=True)

    assert await AuditEntry.select().order_by(AuditEntry.id) == before


# The test client logs each request it sends (URL included); that is this test's own
# logging, not the application's.
CLIENT_LOGGERS = ("httpx", "httpcore")


async def test_no_case_data_reaches_the_logs(client, world, caplog):
    caplog.set_level(logging.INFO)
    # The app quiets httpx (webhook URLs); the test client's own records prove capture.
    caplog.set_level(logging.INFO, logger="httpx")
    await add_user(world, "officer_elsewhere", Role.PLACEMENT_OFFICER, service="SPJ Autre")

    case = await open_case(client, world, migration_status="unaccompanied_foreign_minor")
    code = case["case_code"]
    await flag_case(client, world, code, note="seen near the station")
    request = (await create_request(client, world, code))["request"]
    # Refusals and conflicts on the way.
    assert_problem(
        await client.get(f"/api/cases/{code}", headers=world.auth("officer_elsewhere")), 403
    )
    first = await held(client, world, request["id"], world.bed(world.centre_a, "A1"))
    await answer(client, world, first["id"], "refuse", "staff_a", {"reason": "unsuitable_group"})
    second = await held(client, world, request["id"], world.bed(world.centre_b, "E1"))
    late = await client.post(
        f"/api/requests/{request['id']}/holds",
        json={"bed_id": world.bed(world.centre_a, "A2")},
        headers=world.auth("officer"),
    )
    assert_problem(late, 409)
    await answer(client, world, second["id"], "accept", "staff_b")
    stay = await answer(client, world, second["id"], "admit", "staff_b")
    await request_detail(client, world, request["id"])
    await client.get("/api/cases", headers=world.auth("coordinator"))
    await client.get("/api/requests", headers=world.auth("staff_b"))
    await client.get("/api/holds", headers=world.auth("coordinator"))
    ended = await client.post(
        f"/api/stays/{stay['id']}/end", json={"reason": "discharge"}, headers=world.auth("staff_b")
    )
    assert ended.status_code == 200, ended.text

    app_records = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    # The client's own records show that logging was captured during the whole lifecycle.
    assert any(code in r.getMessage() for r in caplog.records if r.name.startswith("httpx"))
    leaks = [
        f"{r.name}: {r.getMessage()}"
        for r in app_records
        if code in r.getMessage() or "seen near the station" in r.getMessage()
    ]
    assert leaks == []
    assert await AuditEntry.count().where(AuditEntry.case_code == code) > 10


async def test_refusals_cancellations_updates_and_discharges_are_audited(client, world):
    code = (await open_case(client, world))["case_code"]
    request = (await create_request(client, world, code))["request"]
    a1 = world.bed(world.centre_a, "A1")

    async def actions_since(start: int) -> list[tuple[str | None, str]]:
        return [(entry[0], entry[3]) for entry in (await entries())[start:]]

    start = len(await entries())
    response = await client.patch(
        f"/api/cases/{code}", json={"languages": ["fr", "nl"]}, headers=world.auth("officer")
    )
    assert response.status_code == 200, response.text
    hold = await held(client, world, request["id"], a1)
    await answer(client, world, hold["id"], "refuse", "staff_a", {"reason": "safety"})
    hold = await held(client, world, request["id"], a1)
    await answer(client, world, hold["id"], "cancel", "officer", {"reason": "family found"})
    hold = await held(client, world, request["id"], a1)
    stay = await answer(client, world, hold["id"], "admit", "staff_a")
    response = await client.post(
        f"/api/stays/{stay['id']}/end", json={"reason": "discharge"}, headers=world.auth("staff_a")
    )
    assert response.status_code == 200, response.text
    assert await actions_since(start) == [
        ("officer", "update_case"),
        ("officer", "hold"),
        ("staff_a", "refuse_hold"),
        ("officer", "hold"),
        ("officer", "cancel_hold"),
        ("officer", "hold"),
        ("staff_a", "admit"),
        ("staff_a", "end_stay"),
    ]

    other = await open_case(client, world)
    waiting = (await create_request(client, world, other["case_code"]))["request"]
    start = len(await entries())
    response = await client.post(
        f"/api/requests/{waiting['id']}/cancel",
        json={"reason": "placed by family"},
        headers=world.auth("officer"),
    )
    assert response.status_code == 200, response.text
    assert await actions_since(start) == [("officer", "cancel_request")]
