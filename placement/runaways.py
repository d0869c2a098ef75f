"""Runaway episodes: a minor gone from an active stay, the checklist that travels with it, the
return, and the keep-bed period after which the stay ends as not returned.

Each public function is one transaction (the scheduled jobs: one per episode), checks who may
act, and writes the audit log for every case it reads or changes.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from backend import audit, events
from backend.database import is_storable_id, write_transaction
from backend.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from backend.identity import Principal, Role
from backend.schemas import sent_fields
from backend.settings import get_settings
from backend.timeutil import as_utc, utcnow
from capacity import service as capacity
from capacity.vocabulary import BedStatus
from placement.matching import age_on
from placement.schemas import ChecklistOut, ChecklistUpdate, ReturnIn, RunawayCreate, RunawayOut
from placement.service import (
    _beds_and_case_codes,
    _case_by_id,
    _check_centre_filter,
    _exploitation_flagged,
    _flags_of,
    _officer_sees,
    _require_centre_actor,
    _stay_row,
    _today,
)
from placement.tables import PlacementRequest, RunawayEpisode, Stay
from placement.vocabulary import RiskLevel, RunawayKind, StayEndReason, StayStatus

log = logging.getLogger(__name__)

# Domain events the notifications domain delivers (payload keys are a contract).
RUNAWAY_REPORTED = "runaway_reported"
RUNAWAY_RETURNED = "runaway_returned"
RUNAWAY_UNRESOLVED = "runaway_unresolved"

# A phone's clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=5)
# Under this age a runaway is high risk whatever else is known.
HIGH_RISK_UNDER_AGE = 14

EPISODE_COLUMNS = (
    *RunawayEpisode.all_columns(),
    RunawayEpisode.reported_by.username.as_alias("reported_by_name"),
    RunawayEpisode.police_informed_by.username.as_alias("police_informed_by_name"),
    RunawayEpisode.hotline_informed_by.username.as_alias("hotline_informed_by_name"),
    RunawayEpisode.referring_service_informed_by.username.as_alias(
        "referring_service_informed_by_name"
    ),
    RunawayEpisode.return_interview_planned_by.username.as_alias(
        "return_interview_planned_by_name"
    ),
    RunawayEpisode.returned_by.username.as_alias("returned_by_name"),
)

# Checklist items set by a yes/no: the body's field → the episode's columns (when, by whom).
INFORMED_ITEMS = {
    "police_informed": (RunawayEpisode.police_informed_at, RunawayEpisode.police_informed_by),
    "hotline_informed": (RunawayEpisode.hotline_informed_at, RunawayEpisode.hotline_informed_by),
    "referring_service_informed": (
        RunawayEpisode.referring_service_informed_at,
        RunawayEpisode.referring_service_informed_by,
    ),
}


def default_risk_level(exploitation_flagged: bool, age: int) -> RiskLevel:
    """High for a minor with an active exploitation flag or under 14; medium otherwise."""
    if exploitation_flagged or age < HIGH_RISK_UNDER_AGE:
        return RiskLevel.HIGH
    return RiskLevel.MEDIUM


# ---------------------------------------------------------------------------
# Who may see and act


def _may_follow(principal: Principal, episode: dict[str, Any], case: dict[str, Any]) -> bool:
    """Read an episode and tick its checklist: staff of its centre, officers of the case's
    service, coordinators and admins."""
    if principal.role in (Role.ADMIN, Role.COORDINATOR):
        return True
    if principal.role is Role.CENTRE_STAFF:
        return principal.works_at(episode["centre"])
    if principal.role is Role.PLACEMENT_OFFICER:
        return _officer_sees(principal, case)
    return False


def _refusal(episode: dict[str, Any]) -> Forbidden:
    return Forbidden(
        f"Runaway episode {episode['id']} is not one you follow: staff of its centre, officers "
        "of the case's service, coordinators and admins do.",
        field="episode_id",
    )


def _require_returner(principal: Principal, episode: dict[str, Any]) -> None:
    if principal.role is not Role.COORDINATOR:
        _require_centre_actor(principal, episode["centre"])


# ---------------------------------------------------------------------------
# Rows and answers


async def _episode_row(episode_id: int) -> dict[str, Any]:
    row = (
        await RunawayEpisode.select(*EPISODE_COLUMNS).where(RunawayEpisode.id == episode_id).first()
        if is_storable_id(episode_id)
        else None
    )
    if row is None:
        raise NotFound(f"Runaway episode {episode_id} does not exist.", field="episode_id")
    return row


def _local_day(moment: datetime) -> date:
    return moment.astimezone(get_settings().display_timezone).date()


def _at(value: datetime | str | None) -> datetime | None:
    return as_utc(value) if value else None


async def _episode_outs(rows: list[dict[str, Any]]) -> list[RunawayOut]:
    if not rows:
        return []
    beds, codes = await _beds_and_case_codes(rows)
    stay_statuses = {
        row["id"]: row["status"]
        for row in await Stay.select(Stay.id, Stay.status).where(
            Stay.id.is_in(sorted({r["stay"] for r in rows}))
        )
    }
    return [
        RunawayOut(
            id=row["id"],
            stay_id=row["stay"],
            stay_status=StayStatus(stay_statuses[row["stay"]]),
            case_code=codes[row["case"]],
            centre_id=row["centre"],
            centre_name=beds[row["bed"]]["centre"]["name"],
            bed_id=row["bed"],
            bed_label=beds[row["bed"]]["label"],
            kind=RunawayKind(row["kind"]),
            risk_level=RiskLevel(row["risk_level"]),
            last_seen_at=as_utc(row["last_seen_at"]),
            reported_at=as_utc(row["reported_at"]),
            reported_by=row["reported_by_name"],
            circumstances=row["circumstances"],
            checklist=ChecklistOut(
                police_informed_at=_at(row["police_informed_at"]),
                police_informed_by=row["police_informed_by_name"],
                police_reference=row["police_reference"],
                hotline_informed_at=_at(row["hotline_informed_at"]),
                hotline_informed_by=row["hotline_informed_by_name"],
                referring_service_informed_at=_at(row["referring_service_informed_at"]),
                referring_service_informed_by=row["referring_service_informed_by_name"],
                return_interview_planned_on=row["return_interview_planned_on"],
                return_interview_planned_by=row["return_interview_planned_by_name"],
            ),
            keep_bed_until=as_utc(row["keep_bed_until"]),
            open=row["returned_at"] is None,
            returned_at=_at(row["returned_at"]),
            returned_by=row["returned_by_name"],
            stay_ended_at=_at(row["stay_ended_at"]),
        )
        for row in rows
    ]


async def _reported_payload(episode: dict[str, Any]) -> dict[str, Any]:
    """What the notifications domain needs to alert about a runaway (no personal data
    beyond the pseudonymous case)."""
    stay = await _stay_row(episode["stay"])
    case = await _case_by_id(episode["case"])
    request = (
        await PlacementRequest.select(PlacementRequest.created_by)
        .where(PlacementRequest.id == stay["request"])
        .first()
    )
    reported_at = as_utc(episode["reported_at"])
    return {
        "episode_id": episode["id"],
        "stay_id": stay["id"],
        "case_id": case["id"],
        "case_code": case["case_code"],
        "centre_id": episode["centre"],
        "bed_id": episode["bed"],
        "request_id": stay["request"],
        "officer_id": request["created_by"] if request else None,
        "service": case["service"],
        "risk_level": episode["risk_level"],
        "kind": episode["kind"],
        "last_seen_at": as_utc(episode["last_seen_at"]).isoformat(),
        "reported_at": reported_at.isoformat(),
        "keep_bed_until": as_utc(episode["keep_bed_until"]).isoformat(),
        "age": age_on(case["birth_year"], case["birth_month"], _local_day(reported_at)),
        "gender": case["gender"],
        "exploitation_flagged": _exploitation_flagged(await _flags_of(case["id"])),
    }


# ---------------------------------------------------------------------------
# Report, checklist, return


async def report_runaway(principal: Principal, stay_id: int, data: RunawayCreate) -> RunawayOut:
    now = utcnow()
    if data.last_seen_at > now + CLOCK_SKEW:
        raise InvalidInput("last_seen_at is in the future.", field="last_seen_at")
    async with write_transaction():
        stay = await _stay_row(stay_id)
        _require_centre_actor(principal, stay["centre"])
        if stay["status"] != StayStatus.ACTIVE.value:
            raise Conflict(
                f"Stay {stay_id} is {stay['status']}: a runaway is reported on an active stay.",
                field="stay_id",
                current_status=stay["status"],
            )
        if data.last_seen_at < as_utc(stay["admitted_at"]):
            raise InvalidInput(
                "last_seen_at is before the minor's admission to this stay.", field="last_seen_at"
            )
        won = (
            await Stay.update({Stay.status: StayStatus.ON_RUNAWAY.value})
            .where((Stay.id == stay_id) & (Stay.status == StayStatus.ACTIVE.value))
            .returning(Stay.id)
        )
        if not won:
            raise Conflict(
                f"Stay {stay_id} changed just now (another report or its end); reload.",
                field="stay_id",
            )
        case = await _case_by_id(stay["case"])
        risk = data.risk_level or default_risk_level(
            _exploitation_flagged(await _flags_of(case["id"])),
            age_on(case["birth_year"], case["birth_month"], _today()),
        )
        inserted = await RunawayEpisode.insert(
            RunawayEpisode(
                stay=stay_id,
                case=case["id"],
                centre=stay["centre"],
                bed=stay["bed"],
                kind=data.kind.value,
                risk_level=risk.value,
                # A time a little ahead (a phone's clock) means now.
                last_seen_at=min(as_utc(data.last_seen_at), now),
                reported_at=now,
                reported_by=principal.user_id,
                circumstances=data.circumstances,
                keep_bed_until=now + timedelta(hours=get_settings().keep_bed_hours),
            )
        ).returning(RunawayEpisode.id)
        episode = await _episode_row(inserted[0]["id"])
        await events.record(
            RUNAWAY_REPORTED,
            f"{RUNAWAY_REPORTED}:{episode['id']}",
            await _reported_payload(episode),
        )
        await audit.record(
            principal, case["case_code"], "report_runaway", f"episode {episode['id']}"
        )
        out = (await _episode_outs([episode]))[0]
    return out


def _interview_values(
    principal: Principal, episode: dict[str, Any], planned_on: date | None
) -> dict:
    if episode["returned_at"] is None:
        raise InvalidInput(
            "A return interview is planned after the return: record the return first.",
            field="return_interview_planned_on",
        )
    if planned_on is not None and planned_on < _local_day(as_utc(episode["returned_at"])):
        raise InvalidInput(
            "The return interview cannot be planned before the day of the return.",
            field="return_interview_planned_on",
        )
    return {
        RunawayEpisode.return_interview_planned_on: planned_on,
        RunawayEpisode.return_interview_planned_by: principal.user_id if planned_on else None,
    }


def _checklist_values(principal: Principal, episode: dict[str, Any], data: ChecklistUpdate) -> dict:
    sent = sent_fields(data)
    now = utcnow()
    values: dict = {}
    for field, (at_column, by_column) in INFORMED_ITEMS.items():
        if field not in sent:
            continue
        if not sent[field]:
            values.update({at_column: None, by_column: None})
        elif episode[at_column._meta.name] is None:  # a recorded item keeps its first time
            values.update({at_column: now, by_column: principal.user_id})
    police_informed = sent.get("police_informed", episode["police_informed_at"] is not None)
    if "police_reference" in sent:
        if data.police_reference is not None and not police_informed:
            raise InvalidInput(
                "A police reference goes with police_informed: record that the police was "
                "informed.",
                field="police_reference",
            )
        values[RunawayEpisode.police_reference] = data.police_reference
    elif not police_informed:
        values[RunawayEpisode.police_reference] = None
    if "return_interview_planned_on" in sent:
        values.update(_interview_values(principal, episode, data.return_interview_planned_on))
    return values


async def update_checklist(
    principal: Principal, episode_id: int, data: ChecklistUpdate
) -> RunawayOut:
    async with write_transaction():
        episode = await _episode_row(episode_id)
        case = await _case_by_id(episode["case"])
        if not _may_follow(principal, episode, case):
            raise _refusal(episode)
        values = _checklist_values(principal, episode, data)
        if values:
            await RunawayEpisode.update(values).where(RunawayEpisode.id == episode_id)
        await audit.record(
            principal,
            case["case_code"],
            "update_runaway_checklist",
            f"episode {episode_id}: {', '.join(sorted(sent_fields(data)))}",
        )
        return (await _episode_outs([await _episode_row(episode_id)]))[0]


async def record_return(principal: Principal, episode_id: int, data: ReturnIn) -> RunawayOut:
    now = utcnow()
    returned_at = data.returned_at or now
    if returned_at > now + CLOCK_SKEW:
        raise InvalidInput("returned_at is in the future.", field="returned_at")
    async with write_transaction():
        episode = await _episode_row(episode_id)
        _require_returner(principal, episode)
        if episode["returned_at"] is not None:
            raise Conflict(
                f"Runaway episode {episode_id} is already closed: the return was recorded at "
                f"{as_utc(episode['returned_at']).isoformat()}.",
                field="episode_id",
            )
        if returned_at < as_utc(episode["last_seen_at"]):
            raise InvalidInput("returned_at is before last_seen_at.", field="returned_at")
        returned_at = min(as_utc(returned_at), now)
        won = (
            await RunawayEpisode.update(
                {
                    RunawayEpisode.returned_at: returned_at,
                    RunawayEpisode.returned_by: principal.user_id,
                }
            )
            .where((RunawayEpisode.id == episode_id) & RunawayEpisode.returned_at.is_null())
            .returning(RunawayEpisode.id)
        )
        if not won:
            raise Conflict(
                f"Runaway episode {episode_id} was closed just now; reload.", field="episode_id"
            )
        # Back in the bed, unless the stay already ended (keep-bed period over, discharge).
        await Stay.update({Stay.status: StayStatus.ACTIVE.value}).where(
            (Stay.id == episode["stay"]) & (Stay.status == StayStatus.ON_RUNAWAY.value)
        )
        case = await _case_by_id(episode["case"])
        await events.record(
            RUNAWAY_RETURNED,
            f"{RUNAWAY_RETURNED}:{episode_id}",
            {
                "episode_id": episode_id,
                "stay_id": episode["stay"],
                "case_code": case["case_code"],
                "centre_id": episode["centre"],
                "returned_at": returned_at.isoformat(),
            },
        )
        await audit.record(principal, case["case_code"], "runaway_return", f"episode {episode_id}")
        out = (await _episode_outs([await _episode_row(episode_id)]))[0]
    return out


# ---------------------------------------------------------------------------
# Reading


async def get_runaway(principal: Principal, episode_id: int) -> RunawayOut:
    episode = await _episode_row(episode_id)
    case = await _case_by_id(episode["case"])
    if not _may_follow(principal, episode, case):
        # A refused read leaves a trace too (its own transaction: the refusal rolls back).
        async with write_transaction():
            await audit.record(
                principal, case["case_code"], "read_runaway_refused", f"episode {episode_id}"
            )
        raise _refusal(episode)
    async with write_transaction():
        await audit.record(principal, case["case_code"], "read_runaway", f"episode {episode_id}")
        return (await _episode_outs([episode]))[0]


async def list_runaways(
    principal: Principal, open: bool | None = None, centre_id: int | None = None
) -> list[RunawayOut]:
    """Newest first; `open` True for episodes without a return yet, False for closed ones."""
    _check_centre_filter(centre_id)
    query = RunawayEpisode.select(*EPISODE_COLUMNS).order_by(
        RunawayEpisode.reported_at, ascending=False
    )
    if open is not None:
        query = query.where(
            RunawayEpisode.returned_at.is_null()
            if open
            else RunawayEpisode.returned_at.is_not_null()
        )
    if principal.role is Role.CENTRE_STAFF:
        if centre_id is not None:
            _require_centre_actor(principal, centre_id)
        query = query.where(RunawayEpisode.centre.is_in(sorted(principal.centre_ids) or [0]))
    elif principal.role is Role.PLACEMENT_OFFICER:
        query = query.where(
            RunawayEpisode.case.service == principal.service
            if principal.service
            else RunawayEpisode.case.opened_by == principal.user_id
        )
    elif principal.role not in (Role.ADMIN, Role.COORDINATOR):
        raise Forbidden(f"A {principal.role} sees no runaway episode.")
    if centre_id is not None:
        query = query.where(RunawayEpisode.centre == centre_id)
    async with write_transaction():
        outs = await _episode_outs(await query)
        await audit.record_many(principal, [out.case_code for out in outs], "list_runaways")
    return outs


# ---------------------------------------------------------------------------
# Scheduled work: the end of the keep-bed period, episodes left unresolved


async def end_stays_not_returned(now: datetime | None = None) -> int:
    """End the stay of every runaway still away when the keep-bed period is over, and free
    the bed (which offers it to the waiting list). Each episode in its own transaction; the
    episode stays open until the minor is back. Safe to run twice."""
    now = now or utcnow()
    due = await RunawayEpisode.select(RunawayEpisode.id).where(
        RunawayEpisode.returned_at.is_null()
        & RunawayEpisode.stay_ended_at.is_null()
        & (RunawayEpisode.keep_bed_until <= now)
        & (RunawayEpisode.stay.status == StayStatus.ON_RUNAWAY.value)
    )
    ended = 0
    for row in due:
        try:
            ended += await _end_stay_not_returned(row["id"], now)
        except DomainError:
            # One episode's trouble (say, its bed changed by hand) must not stop the others.
            log.exception("Could not end the stay of runaway episode %s", row["id"])
    return ended


async def _end_stay_not_returned(episode_id: int, now: datetime) -> bool:
    async with write_transaction():
        episode = await _episode_row(episode_id)
        if episode["returned_at"] is not None or episode["stay_ended_at"] is not None:
            return False
        won = (
            await Stay.update(
                {
                    Stay.status: StayStatus.ENDED.value,
                    Stay.ended_at: now,
                    Stay.ended_by: None,
                    Stay.end_reason: StayEndReason.NOT_RETURNED.value,
                    Stay.end_note: f"not returned by the end of the keep-bed period "
                    f"(runaway episode {episode_id})",
                }
            )
            .where((Stay.id == episode["stay"]) & (Stay.status == StayStatus.ON_RUNAWAY.value))
            .returning(Stay.id)
        )
        if not won:
            return False
        await capacity.transition_bed(
            episode["bed"],
            BedStatus.AVAILABLE,
            actor_id=None,
            reason=f"not_returned (stay {episode['stay']})",
            expected_current=BedStatus.OCCUPIED,
        )
        await RunawayEpisode.update({RunawayEpisode.stay_ended_at: now}).where(
            RunawayEpisode.id == episode_id
        )
        case = await _case_by_id(episode["case"])
        await audit.record(None, case["case_code"], "end_stay", "not_returned")
        return True


async def record_unresolved(now: datetime | None = None) -> int:
    """Record once, for each episode still open RUNAWAY_UNRESOLVED_HOURS after its report,
    that the minor has not returned."""
    now = now or utcnow()
    hours = get_settings().runaway_unresolved_hours
    due = await RunawayEpisode.select(RunawayEpisode.id).where(
        RunawayEpisode.returned_at.is_null()
        & RunawayEpisode.unresolved_recorded_at.is_null()
        & (RunawayEpisode.reported_at <= now - timedelta(hours=hours))
    )
    recorded = 0
    for row in due:
        async with write_transaction():
            won = (
                await RunawayEpisode.update({RunawayEpisode.unresolved_recorded_at: now})
                .where(
                    (RunawayEpisode.id == row["id"])
                    & RunawayEpisode.returned_at.is_null()
                    & RunawayEpisode.unresolved_recorded_at.is_null()
                )
                .returning(RunawayEpisode.id)
            )
            if not won:
                continue
            episode = await _episode_row(row["id"])
            payload = await _reported_payload(episode)
            missing = now - as_utc(episode["last_seen_at"])
            payload["hours_missing"] = int(missing.total_seconds() // 3600)
            if await events.record(
                RUNAWAY_UNRESOLVED, f"{RUNAWAY_UNRESOLVED}:{row['id']}", payload
            ):
                recorded += 1
    return recorded
