"""The scheduled jobs: wired once each, failures contained, and really running in the app.

The end-to-end test starts the app in its own process with very short hold and response
times; after creating a hold through the API it only reads, and waits for the app's own
jobs to record the overdue answer, release the expired hold and free the bed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx

from backend import events, scheduler
from backend.settings import get_settings
from placement.service import HOLD_EXPIRED, HOLD_RESPONSE_OVERDUE
from tests.support.capacity import bed_status
from tests.support.placement import create_request, held, open_case
from tests.support.server import AppServer
from tests.support.world import World

# The overdue answer is recorded by a job run between the response deadline and the hold's
# expiry: that window (0.9 s) spans more than one interval, with room for a late run.
FAST_JOBS = {
    "HOLD_MINUTES_IMMEDIATE": "0.02",  # 1.2 s
    "RESPONSE_MINUTES_IMMEDIATE": "0.005",  # 0.3 s
    "SCHEDULER_INTERVAL_SECONDS": "0.5",
    "SCHEDULER_ENABLED": "1",
}
WAIT_SECONDS = 15


# ---------------------------------------------------------------------------
# Wiring


def test_every_job_is_scheduled_once_without_overlap():
    settings = dataclasses.replace(get_settings(), scheduler_interval_seconds=7)
    jobs = scheduler.build_scheduler(settings).get_jobs()
    assert sorted(job.id for job in jobs) == sorted([*scheduler.JOBS, *scheduler.DAILY_JOBS])
    for job in jobs:
        assert job.func is scheduler.run_job
        assert job.args == (job.id,)
        if job.id in scheduler.DAILY_JOBS:
            # Daily at the configured local time, whatever the season.
            assert str(job.trigger.timezone) == "Europe/Brussels"
            assert {f.name: str(f) for f in job.trigger.fields}["hour"] == "7"
        else:
            assert job.trigger.interval == timedelta(seconds=7)
        # A slow run is never joined by a second one, and missed runs collapse into one.
        assert job.max_instances == 1, job.id
        assert job.coalesce is True, job.id


async def test_a_failing_job_is_logged_and_does_not_stop_the_scheduler(monkeypatch, caplog):
    async def broken() -> None:
        raise RuntimeError("the database went away")

    ran = []

    async def working() -> None:
        ran.append("ran")

    monkeypatch.setitem(scheduler.JOBS, "release_expired_holds", broken)
    monkeypatch.setitem(scheduler.JOBS, "handle_domain_events", working)
    with caplog.at_level(logging.ERROR, logger=scheduler.log.name):
        await scheduler.run_job("release_expired_holds")  # does not raise
        await scheduler.run_job("handle_domain_events")
    [record] = [r for r in caplog.records if r.name == scheduler.log.name]
    assert "release_expired_holds" in record.getMessage()
    assert "runs again" in record.getMessage()
    assert record.exc_info and "the database went away" in str(record.exc_info[1])
    assert ran == ["ran"]


# ---------------------------------------------------------------------------
# In the running app


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll `check` until it holds, for at most WAIT_SECONDS."""
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"still not true after {WAIT_SECONDS} s: {check.__doc__}") from None


async def test_the_app_expires_an_unanswered_hold_on_its_own(world: World):
    with AppServer(env=FAST_JOBS) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            case = await open_case(http, world)
            request_id = (await create_request(http, world, case["case_code"]))["request"]["id"]
            bed = world.bed(world.centre_a, "A1")
            hold = await held(http, world, request_id, bed)
            assert hold["status"] == "pending"

            # From here on the test only reads.
            async def detail() -> dict:
                response = await http.get(
                    f"/api/requests/{request_id}", headers=world.auth("officer")
                )
                assert response.status_code == 200, response.text
                return response.json()

            async def released() -> bool:
                """the hold expired, the bed is available and the request open again"""
                status = (await detail())["status"]
                return status == "open" and await bed_status(bed) == "available"

            await eventually(released)
            # Jobs keep running: wait a few more rounds, then every fact is there once.
            await asyncio.sleep(1.5)
            request = await detail()
            history = await http.get(f"/api/beds/{bed}/history", headers=world.auth("admin"))
        logs = server.logs()

    assert request["status"] == "open"
    assert request["hold"] is None
    assert [h["status"] for h in request["holds"]] == ["expired"]
    actions = [event["action"] for event in request["events"]]
    assert actions.count("response_overdue") == 1, actions
    assert actions.count("hold_expired") == 1, actions
    assert actions.index("response_overdue") < actions.index("hold_expired")
    assert request["events"][-1]["to_status"] == "open"
    assert await bed_status(bed) == "available"
    assert [(e["from_status"], e["to_status"]) for e in history.json()] == [
        (None, "available"),
        ("available", "held"),
        ("held", "available"),
    ]
    assert "expired" in history.json()[-1]["reason"]
    overdue = await events.events_of(HOLD_RESPONSE_OVERDUE)
    assert [event["payload"]["hold_id"] for event in overdue] == [hold["id"]]
    expired = await events.events_of(HOLD_EXPIRED)
    assert [event["payload"]["hold_id"] for event in expired] == [hold["id"]]
    assert "Traceback" not in logs, logs
