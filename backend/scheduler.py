"""Periodic jobs, run by APScheduler inside the app's lifespan.

Every job reads its work from the database and is safe to run twice (conditional updates,
deduplicated events, claimed deliveries), so a restart loses nothing and an overlap does
no harm. With several app instances on one PostgreSQL database, each run first takes a
session advisory lock named after the job: only one instance runs a job at a time, the
others skip that round.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from piccolo.engine.postgres import PostgresEngine

from backend import events, session_store
from backend.database import get_engine
from backend.settings import Settings
from capacity import service as capacity
from notifications import outbox
from notifications import service as notifications
from placement import retention, runaways
from placement import service as placement

log = logging.getLogger(__name__)

JOBS: dict[str, Callable[[], Awaitable[object]]] = {
    "release_expired_holds": placement.release_expired_holds,
    "record_overdue_hold_responses": placement.record_overdue_responses,
    "record_expiring_holds": placement.record_expiring_holds,
    "end_stays_not_returned": runaways.end_stays_not_returned,
    "record_unresolved_runaways": runaways.record_unresolved,
    "record_stale_centres": capacity.record_stale_centres,
    "handle_domain_events": events.handle_pending,
    "escalate_alerts": notifications.escalate_due,
    "remind_acknowledged_alerts": notifications.remind_due,
    "deliver_outbox": outbox.deliver_due,
    "delete_expired_sessions": session_store.delete_expired,
}

# Jobs run once a day at a local time (the display time zone), not on the interval.
DAILY_JOBS: dict[str, Callable[[], Awaitable[object]]] = {
    "vacancy_digest": notifications.send_vacancy_digests,
    "purge_closed_cases": retention.purge_closed_cases,
}


def _lock_key(name: str) -> int:
    return zlib.crc32(f"safebed-job:{name}".encode())


@asynccontextmanager
async def exclusive(name: str) -> AsyncIterator[bool]:
    """True when this process may run the job now. On PostgreSQL: a session advisory lock
    on its own connection, released when the job ends or the process dies."""
    engine = get_engine()
    if not isinstance(engine, PostgresEngine):
        yield True  # SQLite: one app process per database file
        return
    connection = await engine.get_new_connection()
    try:
        key = _lock_key(name)
        acquired = await connection.fetchval("SELECT pg_try_advisory_lock($1)", key)
        try:
            yield bool(acquired)
        finally:
            if acquired:
                await connection.execute("SELECT pg_advisory_unlock($1)", key)
    finally:
        await connection.close()


async def run_job(name: str) -> None:
    job = JOBS.get(name) or DAILY_JOBS[name]
    try:
        async with exclusive(name) as mine:
            if mine:
                await job()
    except Exception:
        log.exception("Scheduled job %s failed; it runs again at its next interval", name)


def build_scheduler(settings: Settings) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for name in JOBS:
        scheduler.add_job(
            run_job,
            "interval",
            seconds=settings.scheduler_interval_seconds,
            args=[name],
            id=name,
            max_instances=1,
            coalesce=True,
            replace_existing=True,
            # First run at start-up: work left by a crash (deliveries, expiries) goes now.
            next_run_time=datetime.now(UTC),
        )
    hour, minute = (int(part) for part in settings.vacancy_digest_time.split(":"))
    for name in DAILY_JOBS:
        scheduler.add_job(
            run_job,
            CronTrigger(hour=hour, minute=minute, timezone=settings.display_timezone),
            args=[name],
            id=name,
            max_instances=1,
            coalesce=True,
            replace_existing=True,
            misfire_grace_time=3600,
        )
    return scheduler
