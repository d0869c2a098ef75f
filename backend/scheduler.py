"""Periodic jobs, run by APScheduler inside the app's lifespan.

Every job reads its work from the database and is safe to run twice (conditional updates,
deduplicated events), so a restart loses nothing and an overlap does no harm.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from backend import events
from backend.settings import Settings
from placement import service as placement

log = logging.getLogger(__name__)

JOBS: dict[str, Callable[[], Awaitable[object]]] = {
    "release_expired_holds": placement.release_expired_holds,
    "record_overdue_hold_responses": placement.record_overdue_responses,
    "handle_domain_events": events.handle_pending,
}


async def run_job(name: str) -> None:
    try:
        await JOBS[name]()
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
        )
    return scheduler
