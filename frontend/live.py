"""Live pages: a server-sent-events stream that says "changed" when the network's state
moves (a bed, a hold, a stay, a runaway, an alert), so an open page refreshes its content
without a reload (static/app.js). The stream re-reads a small version stamp every second:
it sees changes made by any app instance."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from litestar import get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from backend.identity import Role
from capacity import service as capacity
from frontend.web import PageRequest, roles
from notifications import service as notifications
from placement import service as placement

POLL_SECONDS = 1.0
KEEPALIVE_EVERY = 15


async def network_version() -> tuple[object, ...]:
    return (
        await capacity.capacity_stamp(),
        *await placement.activity_stamp(),
        *await notifications.alerts_stamp(),
    )


# One reading per second serves every open page of this process, however many there are.
_reading: tuple[float, tuple[object, ...]] | None = None
_reading_lock = asyncio.Lock()


async def shared_version() -> tuple[object, ...]:
    global _reading
    async with _reading_lock:
        now = time.monotonic()
        if _reading is None or now - _reading[0] >= POLL_SECONDS * 0.9:
            _reading = (now, await network_version())
        return _reading[1]


async def _changes(request: PageRequest) -> AsyncIterator[ServerSentEventMessage]:
    yield ServerSentEventMessage(comment="connected", retry=2000, data=None)
    last = await shared_version()
    quiet = 0
    while True:
        await asyncio.sleep(POLL_SECONDS)
        version = await shared_version()
        if version != last:
            last, quiet = version, 0
            yield ServerSentEventMessage(event="changed", data="1")
        else:
            quiet += 1
            if quiet >= KEEPALIVE_EVERY:
                quiet = 0
                yield ServerSentEventMessage(comment="keep-alive", data=None)


@get("/live", opt=roles(*Role), include_in_schema=False)
async def live(request: PageRequest) -> ServerSentEvent:
    return ServerSentEvent(_changes(request))
