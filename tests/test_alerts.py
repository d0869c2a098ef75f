"""Alerts end to end in the app's own process: raised by what happens in placement and
capacity, paged along the on-call chain, delivered to a real webhook receiver and a real
SMTP server on 127.0.0.1, acknowledged and resolved through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifications import outbox
from notifications import service as alerts
from tests.support.alerts import (
    SECRET,
    eventually,
    on_call,
    personal_webhook,
    placed_minor,
    received,
    report_runaway,
    set_email,
    use_mailbox,
)
from tests.support.mailbox import Mailbox
from tests.support.receiver import WebhookReceiver
from tests.support.world import World


async def test_a_runaway_pages_the_coordinator_on_call_by_webhook_and_email(client, world: World):
    with WebhookReceiver(SECRET) as receiver, Mailbox() as mailbox:
        await on_call(client, world, "coordinator")
        await personal_webhook(client, world, "coordinator", receiver.url)
        await use_mailbox(client, world, mailbox.port)
        await set_email(client, world, "coordinator", "coordinator@safebed.test", "fr")
        stay = await placed_minor(client, world, age=14)

        episode = await report_runaway(client, world, stay["id"])

        [hook] = await received(receiver, 1, kind="runaway")
        assert hook.signature_valid
        assert hook.body["alert"]["case_code"] == stay["case_code"]
        assert hook.body["alert"]["severity"] == "critical"
        assert hook.body["alert"]["facts"]["episode_id"] == episode["id"]
        assert hook.body["purpose"] == "page" and hook.body["level"] == 1
        assert hook.headers["Idempotency-Key"] == str(hook.body["delivery_id"])
        await eventually(lambda: _async(len(mailbox.messages) >= 1))
        [mail] = mailbox.messages
        assert mail["To"] == "coordinator@safebed.test"
        assert "Fugue" in mail["Subject"] or "fugue" in mail["Subject"]
        assert mail.get_body(("plain",)) is not None and mail.get_body(("html",)) is not None


async def _async(value):
    return value


async def test_nobody_acknowledges_so_the_backup_is_paged_and_acknowledging_stops_it(
    client, world: World
):
    with WebhookReceiver(SECRET) as first, WebhookReceiver(SECRET) as backup:
        await on_call(client, world, "coordinator", level=1)
        await on_call(client, world, "admin", level=2)
        await personal_webhook(client, world, "coordinator", first.url)
        await personal_webhook(client, world, "admin", backup.url)
        stay = await placed_minor(client, world)
        await report_runaway(client, world, stay["id"])
        [page] = await received(first, 1)
        alert_id = page.body["alert"]["id"]

        assert await alerts.escalate_due() == 0  # not yet: level 1 has ten minutes
        later = datetime.now(UTC) + timedelta(minutes=11)
        assert await alerts.escalate_due(later) == 1
        await outbox.deliver_due()
        [escalated] = await received(backup, 1)
        assert escalated.body["level"] == 2 and escalated.body["alert"]["id"] == alert_id

        response = await client.post(
            f"/api/alerts/{alert_id}/acknowledge", headers=world.auth("admin")
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "acknowledged"
        assert await alerts.escalate_due(later + timedelta(hours=1)) == 0
        await outbox.deliver_due(later + timedelta(hours=1))
        assert len(first.accepted()) == 1 and len(backup.accepted()) == 1
