"""Times are stored in UTC and shown in the display time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | str) -> datetime:
    """A stored time as an aware UTC datetime.

    SQLite returns aggregates (MAX of a timestamp column) as text, and naive values are UTC by
    our storage rule.
    """
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local_today(zone: ZoneInfo) -> date:
    """Today's date where the users are (a date typed by a user means a local date)."""
    return utcnow().astimezone(zone).date()
