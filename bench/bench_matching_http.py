"""Matching and batch allocation through the HTTP API of a real server, with its memory.

    python bench/bench_matching_http.py [--engine sqlite|postgres] [--sizes 1000,10000,100000]
        [--allocations 100x1000,1000x10000] [--clients 20] [--calls 25] [--quick]

For each network size (beds): a fresh database (a SQLite file in a temporary folder, or a
new PostgreSQL database on the server of TEST_DATABASE_URL, default 127.0.0.1:5432), migrated
and filled by bench/synthetic.py (5 % of beds free), then a real uvicorn server
(APP_ENV=test, scheduler off). C concurrent clients, each with its own connection and the
placement officer's API token, first warm up, then each sends a fixed number of
POST /api/requests/{id}/match over 200 open requests of varied profiles. Latencies are
measured at the client (p50, p95, p99, max; throughput over the whole run); the server's
resident memory (VmRSS, summed over its processes) is read once idle after the warm-up and
sampled every 50 ms during the run (with the kernel's high-water mark, VmHWM); the server's
CPU time per call comes from /proc/<pid>/stat.

Then batch allocation: for each "RxF" (R waiting requests, F free beds), a database of F / 5 %
beds with R waiting requests, and POST /api/allocations/proposals by the coordinator, timed
end to end (one warm-up, then --allocation-runs runs; nothing is held by a proposal).

Prints Markdown tables and the machine's facts; --json writes every number to a file.
Runs by hand, never in the test suite; the machine should be otherwise idle (the load average
is printed before and after). Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from tests.support import postgres  # noqa: E402
from tests.support.server import AppServer  # noqa: E402

SYNTHETIC = PROJECT_ROOT / "bench" / "synthetic.py"
OPEN_REQUESTS = 200
SAMPLE_SECONDS = 0.05
TARGET_P95_MS = 100.0
TARGET_RSS_MB = 300.0
TARGET_ALLOCATION_S = 3.0


# ---------------------------------------------------------------------------
# The server process: memory and CPU from /proc


def _process_tree(pid: int) -> list[int]:
    """The process and its descendants (uvicorn with several workers forks them)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
    return found


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int) -> float:
    return sum(_status_kb(p, "VmRSS") for p in _process_tree(pid)) / 1024


def hwm_mb(pid: int) -> float:
    return sum(_status_kb(p, "VmHWM") for p in _process_tree(pid)) / 1024


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in _process_tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{p}/stat") as stat:
            # Fields after the command name (which may hold spaces): utime is the 14th field.
            fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Samples the server's resident memory in a thread, keeping the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


# ---------------------------------------------------------------------------
# Databases


@dataclass
class Database:
    engine: str
    url: str
    name: str | None = None  # PostgreSQL database to drop afterwards


@contextlib.contextmanager
def fresh_database(engine: str, folder: Path, label: str, keep: bool) -> Iterator[Database]:
    if engine == "sqlite":
        path = folder / f"{label}.sqlite"
        try:
            yield Database(engine, f"sqlite:///{path}")
        finally:
            if not keep:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"safebed_bench_{label}_{uuid.uuid4().hex[:8]}"
    asyncio.run(postgres.create_database(name))
    try:
        yield Database(engine, postgres.server_url(name), name)
    finally:
        if not keep:
            asyncio.run(postgres.drop_database(name))


def generate(database: Database, beds: int, open_requests: int, waiting: int) -> dict[str, Any]:
    """Migrate and fill the database in a child process (the app reads its settings once)."""
    command = [
        sys.executable,
        str(SYNTHETIC),
        "--database-url",
        database.url,
        "--beds",
        str(beds),
        "--open-requests",
        str(open_requests),
        "--waiting-requests",
        str(waiting),
        "--migrate",
        "--tokens",
    ]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=_server_env(database), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"generating the network failed:\n{done.stderr}")
    return json.loads(done.stdout)


def use_wal(database: Database) -> None:
    """Switch a SQLite file to write-ahead logging (the mode persists in the file): readers
    then no longer block the writer, nor the writer the readers."""
    path = database.url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as connection:
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode != "wal":
        raise RuntimeError(f"could not switch {path} to WAL (journal_mode={mode})")


def _server_env(database: Database) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database.url,
        "APP_ENV": "test",
        "SCHEDULER_ENABLED": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
        "PYTHONUNBUFFERED": "1",
    }


def start_server(database: Database, workers: int) -> AppServer:
    env = _server_env(database)
    return AppServer(env=env, workers=workers, startup_timeout=120.0).start()


# ---------------------------------------------------------------------------
# Matching under concurrent clients


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class MatchRun:
    engine: str
    think_s: float
    beds: int
    free_beds: int
    centres: int
    clients: int
    calls: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    throughput: float
    server_cpu_ms_per_call: float
    rss_start_mb: float
    rss_idle_mb: float
    rss_peak_mb: float
    rss_hwm_mb: float
    mean_candidates: float
    generate_s: float
    first_error: str = ""


async def _client_calls(
    url: str,
    token: str,
    request_ids: list[int],
    count: int,
    latencies: list[float] | None,
    think: float,
    offset: float,
) -> tuple[int, str, list[int]]:
    """`count` match calls, round-robin over `request_ids`; returns errors and candidates.

    With `think` > 0 the client pauses that long between its calls (after `offset`, so that
    the clients' calls are spread out instead of arriving together)."""
    errors, first_error, candidates = 0, "", []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300.0) as client:
        if think:
            await asyncio.sleep(offset)
        for number in range(count):
            if think and number:
                await asyncio.sleep(think)
            request_id = request_ids[number % len(request_ids)]
            started = time.perf_counter()
            response = await client.post(f"/api/requests/{request_id}/match")
            elapsed = time.perf_counter() - started
            if latencies is not None:
                latencies.append(elapsed * 1000)
            if response.status_code != 200:
                errors += 1
                first_error = first_error or f"{response.status_code} {response.text[:300]}"
            else:
                candidates.append(response.json()["candidate_count"])
    return errors, first_error, candidates


async def _run_clients(
    url: str,
    token: str,
    request_ids: list[int],
    clients: int,
    calls: int,
    latencies,
    think: float = 0.0,
) -> tuple[int, str, list[int]]:
    slices = [request_ids[i::clients] or request_ids for i in range(clients)]
    results = await asyncio.gather(
        *(
            _client_calls(url, token, slices[i], calls, latencies, think, think * i / clients)
            for i in range(clients)
        )
    )
    errors = sum(r[0] for r in results)
    first_error = next((r[1] for r in results if r[1]), "")
    candidates = [c for r in results for c in r[2]]
    return errors, first_error, candidates


def bench_matching(engine: str, folder: Path, beds: int, args: argparse.Namespace) -> MatchRun:
    with fresh_database(engine, folder, f"match_{beds}", args.keep) as database:
        network = generate(database, beds, OPEN_REQUESTS, 0)
        if args.sqlite_wal:
            use_wal(database)
        _log(
            f"{engine} {beds} beds: {network['centres']} centres, {network['free_beds']} free, "
            f"generated in {network['seconds']} s"
        )
        server = start_server(database, args.workers)
        try:
            pid = server.pid
            assert pid is not None
            rss_start = rss_mb(pid)
            token, ids = network["tokens"]["officer"], network["open_request_ids"]
            warm_errors, warm_error, _ = asyncio.run(
                _run_clients(server.url, token, ids, args.clients, args.warmup, None)
            )
            if warm_errors:
                raise RuntimeError(f"warm-up failed: {warm_error}\n{server.logs()[-3000:]}")
            time.sleep(0.5)
            rss_idle = rss_mb(pid)
            latencies: list[float] = []
            cpu_before = cpu_seconds(pid)
            with RssSampler(pid) as sampler:
                started = time.perf_counter()
                errors, first_error, candidates = asyncio.run(
                    _run_clients(
                        server.url, token, ids, args.clients, args.calls, latencies, args.think
                    )
                )
                wall = time.perf_counter() - started
            cpu = cpu_seconds(pid) - cpu_before
            hwm = hwm_mb(pid)
        finally:
            server.stop()
    if errors:
        first_error += f" — server log: {_last_error(server.logs())}"
    calls = len(latencies)
    return MatchRun(
        engine=engine,
        think_s=args.think,
        beds=beds,
        free_beds=network["free_beds"],
        centres=network["centres"],
        clients=args.clients,
        calls=calls,
        errors=errors,
        p50_ms=round(percentile(latencies, 0.50), 1),
        p95_ms=round(percentile(latencies, 0.95), 1),
        p99_ms=round(percentile(latencies, 0.99), 1),
        max_ms=round(max(latencies), 1),
        mean_ms=round(statistics.fmean(latencies), 1),
        throughput=round(calls / wall, 1),
        server_cpu_ms_per_call=round(cpu * 1000 / calls, 1),
        rss_start_mb=round(rss_start, 1),
        rss_idle_mb=round(rss_idle, 1),
        rss_peak_mb=round(sampler.peak, 1),
        rss_hwm_mb=round(hwm, 1),
        mean_candidates=round(statistics.fmean(candidates), 1) if candidates else 0.0,
        generate_s=network["seconds"],
        first_error=first_error,
    )


def _last_error(logs: str) -> str:
    """The last exception line the server logged (what a 500 was)."""
    lines = [line.strip() for line in logs.splitlines()]
    found = [
        line
        for line in lines
        if " ERROR " in line or "Error:" in line or "Exception:" in line or "unhandled " in line
    ]
    return found[-1][:300] if found else "(nothing logged)"


# ---------------------------------------------------------------------------
# Batch allocation


@dataclass
class AllocationRun:
    engine: str
    waiting: int
    free_beds: int
    beds: int
    runs: list[float] = field(default_factory=list)
    min_s: float = 0.0
    median_s: float = 0.0
    max_s: float = 0.0
    proposals: int = 0
    unassigned: int = 0
    rss_idle_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_hwm_mb: float = 0.0
    server_cpu_s_per_run: float = 0.0
    generate_s: float = 0.0


def bench_allocation(
    engine: str, folder: Path, waiting: int, free_beds: int, args: argparse.Namespace
) -> AllocationRun:
    beds = round(free_beds / 0.05)
    label = f"alloc_{waiting}x{free_beds}"
    with fresh_database(engine, folder, label, args.keep) as database:
        network = generate(database, beds, 0, waiting)
        if args.sqlite_wal:
            use_wal(database)
        _log(
            f"{engine} allocation {waiting} waiting x {network['free_beds']} free beds "
            f"({beds} beds): generated in {network['seconds']} s"
        )
        run = AllocationRun(
            engine, waiting, network["free_beds"], beds, generate_s=network["seconds"]
        )
        server = start_server(database, args.workers)
        try:
            pid = server.pid
            assert pid is not None
            headers = {"Authorization": f"Bearer {network['tokens']['coordinator']}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=600.0) as client:
                for attempt in range(args.allocation_runs + 1):
                    if attempt == 1:
                        run.rss_idle_mb = round(rss_mb(pid), 1)
                        cpu_before = cpu_seconds(pid)
                    with RssSampler(pid) as sampler:
                        started = time.perf_counter()
                        response = client.post("/api/allocations/proposals")
                        elapsed = time.perf_counter() - started
                    if response.status_code != 200:
                        raise RuntimeError(f"proposals: {response.status_code} {response.text}")
                    if attempt == 0:
                        continue  # warm-up
                    run.runs.append(round(elapsed, 3))
                    run.rss_peak_mb = max(run.rss_peak_mb, round(sampler.peak, 1))
                    body = response.json()
                    run.proposals = len(body["proposals"])
                    run.unassigned = len(body["unassigned_request_ids"])
                run.server_cpu_s_per_run = round(
                    (cpu_seconds(pid) - cpu_before) / args.allocation_runs, 2
                )
                run.rss_hwm_mb = round(hwm_mb(pid), 1)
        finally:
            server.stop()
    run.min_s, run.median_s, run.max_s = (
        min(run.runs),
        round(statistics.median(run.runs), 3),
        max(run.runs),
    )
    return run


# ---------------------------------------------------------------------------
# Machine facts and report


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def _postgres_version() -> str:
    async def ask() -> str:
        import asyncpg

        connection = await asyncpg.connect(postgres.server_url(), timeout=10)
        try:
            return await connection.fetchval("SHOW server_version")
        finally:
            await connection.close()

    try:
        return asyncio.run(ask())
    except Exception as error:  # reported, not fatal
        return f"unreachable ({type(error).__name__})"


def machine_facts(engine: str) -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        model = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), ""
        )
    memory_kb = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        memory_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    facts = {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "litestar": _version("litestar"),
        "piccolo": _version("piccolo"),
        "uvicorn": _version("uvicorn"),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "httpx": _version("httpx"),
    }
    if engine == "postgres":
        facts["postgresql"] = _postgres_version()
        facts["asyncpg"] = _version("asyncpg")
    else:
        facts["aiosqlite"] = _version("aiosqlite")
    return facts


def _mark(ok: bool) -> str:
    return "" if ok else " ✗"


def report(
    facts: dict[str, Any], matches: list[MatchRun], allocations: list[AllocationRun], args
) -> str:
    lines = ["## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in facts.items()]
    lines += [
        f"- server: uvicorn, {args.workers} worker(s), APP_ENV=test, scheduler off"
        + (", SQLite in WAL mode" if args.sqlite_wal else ""),
        f"- load average before / after: {args.load_before} / {args.load_after}",
        "",
    ]
    if matches:
        lines += [
            f"## POST /api/requests/{{id}}/match — {args.clients} concurrent clients, "
            + (f"{args.think:g} s between a client's calls" if args.think else "back to back"),
            "",
            f"Target at 100k beds: p95 ≤ {TARGET_P95_MS:g} ms, server RSS ≤ "
            f"{TARGET_RSS_MB:g} MB (✗ marks a miss).",
            "",
            "| engine | beds | free | calls | errors | p50 ms | p95 ms | p99 ms | max ms | "
            "req/s | server CPU ms/call | RSS idle MB | RSS peak MB | VmHWM MB | candidates |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for m in matches:
            lines.append(
                f"| {m.engine} | {m.beds:,} | {m.free_beds:,} | {m.calls} | {m.errors} | "
                f"{m.p50_ms} | {m.p95_ms}{_mark(m.p95_ms <= TARGET_P95_MS)} | {m.p99_ms} | "
                f"{m.max_ms} | {m.throughput} | {m.server_cpu_ms_per_call} | {m.rss_idle_mb} | "
                f"{m.rss_peak_mb}{_mark(m.rss_peak_mb <= TARGET_RSS_MB)} | {m.rss_hwm_mb} | "
                f"{m.mean_candidates} |"
            )
        lines.append("")
        for m in matches:
            if m.first_error:
                lines.append(f"- {m.engine} {m.beds}: first error: {m.first_error}")
    if allocations:
        lines += [
            "## POST /api/allocations/proposals — end to end, one coordinator",
            "",
            f"Target at 1,000 waiting x 10,000 free beds: ≤ {TARGET_ALLOCATION_S:g} s.",
            "",
            "| engine | waiting | free beds | beds | runs | min s | median s | max s | "
            "server CPU s/run | proposals | unassigned | RSS peak MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for a in allocations:
            lines.append(
                f"| {a.engine} | {a.waiting:,} | {a.free_beds:,} | {a.beds:,} | {len(a.runs)} | "
                f"{a.min_s} | {a.median_s}{_mark(a.median_s <= TARGET_ALLOCATION_S)} | "
                f"{a.max_s} | {a.server_cpu_s_per_run} | {a.proposals} | {a.unassigned} | "
                f"{a.rss_peak_mb} |"
            )
        lines.append("")
    return "\n".join(lines)


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _pairs(text: str) -> list[tuple[int, int]]:
    pairs = []
    for item in filter(None, text.split(",")):
        waiting, free = item.lower().split("x")
        pairs.append((int(waiting), int(free)))
    return pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sizes", default="1000,10000,100000", help="beds, comma-separated")
    parser.add_argument(
        "--allocations",
        default="100x1000,1000x10000",
        help="WAITINGxFREE_BEDS pairs, comma-separated; '' to skip",
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--calls", type=int, default=25, help="measured calls per client")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up calls per client")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds each client waits between its calls (default 0: back to back)",
    )
    parser.add_argument("--allocation-runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--sqlite-wal",
        action="store_true",
        help="SQLite only: put the database in WAL mode (the app leaves it in rollback mode)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes and few calls")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.allocations = "1000,10000", "100x1000"
        args.calls, args.warmup, args.allocation_runs = 5, 1, 1
    sizes = [int(size) for size in args.sizes.split(",") if size]
    if args.sqlite_wal and args.engine != "sqlite":
        parser.error("--sqlite-wal applies to --engine sqlite only")
    if args.engine == "postgres" and not asyncio.run(postgres.reachable()):
        sys.exit(f"PostgreSQL is not reachable at {postgres.server_url()}")

    args.load_before = _load()
    folder = Path(tempfile.mkdtemp(prefix="safebed-bench-"))
    matches: list[MatchRun] = []
    allocations: list[AllocationRun] = []
    try:
        for beds in sizes:
            run = bench_matching(args.engine, folder, beds, args)
            _log(f"match {beds}: p50 {run.p50_ms} ms, p95 {run.p95_ms} ms, {run.errors} errors")
            matches.append(run)
        for waiting, free in _pairs(args.allocations):
            run = bench_allocation(args.engine, folder, waiting, free, args)
            _log(f"allocation {waiting}x{free}: median {run.median_s} s")
            allocations.append(run)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            _log(f"databases kept in {folder}")
    args.load_after = _load()
    facts = machine_facts(args.engine)
    print(report(facts, matches, allocations, args))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": facts,
                    "settings": {k: v for k, v in vars(args).items() if k not in ("json",)},
                    "matching": [asdict(m) for m in matches],
                    "allocation": [asdict(a) for a in allocations],
                },
                indent=2,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
