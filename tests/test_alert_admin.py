"""Admin API of alerts: webhook targets and mail subscriptions, the mail server, the on-call
rota in local time and escalation policies. Secrets go in and never come out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from notifications import outbox
from notifications import service as alerts
from tests.support.alerts import SECRET, on_call, placed_minor, report_runaway
from tests.support.capacity import assert_problem
from tests.support.world import World

HOOK = {
    "name": "Police, missing persons unit",
    "channel": "webhook",
    "url": "http://127.0.0.1:9/hooks/safebed?token=abc",
    "secret": SECRET,
    "kinds": ["runaway", "runaway_unresolved"],
    "regions": ["BE-WLG", "BE"],
}


async def post(client, world: World, path: str, body, actor: str = "admin"):
    return await client.post(path, json=body, headers=world.auth(actor))


async def test_a_webhook_secret_is_written_never_read(client, world: World, caplog):
    created = await post(client, world, "/api/subscriptions", HOOK)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["has_secret"] is True and "secret" not in body
    listed = await client.get("/api/subscriptions", headers=world.auth("admin"))
    one = await client.get(f"/api/subscriptions/{body['id']}", headers=world.auth("admin"))
    for text in (created.text, listed.text, one.text):
        assert SECRET not in text
    changed = await client.patch(
        f"/api/subscriptions/{body['id']}",
        json={"secret": "another-secret-value-1234"},
        headers=world.auth("admin"),
    )
    assert changed.status_code == 200 and "another-secret" not in changed.text

    # A delivery to it fails (nothing listens on port 9): neither the secret nor the url's
    # token reach the logs or the delivery's error.
    await on_call(client, world, "coordinator")
    stay = await placed_minor(client, world)
    with caplog.at_level(logging.INFO):
        await report_runaway(client, world, stay["id"])
        await outbox.drain()
    [alert] = (await client.get("/api/alerts", headers=world.auth("admin"))).json()
    detail = (await client.get(f"/api/alerts/{alert['id']}", headers=world.auth("admin"))).json()
    [failing] = [d for d in detail["deliveries"] if d["channel"] == "webhook"]
    assert failing["status"] == "pending" and failing["attempts"] == 1
    assert failing["last_error"].startswith("could not connect")
    for secret in ("another-secret", SECRET, "token=abc", stay["case_code"]):
        assert secret not in caplog.text
        assert secret not in failing["last_error"]


async def test_bad_subscriptions_are_refused_naming_the_field(client, world: World):
    cases = [
        ({**HOOK, "secret": None}, 422, "secret"),
        ({**HOOK, "secret": "short"}, 400, None),
        ({**HOOK, "url": "ftp://example.test/x"}, 400, None),
        ({**HOOK, "kinds": ["runaway", "coffee_break"]}, 400, None),
        ({**HOOK, "regions": ["BE-XXX"]}, 422, "regions"),
        ({**HOOK, "channel": "in_app"}, 422, "channel"),
        ({**HOOK, "unknown": 1}, 400, None),
        ({"name": "SAJ", "channel": "email", "language": "nl"}, 422, "email"),
        ({"name": "SAJ", "channel": "email", "email": "not-an-address"}, 400, None),
        ({**HOOK, "user_id": 999_999}, 404, "user_id"),
        ({"name": "SAJ", "channel": "email", "email": "a@b.be", "user_id": 1}, 422, "user_id"),
    ]
    for body, status, field in cases:
        response = await post(client, world, "/api/subscriptions", body)
        assert_problem(response, status, field)
    listed = await client.get("/api/subscriptions", headers=world.auth("admin"))
    assert listed.json() == []
    missing = await client.patch(
        "/api/subscriptions/999999", json={"active": False}, headers=world.auth("admin")
    )
    assert_problem(missing, 404, "subscription_id")


async def test_the_smtp_password_is_kept_but_never_shown(client, world: World):
    unset = await client.get("/api/settings/smtp", headers=world.auth("admin"))
    assert unset.json()["configured"] is False
    body = {
        "host": "mail.example.test",
        "port": 587,
        "security": "starttls",
        "username": "alerts",
        "password": "smtp-password-1",
        "sender": "alerts@example.test",
    }
    saved = await client.put("/api/settings/smtp", json=body, headers=world.auth("admin"))
    assert saved.status_code == 200 and saved.json()["has_password"] is True
    assert "smtp-password-1" not in saved.text
    kept = await client.put(
        "/api/settings/smtp", json={**body, "password": None}, headers=world.auth("admin")
    )
    assert kept.json()["has_password"] is True and kept.json()["port"] == 587
    bad = await client.put(
        "/api/settings/smtp", json={**body, "port": 0}, headers=world.auth("admin")
    )
    assert_problem(bad, 400)
    bad = await client.put(
        "/api/settings/smtp", json={**body, "security": "ssl3"}, headers=world.auth("admin")
    )
    assert_problem(bad, 400)
    gone = await client.delete("/api/settings/smtp", headers=world.auth("admin"))
    assert gone.status_code == 204
    assert (await client.get("/api/settings/smtp", headers=world.auth("admin"))).json() == {
        "configured": False,
        "host": None,
        "port": None,
        "security": None,
        "username": None,
        "has_password": False,
        "sender": None,
        "updated_at": None,
    }


def shift(world: World, **fields) -> dict:
    return {
        "region": "BE-WLG",
        "level": 1,
        "user_id": world.users["coordinator"].user_id,
        "starts_local": "2030-03-23T20:00:00",
        "ends_local": "2030-03-24T08:00:00",
        **fields,
    }


async def test_a_weekly_night_shift_keeps_local_hours_across_the_clock_change(client, world: World):
    # 31 March 2030 is the last Sunday of March: summer time starts that night.
    response = await post(client, world, "/api/oncall/shifts", shift(world, repeat_weeks=2))
    assert response.status_code == 201, response.text
    first, second = response.json()
    assert (first["starts_local"], first["ends_local"]) == ("2030-03-23T20:00", "2030-03-24T08:00")
    assert (second["starts_local"], second["ends_local"]) == (
        "2030-03-30T20:00",
        "2030-03-31T08:00",
    )
    assert (first["hours"], second["hours"]) == (12, 11)
    assert second["ends_at"] == "2030-03-31T06:00:00Z"
    listed = await client.get(
        "/api/oncall/shifts",
        params={"region": "BE-WLG", "ends_after": "2030-01-01T00:00:00Z"},
        headers=world.auth("coordinator"),
    )
    assert [s["id"] for s in listed.json()] == [first["id"], second["id"]]


async def test_impossible_shifts_are_refused_naming_the_field(client, world: World):
    cases = [
        (
            shift(world, starts_local="2030-03-31T02:30:00", ends_local="2030-03-31T08:00:00"),
            422,
            "starts_local",
        ),
        (
            shift(world, starts_local="2030-03-30T20:00:00", ends_local="2030-03-31T02:15:00"),
            422,
            "ends_local",
        ),
        (shift(world, ends_local="2030-03-23T19:00:00"), 422, "ends_local"),
        (shift(world, ends_local="2030-04-23T19:00:00"), 422, "ends_local"),
        (shift(world, region="BE-XXX"), 422, "region"),
        (shift(world, region="be-wlg"), 400, None),
        (shift(world, level=4), 400, None),
        (shift(world, user_id=999_999), 404, "user_id"),
        (shift(world, starts_local="2030-03-23T20:00:00+01:00"), 400, None),
        (shift(world, repeat_weeks=53), 400, None),
    ]
    for body, status, field in cases:
        assert_problem(await post(client, world, "/api/oncall/shifts", body), status, field)
    listed = await client.get(
        "/api/oncall/shifts",
        params={"ends_after": "2030-01-01T00:00:00Z"},
        headers=world.auth("admin"),
    )
    assert listed.json() == []


async def test_who_is_on_call_now_province_first_then_country(client, world: World):
    await on_call(client, world, "admin", level=1, region="BE")
    await on_call(client, world, "coordinator", level=1, region="BE-WLG")
    await on_call(client, world, "admin", level=3, region="BE")
    now = await client.get("/api/oncall/now/BE-WLG", headers=world.auth("coordinator"))
    levels = {level["level"]: level["users"] for level in now.json()["levels"]}
    assert levels == {1: ["coordinator"], 2: [], 3: ["admin"]}
    elsewhere = await client.get("/api/oncall/now/BE-VAN", headers=world.auth("coordinator"))
    assert elsewhere.json()["levels"][0]["users"] == ["admin"]
    bad = await client.get("/api/oncall/now/XX-YY", headers=world.auth("coordinator"))
    assert_problem(bad, 422, "region")


async def test_a_region_policy_sets_how_long_each_level_has(client, world: World):
    response = await client.put(
        "/api/oncall/policies/BE-WLG",
        json={"level_minutes": [5, 15, 30], "reminder_minutes": 60},
        headers=world.auth("admin"),
    )
    assert response.json() == {
        "region": "BE-WLG",
        "level_minutes": [5, 15, 30],
        "reminder_minutes": 60,
        "configured": True,
    }
    bad = await client.put(
        "/api/oncall/policies/BE-WLG",
        json={"level_minutes": [5, 15], "reminder_minutes": 60},
        headers=world.auth("admin"),
    )
    assert_problem(bad, 400)
    await on_call(client, world, "coordinator", level=1)
    await on_call(client, world, "admin", level=2)
    stay = await placed_minor(client, world)
    await report_runaway(client, world, stay["id"])
    now = datetime.now(UTC)
    assert await alerts.escalate_due(now + timedelta(minutes=4)) == 0
    assert await alerts.escalate_due(now + timedelta(minutes=6)) == 1  # level 2 after 5 min
    # Nobody at level 3: level 2 is paged again after its own 15 minutes.
    assert await alerts.escalate_due(now + timedelta(minutes=20)) == 0
    assert await alerts.escalate_due(now + timedelta(minutes=22)) == 1
    default = await client.get("/api/oncall/policies/BE-VAN", headers=world.auth("coordinator"))
    assert default.json()["configured"] is False
    assert default.json()["level_minutes"] == [10, 10, 10]


async def test_a_user_email_must_look_like_one(client, world: World):
    user_id = world.users["coordinator"].user_id
    bad = await client.patch(
        f"/api/users/{user_id}", json={"email": "nobody"}, headers=world.auth("admin")
    )
    assert_problem(bad, 400)
    good = await client.patch(
        f"/api/users/{user_id}", json={"email": "c@safebed.test"}, headers=world.auth("admin")
    )
    assert good.json()["email"] == "c@safebed.test"
