"""The alert journey of issue 4, through a real app process whose own scheduled jobs do the
paging, with a real webhook receiver and a real SMTP server on 127.0.0.1:

a centre reports a runaway of a 14-year-old with an exploitation flag; the on-call
coordinator's webhook and e-mail receive it within seconds; nobody acknowledges, so the
backup is paged; the backup acknowledges and paging stops; the girl does not return, so
after the keep-bed period her bed becomes available and the officer of the waiting request
it suits is told. Then reminders of acknowledged alerts, and the in-app event stream.

Times are shrunk by settings (escalation 3 s, keep-bed 14.4 s); after setting things up,
the tests act only as people would (report, acknowledge, resolve) and wait for the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import httpx

from backend.identity import Role
from tests.support.alerts import (
    SECRET,
    eventually,
    on_call,
    personal_webhook,
    placed_minor,
    report_runaway,
    set_email,
    use_mailbox,
)
from tests.support.mailbox import Mailbox
from tests.support.placement import (
    add_user,
    centre_bed_status,
    create_request,
    open_case,
    request_detail,
    set_bed_status,
)
from tests.support.receiver import Received, WebhookReceiver
from tests.support.server import AppServer
from tests.support.world import World

ESCALATION_S = 3.0
KEEP_BED_S = 14.4
REMINDER_S = 1.8
INTERVAL = "0.3"  # the scheduler's interval in seconds

JOURNEY = {
    "SCHEDULER_ENABLED": "1",
    "SCHEDULER_INTERVAL_SECONDS": INTERVAL,
    "ESCALATION_MINUTES": str(ESCALATION_S / 60),
    "KEEP_BED_HOURS": str(KEEP_BED_S / 3600),
    # No reminder during the journey: after the acknowledgement nothing is sent at all.
    "REMINDER_MINUTES": "60",
}
REMINDERS = {
    "SCHEDULER_ENABLED": "1",
    "SCHEDULER_INTERVAL_SECONDS": INTERVAL,
    "ESCALATION_MINUTES": str(ESCALATION_S / 60),
    "REMINDER_MINUTES": str(REMINDER_S / 60),
}
STREAM = {"SCHEDULER_ENABLED": "1", "SCHEDULER_INTERVAL_SECONDS": INTERVAL}


def pages_of(receiver: WebhookReceiver, alert_id: int) -> list[Received]:
    return [
        r
        for r in receiver.accepted()
        if r.body["alert"]["id"] == alert_id and r.body["purpose"] == "page"
    ]


def of_alert(receiver: WebhookReceiver, alert_id: int) -> list[Received]:
    return [r for r in receiver.accepted() if r.body["alert"]["id"] == alert_id]


async def arrived(receiver: WebhookReceiver, select, count: int = 1, within: float = 15.0):
    """Wait (without blocking the loop) until `select(receiver)` holds `count` requests."""

    async def enough():
        got = select(receiver)
        return got if len(got) >= count else None

    return await eventually(enough, within)


async def alert_detail(http, world: World, alert_id: int) -> dict[str, Any]:
    response = await http.get(f"/api/alerts/{alert_id}", headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    return response.json()


async def inbox(http, world: World, user: str) -> list[dict[str, Any]]:
    response = await http.get("/api/inbox", params={"all": "true"}, headers=world.auth(user))
    assert response.status_code == 200, response.text
    return response.json()


async def act(http, world: World, user: str, alert_id: int, action: str, **body) -> dict:
    response = await http.post(
        f"/api/alerts/{alert_id}/{action}", json=body or None, headers=world.auth(user)
    )
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------------------
# The journey


async def fill_the_network(http, world: World) -> None:
    """Every bed but A1 (hers) out of service: new requests wait."""
    for label in ("A2", "A3", "B1", "B2"):
        bed = world.bed(world.centre_a, label)
        await set_bed_status(http, world, bed, "out_of_service", "staff_a")
    for label in ("E1", "E2"):
        bed = world.bed(world.centre_b, label)
        await set_bed_status(http, world, bed, "out_of_service", "staff_b")


async def waiting_request(http, world: World, officer: str, gender: str) -> dict:
    case = await open_case(http, world, officer, age=15, gender=gender)
    created = await create_request(http, world, case["case_code"], officer, urgency="within_24h")
    assert created["request"]["status"] == "waiting", created
    return created["request"]


async def test_runaway_paged_escalated_acknowledged_and_her_bed_offered_after_keep_bed(
    world: World,
):
    await add_user(world, "backup", Role.COORDINATOR, service="Coordination")
    await add_user(world, "officer_liege", Role.PLACEMENT_OFFICER, service="SAJ Liège")
    with (
        WebhookReceiver(SECRET) as coordinator_hook,
        WebhookReceiver(SECRET) as backup_hook,
        WebhookReceiver(SECRET) as officer_hook,
        Mailbox() as mailbox,
        AppServer(env=JOURNEY) as server,
    ):
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            await on_call(http, world, "coordinator", level=1)
            await on_call(http, world, "backup", level=2)
            await personal_webhook(http, world, "coordinator", coordinator_hook.url)
            await personal_webhook(http, world, "backup", backup_hook.url)
            await personal_webhook(http, world, "officer_liege", officer_hook.url)
            await use_mailbox(http, world, mailbox.port)
            await set_email(http, world, "coordinator", "coordinator@safebed.test")
            stay = await placed_minor(http, world, age=14, bed="A1")
            a1 = world.bed(world.centre_a, "A1")
            await fill_the_network(http, world)
            # Two requests wait: a boy's (first in line, but A1 is in a girls' unit) and a
            # girl's from another service.
            boy = await waiting_request(http, world, "officer", "boy")
            girl = await waiting_request(http, world, "officer_liege", "girl")

            # The centre reports her gone.
            sent = time.monotonic()
            episode = await report_runaway(http, world, stay["id"])
            answered = time.monotonic()
            assert episode["risk_level"] == "high"

            # The on-call coordinator's webhook, within 2 s of the report's answer.
            [page] = await arrived(coordinator_hook, lambda r: r.of_kind("runaway"))
            assert page.at - answered <= 2.0, f"paged {page.at - answered:.2f} s after the report"
            assert page.signature_valid
            alert = page.body["alert"]
            alert_id = alert["id"]
            assert (page.body["purpose"], page.body["level"]) == ("page", 1)
            assert alert["case_code"] == stay["case_code"]
            assert alert["severity"] == "critical"
            facts = alert["facts"]
            assert facts["episode_id"] == episode["id"]
            assert facts["risk_level"] == "high"
            assert (facts["age"], facts["exploitation_flagged"]) == (14, True)

            # And by e-mail.
            async def mails() -> list:
                return mailbox.messages

            [mail] = await eventually(mails, timeout=10)
            assert mail["To"] == "coordinator@safebed.test"
            assert mail["Subject"].startswith("Runaway from Maison des Tilleuls, risk high")

            # Nobody acknowledges: after the level's 3 s the backup is paged.
            [escalated] = await arrived(backup_hook, lambda r: pages_of(r, alert_id))
            assert escalated.body["level"] == 2
            assert escalated.at - sent >= ESCALATION_S * 0.95, escalated.at - sent
            assert escalated.signature_valid

            # The backup acknowledges: paging stops.
            acknowledged = await act(http, world, "backup", alert_id, "acknowledge")
            acked_at = time.monotonic()
            assert acknowledged["status"] == "acknowledged"
            assert acknowledged["acknowledged_by"] == "backup"

            # She does not return: after the keep-bed period her bed is free again, and
            # the girl's officer is told (in the app and on her own webhook).
            async def bed_free() -> bool:
                status = await centre_bed_status(http, world, world.centre_a["id"], a1)
                return status == "available"

            await eventually(bed_free, timeout=KEEP_BED_S + 15)
            assert time.monotonic() - sent >= KEEP_BED_S * 0.95
            [offer] = await arrived(
                officer_hook, lambda r: r.of_kind("vacancy_for_waiting_request")
            )
            assert offer.signature_valid
            assert offer.body["alert"]["facts"]["request_id"] == girl["id"]
            assert offer.body["alert"]["facts"]["bed_id"] == a1
            offered = [
                item
                for item in await inbox(http, world, "officer_liege")
                if item["alert"]["kind"] == "vacancy_for_waiting_request"
            ]
            assert [item["alert"]["facts"]["request_id"] for item in offered] == [girl["id"]]
            assert not [
                item
                for item in await inbox(http, world, "officer")
                if item["alert"]["kind"] == "vacancy_for_waiting_request"
            ]
            assert (await request_detail(http, world, boy["id"]))["status"] == "waiting"

            detail = await request_detail(http, world, stay["request_id"])
            assert detail["stay"]["status"] == "ended"
            assert detail["stay"]["end_reason"] == "not_returned"
            response = await http.get(
                f"/api/runaways/{episode['id']}", headers=world.auth("staff_a")
            )
            assert response.json()["open"] is True  # still missing
            assert response.json()["stay_status"] == "ended"

            # A few escalation periods after the acknowledgement: no page to anyone since.
            await asyncio.sleep(max(0.0, 3 * ESCALATION_S - (time.monotonic() - acked_at)))
            assert len(pages_of(coordinator_hook, alert_id)) == 1
            assert len(pages_of(backup_hook, alert_id)) == 1
            assert not [r for r in coordinator_hook.accepted() if r.at > acked_at]
            assert not [r for r in backup_hook.accepted() if r.at > acked_at]
            assert len(mailbox.messages) == 1
            final = await alert_detail(http, world, alert_id)
            assert final["status"] == "acknowledged"
            pages = [d for d in final["deliveries"] if d["purpose"] == "page"]
            assert sorted((d["recipient"], d["channel"], d["level"]) for d in pages) == [
                ("backup", "in_app", 2),
                ("backup", "webhook", 2),
                ("coordinator", "email", 1),
                ("coordinator", "in_app", 1),
                ("coordinator", "webhook", 1),
            ]
            assert {d["status"] for d in final["deliveries"]} == {"delivered"}
        logs = server.logs()
    assert "Traceback" not in logs, logs


# ---------------------------------------------------------------------------
# Reminders


async def test_an_acknowledged_alert_is_recalled_and_a_resolved_one_never_pages_again(
    world: World,
):
    await add_user(world, "backup", Role.COORDINATOR, service="Coordination")
    with (
        WebhookReceiver(SECRET) as coordinator_hook,
        WebhookReceiver(SECRET) as backup_hook,
        AppServer(env=REMINDERS) as server,
    ):
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            await on_call(http, world, "coordinator", level=1)
            await on_call(http, world, "backup", level=2)
            await personal_webhook(http, world, "coordinator", coordinator_hook.url)
            await personal_webhook(http, world, "backup", backup_hook.url)
            first = await placed_minor(http, world, bed="A1")
            second = await placed_minor(http, world, bed="A2")

            one = await report_runaway(http, world, first["id"])
            other = await report_runaway(http, world, second["id"])
            pages = await arrived(coordinator_hook, lambda r: r.of_kind("runaway"), 2)
            alert_of = {
                p.body["alert"]["facts"]["episode_id"]: p.body["alert"]["id"] for p in pages
            }
            kept, closed = alert_of[one["id"]], alert_of[other["id"]]

            # One is acknowledged and left open, the other resolved at once.
            acked_at = time.monotonic()
            await act(http, world, "coordinator", kept, "acknowledge")
            resolved = await act(http, world, "coordinator", closed, "resolve", note="found her")
            resolved_at = time.monotonic()
            assert resolved["status"] == "resolved"

            # The acknowledged one comes back to whoever acknowledged it.
            [reminder] = await arrived(
                coordinator_hook,
                lambda r: [x for x in of_alert(r, kept) if x.body["purpose"] == "reminder"],
            )
            assert reminder.at - acked_at >= REMINDER_S * 0.95, reminder.at - acked_at
            assert reminder.signature_valid and reminder.body["level"] == 1
            reminded = [
                item
                for item in await inbox(http, world, "coordinator")
                if item["alert"]["id"] == kept and item["purpose"] == "reminder"
            ]
            assert reminded

            # Resolved: it is never recalled again.
            await act(http, world, "coordinator", kept, "resolve", note="back with family")
            done_at = time.monotonic()
            await asyncio.sleep(3 * REMINDER_S + 1)
            assert not [r for r in of_alert(coordinator_hook, kept) if r.at > done_at + 0.5]
            # The one resolved at once: never paged again, never escalated to the backup
            # (its level had 3 s).
            assert not [r for r in of_alert(coordinator_hook, closed) if r.at > resolved_at]
            assert backup_hook.accepted() == []
            for alert_id in (kept, closed):
                detail = await alert_detail(http, world, alert_id)
                assert detail["status"] == "resolved"
                assert {d["recipient"] for d in detail["deliveries"]} <= {
                    "coordinator",
                    "officer",
                }
                assert not [d for d in detail["deliveries"] if d["status"] == "pending"]
        logs = server.logs()
    assert "Traceback" not in logs, logs


# ---------------------------------------------------------------------------
# The in-app event stream


class EventStream:
    """A client of GET /api/inbox/stream: parsed events land in a queue."""

    def __init__(self, http: httpx.AsyncClient, token: str, last_event_id: int | None = None):
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            self.headers["Last-Event-ID"] = str(last_event_id)
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def _read(self) -> None:
        async with self.http.stream("GET", "/api/inbox/stream", headers=self.headers) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    self.connected.set()  # the server's "connected" comment
                elif line == "":
                    # The "connected" comment comes with an empty data line: not an alert.
                    if fields.get("data"):
                        await self.events.put(
                            {
                                "id": int(fields["id"]),
                                "event": fields.get("event"),
                                "data": json.loads(fields["data"]),
                                "at": time.monotonic(),
                            }
                        )
                    fields = {}
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")

    async def __aenter__(self) -> EventStream:
        self._task = asyncio.create_task(self._read())
        async with asyncio.timeout(10):
            await self.connected.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def next(self, within: float) -> dict[str, Any]:
        async with asyncio.timeout(within):
            return await self.events.get()

    async def rest(self, seconds: float) -> list[dict[str, Any]]:
        """Every event arriving within `seconds`."""
        got = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    got.append(await self.events.get())
        return got


async def test_the_coordinators_event_stream_gets_the_runaway_and_resumes_without_repeats(
    world: World,
):
    with AppServer(env=STREAM) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            await on_call(http, world, "coordinator", level=1)
            first = await placed_minor(http, world, bed="A1")
            second = await placed_minor(http, world, bed="A2")
            token = world.tokens["coordinator"]

            async with EventStream(http, token) as stream:
                episode = await report_runaway(http, world, first["id"])
                answered = time.monotonic()
                event = await stream.next(within=10)
                # Woken at once, not found by the stream's re-read every 2 s.
                assert event["at"] - answered <= 1.5, event["at"] - answered
                assert event["event"] == "alert"
                item = event["data"]
                assert item["id"] == event["id"]
                assert (item["purpose"], item["level"], item["read"]) == ("page", 1, False)
                assert item["alert"]["kind"] == "runaway"
                assert item["alert"]["facts"]["episode_id"] == episode["id"]
                assert await stream.rest(2.5) == []  # once only
            seen = event["id"]

            # Away for a while: another runaway is reported meanwhile.
            missed = await report_runaway(http, world, second["id"])
            async with EventStream(http, token, last_event_id=seen) as resumed:
                event = await resumed.next(within=10)
                assert event["id"] > seen
                assert event["data"]["alert"]["facts"]["episode_id"] == missed["id"]
                assert await resumed.rest(2.5) == []  # nothing seen before, nothing twice
        logs = server.logs()
    assert "Traceback" not in logs, logs
