"""Alert delivery: from a runaway report to its webhook's receipt, and outbox throughput.

    python bench/bench_alerts.py [--engine postgres|sqlite] [--reports 200] [--warmup 5]
        [--deliveries 2000] [--pause 0] [--json FILE] [--keep]

1. Report to receipt. A fresh database (a new PostgreSQL database on the server of
TEST_DATABASE_URL, default 127.0.0.1:5432, dropped afterwards; or a SQLite file), migrated
and given an invented network: 10 centres of 25 girls' beds in the Walloon provinces, an
admin, a placement officer, centre staff, and a coordinator on call for Belgium (level 1)
whose personal webhook points at a receiver on 127.0.0.1 (a thread of this process that
checks each request's HMAC signature). A real uvicorn server (one worker, APP_ENV=test,
its scheduler on at the default interval) serves the API. Through the API, warm-up +
measured minors are placed (case, request, hold, admission); then the runaways are reported
one after another (one report in flight at a time, --pause seconds apart): each is timed
from just before its POST /api/stays/{id}/runaways to the arrival of its webhook at the
receiver. The first --warmup reports are not counted. The server's CPU time per report
comes from /proc/<pid>/stat.

2. Outbox throughput. With the server stopped, --deliveries pending webhook deliveries (10
per alert of part 1, to an external subscription) are written, and outbox.deliver_due()
drains them in this process (PostgreSQL: a connection pool as in the app) against a fast
receiver in its own process (asyncio, keep-alive, answers 200 at once, checks nothing).
A warm-up drain of 100 comes first. Deliveries per second over the wall time, with this
process's CPU time per delivery.

Prints Markdown tables and the machine's facts; --json writes every number to a file.
Runs by hand, never in the test suite; the machine should be otherwise idle (the load
average is printed before and after). Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.bench_matching_http import (  # noqa: E402
    cpu_seconds,
    fresh_database,
    machine_facts,
    percentile,
    rss_mb,
)
from tests.support import postgres  # noqa: E402
from tests.support.server import AppServer, free_port  # noqa: E402

CENTRES = 10
BEDS_PER_CENTRE = 25
DELIVERIES_PER_ALERT = 10
WARMUP_DELIVERIES = 100
RECEIPT_TIMEOUT_S = 30.0
TARGET_P95_MS = 1000.0
SECRET = "bench-webhook-secret-" + "b" * 16
# (province, municipality, latitude, longitude): two centres in each.
PLACES = [
    ("BE-WLG", "Liège", 50.63, 5.57),
    ("BE-WNA", "Namur", 50.47, 4.87),
    ("BE-WBR", "Wavre", 50.72, 4.61),
    ("BE-WHT", "Mons", 50.45, 3.95),
    ("BE-WLX", "Arlon", 49.68, 5.82),
]


# ---------------------------------------------------------------------------
# The network (written by this process before the server starts)


async def build_network() -> Any:
    """Migrations, users with API tokens, centres: a World the test helpers accept."""
    from backend import accounts
    from backend.identity import Role
    from backend.migrate import apply_migrations
    from tests.support.world import World, make_centre, make_user

    await apply_migrations()
    admin = await make_user("admin", Role.ADMIN)
    centres = []
    for number in range(CENTRES):
        province, town, latitude, longitude = PLACES[number % len(PLACES)]
        centres.append(
            await make_centre(
                admin,
                name=f"Centre {number + 1}",
                province=province,
                municipality=town,
                latitude=latitude,
                longitude=longitude + number * 0.01,
                address=f"Rue Inventée {number + 1}, {town}",
                units=[
                    {
                        "name": "Filles",
                        "min_age": 12,
                        "max_age": 17,
                        "gender_policy": "girls",
                        "bed_labels": [f"C{number + 1}-{b + 1}" for b in range(BEDS_PER_CENTRE)],
                    }
                ],
            )
        )
    users = {
        "admin": admin,
        "officer": await make_user("officer", Role.PLACEMENT_OFFICER, service="SAJ Exemple"),
        "coordinator": await make_user("coordinator", Role.COORDINATOR, service="Coordination"),
        "staff": await make_user("staff", Role.CENTRE_STAFF, [c["id"] for c in centres]),
    }
    tokens = {
        name: (await accounts.create_token(principal.user_id, "bench")).token
        for name, principal in users.items()
    }
    world = World(users=users, tokens=tokens, centre_a=centres[0], centre_b=centres[1])
    world.extra["beds"] = [
        bed["id"] for c in centres for unit in c["units"] for bed in unit["beds"]
    ]
    return world


async def place_minors(http: httpx.AsyncClient, world: Any, count: int) -> list[int]:
    """`count` girls of 14 admitted through the API; their stay ids."""
    from tests.support.placement import answer, create_request, held, open_case

    stays = []
    for bed_id in world.extra["beds"][:count]:
        case = await open_case(http, world, age=14)
        request = await create_request(http, world, case["case_code"])
        hold = await held(http, world, request["request"]["id"], bed_id)
        stays.append((await answer(http, world, hold["id"], "admit", "staff"))["id"])
    return stays


# ---------------------------------------------------------------------------
# Part 1: report to receipt


@dataclass
class ReceiptRun:
    engine: str
    reports: int
    warmup: int
    pause_s: float
    failures: int
    duplicates: int
    """Runaway webhooks received more than once (same idempotency key or same episode)."""
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    response_p50_ms: float
    response_p95_ms: float
    after_response_p95_ms: float
    server_cpu_ms_per_report: float
    server_rss_mb: float
    setup_s: float
    alert_ids: list[int]


async def _receipt_of(receiver: Any, episode_id: int, seen: int) -> tuple[float, int] | None:
    """Wait for the runaway webhook of `episode_id`; (its arrival time, requests seen)."""
    deadline = time.monotonic() + RECEIPT_TIMEOUT_S
    while time.monotonic() < deadline:
        got = receiver.accepted()
        for hook in got[seen:]:
            alert = hook.body.get("alert", {})
            if alert.get("kind") == "runaway" and alert["facts"]["episode_id"] == episode_id:
                if not hook.signature_valid:
                    raise RuntimeError("a webhook arrived with a bad signature")
                return hook.at, alert["id"]
        await asyncio.sleep(0.0005)
    return None


async def bench_receipt(engine: str, world: Any, args: argparse.Namespace) -> ReceiptRun:
    from tests.support.alerts import SECRET as HOOK_SECRET
    from tests.support.alerts import on_call, personal_webhook
    from tests.support.receiver import WebhookReceiver

    env = {
        "SCHEDULER_ENABLED": "1",
        "SCHEDULER_INTERVAL_SECONDS": str(args.scheduler_interval),
    }
    with (
        WebhookReceiver(HOOK_SECRET) as receiver,
        AppServer(env=env, startup_timeout=120.0) as server,
    ):
        pid = server.pid
        assert pid is not None
        total = args.warmup + args.reports
        async with httpx.AsyncClient(base_url=server.url, timeout=60.0) as http:
            started = time.perf_counter()
            await on_call(http, world, "coordinator", level=1, region="BE", hours=12)
            await personal_webhook(http, world, "coordinator", receiver.url)
            stays = await place_minors(http, world, total)
            setup_s = time.perf_counter() - started
            _log(f"{engine}: {total} minors placed in {setup_s:.1f} s")

            latencies, responses, after, alert_ids = [], [], [], []
            failures = 0
            cpu_before = 0.0
            for number, stay_id in enumerate(stays):
                if number == args.warmup:
                    cpu_before = cpu_seconds(pid)
                if args.pause and number:
                    await asyncio.sleep(args.pause)
                seen = len(receiver.accepted())
                body = {"last_seen_at": datetime.now(UTC).isoformat()}
                sent = time.monotonic()
                response = await http.post(
                    f"/api/stays/{stay_id}/runaways", json=body, headers=world.auth("staff")
                )
                answered = time.monotonic()
                if response.status_code != 201:
                    raise RuntimeError(f"report: {response.status_code} {response.text}")
                receipt = await _receipt_of(receiver, response.json()["id"], seen)
                if number < args.warmup:
                    continue
                if receipt is None:
                    failures += 1
                    continue
                arrived, alert_id = receipt
                latencies.append((arrived - sent) * 1000)
                responses.append((answered - sent) * 1000)
                after.append((arrived - answered) * 1000)
                alert_ids.append(alert_id)
            cpu = cpu_seconds(pid) - cpu_before
            rss = rss_mb(pid)
            await asyncio.sleep(1.0)  # a late duplicate would arrive now
            hooks = receiver.of_kind("runaway")
            keys = [hook.headers.get("Idempotency-Key") for hook in hooks]
            episodes = [hook.body["alert"]["facts"]["episode_id"] for hook in hooks]
            duplicates = max(len(keys) - len(set(keys)), len(episodes) - len(set(episodes)))
        logs = server.logs()
    if "Traceback" in logs:
        _log("the server logged a traceback:\n" + logs[-3000:])
    return ReceiptRun(
        engine=engine,
        reports=len(latencies),
        warmup=args.warmup,
        pause_s=args.pause,
        failures=failures,
        duplicates=duplicates,
        p50_ms=round(percentile(latencies, 0.50), 1),
        p95_ms=round(percentile(latencies, 0.95), 1),
        p99_ms=round(percentile(latencies, 0.99), 1),
        max_ms=round(max(latencies), 1),
        mean_ms=round(statistics.fmean(latencies), 1),
        response_p50_ms=round(percentile(responses, 0.50), 1),
        response_p95_ms=round(percentile(responses, 0.95), 1),
        after_response_p95_ms=round(percentile(after, 0.95), 1),
        server_cpu_ms_per_report=round(cpu * 1000 / max(1, args.reports), 1),
        server_rss_mb=round(rss, 1),
        setup_s=round(setup_s, 1),
        alert_ids=alert_ids,
    )


# ---------------------------------------------------------------------------
# Part 2: outbox throughput


def _fast_receiver(port: int, counter: Any, ready: Any) -> None:
    """Answer every POST with 200 at once, over kept-alive connections; count them."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                with counter.get_lock():
                    counter.value += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


@dataclass
class OutboxRun:
    engine: str
    deliveries: int
    delivered: int
    received: int
    seconds: float
    per_second: float
    cpu_ms_per_delivery: float
    batch: int
    parallel_sends: int


async def _pending_deliveries(subscription_id: int, alert_ids: list[int], count: int, tag: str):
    from backend.timeutil import utcnow
    from notifications.tables import Delivery

    now = utcnow()
    rows = [
        Delivery(
            alert=alert_ids[number // DELIVERIES_PER_ALERT % len(alert_ids)],
            user=None,
            subscription=subscription_id,
            channel="webhook",
            purpose="notice",
            level=0,
            dedupe_key=f"bench-{tag}-{number}",
            status="pending",
            attempts=0,
            next_attempt_at=now - timedelta(seconds=1),
            delivered_at=None,
            created_at=now,
        )
        for number in range(count)
    ]
    for start in range(0, len(rows), 200):  # SQLite's limit on bound variables
        await Delivery.insert(*rows[start : start + 200])


async def bench_outbox(engine: str, alert_ids: list[int], args: argparse.Namespace) -> OutboxRun:
    from backend.database import get_engine
    from notifications import outbox
    from notifications.tables import Delivery, Subscription

    context = multiprocessing.get_context("spawn")
    counter, ready = context.Value("l", 0), context.Event()
    port = free_port()
    receiver = context.Process(target=_fast_receiver, args=(port, counter, ready), daemon=True)
    receiver.start()
    database = get_engine()
    pooled = False
    try:
        if not ready.wait(30):
            raise RuntimeError("the fast receiver did not start")
        if engine == "postgres":
            await database.start_connection_pool()  # as the app's lifespan does
            pooled = True
        inserted = await Subscription.insert(
            Subscription(
                name="Bench receiver",
                channel="webhook",
                url=f"http://127.0.0.1:{port}/hook",
                secret=SECRET,
                email="",
                language="en",
                kinds=[],
                regions=[],
                user=None,
                active=True,
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        ).returning(Subscription.id)
        subscription_id = inserted[0]["id"]
        await _pending_deliveries(subscription_id, alert_ids, WARMUP_DELIVERIES, "warmup")
        await outbox.deliver_due()
        counter.value = 0
        await _pending_deliveries(subscription_id, alert_ids, args.deliveries, "run")
        cpu_before = time.process_time()
        started = time.perf_counter()
        delivered = await outbox.deliver_due()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        left = await Delivery.count().where(Delivery.status == "pending")
        if left:
            raise RuntimeError(f"{left} deliveries still pending after the drain")
    finally:
        if pooled:
            await database.close_connection_pool()
        receiver.terminate()
        receiver.join(10)
    return OutboxRun(
        engine=engine,
        deliveries=args.deliveries,
        delivered=delivered,
        received=counter.value,
        seconds=round(seconds, 2),
        per_second=round(delivered / seconds, 1),
        cpu_ms_per_delivery=round(cpu * 1000 / max(1, delivered), 2),
        batch=outbox.BATCH,
        parallel_sends=outbox.PARALLEL_SENDS,
    )


# ---------------------------------------------------------------------------
# Report


def report(facts: dict[str, Any], receipt: ReceiptRun, drain: OutboxRun, args) -> str:
    lines = ["## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in facts.items()]
    lines += [
        f"- server: uvicorn, 1 worker, APP_ENV=test, scheduler on every "
        f"{args.scheduler_interval:g} s",
        f"- load average before / after: {args.load_before} / {args.load_after}",
        "",
        f"## Runaway report to webhook receipt — {receipt.reports} reports, one at a time"
        + (f", {receipt.pause_s:g} s apart" if receipt.pause_s else ""),
        "",
        f"Target: p95 ≤ {TARGET_P95_MS:g} ms (✗ marks a miss). 'After the answer' is the "
        "receipt minus the report's HTTP answer (negative: the webhook came first).",
        "",
        "| engine | reports | lost | twice | p50 ms | p95 ms | p99 ms | max ms | mean ms | "
        "answer p50 / p95 ms | after the answer p95 ms | server CPU ms/report | RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {receipt.engine} | {receipt.reports} | {receipt.failures} | {receipt.duplicates} | "
        f"{receipt.p50_ms} | "
        f"{receipt.p95_ms}{'' if receipt.p95_ms <= TARGET_P95_MS else ' ✗'} | "
        f"{receipt.p99_ms} | {receipt.max_ms} | {receipt.mean_ms} | "
        f"{receipt.response_p50_ms} / {receipt.response_p95_ms} | "
        f"{receipt.after_response_p95_ms} | {receipt.server_cpu_ms_per_report} | "
        f"{receipt.server_rss_mb} |",
        "",
        f"## Outbox throughput — outbox.deliver_due() draining {drain.deliveries:,} pending "
        "webhook deliveries",
        "",
        f"Claimed {drain.batch} at a time, {drain.parallel_sends} sends in parallel.",
        "",
        "| engine | deliveries | delivered | received | seconds | deliveries/s | CPU ms/delivery |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| {drain.engine} | {drain.deliveries:,} | {drain.delivered:,} | {drain.received:,} | "
        f"{drain.seconds} | {drain.per_second} | {drain.cpu_ms_per_delivery} |",
        "",
    ]
    return "\n".join(lines)


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


async def run(engine: str, args: argparse.Namespace) -> tuple[ReceiptRun, OutboxRun]:
    world = await build_network()
    receipt = await bench_receipt(engine, world, args)
    _log(f"report to receipt: p50 {receipt.p50_ms} ms, p95 {receipt.p95_ms} ms")
    drain = await bench_outbox(engine, receipt.alert_ids, args)
    _log(f"outbox: {drain.delivered} delivered in {drain.seconds} s ({drain.per_second}/s)")
    return receipt, drain


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--reports", type=int, default=200, help="measured runaway reports")
    parser.add_argument("--warmup", type=int, default=5, help="reports not counted")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between reports")
    parser.add_argument("--deliveries", type=int, default=2000, help="deliveries to drain")
    parser.add_argument(
        "--scheduler-interval", type=float, default=30.0, help="the server's job interval (s)"
    )
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args(argv)
    if args.warmup + args.reports > CENTRES * BEDS_PER_CENTRE:
        parser.error(f"at most {CENTRES * BEDS_PER_CENTRE} reports and warm-up reports in all")
    if args.engine == "postgres" and not asyncio.run(postgres.reachable()):
        sys.exit(f"PostgreSQL is not reachable at {postgres.server_url()}")

    args.load_before = _load()
    folder = Path(tempfile.mkdtemp(prefix="safebed-bench-"))
    try:
        with fresh_database(args.engine, folder, "alerts", args.keep) as database:
            # Read once, at the first import of the app: set before importing it. The
            # server process inherits them.
            os.environ.update(
                {
                    "DATABASE_URL": database.url,
                    "APP_ENV": "test",
                    "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
                    "PYTHONUNBUFFERED": "1",
                }
            )
            receipt, drain = asyncio.run(run(args.engine, args))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            _log(f"database kept ({folder})")
    args.load_after = _load()
    facts = machine_facts(args.engine)
    print(report(facts, receipt, drain, args))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": facts,
                    "settings": {k: v for k, v in vars(args).items() if k != "json"},
                    "receipt": {k: v for k, v in asdict(receipt).items() if k != "alert_ids"},
                    "outbox": asdict(drain),
                },
                indent=2,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
