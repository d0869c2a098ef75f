"""On-call rota and escalation arithmetic: local wall-clock times across daylight-saving
changes, who is on call at an instant, the next escalation level, retry backoff. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

LEVELS = (1, 2, 3)  # on call, backup, head of service
LEVEL_NAMES = {1: "on_call", 2: "backup", 3: "head_of_service"}
MAX_SHIFT = timedelta(days=7)


class NonexistentLocalTime(ValueError):
    """A wall-clock time skipped when the clocks go forward (e.g. 02:30 on the last Sunday
    of March in Brussels)."""


def local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in `zone` as UTC. A time that occurs twice (clocks go back) is
    its first occurrence; a time that never occurs raises NonexistentLocalTime."""
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    aware = local.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise NonexistentLocalTime(f"{local:%Y-%m-%d %H:%M} does not exist in {zone.key}.")
    return aware.astimezone(UTC)


def weekly_shifts(
    starts_local: datetime, ends_local: datetime, weeks: int, zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """The same wall-clock shift `weeks` weeks running, in UTC: a 20:00-08:00 night stays
    20:00-08:00 in local time when the clocks change, so it lasts 11 or 13 hours that week."""
    return [
        (
            local_to_utc(starts_local + timedelta(weeks=week), zone),
            local_to_utc(ends_local + timedelta(weeks=week), zone),
        )
        for week in range(weeks)
    ]


def region_chain(region: str) -> tuple[str, ...]:
    """Where to look for someone on call: the province (ISO 3166-2, "BE-WLG"), then its
    country ("BE")."""
    country = region.split("-", 1)[0]
    return (region,) if country == region else (region, country)


@dataclass(frozen=True)
class Shift:
    user_id: int
    region: str
    level: int
    starts_at: datetime
    ends_at: datetime


def on_call_at(shifts: Iterable[Shift], region: str, level: int, at: datetime) -> list[int]:
    """Users on call at `level` for `region` at `at`: the province's own rota when it has
    someone then, else the country's."""
    shifts = list(shifts)
    for place in region_chain(region):
        users = {
            s.user_id
            for s in shifts
            if s.region == place and s.level == level and s.starts_at <= at < s.ends_at
        }
        if users:
            return sorted(users)
    return []


def next_level(current: int, staffed: Mapping[int, list[int]]) -> int | None:
    """The next level above `current` with someone to page, or None at the top."""
    for level in LEVELS:
        if level > current and staffed.get(level):
            return level
    return None


def backoff(attempts: int, base_seconds: float = 5.0, cap_seconds: float = 1800.0) -> timedelta:
    """Wait before retry number `attempts` + 1: 5 s, 10 s, 20 s, ... at most 30 min."""
    exponent = max(attempts - 1, 0)
    return timedelta(seconds=min(base_seconds * 2 ** min(exponent, 30), cap_seconds))
