"""Privacy (issue 6): the audit log viewer, retention of closed cases, subject access export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend import events
from backend.tables import AuditEntry
from backend.timeutil import utcnow
from placement import retention
from placement.tables import YouthCase
from tests.support.capacity import assert_problem
from tests.support.pages import main_text, sign_in
from tests.support.placement import (
    answer,
    create_request,
    flag_case,
    held,
    open_case,
)

FLAG_NOTE = "seen with an older man near the station"
REQUEST_NOTE = "the aunt in Namur must not know"
CIRCUMSTANCES = "left through the garden after a phone call"
END_NOTE = "back with her mother"


async def audit_rows(case_code: str | None = None) -> list[dict]:
    query = AuditEntry.select().order_by(AuditEntry.id)
    if case_code:
        query = query.where(AuditEntry.case_code == case_code)
    return await query


async def placed_case(client, world, **fields) -> dict:
    """A flagged case placed at centre B, one runaway and return, then discharged: every
    kind of row a case leads to, with free text in each."""
    case = await open_case(client, world, migration_status="unaccompanied_foreign_minor", **fields)
    code = case["case_code"]
    await flag_case(client, world, code, note=FLAG_NOTE)
    request = (await create_request(client, world, code, notes=REQUEST_NOTE))["request"]
    bed = (
        world.bed(world.centre_a, "B1")
        if case["gender"] == "boy"
        else world.bed(world.centre_b, "E1")
    )
    hold = await held(client, world, request["id"], bed)
    staff = "staff_a" if case["gender"] == "boy" else "staff_b"
    await answer(client, world, hold["id"], "accept", staff)
    stay = await answer(client, world, hold["id"], "admit", staff)
    response = await client.post(
        f"/api/stays/{stay['id']}/runaways",
        json={"last_seen_at": utcnow().isoformat(), "circumstances": CIRCUMSTANCES},
        headers=world.auth(staff),
    )
    assert response.status_code == 201, response.text
    response = await client.post(
        f"/api/runaways/{response.json()['id']}/return", json={}, headers=world.auth(staff)
    )
    assert response.status_code == 200, response.text
    response = await client.post(
        f"/api/stays/{stay['id']}/end",
        json={"reason": "discharge", "note": END_NOTE},
        headers=world.auth(staff),
    )
    assert response.status_code == 200, response.text
    return {"case_code": code, "request_id": request["id"], "stay_id": stay["id"]}


async def close(case_code: str, months_ago: int) -> datetime:
    """A case closed `months_ago` (POST /api/cases/{code}/close closes it now: the test
    sets the past closing time it needs)."""
    closed_at = retention.cutoff(utcnow(), months_ago) - timedelta(days=1)
    await YouthCase.update({YouthCase.closed_at: closed_at}).where(YouthCase.case_code == case_code)
    return closed_at


# ---------------------------------------------------------------------------
# Audit log viewer


async def test_admins_filter_the_log_and_their_reading_is_audited(client, world):
    first = (await open_case(client, world))["case_code"]
    second = (await open_case(client, world, "coordinator"))["case_code"]
    await client.get(f"/api/cases/{first}", headers=world.auth("coordinator"))

    response = await client.get("/api/audit", headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(e["user"], e["case_code"], e["action"]) for e in body["entries"]] == [
        ("coordinator", first, "read_case"),
        ("coordinator", second, "open_case"),
        ("officer", first, "open_case"),
    ]
    assert body["total"] == 3 and body["page"] == 1

    # Reading the log wrote one entry per case shown, by the admin.
    after = await audit_rows()
    assert sorted((r["case_code"], r["action"]) for r in after[3:]) == sorted(
        [(first, "read_audit_log"), (second, "read_audit_log")]
    )
    assert all(r["actor"] == world.users["admin"].user_id for r in after[3:])

    # Filters: user, case code, period (local days), and they combine.
    by_user = await client.get(
        "/api/audit", params={"user": "officer"}, headers=world.auth("admin")
    )
    assert [(e["case_code"], e["action"]) for e in by_user.json()["entries"]] == [
        (first, "open_case")
    ]
    by_case = await client.get(
        "/api/audit", params={"case_code": second.lower()}, headers=world.auth("admin")
    )
    assert [(e["user"], e["action"]) for e in by_case.json()["entries"]] == [
        ("admin", "read_audit_log"),
        ("coordinator", "open_case"),
    ]
    today = utcnow().date()
    both = await client.get(
        "/api/audit",
        params={"user": "coordinator", "case_code": first, "from": str(today - timedelta(1))},
        headers=world.auth("admin"),
    )
    assert [e["action"] for e in both.json()["entries"]] == ["read_case"]
    past = await client.get(
        "/api/audit",
        params={"from": "2020-01-01", "to": "2020-12-31"},
        headers=world.auth("admin"),
    )
    assert past.json()["entries"] == [] and past.json()["total"] == 0
    # An empty page records nothing.
    count = len(await audit_rows())
    await client.get("/api/audit", params={"user": "nobody"}, headers=world.auth("admin"))
    assert len(await audit_rows()) == count


async def test_the_log_is_paged_newest_first_and_each_read_adds_a_bounded_trace(client, world):
    codes = [(await open_case(client, world))["case_code"] for _ in range(5)]
    response = await client.get("/api/audit", params={"per_page": 2}, headers=world.auth("admin"))
    body = response.json()
    assert [e["case_code"] for e in body["entries"]] == codes[::-1][:2]
    assert body["total"] == 5
    before = len(await audit_rows())
    second = await client.get(
        "/api/audit", params={"per_page": 2, "page": 2}, headers=world.auth("admin")
    )
    # The first read's own two entries are now the newest.
    assert [e["action"] for e in second.json()["entries"]] == ["open_case", "open_case"]
    assert len(await audit_rows()) == before + 2
    # Reading again and again grows the log by at most one page each time.
    for _ in range(3):
        count = len(await audit_rows())
        await client.get("/api/audit", params={"per_page": 3}, headers=world.auth("admin"))
        assert len(await audit_rows()) <= count + 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"per_page": 1000}, "per_page"),
        ({"page": 0}, "page"),
    ],
)
async def test_bad_filters_are_refused_naming_the_field(client, world, params, field):
    response = await client.get("/api/audit", params=params, headers=world.auth("admin"))
    body = assert_problem(response)
    assert field in response.text, body


async def test_only_admins_read_the_log(client, world):
    for actor in ("officer", "coordinator", "analyst", "staff_a"):
        assert_problem(await client.get("/api/audit", headers=world.auth(actor)), 403)
    assert (await client.get("/api/audit")).status_code == 401


async def test_the_log_cannot_be_edited(client, world):
    code = (await open_case(client, world))["case_code"]
    with pytest.raises(Exception, match="append-only"):
        await AuditEntry.update({AuditEntry.action: "nothing"}).where(AuditEntry.case_code == code)
    assert [r["action"] for r in await audit_rows(code)] == ["open_case"]


async def test_the_audit_page_filters_and_is_for_admins(client, world):
    code = (await open_case(client, world))["case_code"]
    other = (await open_case(client, world, "coordinator"))["case_code"]
    await sign_in(client, "admin")
    response = await client.get("/admin/audit", params={"case_code": code})
    assert response.status_code == 200
    text = main_text(response.text)
    assert code in text and other not in text
    assert "open_case" in text
    assert 'href="/admin/audit"' in response.text  # the menu links it
    # The page's read is audited like the API's.
    assert [r["action"] for r in await audit_rows(code)] == ["open_case", "read_audit_log"]

    bad = await client.get("/admin/audit", params={"from": "31/12/2026"})
    assert bad.status_code == 422
    assert 'id="audit-from-error"' in bad.text and 'aria-invalid="true"' in bad.text

    await sign_in(client, "coordinator")
    assert (await client.get("/admin/audit")).status_code == 403
    client.cookies.clear()
    response = await client.get("/admin/audit")
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]


# ---------------------------------------------------------------------------
# Subject access export


async def test_an_admin_exports_everything_held_about_a_case(client, world):
    placed = await placed_case(client, world)
    code = placed["case_code"]
    other = (await open_case(client, world))["case_code"]

    response = await client.get(f"/api/cases/{code}/export", headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["case_code"] == code
    assert export["case"]["migration_status"] == "unaccompanied_foreign_minor"
    assert [flag["note"] for flag in export["flags"]] == [FLAG_NOTE]
    [request] = export["requests"]
    assert request["id"] == placed["request_id"] and request["notes"] == REQUEST_NOTE
    assert request["events"] and all(e["request"] == request["id"] for e in request["events"])
    assert [hold["status"] for hold in export["holds"]] == ["admitted"]
    [stay] = export["stays"]
    assert stay["end_note"] == END_NOTE and stay["status"] == "ended"
    [episode] = export["runaway_episodes"]
    assert episode["circumstances"] == CIRCUMSTANCES and episode["returned_at"]
    actions = [entry["action"] for entry in export["audit_entries"]]
    assert actions[0] == "open_case" and actions[-1] == "subject_access_export"
    assert {entry["case_code"] for entry in export["audit_entries"]} == {code}
    # The runaway raised an alert naming the case, with its deliveries.
    assert export["alerts"], export
    assert all(alert["case_code"] == code for alert in export["alerts"])
    assert any(alert["deliveries"] for alert in export["alerts"])
    assert {d["status"] for a in export["alerts"] for d in a["deliveries"]} <= {
        "pending",
        "sending",
        "delivered",
        "failed",
        "cancelled",
    }
    # Nothing about another case.
    assert other not in response.text

    last = (await audit_rows(code))[-1]
    assert (last["action"], last["actor"]) == (
        "subject_access_export",
        world.users["admin"].user_id,
    )


async def test_the_export_is_for_admins_only(client, world):
    code = (await open_case(client, world))["case_code"]
    for actor in ("officer", "coordinator", "analyst", "staff_a"):
        assert_problem(
            await client.get(f"/api/cases/{code}/export", headers=world.auth(actor)), 403
        )
    assert_problem(
        await client.get("/api/cases/C-BCDFGHJK/export", headers=world.auth("admin")), 404
    )
    assert [r["action"] for r in await audit_rows(code)] == ["open_case"]


# ---------------------------------------------------------------------------
# Retention


async def test_dry_run_lists_old_closed_cases_without_erasing(client, world):
    old = (await placed_case(client, world))["case_code"]
    recent = (await open_case(client, world))["case_code"]
    still_open = (await open_case(client, world))["case_code"]
    closed_at = await close(old, 24)
    await close(recent, 23)

    listed = await retention.purge(dry_run=True)
    assert [(c.case_code, c.closed_at.date()) for c in listed] == [(old, closed_at.date())]
    assert await retention.candidates() == listed
    assert [c.case_code for c in await retention.candidates(months=1)] == [old, recent]
    assert still_open not in [c.case_code for c in await retention.candidates(months=1)]
    case = (await client.get(f"/api/cases/{old}", headers=world.auth("admin"))).json()
    assert case["purged_at"] is None and case["gender"] == "girl"
    assert case["flags"][0]["note"] == FLAG_NOTE


async def test_the_purge_erases_personal_fields_and_is_audited(client, world):
    placed = await placed_case(client, world)
    code = placed["case_code"]
    kept = (await open_case(client, world))["case_code"]
    await close(code, 25)
    await close(kept, 2)

    purged = await retention.purge()
    assert [c.case_code for c in purged] == [code]
    assert await retention.purge() == []  # nothing left to do: a second run is harmless

    case = (await client.get(f"/api/cases/{code}", headers=world.auth("admin"))).json()
    assert case["purged_at"] is not None
    for field in ("birth_year", "birth_month", "age", "gender", "nationality_group"):
        assert case[field] is None, field
    assert case["migration_status"] is None
    assert case["languages"] == [] and case["care_needs"] == []
    assert [(f["note"], f["source_service"]) for f in case["flags"]] == [("", "")]
    assert case["flags"][0]["exploitation_type"] == "loverboy_grooming"
    listed = (await client.get("/api/cases", headers=world.auth("admin"))).json()
    summary = next(item for item in listed if item["case_code"] == code)
    assert summary["age"] is None and summary["gender"] is None

    export = (await client.get(f"/api/cases/{code}/export", headers=world.auth("admin"))).json()
    text = str(export)
    for secret in (FLAG_NOTE, REQUEST_NOTE, CIRCUMSTANCES, END_NOTE):
        assert secret not in text
    assert export["requests"][0]["danger_latitude"] is None
    assert [e["actor"] for e in export["audit_entries"] if e["action"] == "retention_purge"] == [
        None
    ]
    # The copies elsewhere forget the minor's details too: the runaway event and its alert.
    reported = [e["payload"] for e in await events.events_of("runaway_reported")]
    for payload in reported:
        if payload["case_code"] == code:
            assert not {"age", "gender", "exploitation_flagged"} & set(payload)
            assert payload["risk_level"] == "high"  # the facts of the episode stay
    alerts = (await client.get("/api/alerts", headers=world.auth("admin"))).json()
    runaway = [a for a in alerts if a["case_code"] == code and a["kind"] == "runaway"]
    assert runaway and all("age" not in a["facts"] for a in runaway)
    assert all("gender" not in a["facts"] for a in runaway)
    # The case that closed recently keeps everything.
    other = (await client.get(f"/api/cases/{kept}", headers=world.auth("admin"))).json()
    assert other["purged_at"] is None and other["gender"] == "girl"


async def test_erasure_is_the_only_change_a_flag_accepts(client, world):
    from placement.tables import CaseFlag

    code = (await open_case(client, world))["case_code"]
    await flag_case(client, world, code, note=FLAG_NOTE)
    with pytest.raises(Exception, match="append-only"):
        await CaseFlag.update({CaseFlag.note: "rewritten"}, force=True)
    with pytest.raises(Exception, match="append-only"):
        await CaseFlag.update({CaseFlag.note: "", CaseFlag.status: "withdrawn"}, force=True)
    with pytest.raises(Exception, match="append-only"):
        await CaseFlag.delete(force=True)
    case = (await client.get(f"/api/cases/{code}", headers=world.auth("officer"))).json()
    assert case["flags"][0]["note"] == FLAG_NOTE


STATISTICS = [
    ("cases", ["sex"]),
    ("placements", ["age_band", "exploitation"]),
    ("flags", ["exploitation"]),
    ("runaways", ["centre_kind"]),
    ("requests", ["migration", "month"]),
]


async def figures(client, world) -> list:
    this_year = utcnow().year
    answers = []
    for measure, dims in STATISTICS:
        response = await client.get(
            "/api/statistics",
            params={
                "measure": measure,
                "from": f"{this_year - 1}-01",
                "to": f"{this_year}-12",
                "by": dims,
            },
            headers=world.auth("analyst"),
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


async def test_the_statistics_are_identical_before_and_after_a_purge(client, world):
    codes = []
    for gender in ("girl", "girl", "boy", "girl", "girl", "girl"):
        placed = await placed_case(client, world, gender=gender)
        codes.append(placed["case_code"])
    await open_case(client, world)  # a case that stays
    before = await figures(client, world)
    for code in codes[:4]:
        await close(code, 30)
    assert len(await retention.purge()) == 4
    assert await figures(client, world) == before


async def test_the_daily_job_and_the_setting(monkeypatch):
    from backend import scheduler
    from backend.settings import SettingsError, load_settings

    assert scheduler.DAILY_JOBS["purge_closed_cases"] is retention.purge_closed_cases
    assert load_settings().retention_months == 24
    for bad in ("0", "-3", "twelve", "121"):
        monkeypatch.setenv("RETENTION_MONTHS", bad)
        with pytest.raises(SettingsError, match="RETENTION_MONTHS"):
            load_settings()
    monkeypatch.setenv("RETENTION_MONTHS", "6")
    assert load_settings().retention_months == 6


def test_the_cutoff_counts_calendar_months():
    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert retention.cutoff(now, 1) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert retention.cutoff(now, 24) == datetime(2024, 3, 31, 12, tzinfo=UTC)
    assert retention.cutoff(datetime(2026, 1, 15, tzinfo=UTC), 1) == datetime(
        2025, 12, 15, tzinfo=UTC
    )
