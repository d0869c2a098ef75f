"""Retention: the personal fields of cases closed long ago are erased; their statistics stay.

A case closed more than RETENTION_MONTHS ago (and not purged yet) is purged in a transaction
of its own: first its statistical facts are frozen as anonymised rows (with the same code the
statistics use on live cases, so no figure changes), then every personal field of the case
and of the rows about it is erased, purged_at is set, and the purge is audited. The case code
stays, so the audit log and the statistics still add up; nothing left describes the minor.
What is erased, and what is kept, is listed in docs/statistics.md ("Retention").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from backend import audit, events
from backend.database import write_transaction
from backend.settings import get_settings
from backend.timeutil import as_utc, utcnow
from placement.tables import (
    CaseFlag,
    Hold,
    PlacementRequest,
    RequestEvent,
    RunawayEpisode,
    Stay,
    YouthCase,
)

log = logging.getLogger(__name__)

RETENTION_PURGE = "retention_purge"

# What a purged case keeps in its personal columns (the columns are NOT NULL).
ERASED_CASE = {
    YouthCase.birth_year: 0,
    YouthCase.birth_month: 0,
    YouthCase.gender: "",
    YouthCase.languages: [],
    YouthCase.nationality_group: "",
    YouthCase.migration_status: "",
    YouthCase.care_needs: [],
}


@dataclass(frozen=True)
class Candidate:
    case_code: str
    closed_at: datetime


def cutoff(now: datetime, months: int) -> datetime:
    """`now` minus whole calendar months (the 31st becomes the month's last day)."""
    total = now.year * 12 + (now.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    next_month = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=now.tzinfo)
    last_day = (next_month - datetime(year, month, 1, tzinfo=now.tzinfo)).days
    return now.replace(year=year, month=month, day=min(now.day, last_day))


async def _candidate_rows(now: datetime, months: int) -> list[dict]:
    return (
        await YouthCase.select(YouthCase.id, YouthCase.case_code, YouthCase.closed_at)
        .where(
            YouthCase.closed_at.is_not_null()
            & (YouthCase.closed_at < cutoff(now, months))
            & YouthCase.purged_at.is_null()
        )
        .order_by(YouthCase.closed_at)
    )


def _months(months: int | None) -> int:
    return get_settings().retention_months if months is None else months


async def candidates(now: datetime | None = None, months: int | None = None) -> list[Candidate]:
    """The cases a purge would erase now, oldest closure first."""
    rows = await _candidate_rows(now or utcnow(), _months(months))
    return [Candidate(row["case_code"], as_utc(row["closed_at"])) for row in rows]


CASE_PURGED = "case_purged"
# What events and alerts copied about the minor (runaway_reported and the alerts from it).
PERSONAL_EVENT_FIELDS = ("age", "gender", "exploitation_flagged")


class _AlreadyPurged(Exception):
    """Another run purged the case meanwhile: roll this one back (facts included)."""


async def _erase(case_id: int, now: datetime) -> None:
    claimed = (
        await YouthCase.update({**ERASED_CASE, YouthCase.purged_at: now})
        .where((YouthCase.id == case_id) & YouthCase.purged_at.is_null())
        .returning(YouthCase.id)
    )
    if not claimed:
        raise _AlreadyPurged
    await CaseFlag.update({CaseFlag.note: "", CaseFlag.source_service: ""}).where(
        (CaseFlag.case == case_id) & ((CaseFlag.note != "") | (CaseFlag.source_service != ""))
    )
    request_ids = [
        row["id"]
        for row in await PlacementRequest.select(PlacementRequest.id).where(
            PlacementRequest.case == case_id
        )
    ]
    if request_ids:
        await PlacementRequest.update(
            {
                PlacementRequest.notes: "",
                PlacementRequest.excluded_municipalities: [],
                PlacementRequest.excluded_provinces: [],
                PlacementRequest.excluded_countries: [],
                PlacementRequest.danger_latitude: None,
                PlacementRequest.danger_longitude: None,
                PlacementRequest.reference_latitude: None,
                PlacementRequest.reference_longitude: None,
            }
        ).where(PlacementRequest.id.is_in(request_ids))
        await RequestEvent.update({RequestEvent.reason: ""}).where(
            RequestEvent.request.is_in(request_ids) & (RequestEvent.reason != "")
        )
        await Hold.update({Hold.refusal_text: ""}).where(Hold.request.is_in(request_ids))
    await Stay.update({Stay.end_note: ""}).where(Stay.case == case_id)
    await RunawayEpisode.update(
        {RunawayEpisode.circumstances: "", RunawayEpisode.police_reference: None}
    ).where(RunawayEpisode.case == case_id)


async def purge_case(case_id: int, case_code: str, now: datetime) -> bool:
    """Freeze one case's facts and erase its personal fields, all or nothing. False when
    another run purged it first."""
    # Imported here: the statistics module imports placement modules that import this one.
    from placement import stats_service

    try:
        async with write_transaction():
            await stats_service.freeze_facts([case_id])
            await _erase(case_id, now)
            await events.redact(case_code, PERSONAL_EVENT_FIELDS)
            # Other domains forget their copies too (the alerts' facts).
            await events.record(
                CASE_PURGED,
                f"{CASE_PURGED}:{case_id}",
                {"case_code": case_code, "fields": list(PERSONAL_EVENT_FIELDS)},
            )
            await audit.record(None, case_code, RETENTION_PURGE)
    except _AlreadyPurged:
        return False
    return True


async def purge(
    now: datetime | None = None, months: int | None = None, dry_run: bool = False
) -> list[Candidate]:
    """Purge every case closed more than `months` (default RETENTION_MONTHS) before `now`.
    With dry_run, only list them. Returns the cases listed or purged."""
    now = now or utcnow()
    rows = await _candidate_rows(now, _months(months))
    done = []
    for row in rows:
        if dry_run or await purge_case(row["id"], row["case_code"], now):
            done.append(Candidate(row["case_code"], as_utc(row["closed_at"])))
    if not dry_run and done:
        log.info("Retention purge: %d closed cases erased", len(done))
    return done


async def purge_closed_cases() -> int:
    """The daily job: purge with the configured retention period."""
    return len(await purge())
