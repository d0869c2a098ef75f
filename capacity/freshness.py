"""Data freshness: how long since a centre last changed or confirmed its beds. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta

from capacity.schemas import Freshness


def last_update(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def freshness(last_update_at: datetime | None, now: datetime, stale_after: timedelta) -> Freshness:
    if last_update_at is None:
        return Freshness(last_update_at=None, minutes_since_update=None, stale=True)
    age = now - last_update_at
    return Freshness(
        last_update_at=last_update_at,
        minutes_since_update=max(0, int(age.total_seconds() // 60)),
        stale=age > stale_after,
    )
