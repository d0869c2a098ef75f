"""Alert delivery survives failures: a receiver that is down, answers 500, hangs or is
unreachable delays only its own deliveries (never the others, never the request that raised
the alert); a receiver down for a while gets every alert exactly once when it is back; a
process killed mid-delivery loses nothing; two app instances on one database send each
delivery once.

Receivers are real HTTP servers on 127.0.0.1 (tests/support/receiver.py). The first test
runs in this process and drives the retries with an explicit clock; the others run the app
in real uvicorn processes with short timeouts, leases and scheduler intervals, and assert
the order in which things happened rather than how long they took.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

import httpx

from backend.timeutil import utcnow
from notifications import outbox
from tests.support.alerts import (
    SECRET,
    eventually,
    external_webhook,
    placed_minor,
    received,
    report_runaway,
)
from tests.support.receiver import WebhookReceiver
from tests.support.server import AppServer, free_port
from tests.support.world import World

# Long enough for a loaded machine to run a whole request between the send and the timeout.
WEBHOOK_TIMEOUT = 4
# The lease outlives a whole send (timeout plus connect time): a send in progress is never
# claimed twice.
LEASE = 5
FAST_SCHEDULER = {"SCHEDULER_ENABLED": "1", "SCHEDULER_INTERVAL_SECONDS": "0.3"}
# Some scheduler rounds of every instance, to let a duplicate send show if there were one.
SETTLE_SECONDS = 1.2


async def runaway_alerts(http: httpx.AsyncClient, world: World) -> list[dict]:
    response = await http.get("/api/alerts?kind=runaway", headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    return sorted(response.json(), key=lambda alert: alert["id"])


async def webhook_deliveries(http: httpx.AsyncClient, world: World, alert_id: int) -> list[dict]:
    """The alert's webhook deliveries, as a coordinator sees them."""
    response = await http.get(f"/api/alerts/{alert_id}", headers=world.auth("coordinator"))
    assert response.status_code == 200, response.text
    return [d for d in response.json()["deliveries"] if d["channel"] == "webhook"]


async def all_webhook_deliveries(http: httpx.AsyncClient, world: World) -> list[dict]:
    found = []
    for alert in await runaway_alerts(http, world):
        found += await webhook_deliveries(http, world, alert["id"])
    return found


def assert_each_key_once(receiver: WebhookReceiver, deliveries: list[dict]) -> None:
    """Every delivery reached the receiver, each exactly once, under its own key."""
    keys = Counter(receiver.keys())
    assert {key for key, times in keys.items() if times > 1} == set(), keys
    assert set(keys) == {str(d["id"]) for d in deliveries}
    for request in receiver.accepted():
        assert request.signature_valid
        assert request.headers["Idempotency-Key"] == str(request.body["delivery_id"])


# ---------------------------------------------------------------------------
# Down for a while, then up


async def test_alerts_raised_while_the_receiver_is_down_arrive_once_when_it_is_back(
    client, world: World
):
    receiver = WebhookReceiver(SECRET)  # not started: its port is closed
    token = "hush-0042-query-token"
    await external_webhook(client, world, f"{receiver.url}?token={token}", ["runaway"])
    stays = [await placed_minor(client, world, bed=bed) for bed in ("A1", "A2", "A3")]
    for stay in stays:
        await report_runaway(client, world, stay["id"])
    await outbox.drain()  # the sends started right after each report

    alerts = await runaway_alerts(client, world)
    assert len(alerts) == 3
    failing = await all_webhook_deliveries(client, world)
    assert [(d["status"], d["attempts"]) for d in failing] == [("pending", 1)] * 3
    for delivery in failing:
        assert delivery["last_error"].startswith("could not connect"), delivery
        # The reason names neither the target nor anything secret.
        for leak in (token, "127.0.0.1", str(receiver.port), SECRET, "http"):
            assert leak not in delivery["last_error"], delivery

    # Each waits for its backoff: nothing is due right now.
    assert await outbox.deliver_due() == 0
    assert [d["attempts"] for d in await all_webhook_deliveries(client, world)] == [1] * 3

    # Still down at the next retry: one more attempt each, still pending.
    assert await outbox.deliver_due(utcnow() + timedelta(hours=1)) == 0
    still = await all_webhook_deliveries(client, world)
    assert [(d["status"], d["attempts"]) for d in still] == [("pending", 2)] * 3

    receiver.start()  # back up, same address
    try:
        # Several sweeps race for the due rows, as several instances would: each row is
        # claimed, and sent, by exactly one of them.
        later = utcnow() + timedelta(hours=1)
        sent = await asyncio.gather(*(outbox.deliver_due(later) for _ in range(5)))
        assert sum(sent) == 3, sent
        # Later retry rounds find nothing left to send.
        assert await outbox.deliver_due(utcnow() + timedelta(days=2)) == 0
        await outbox.drain()

        delivered = await all_webhook_deliveries(client, world)
        assert [(d["status"], d["attempts"], d["last_error"]) for d in delivered] == [
            ("delivered", 3, "")
        ] * 3
        assert len(receiver.accepted()) == 3
        assert_each_key_once(receiver, delivered)
        assert sorted(r.body["alert"]["id"] for r in receiver.accepted()) == [
            a["id"] for a in alerts
        ]
    finally:
        receiver.stop()


# ---------------------------------------------------------------------------
# Receivers broken four ways, one healthy


async def test_a_failing_receiver_delays_neither_the_others_nor_the_report(world: World):
    """Receivers that answer 500, hold the request open, trickle their answer byte by
    byte or do not listen at all: each fails on its own, the healthy one is served."""
    env = {
        **FAST_SCHEDULER,
        "WEBHOOK_TIMEOUT_SECONDS": str(WEBHOOK_TIMEOUT),
        # No retry during the test: each failure stays as its first attempt left it.
        "DELIVERY_RETRY_BASE_SECONDS": "600",
    }
    unreachable = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    with (
        WebhookReceiver(SECRET) as healthy,
        WebhookReceiver(SECRET) as broken,
        WebhookReceiver(SECRET) as hanging,
        WebhookReceiver(SECRET) as trickling,
        AppServer(env=env) as server,
    ):
        broken.status = 500
        hanging.hang(2)  # holds both alerts' requests open past the app's timeout
        trickling.drip = 0.5  # each read is quick, the whole answer takes half a minute
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            # The healthy receiver is subscribed last: its deliveries come after the others.
            targets = {"hanging": hanging.url, "broken": broken.url, "unreachable": unreachable}
            targets["trickling"] = trickling.url
            targets["healthy"] = healthy.url
            subscription = {}
            for name, url in targets.items():
                created = await external_webhook(http, world, url, ["runaway"], name=name)
                subscription[name] = f"subscription {created['id']}"
            first = await placed_minor(http, world, bed="A1")
            second = await placed_minor(http, world, bed="A2")

            await report_runaway(http, world, first["id"])
            first_reported = time.monotonic()
            await received(healthy, 1, timeout=15)

            async def first_request_held() -> bool:
                return hanging.holding() == 1

            await eventually(first_request_held, timeout=15)
            # While the hanging receiver holds the first alert's request open, a second
            # runaway is reported and reaches the healthy receiver.
            await report_runaway(http, world, second["id"])
            second_reported = time.monotonic()
            await received(healthy, 2, timeout=15)

            async def app_gave_up_on_both() -> bool:
                return len(hanging.abandoned) == 2

            await eventually(app_gave_up_on_both, timeout=WEBHOOK_TIMEOUT + 15)
            alerts = await runaway_alerts(http, world)
            first_alert, second_alert = (a["id"] for a in alerts)
            held_key = str(
                next(
                    d["id"]
                    for d in await webhook_deliveries(http, world, first_alert)
                    if d["recipient"] == subscription["hanging"]
                )
            )
            [gave_up_first] = [at for key, at in hanging.abandoned if key == held_key]
            # Both reports answered, and both healthy deliveries arrived, before the app
            # stopped waiting for the first hanging request.
            first_at, second_at = (r.at for r in healthy.accepted())
            assert first_reported < gave_up_first
            assert first_at < gave_up_first
            assert second_reported < gave_up_first
            assert second_at < gave_up_first
            assert [r.body["alert"]["id"] for r in healthy.accepted()] == [
                first_alert,
                second_alert,
            ]

            alert_ids = (first_alert, second_alert)
            expected = {
                subscription["healthy"]: ("delivered", ""),
                subscription["broken"]: ("pending", "receiver answered HTTP 500"),
                subscription["hanging"]: ("pending", "timed out"),
                subscription["trickling"]: ("pending", "timed out"),
                subscription["unreachable"]: ("pending", "could not connect"),
            }

            async def each_failure_recorded() -> dict[int, list[dict]]:
                outcome = {a: await webhook_deliveries(http, world, a) for a in alert_ids}
                for deliveries in outcome.values():
                    for delivery in deliveries:
                        status, reason = expected[delivery["recipient"]]
                        if delivery["status"] != status:
                            return {}
                        if not delivery["last_error"].startswith(reason):
                            return {}
                return outcome

            outcome = await eventually(each_failure_recorded, timeout=15)
            for deliveries in outcome.values():
                assert sorted(d["recipient"] for d in deliveries) == sorted(expected)
                # One attempt each: a failure is retried on its own backoff, not at once.
                assert [d["attempts"] for d in deliveries] == [1] * 5
                for delivery in deliveries:
                    assert "127.0.0.1" not in delivery["last_error"]
                    assert SECRET not in delivery["last_error"]
        assert len(broken.accepted()) == 2

        async def trickles_cut_short() -> bool:
            """The app hung up on both trickling answers long before their end."""
            return len(trickling.abandoned) == 2

        await eventually(trickles_cut_short)
        assert healthy.keys() == [
            str(d["id"])
            for a in alert_ids
            for d in outcome[a]
            if d["recipient"] == subscription["healthy"]
        ]
        assert "Traceback" not in server.logs(), server.logs()


# ---------------------------------------------------------------------------
# Killed mid-delivery, restarted


async def test_a_delivery_cut_by_a_crash_is_sent_after_the_restart(world: World):
    env = {
        **FAST_SCHEDULER,
        "DELIVERY_LEASE_SECONDS": str(LEASE),
        "WEBHOOK_TIMEOUT_SECONDS": str(LEASE - outbox.CONNECT_SECONDS - 0.5),
    }
    with WebhookReceiver(SECRET) as receiver:
        receiver.hang(1)  # the first request stays open: the app is mid-delivery
        crashing = AppServer(env=env).start()
        try:
            async with httpx.AsyncClient(base_url=crashing.url, timeout=30) as http:
                await external_webhook(http, world, receiver.url, ["runaway"])
                stay = await placed_minor(http, world)
                await report_runaway(http, world, stay["id"])

            async def in_flight() -> bool:
                return receiver.holding() == 1

            await eventually(in_flight, timeout=15)
            assert receiver.abandoned == []  # the app is still waiting for the answer
            crashing.kill()
        finally:
            crashing.stop()

        async def connection_dropped() -> bool:
            return len(receiver.abandoned) == 1

        await eventually(connection_dropped)
        [(key, first_arrival)] = receiver.arrivals
        assert receiver.accepted() == []  # never answered: the delivery was cut

        with AppServer(env=env) as restarted:
            [resent] = await received(receiver, 1, timeout=LEASE + 15)
            assert resent.headers["Idempotency-Key"] == key
            assert resent.signature_valid
            # Not before the lease taken by the dead process ran out.
            assert resent.at - first_arrival >= LEASE - 1
            async with httpx.AsyncClient(base_url=restarted.url, timeout=30) as http:
                [alert] = await runaway_alerts(http, world)
                assert resent.body["alert"]["id"] == alert["id"]
                assert resent.body["alert"]["facts"]["stay_id"] == stay["id"]

                async def delivered() -> list[dict]:
                    deliveries = await webhook_deliveries(http, world, alert["id"])
                    return deliveries if deliveries[0]["status"] == "delivered" else []

                [delivery] = await eventually(delivered)
                assert str(delivery["id"]) == key
                assert delivery["attempts"] == 2 and delivery["last_error"] == ""
                await asyncio.sleep(SETTLE_SECONDS)
            assert len(receiver.accepted()) == 1
            assert [k for k, _ in receiver.arrivals] == [key, key]
            assert "Traceback" not in restarted.logs(), restarted.logs()


# ---------------------------------------------------------------------------
# Two instances on one database


async def test_two_app_instances_send_each_delivery_once(world: World):
    rounds = 3
    with (
        WebhookReceiver(SECRET) as receiver,
        AppServer(env=FAST_SCHEDULER) as one,
        AppServer(env=FAST_SCHEDULER) as two,
    ):
        receiver.delay = 0.05  # sends last a little: claims of both instances overlap
        async with (
            httpx.AsyncClient(base_url=one.url, timeout=30) as a,
            httpx.AsyncClient(base_url=two.url, timeout=30) as b,
        ):
            await external_webhook(a, world, receiver.url, ["runaway"])
            first = await placed_minor(a, world, bed="A1")
            second = await placed_minor(b, world, bed="A2")
            for _ in range(rounds):
                # Each instance raises one alert at the same moment, then the other one
                # records the return (the stay is active again for the next round).
                episodes = await asyncio.gather(
                    report_runaway(a, world, first["id"]), report_runaway(b, world, second["id"])
                )
                answers = await asyncio.gather(
                    b.post(
                        f"/api/runaways/{episodes[0]['id']}/return",
                        json={},
                        headers=world.auth("staff_a"),
                    ),
                    a.post(
                        f"/api/runaways/{episodes[1]['id']}/return",
                        json={},
                        headers=world.auth("staff_a"),
                    ),
                )
                assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]

            await received(receiver, 2 * rounds, timeout=20)

            async def all_delivered() -> list[dict]:
                deliveries = await all_webhook_deliveries(b, world)
                done = all(d["status"] == "delivered" for d in deliveries)
                return deliveries if done and len(deliveries) == 2 * rounds else []

            deliveries = await eventually(all_delivered, timeout=15)
            await asyncio.sleep(SETTLE_SECONDS)
        assert len(receiver.accepted()) == 2 * rounds
        assert_each_key_once(receiver, deliveries)
        assert [d["attempts"] for d in deliveries] == [1] * (2 * rounds)
        for server in (one, two):
            assert "Traceback" not in server.logs(), server.logs()
