"""The unmet-need report: where places are missing, in figures a coordinator can show.

Built only from request events, holds, stays, runaway episodes and the occupancy history:
never from a case's personal fields, so erasing them (retention) changes no figure. Every
count of minors is small-group suppressed (see placement.unmet_figures and
docs/statistics.md).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime

import msgspec

from backend.errors import DomainError, Forbidden
from backend.identity import Principal, Role
from backend.settings import get_settings
from backend.timeutil import as_utc, utcnow
from capacity import service as capacity
from capacity.vocabulary import CentreKind
from placement import unmet_figures as figures
from placement.tables import Hold, PlacementRequest, RequestEvent, RunawayEpisode, Stay
from placement.vocabulary import RequestStatus, Urgency

READERS = frozenset({Role.ANALYST, Role.COORDINATOR})
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_MONTHS = 120
DEFAULT_MONTHS = 12

Shown = int | str


class MonthlyCount(msgspec.Struct):
    month: str
    count: Shown


class DurationGroup(msgspec.Struct):
    group: str  # an urgency, or a province (the held or admitting centre's)
    requests: Shown
    median_hours: float | None
    p90_hours: float | None


class Durations(msgspec.Struct):
    by_urgency: list[DurationGroup]
    by_region: list[DurationGroup]


class FallbackMonth(msgspec.Struct):
    month: str
    fallback_placements: Shown
    specialised_placements: Shown


class OccupancyMonth(msgspec.Struct):
    month: str
    specialised_places: float | None
    specialised_occupied_percent: float | None
    general_places: float | None
    general_occupied_percent: float | None


class RunawayRate(msgspec.Struct):
    centre_kind: CentreKind
    stays: Shown
    runaways: Shown
    per_100_stays: float | None


class WaitingMonth(msgspec.Struct):
    month: str
    waiting: Shown | None  # None for a month still to come


class UnmetNeedOut(msgspec.Struct):
    from_month: str = msgspec.field(name="from")
    to_month: str = msgspec.field(name="to")
    months: list[str] = msgspec.field(default_factory=list)
    urgent_unmatched: list[MonthlyCount] = msgspec.field(default_factory=list)
    time_to_hold: Durations | None = None
    time_to_admission: Durations | None = None
    fallback_placements: list[FallbackMonth] = msgspec.field(default_factory=list)
    occupancy: list[OccupancyMonth] = msgspec.field(default_factory=list)
    runaways_per_100_stays: list[RunawayRate] = msgspec.field(default_factory=list)
    waiting_list: list[WaitingMonth] = msgspec.field(default_factory=list)
    suppressed_below: int = figures.MIN_GROUP


def _parse_month(value: str | None, field: str, default: str) -> str:
    if value is None or value == "":
        return default
    if not MONTH.match(value):
        raise DomainError(
            f"{field} must be a month written YYYY-MM, got {value[:20]!r}.", field=field
        )
    return value


def period(from_month: str | None, to_month: str | None, today: date) -> list[str]:
    """The months asked for (default: the twelve months up to this one), checked."""
    this_month = f"{today.year:04d}-{today.month:02d}"
    last = _parse_month(to_month, "to", this_month)
    year, month = int(last[:4]), int(last[5:7]) - (DEFAULT_MONTHS - 1)
    while month < 1:
        year, month = year - 1, month + 12
    first = _parse_month(from_month, "from", f"{year:04d}-{month:02d}")
    if first > last:
        raise DomainError(f"from ({first}) is after to ({last}).", field="from")
    months = figures.months_between(
        date.fromisoformat(f"{first}-01"), date.fromisoformat(f"{last}-01")
    )
    if len(months) > MAX_MONTHS:
        raise DomainError(f"A report covers at most {MAX_MONTHS} months.", field="from")
    return months


async def unmet_need_report(
    principal: Principal,
    from_month: str | None = None,
    to_month: str | None = None,
    now: datetime | None = None,
) -> UnmetNeedOut:
    if principal.role not in READERS:
        raise Forbidden("Only analysts and coordinators read the unmet-need report.")
    zone = get_settings().display_timezone
    now = now or utcnow()
    months = period(from_month, to_month, now.astimezone(zone).date())
    start = figures.month_start(months[0], zone)
    end = figures.month_end(months[-1], zone)
    index = {month: i for i, month in enumerate(months)}

    def month_index(moment: datetime) -> int | None:
        return index.get(figures.month_of(as_utc(moment), zone))

    requests = {
        row["id"]: row
        for row in await PlacementRequest.select(
            PlacementRequest.id, PlacementRequest.urgency, PlacementRequest.created_at
        ).where(PlacementRequest.created_at < end)
    }
    status_events = (
        await RequestEvent.select(
            RequestEvent.request, RequestEvent.at, RequestEvent.action, RequestEvent.to_status
        )
        .where((RequestEvent.at < end) & RequestEvent.to_status.is_not_null())
        .order_by(RequestEvent.at)
        .order_by(RequestEvent.id)
    )

    # Urgent requests that found no suitable bed: each counted once, in the month it first
    # went to the waiting list for want of a bed.
    unmatched = [0] * len(months)
    first_unmatched: dict[int, datetime] = {}
    histories: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for event in status_events:
        at = as_utc(event["at"])
        histories[event["request"]].append((at, event["to_status"]))
        if event["action"] == "no_candidate" and event["request"] not in first_unmatched:
            first_unmatched[event["request"]] = at
    for request_id, at in first_unmatched.items():
        request = requests.get(request_id)
        i = month_index(at)
        if request and i is not None and request["urgency"] == Urgency.IMMEDIATE.value:
            unmatched[i] += 1

    # Waiting list at the end of each month (now for this month; nothing for months to come).
    raw_waiting: list[int | None] = []
    for month in months:
        if figures.month_start(month, zone) > now:
            raw_waiting.append(None)
            continue
        instant = min(figures.month_end(month, zone), now)
        raw_waiting.append(
            sum(
                1
                for history in histories.values()
                if figures.status_before(history, instant) == RequestStatus.WAITING.value
            )
        )
    waiting = [None if n is None else figures.shown(n) for n in raw_waiting]

    in_period = {rid for rid, row in requests.items() if as_utc(row["created_at"]) >= start}

    # Request to first hold, and request to admission.
    holds = await Hold.select(Hold.request, Hold.centre, Hold.created_at).where(
        Hold.request.is_in(sorted(in_period)) if in_period else Hold.id < 0
    )
    first_hold: dict[int, dict] = {}
    for hold in holds:
        known = first_hold.get(hold["request"])
        if known is None or as_utc(hold["created_at"]) < as_utc(known["created_at"]):
            first_hold[hold["request"]] = hold
    stays = await Stay.select(
        Stay.request, Stay.centre, Stay.admitted_at, Stay.ended_at, Stay.fallback
    ).where(Stay.admitted_at < end)
    centre_ids = {h["centre"] for h in holds} | {s["centre"] for s in stays}
    runaway_rows = await RunawayEpisode.select(
        RunawayEpisode.centre, RunawayEpisode.reported_at
    ).where((RunawayEpisode.reported_at >= start) & (RunawayEpisode.reported_at < end))
    centre_ids |= {r["centre"] for r in runaway_rows}
    beds = await capacity.bed_histories(min(end, now))
    centre_ids |= {centre for centre, _history in beds.values()}
    centres = await capacity.centre_facts(centre_ids)

    def hours(later: datetime, earlier: datetime) -> float:
        return (as_utc(later) - as_utc(earlier)).total_seconds() / 3600

    to_hold: list[tuple[str, str, float]] = []
    for request_id, hold in first_hold.items():
        request = requests[request_id]
        to_hold.append(
            (
                request["urgency"],
                centres[hold["centre"]]["province"],
                hours(hold["created_at"], request["created_at"]),
            )
        )
    to_admission: list[tuple[str, str, float]] = []
    for stay in stays:
        request = requests.get(stay["request"])
        if stay["request"] in in_period and request is not None:
            to_admission.append(
                (
                    request["urgency"],
                    centres[stay["centre"]]["province"],
                    hours(stay["admitted_at"], request["created_at"]),
                )
            )

    # Fallback placements (and placements in specialised places) by month of admission.
    fallback = [0] * len(months)
    specialised_placements = [0] * len(months)
    for stay in stays:
        i = month_index(stay["admitted_at"])
        if i is None:
            continue
        fallback[i] += bool(stay["fallback"])
        specialised_placements[i] += bool(centres[stay["centre"]]["specialised"])
    fallback_shown = figures.shown_column(fallback)
    specialised_shown = figures.shown_column(specialised_placements)

    # Occupancy of specialised and general places.
    groups: dict[bool, list[list[tuple[datetime, str]]]] = {True: [], False: []}
    for centre_id, history in beds.values():
        groups[centres[centre_id]["specialised"]].append(history)
    occupancy = []
    for month in months:
        low, high = figures.month_start(month, zone), min(figures.month_end(month, zone), now)
        if low >= now:
            occupancy.append(OccupancyMonth(month, None, None, None, None))
            continue
        special = figures.occupancy(groups[True], low, high)
        general = figures.occupancy(groups[False], low, high)
        occupancy.append(
            OccupancyMonth(
                month,
                special.places,
                special.occupied_percent,
                general.places,
                general.occupied_percent,
            )
        )

    return UnmetNeedOut(
        from_month=months[0],
        to_month=months[-1],
        months=months,
        urgent_unmatched=[
            MonthlyCount(month, count)
            for month, count in zip(months, figures.shown_column(unmatched), strict=True)
        ],
        time_to_hold=_durations(to_hold),
        time_to_admission=_durations(to_admission),
        fallback_placements=[
            FallbackMonth(month, fallback_shown[i], specialised_shown[i])
            for i, month in enumerate(months)
        ],
        occupancy=occupancy,
        runaways_per_100_stays=_runaway_rates(
            stays, runaway_rows, centres, start, end, months, month_index
        ),
        waiting_list=[WaitingMonth(month, n) for month, n in zip(months, waiting, strict=True)],
    )


def _durations(rows: list[tuple[str, str, float]]) -> Durations:
    by_urgency: dict[str, list[float]] = {urgency.value: [] for urgency in Urgency}
    by_region: dict[str, list[float]] = defaultdict(list)
    for urgency, region, value in rows:
        by_urgency.setdefault(urgency, []).append(value)
        by_region[region].append(value)

    def groups(values: dict[str, list[float]]) -> list[DurationGroup]:
        out = []
        for name, hours in values.items():
            summary = figures.summarise_hours(hours)
            out.append(
                DurationGroup(name, summary.requests, summary.median_hours, summary.p90_hours)
            )
        return out

    return Durations(
        by_urgency=groups(by_urgency),
        by_region=groups(dict(sorted(by_region.items()))),
    )


def _runaway_rates(stays, runaway_rows, centres, start, end, months, month_index):
    kinds = list(CentreKind)
    stay_counts = [0] * len(kinds)
    runaway_counts = [0] * len(kinds)
    monthly = [[0] * len(months) for _kind in kinds]
    for stay in stays:
        ended = stay["ended_at"]
        if ended is not None and as_utc(ended) < start:
            continue
        stay_counts[kinds.index(CentreKind(centres[stay["centre"]]["kind"]))] += 1
    for episode in runaway_rows:
        k = kinds.index(CentreKind(centres[episode["centre"]]["kind"]))
        runaway_counts[k] += 1
        i = month_index(episode["reported_at"])
        if i is not None:
            monthly[k][i] += 1
    # As in the statistics tables: a kind with a small count in any month of the period is
    # suppressed too, so that two overlapping periods cannot be subtracted.
    small_month = [k for k, counts in enumerate(monthly) if any(0 < n < 5 for n in counts)]
    stays_shown = figures.shown_column(stay_counts)
    runaways_shown = figures.shown_column(runaway_counts, small_month)
    out = []
    for k, kind in enumerate(kinds):
        if not stay_counts[k] and not runaway_counts[k]:
            continue
        published = isinstance(stays_shown[k], int) and isinstance(runaways_shown[k], int)
        out.append(
            RunawayRate(
                kind,
                stays_shown[k],
                runaways_shown[k],
                figures.rate_per_100(runaway_counts[k], stay_counts[k]) if published else None,
            )
        )
    return out
