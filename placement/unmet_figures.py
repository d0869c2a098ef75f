"""The arithmetic of the unmet-need report: months, small-group suppression, median and p90,
and replaying status histories. Pure: plain data in, plain data out, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

MIN_GROUP = 5
SUPPRESSED = "<5"

Shown = int | str  # a count, or SUPPRESSED


# ---------------------------------------------------------------------------
# Months (local to the users' time zone)


def months_between(first: date, last: date) -> list[str]:
    """Every month from `first` to `last` inclusive (their day is ignored), as "YYYY-MM"."""
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def month_start(month: str, zone: ZoneInfo) -> datetime:
    """The first instant of a local month, in UTC."""
    year, number = int(month[:4]), int(month[5:7])
    return datetime(year, number, 1, tzinfo=zone).astimezone(UTC)


def month_end(month: str, zone: ZoneInfo) -> datetime:
    """The first instant after a local month, in UTC."""
    year, number = int(month[:4]), int(month[5:7])
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return datetime(year, number, 1, tzinfo=zone).astimezone(UTC)


def month_of(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


# ---------------------------------------------------------------------------
# Suppression


def shown(count: int) -> Shown:
    """A count of people or their stories: 1 to 4 is shown as "<5" (0 is shown)."""
    return SUPPRESSED if 0 < count < MIN_GROUP else count


def shown_column(counts: Sequence[int], also_suppressed: Iterable[int] = ()) -> list[Shown]:
    """A column of counts that, elsewhere, is published with its total (the statistics API
    does): small counts are suppressed, plus those listed in `also_suppressed` (indexes), and
    a suppressed count is never alone in its column: the smallest other non-zero count is
    suppressed with it, so the total cannot give it away."""
    hidden = {i for i, count in enumerate(counts) if 0 < count < MIN_GROUP}
    hidden |= {i for i in also_suppressed if counts[i] > 0}
    if len(hidden) == 1:
        others = [(count, i) for i, count in enumerate(counts) if count > 0 and i not in hidden]
        if others:
            hidden.add(min(others)[1])
    return [SUPPRESSED if i in hidden else count for i, count in enumerate(counts)]


# ---------------------------------------------------------------------------
# Durations


def median(values: Sequence[float]) -> float:
    """The middle value; the mean of the two middle ones for an even count."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def p90(values: Sequence[float]) -> float:
    """Nearest rank: the smallest value with at least 90 % of the values at or below it."""
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


@dataclass(frozen=True)
class DurationSummary:
    requests: Shown
    median_hours: float | None
    p90_hours: float | None


def summarise_hours(hours: Sequence[float]) -> DurationSummary:
    """Median and p90 in hours (one decimal), shown only for a group of at least 5 requests."""
    if len(hours) < MIN_GROUP:
        return DurationSummary(shown(len(hours)), None, None)
    return DurationSummary(len(hours), round(median(hours), 1), round(p90(hours), 1))


# ---------------------------------------------------------------------------
# Replaying histories


def status_before(history: Sequence[tuple[datetime, str]], instant: datetime) -> str | None:
    """The status just before `instant` (history sorted by time; None: not there yet)."""
    current = None
    for at, status in history:
        if at >= instant:
            break
        current = status
    return current


def time_in_status(
    history: Sequence[tuple[datetime, str]],
    start: datetime,
    end: datetime,
) -> dict[str, float]:
    """Seconds spent in each status between `start` and `end`; time before the first
    change (when the thing did not exist yet) counts for no status."""
    spent: dict[str, float] = {}
    for index, (at, status) in enumerate(history):
        until = history[index + 1][0] if index + 1 < len(history) else end
        low, high = max(at, start), min(until, end)
        if high > low:
            spent[status] = spent.get(status, 0.0) + (high - low).total_seconds()
    return spent


@dataclass(frozen=True)
class Occupancy:
    places: float  # beds in service, on average over the time measured
    occupied_percent: float | None  # share of that bed-time with a minor in the bed


def occupancy(
    histories: Iterable[Sequence[tuple[datetime, str]]],
    start: datetime,
    end: datetime,
    occupied: str = "occupied",
    out_of_service: str = "out_of_service",
) -> Occupancy:
    """Time-weighted occupancy of a group of beds between `start` and `end`: occupied
    bed-time over in-service bed-time (a bed out of service is not a place)."""
    in_service = occupied_seconds = 0.0
    for history in histories:
        spent = time_in_status(history, start, end)
        occupied_seconds += spent.get(occupied, 0.0)
        in_service += sum(s for status, s in spent.items() if status != out_of_service)
    length = (end - start).total_seconds()
    if length <= 0:
        return Occupancy(0.0, None)
    return Occupancy(
        round(in_service / length, 1),
        round(100 * occupied_seconds / in_service, 1) if in_service else None,
    )


def rate_per_100(events: int, base: int) -> float | None:
    """Events per 100 of `base`, shown only when both counts are large enough to publish."""
    if base < MIN_GROUP or 0 < events < MIN_GROUP:
        return None
    return round(100 * events / base, 1)
