"""Wake-ups for the in-app feed: a signed-in user's event stream waits here for new rows.

Only this process's changes wake it at once; the stream also re-reads the database every
few seconds, which is how alerts raised by another app instance arrive.
"""

from __future__ import annotations

import asyncio
import contextlib

_changed: asyncio.Event | None = None


def changed() -> None:
    """Something in the feed changed: wake every waiting stream of this process."""
    global _changed
    if _changed is not None:
        _changed.set()
        _changed = None


async def wait(seconds: float) -> None:
    """Return after the next change, or after `seconds`."""
    global _changed
    if _changed is None:
        _changed = asyncio.Event()
    event = _changed
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
