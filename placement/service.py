"""Placement operations: cases, flags, requests, matching, holds, stays, the waiting list and
batch allocation. Each public function is one transaction, checks who may act, and writes
the audit log for every case it reads or changes.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from backend import audit, events
from backend.database import is_storable_id, write_transaction
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.identity import Principal, Role
from backend.schemas import sent_fields
from backend.settings import get_settings
from backend.timeutil import as_utc, local_today, utcnow
from capacity import service as capacity
from capacity.geography import PROVINCES
from capacity.vocabulary import (
    BedStatus,
    Capability,
    CentreKind,
    GenderPolicy,
    MinorGender,
)
from placement import matching
from placement.allocation import AllocationRequest, allocate
from placement.matching import (
    EXPLOITATION_CARE,
    BedCandidate,
    BedPool,
    ExclusionReason,
    MatchRequest,
    MatchResult,
    RankedCandidate,
    age_on,
    effective_capabilities,
)
from placement.schemas import (
    AllocationConfirm,
    AllocationOut,
    CandidateOut,
    CaseCreate,
    CaseOut,
    CaseSummary,
    CaseUpdate,
    DischargeIn,
    FlagCreate,
    FlagOut,
    HoldCreate,
    HoldOut,
    MatchOut,
    ProposalOut,
    RefusalIn,
    RequestCreate,
    RequestCreated,
    RequestDetail,
    RequestEventOut,
    RequestOut,
    ScorePartOut,
    StayOut,
)
from placement.tables import (
    CaseFlag,
    Hold,
    PlacementRequest,
    RequestEvent,
    RunawayEpisode,
    Stay,
    YouthCase,
)
from placement.vocabulary import (
    DistancePreference,
    ExploitationType,
    FlagStatus,
    HoldStatus,
    MigrationStatus,
    NationalityGroup,
    RefusalReason,
    RequestStatus,
    StayEndReason,
    StayStatus,
    Urgency,
)

# Domain events the notifications domain delivers.
WAITING_REQUEST_OFFER = "waiting_request_offer"
HOLD_RESPONSE_OVERDUE = "hold_response_overdue"
HOLD_EXPIRED = "hold_expired"
HOLD_EXPIRING = "hold_expiring"
URGENT_REQUEST_UNMATCHED = "urgent_request_unmatched"

OPEN_HOLD_STATUSES = (HoldStatus.PENDING.value, HoldStatus.ACCEPTED.value)
LIVE_STAY_STATUSES = (StayStatus.ACTIVE.value, StayStatus.ON_RUNAWAY.value)
HOLDABLE_REQUEST_STATUSES = (RequestStatus.OPEN.value, RequestStatus.WAITING.value)
IN_PROGRESS_REQUEST_STATUSES = (
    *HOLDABLE_REQUEST_STATUSES,
    RequestStatus.HELD.value,
    RequestStatus.ACCEPTED.value,
)
URGENCY_ORDER = {Urgency.IMMEDIATE: 0, Urgency.WITHIN_24H: 1, Urgency.PLANNED: 2}

# A request row with its author's username, as every request answer shows it.
REQUEST_COLUMNS = (
    *PlacementRequest.all_columns(),
    PlacementRequest.created_by.username.as_alias("creator"),
)

# Case codes: no vowels (no words), no look-alikes (0/O, 1/I/L).
CODE_ALPHABET = "BCDFGHJKMNPQRSTVWXZ23456789"


def _today() -> date:
    return local_today(get_settings().display_timezone)


# ---------------------------------------------------------------------------
# Who may see and act


def _require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise Forbidden(f"A {principal.role} may not do this.")


async def _centres_touching_case(case_id: int) -> set[int]:
    holds = await Hold.select(Hold.centre).where(
        (Hold.request.case == case_id) & Hold.status.is_in(list(OPEN_HOLD_STATUSES))
    )
    stays = await Stay.select(Stay.centre).where(
        (Stay.case == case_id) & Stay.status.is_in(list(LIVE_STAY_STATUSES))
    )
    return {row["centre"] for row in holds} | {row["centre"] for row in stays}


def _officer_sees(principal: Principal, case: dict[str, Any]) -> bool:
    if principal.service:
        return case["service"] == principal.service
    return case["opened_by"] == principal.user_id


async def _may_read_case(principal: Principal, case: dict[str, Any]) -> bool:
    if principal.role in (Role.ADMIN, Role.COORDINATOR):
        return True
    if principal.role is Role.PLACEMENT_OFFICER:
        return _officer_sees(principal, case)
    if principal.role is Role.CENTRE_STAFF:
        return bool(await _centres_touching_case(case["id"]) & principal.centre_ids)
    return False


async def _require_case_reader(principal: Principal, case: dict[str, Any]) -> None:
    if not await _may_read_case(principal, case):
        raise Forbidden(
            f"Case {case['case_code']} is not one you may see: officers see their own "
            "service's cases, centre staff the cases held for or placed in their centres.",
            field="case_code",
        )


def _require_case_manager(principal: Principal, case: dict[str, Any]) -> None:
    """Officers of the case's service and coordinators manage its requests."""
    if principal.role is Role.COORDINATOR:
        return
    if principal.role is Role.PLACEMENT_OFFICER and _officer_sees(principal, case):
        return
    raise Forbidden(
        f"Only the officers of {case['service'] or 'the service that opened it'} and "
        f"coordinators manage case {case['case_code']}.",
        field="case_code",
    )


def _require_centre_actor(principal: Principal, centre_id: int) -> None:
    if principal.is_admin or principal.works_at(centre_id):
        return
    raise Forbidden(
        f"Only staff of centre {centre_id} (or an admin) may answer for it.", field="centre_id"
    )


# ---------------------------------------------------------------------------
# Rows


async def _case_by_code(case_code: str) -> dict[str, Any]:
    row = await YouthCase.select().where(YouthCase.case_code == case_code).first()
    if row is None:
        raise NotFound(f"Case {case_code} does not exist.", field="case_code")
    return row


async def _case_by_id(case_id: int) -> dict[str, Any]:
    return await YouthCase.select().where(YouthCase.id == case_id).first()


async def _request_row(request_id: int) -> dict[str, Any]:
    row = (
        await PlacementRequest.select(*REQUEST_COLUMNS)
        .where(PlacementRequest.id == request_id)
        .first()
        if is_storable_id(request_id)
        else None
    )
    if row is None:
        raise NotFound(f"Request {request_id} does not exist.", field="request_id")
    return row


async def _hold_row(hold_id: int) -> dict[str, Any]:
    row = await Hold.select().where(Hold.id == hold_id).first() if is_storable_id(hold_id) else None
    if row is None:
        raise NotFound(f"Hold {hold_id} does not exist.", field="hold_id")
    return row


async def _stay_row(stay_id: int) -> dict[str, Any]:
    row = await Stay.select().where(Stay.id == stay_id).first() if is_storable_id(stay_id) else None
    if row is None:
        raise NotFound(f"Stay {stay_id} does not exist.", field="stay_id")
    return row


async def _flags_of(case_id: int) -> list[dict[str, Any]]:
    return (
        await CaseFlag.select(*CaseFlag.all_columns(), CaseFlag.added_by.username.as_alias("by"))
        .where(CaseFlag.case == case_id)
        .order_by(CaseFlag.id)
    )


def _current_flags(flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    superseded = {flag["supersedes"] for flag in flags if flag["supersedes"] is not None}
    return [flag for flag in flags if flag["id"] not in superseded]


def _exploitation_flagged(flags: list[dict[str, Any]]) -> bool:
    return any(flag["status"] == FlagStatus.ACTIVE.value for flag in _current_flags(flags))


# ---------------------------------------------------------------------------
# Cases and follow-up flags


def _flag_out(flag: dict[str, Any], superseded_by: dict[int, int]) -> FlagOut:
    return FlagOut(
        id=flag["id"],
        exploitation_type=ExploitationType(flag["exploitation_type"]),
        status=FlagStatus(flag["status"]),
        discovered_on=flag["discovered_on"],
        source_service=flag["source_service"],
        note=flag["note"],
        supersedes=flag["supersedes"],
        superseded_by=superseded_by.get(flag["id"]),
        current=flag["id"] not in superseded_by,
        added_by=flag["by"],
        added_at=as_utc(flag["added_at"]),
    )


async def _case_out(case: dict[str, Any]) -> CaseOut:
    flags = await _flags_of(case["id"])
    superseded_by = {f["supersedes"]: f["id"] for f in flags if f["supersedes"] is not None}
    kept = case["purged_at"] is None  # a purged case's personal fields are erased
    return CaseOut(
        case_code=case["case_code"],
        birth_year=case["birth_year"] if kept else None,
        birth_month=case["birth_month"] if kept else None,
        age=age_on(case["birth_year"], case["birth_month"], _today()) if kept else None,
        gender=MinorGender(case["gender"]) if kept else None,
        languages=list(case["languages"]),
        nationality_group=NationalityGroup(case["nationality_group"]) if kept else None,
        migration_status=MigrationStatus(case["migration_status"]) if kept else None,
        care_needs=[Capability(need) for need in case["care_needs"]],
        service=case["service"],
        opened_at=as_utc(case["opened_at"]),
        closed_at=as_utc(case["closed_at"]) if case["closed_at"] else None,
        exploitation_flagged=_exploitation_flagged(flags),
        flags=[_flag_out(flag, superseded_by) for flag in flags],
        runaway_count=await RunawayEpisode.count().where(RunawayEpisode.case == case["id"]),
        purged_at=as_utc(case["purged_at"]) if case["purged_at"] else None,
    )


def _check_birth(birth_year: int, birth_month: int) -> None:
    today = _today()
    if (birth_year, birth_month) > (today.year, today.month):
        raise InvalidInput("The birth month is in the future.", field="birth_month")
    if age_on(birth_year, birth_month, today) > 25:
        raise InvalidInput(
            "Youth aid ends at 25: this birth year is too early for a case.", field="birth_year"
        )


async def _new_case_code() -> str:
    while True:
        code = "C-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        if not await YouthCase.exists().where(YouthCase.case_code == code):
            return code


async def open_case(principal: Principal, data: CaseCreate) -> CaseOut:
    _require_role(principal, Role.PLACEMENT_OFFICER, Role.COORDINATOR)
    _check_birth(data.birth_year, data.birth_month)
    async with write_transaction():
        code = await _new_case_code()
        row = (
            await YouthCase.insert(
                YouthCase(
                    case_code=code,
                    birth_year=data.birth_year,
                    birth_month=data.birth_month,
                    gender=data.gender.value,
                    languages=sorted(set(data.languages)),
                    nationality_group=data.nationality_group.value,
                    migration_status=data.migration_status.value,
                    care_needs=sorted({need.value for need in data.care_needs}),
                    service=principal.service,
                    opened_by=principal.user_id,
                    opened_at=utcnow(),
                )
            ).returning(*YouthCase.all_columns())
        )[0]
        await audit.record(principal, code, "open_case")
        return await _case_out(row)


async def _check_reader_or_audit_refusal(
    principal: Principal, case: dict[str, Any], action: str, detail: str = ""
) -> None:
    """A refused read is audited too (in its own transaction, before the refusal is
    raised), so that looking for other services' cases leaves a trace."""
    if not await _may_read_case(principal, case):
        async with write_transaction():
            await audit.record(principal, case["case_code"], f"{action}_refused", detail)
        await _require_case_reader(principal, case)


async def get_case(principal: Principal, case_code: str) -> CaseOut:
    case = await _case_by_code(case_code)
    await _check_reader_or_audit_refusal(principal, case, "read_case")
    async with write_transaction():
        await audit.record(principal, case_code, "read_case")
        return await _case_out(case)


async def list_cases(principal: Principal) -> list[CaseSummary]:
    query = YouthCase.select().order_by(YouthCase.opened_at, ascending=False)
    if principal.role is Role.PLACEMENT_OFFICER:
        query = query.where(
            YouthCase.service == principal.service
            if principal.service
            else YouthCase.opened_by == principal.user_id
        )
    elif principal.role is Role.CENTRE_STAFF:
        case_ids = await _case_ids_at_centres(principal.centre_ids)
        query = query.where(YouthCase.id.is_in(sorted(case_ids) or [0]))
    elif principal.role not in (Role.ADMIN, Role.COORDINATOR):
        raise Forbidden(f"A {principal.role} sees no case.")
    async with write_transaction():
        rows = await query
        flagged = await _flagged_case_ids([row["id"] for row in rows])
        await audit.record_many(principal, [row["case_code"] for row in rows], "list_cases")
    today = _today()
    return [
        CaseSummary(
            case_code=row["case_code"],
            age=age_on(row["birth_year"], row["birth_month"], today)
            if row["purged_at"] is None
            else None,
            gender=MinorGender(row["gender"]) if row["purged_at"] is None else None,
            service=row["service"],
            exploitation_flagged=row["id"] in flagged,
            opened_at=as_utc(row["opened_at"]),
        )
        for row in rows
    ]


async def _flagged_case_ids(case_ids: list[int]) -> set[int]:
    if not case_ids:
        return set()
    flags = await CaseFlag.select().where(CaseFlag.case.is_in(case_ids)).order_by(CaseFlag.id)
    by_case: dict[int, list[dict[str, Any]]] = {}
    for flag in flags:
        by_case.setdefault(flag["case"], []).append(flag)
    return {case_id for case_id, rows in by_case.items() if _exploitation_flagged(rows)}


async def _case_ids_at_centres(centre_ids: Iterable[int]) -> set[int]:
    centre_ids = sorted(centre_ids)
    if not centre_ids:
        return set()
    holds = await Hold.select(Hold.request.case.as_alias("case")).where(
        Hold.centre.is_in(centre_ids) & Hold.status.is_in(list(OPEN_HOLD_STATUSES))
    )
    stays = await Stay.select(Stay.case).where(
        Stay.centre.is_in(centre_ids) & Stay.status.is_in(list(LIVE_STAY_STATUSES))
    )
    return {row["case"] for row in holds} | {row["case"] for row in stays}


async def update_case(principal: Principal, case_code: str, data: CaseUpdate) -> CaseOut:
    async with write_transaction():
        case = await _case_by_code(case_code)
        _require_case_manager(principal, case)
        sent = sent_fields(data)
        values: dict = {}
        if "languages" in sent:
            values[YouthCase.languages] = sorted(set(data.languages))
        if "nationality_group" in sent:
            values[YouthCase.nationality_group] = data.nationality_group.value
        if "migration_status" in sent:
            values[YouthCase.migration_status] = data.migration_status.value
        if "care_needs" in sent:
            values[YouthCase.care_needs] = sorted({need.value for need in data.care_needs})
        if values:
            await YouthCase.update(values).where(YouthCase.id == case["id"])
        await audit.record(principal, case_code, "update_case", ", ".join(sorted(sent)))
        return await _case_out(await _case_by_id(case["id"]))


async def close_case(principal: Principal, case_code: str) -> CaseOut:
    """The follow-up ended: no request in progress and no stay left. A closed case takes no
    new request, and its personal fields are erased RETENTION_MONTHS later."""
    async with write_transaction():
        case = await _case_by_code(case_code)
        _require_case_manager(principal, case)
        if case["closed_at"] is not None:
            raise Conflict(f"Case {case_code} is already closed.", field="case_code")
        if await PlacementRequest.exists().where(
            (PlacementRequest.case == case["id"])
            & PlacementRequest.status.is_in(list(IN_PROGRESS_REQUEST_STATUSES))
        ):
            raise Conflict(
                f"Case {case_code} has a request in progress: cancel it first.",
                field="case_code",
            )
        if await Stay.exists().where(
            (Stay.case == case["id"]) & Stay.status.is_in(list(LIVE_STAY_STATUSES))
        ):
            raise Conflict(f"Case {case_code} is placed: end the stay first.", field="case_code")
        await YouthCase.update({YouthCase.closed_at: utcnow()}).where(
            (YouthCase.id == case["id"]) & YouthCase.closed_at.is_null()
        )
        await audit.record(principal, case_code, "close_case")
        return await _case_out(await _case_by_id(case["id"]))


async def add_flag(principal: Principal, case_code: str, data: FlagCreate) -> CaseOut:
    if data.discovered_on > _today():
        raise InvalidInput("discovered_on is in the future.", field="discovered_on")
    async with write_transaction():
        case = await _case_by_code(case_code)
        await _require_case_reader(principal, case)
        if principal.role is Role.ADMIN:
            raise Forbidden("Follow-up flags are added by the people following the case.")
        if data.discovered_on < date(case["birth_year"], case["birth_month"], 1):
            raise InvalidInput("discovered_on is before the minor's birth.", field="discovered_on")
        flags = await _flags_of(case["id"])
        if data.supersedes is not None:
            current_ids = {flag["id"] for flag in _current_flags(flags)}
            known_ids = {flag["id"] for flag in flags}
            if data.supersedes not in known_ids:
                raise InvalidInput(
                    f"Flag {data.supersedes} is not a flag of case {case_code}.",
                    field="supersedes",
                )
            if data.supersedes not in current_ids:
                raise Conflict(
                    f"Flag {data.supersedes} was already superseded; supersede its latest "
                    "version instead.",
                    field="supersedes",
                )
        elif data.status is FlagStatus.WITHDRAWN:
            raise InvalidInput(
                "A withdrawal supersedes the flag it withdraws: give `supersedes`.",
                field="supersedes",
            )
        await CaseFlag.insert(
            CaseFlag(
                case=case["id"],
                exploitation_type=data.exploitation_type.value,
                status=data.status.value,
                discovered_on=data.discovered_on,
                source_service=data.source_service.strip(),
                note=data.note,
                supersedes=data.supersedes,
                added_by=principal.user_id,
                added_at=utcnow(),
            )
        )
        await audit.record(principal, case_code, "add_flag", data.exploitation_type.value)
        return await _case_out(case)


# ---------------------------------------------------------------------------
# Matching: from database rows to the pure matcher and back


def _candidate_of(row: dict[str, Any]) -> BedCandidate:
    centre = row["centre"]
    return BedCandidate(
        bed_id=row["id"],
        bed_label=row["label"],
        unit_id=row["unit_id"],
        unit_name=row["unit_name"],
        centre_id=centre["id"],
        centre_name=centre["name"],
        centre_kind=CentreKind(centre["kind"]),
        status=BedStatus(row["status"]),
        expected_departure=row["expected_departure"],
        min_age=row["min_age"],
        max_age=row["max_age"],
        gender_policy=GenderPolicy(row["gender_policy"]),
        capabilities=frozenset(centre["capabilities"]),
        languages=frozenset(centre["languages"]),
        country=centre["country"],
        province=centre["province"],
        municipality=centre["municipality"],
        latitude=centre["latitude"],
        longitude=centre["longitude"],
    )


def _point(latitude: float | None, longitude: float | None) -> tuple[float, float] | None:
    return None if latitude is None or longitude is None else (latitude, longitude)


def _needed_on(request: dict[str, Any]) -> date:
    if request["urgency"] == Urgency.PLANNED.value and request["needed_on"] is not None:
        return max(request["needed_on"], _today())
    return _today()


def _match_request(request: dict[str, Any], case: dict[str, Any], flagged: bool) -> MatchRequest:
    needed_on = _needed_on(request)
    required = frozenset(request["required_capabilities"])
    care_needs = frozenset(case["care_needs"])
    preferred = (frozenset(request["preferred_capabilities"]) | care_needs) - required
    return MatchRequest(
        age=age_on(case["birth_year"], case["birth_month"], needed_on),
        gender=MinorGender(case["gender"]),
        languages=frozenset(case["languages"]),
        urgency=Urgency(request["urgency"]),
        needed_on=needed_on,
        required_capabilities=required,
        preferred_capabilities=preferred,
        needs_exploitation_care=flagged or EXPLOITATION_CARE in (care_needs | required),
        excluded_municipalities=frozenset(request["excluded_municipalities"]),
        excluded_provinces=frozenset(request["excluded_provinces"]),
        excluded_countries=frozenset(request["excluded_countries"]),
        danger_point=_point(request["danger_latitude"], request["danger_longitude"]),
        safety_distance_km=request["safety_distance_km"],
        home_country=request["home_country"],
        cross_border_allowed=request["cross_border_allowed"],
        judge_ordered_public_institution=request["judge_ordered_public_institution"],
        distance_preference=DistancePreference(request["distance_preference"]),
        reference_point=_point(request["reference_latitude"], request["reference_longitude"]),
    )


def _assess(
    match_request: MatchRequest, bed: BedCandidate
) -> tuple[ExclusionReason | None, RankedCandidate | None]:
    """One bed against one request: the first hard rule it breaks, or its ranking."""
    result = matching.match(match_request, BedPool.from_beds([bed]), limit=1)
    if result.candidates:
        return None, result.candidates[0]
    return next(reason for reason, count in result.excluded.items() if count), None


async def _match_input(
    request: dict[str, Any], case: dict[str, Any] | None = None
) -> tuple[MatchRequest, dict[str, Any]]:
    case = case or await _case_by_id(request["case"])
    flagged = _exploitation_flagged(await _flags_of(case["id"]))
    return _match_request(request, case, flagged), case


@dataclass(frozen=True)
class _FreeBeds:
    stamp: int
    pool: BedPool
    left_out: int  # active beds not in the pool (not free now)


class _FreeBedCache:
    """A pool of beds, kept while the registry's stamp is unchanged: the beds free now, or
    (with `free_by`) those plus every occupied bed with an expected departure — the matcher
    itself keeps, for a planned request, only those leaving by the needed date.

    Loading the free beds with their centres costs far more than ranking them (hundreds of
    milliseconds against one at 100,000 beds), and most calls find the registry unchanged
    since the last one. One load at a time: callers arriving during a load wait for it.
    Several app processes each keep their own, all checked against the database's stamp.
    """

    def __init__(self, free_by: date | None) -> None:
        self._free_by = free_by
        self._current: _FreeBeds | None = None
        self._lock = asyncio.Lock()

    def _kept(self, stamp: int | None) -> _FreeBeds | None:
        current = self._current
        return current if stamp is not None and current and current.stamp == stamp else None

    async def get(self) -> tuple[BedPool, int]:
        kept = self._kept(await capacity.capacity_stamp())
        if kept is None:
            async with self._lock:
                # Another caller may have loaded it while this one waited for the lock.
                stamp = await capacity.capacity_stamp()
                kept = self._kept(stamp)
                if kept is None:
                    pool, left_out = await _load_pool(free_by=self._free_by)
                    if stamp is None:
                        return pool, left_out
                    kept = self._current = _FreeBeds(stamp, pool, left_out)
        return kept.pool, kept.left_out


_free_now = _FreeBedCache(free_by=None)
_free_now_or_later = _FreeBedCache(free_by=date.max)


async def _load_pool(free_by: date | None) -> tuple[BedPool, int]:
    rows = await capacity.beds_for_matching(free_by=free_by)
    total = await capacity.count_active_beds()
    return BedPool.from_beds([_candidate_of(row) for row in rows]), max(0, total - len(rows))


async def _pool_for(match_request: MatchRequest) -> tuple[BedPool, int]:
    """The beds that could be free in time, and how many active beds were left out."""
    if match_request.urgency is Urgency.PLANNED:
        return await _free_now_or_later.get()
    return await _free_now.get()


def _candidate_out(rank: int, candidate: RankedCandidate) -> CandidateOut:
    bed = candidate.bed
    return CandidateOut(
        rank=rank,
        bed_id=bed.bed_id,
        bed_label=bed.bed_label,
        unit_id=bed.unit_id,
        unit_name=bed.unit_name,
        min_age=bed.min_age,
        max_age=bed.max_age,
        gender_policy=bed.gender_policy,
        centre_id=bed.centre_id,
        centre_name=bed.centre_name,
        centre_kind=bed.centre_kind,
        country=bed.country,
        province=bed.province,
        municipality=bed.municipality,
        score=round(candidate.score, 2),
        parts=[
            ScorePartOut(code=part.code, points=round(part.points, 2), reason=part.reason)
            for part in candidate.parts
        ],
        reasons=list(candidate.reasons),
        free_now=candidate.free_now,
        expected_departure=bed.expected_departure,
        specialised=candidate.specialised,
        fallback=candidate.fallback,
        distance_from_danger_km=(
            None
            if candidate.distance_from_danger_km is None
            else round(candidate.distance_from_danger_km, 1)
        ),
    )


def _match_out(request_id: int, status: RequestStatus, result: MatchResult) -> MatchOut:
    return MatchOut(
        request_id=request_id,
        request_status=status,
        candidates=[_candidate_out(i + 1, c) for i, c in enumerate(result.candidates)],
        candidate_count=result.candidate_count,
        excluded={reason.value: count for reason, count in result.excluded.items()},
        exclusion_summary=result.exclusion_summary(),
        total_beds=result.total_beds,
    )


async def _record_request_event(
    request_id: int,
    actor: Principal | None,
    action: str,
    *,
    from_status: RequestStatus | None = None,
    to_status: RequestStatus | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    await RequestEvent.insert(
        RequestEvent(
            request=request_id,
            at=utcnow(),
            actor=actor.user_id if actor else None,
            action=action,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
            reason=reason,
            detail=detail or {},
        )
    )


async def _set_request_status(
    request: dict[str, Any],
    target: RequestStatus,
    actor: Principal | None,
    action: str,
    *,
    allowed_from: Iterable[str],
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """One conditional update: the request moves only from a status it is still in."""
    allowed_from = list(allowed_from)
    now = utcnow()
    values: dict = {PlacementRequest.status: target.value, PlacementRequest.updated_at: now}
    if target is RequestStatus.WAITING:
        values[PlacementRequest.waiting_since] = now
    elif request["status"] == RequestStatus.WAITING.value:
        values[PlacementRequest.waiting_since] = None
    won = (
        await PlacementRequest.update(values)
        .where((PlacementRequest.id == request["id"]) & PlacementRequest.status.is_in(allowed_from))
        .returning(PlacementRequest.id)
    )
    if not won:
        current = await _request_row(request["id"])
        raise Conflict(
            f"Request {request['id']} is {current['status']}; this needs it to be "
            f"{' or '.join(allowed_from)}.",
            field="request_id",
            current_status=current["status"],
        )
    await _record_request_event(
        request["id"],
        actor,
        action,
        from_status=RequestStatus(request["status"]),
        to_status=target,
        reason=reason,
        detail=detail,
    )
    request["status"] = target.value


async def _compute_match(
    request: dict[str, Any], limit: int, case: dict[str, Any] | None = None
) -> MatchResult:
    """Rank the beds for a request: reads only, so it runs outside any write transaction
    (on SQLite a write transaction is the whole database's lock)."""
    match_request, _ = await _match_input(request, case)
    pool, left_out = await _pool_for(match_request)
    return matching.match(
        match_request,
        pool,
        limit=limit,
        already_excluded={ExclusionReason.NOT_AVAILABLE: left_out},
    )


async def _record_match(
    principal: Principal, request: dict[str, Any], case_code: str, result: MatchResult
) -> MatchOut:
    """Record the candidate list shown (and the move to waiting when there was none)."""
    status = RequestStatus(request["status"])
    await _record_request_event(
        request["id"],
        principal,
        "candidates_shown",
        reason=result.exclusion_summary(),
        detail={
            "candidate_count": result.candidate_count,
            "excluded": {reason.value: n for reason, n in result.excluded.items()},
            "shown": [
                {"bed_id": c.bed.bed_id, "score": round(c.score, 2), "fallback": c.fallback}
                for c in result.candidates
            ],
        },
    )
    if result.candidate_count == 0 and status is RequestStatus.OPEN:
        await _set_request_status(
            request,
            RequestStatus.WAITING,
            principal,
            "no_candidate",
            allowed_from=[RequestStatus.OPEN.value],
            reason=f"No suitable bed: {result.exclusion_summary() or 'no bed at all'}.",
        )
        status = RequestStatus.WAITING
        if request["urgency"] == Urgency.IMMEDIATE.value:
            await events.record(
                URGENT_REQUEST_UNMATCHED,
                f"{URGENT_REQUEST_UNMATCHED}:{request['id']}:{utcnow().isoformat()}",
                {
                    "request_id": request["id"],
                    "case_code": case_code,
                    "officer_id": request["created_by"],
                    "excluded": {reason.value: n for reason, n in result.excluded.items()},
                },
            )
    await audit.record(principal, case_code, "match", f"request {request['id']}")
    return _match_out(request["id"], status, result)


# ---------------------------------------------------------------------------
# Requests


def _check_request(data: RequestCreate) -> None:
    if data.urgency is Urgency.PLANNED:
        if data.needed_on is None:
            raise InvalidInput("A planned request needs needed_on.", field="needed_on")
        if data.needed_on < _today():
            raise InvalidInput("needed_on is in the past.", field="needed_on")
    elif data.needed_on is not None:
        raise InvalidInput(
            f"needed_on applies to planned requests only, not {data.urgency}.",
            field="needed_on",
        )
    if (data.danger_latitude is None) != (data.danger_longitude is None):
        raise InvalidInput(
            "The danger point needs both danger_latitude and danger_longitude.",
            field="danger_longitude" if data.danger_longitude is None else "danger_latitude",
        )
    if data.safety_distance_km is not None and data.danger_latitude is None:
        raise InvalidInput(
            "A safety distance is measured from a danger point: give danger_latitude and "
            "danger_longitude.",
            field="safety_distance_km",
        )
    if (data.reference_latitude is None) != (data.reference_longitude is None):
        raise InvalidInput(
            "The reference point needs both reference_latitude and reference_longitude.",
            field="reference_longitude"
            if data.reference_longitude is None
            else "reference_latitude",
        )
    if data.distance_preference is DistancePreference.NEAR_REFERENCE and (
        data.reference_latitude is None
    ):
        raise InvalidInput(
            "near_reference needs a reference point (school or family).",
            field="reference_latitude",
        )
    if data.distance_preference is DistancePreference.AWAY_FROM_DANGER and (
        data.danger_latitude is None
    ):
        raise InvalidInput("away_from_danger needs a danger point.", field="danger_latitude")
    both = set(data.required_capabilities) & set(data.preferred_capabilities)
    if both:
        raise InvalidInput(
            f"{', '.join(sorted(both))} is both required and preferred; choose one.",
            field="preferred_capabilities",
        )
    unknown = [code for code in data.excluded_provinces if code not in PROVINCES]
    if unknown:
        raise InvalidInput(f"Unknown province {unknown[0]!r}.", field="excluded_provinces")


def _distance_preference(data: RequestCreate) -> DistancePreference:
    if data.distance_preference is not None:
        return data.distance_preference
    if data.danger_latitude is not None:
        return DistancePreference.AWAY_FROM_DANGER
    return DistancePreference.NONE


def _request_fields(
    data: RequestCreate, case_id: int, service: str, principal: Principal
) -> dict[str, Any]:
    now = utcnow()
    return {
        "case": case_id,
        "status": RequestStatus.OPEN.value,
        "urgency": data.urgency.value,
        "needed_on": data.needed_on,
        "required_capabilities": sorted({c.value for c in data.required_capabilities}),
        "preferred_capabilities": sorted({c.value for c in data.preferred_capabilities}),
        "excluded_municipalities": sorted({m.strip() for m in data.excluded_municipalities}),
        "excluded_provinces": sorted(set(data.excluded_provinces)),
        "excluded_countries": sorted({c.value for c in data.excluded_countries}),
        "danger_latitude": data.danger_latitude,
        "danger_longitude": data.danger_longitude,
        "safety_distance_km": data.safety_distance_km,
        "distance_preference": _distance_preference(data).value,
        "reference_latitude": data.reference_latitude,
        "reference_longitude": data.reference_longitude,
        "home_country": data.home_country.value,
        "cross_border_allowed": data.cross_border_allowed,
        "judge_ordered_public_institution": data.judge_ordered_public_institution,
        "notes": data.notes,
        "requesting_service": service,
        "created_by": principal.user_id,
        "created_at": now,
        "updated_at": now,
    }


async def _check_case_open_for_request(principal: Principal, case_code: str) -> dict[str, Any]:
    case = await _case_by_code(case_code)
    _require_case_manager(principal, case)
    if case["closed_at"] is not None:
        raise Conflict(f"Case {case_code} is closed.", field="case_code")
    live = await PlacementRequest.exists().where(
        (PlacementRequest.case == case["id"])
        & PlacementRequest.status.is_in(list(IN_PROGRESS_REQUEST_STATUSES))
    )
    if live:
        raise Conflict(
            f"Case {case_code} already has a request in progress; use it or cancel it.",
            field="case_code",
        )
    return case


async def create_request(principal: Principal, data: RequestCreate) -> RequestCreated:
    _require_role(principal, Role.PLACEMENT_OFFICER, Role.COORDINATOR)
    _check_request(data)
    service = (data.requesting_service or principal.service).strip()
    if not service:
        raise InvalidInput(
            "Name the requesting service (your account has none).", field="requesting_service"
        )
    case = await _check_case_open_for_request(principal, data.case_code)
    fields = _request_fields(data, case["id"], service, principal)
    result = await _compute_match(fields, limit=20, case=case)
    async with write_transaction():
        await _check_case_open_for_request(principal, data.case_code)
        row = (
            await PlacementRequest.insert(PlacementRequest(**fields)).returning(
                *PlacementRequest.all_columns()
            )
        )[0]
        await _record_request_event(
            row["id"], principal, "created", to_status=RequestStatus.OPEN, reason=data.notes[:200]
        )
        await audit.record(principal, data.case_code, "create_request", f"request {row['id']}")
        match = await _record_match(principal, row, data.case_code, result)
        return RequestCreated(
            request=await _request_out(await _request_row(row["id"]), principal),
            match=match,
        )


def _check_searchable(request: dict[str, Any]) -> None:
    if request["status"] not in HOLDABLE_REQUEST_STATUSES:
        raise Conflict(
            f"Request {request['id']} is {request['status']}: candidates are searched for open "
            "or waiting requests.",
            field="request_id",
            current_status=request["status"],
        )


async def match_request(principal: Principal, request_id: int, limit: int = 20) -> MatchOut:
    request = await _request_row(request_id)
    case = await _case_by_id(request["case"])
    _require_case_manager(principal, case)
    _check_searchable(request)
    result = await _compute_match(request, limit, case)
    async with write_transaction():
        request = await _request_row(request_id)
        _check_searchable(request)
        return await _record_match(principal, request, case["case_code"], result)


async def cancel_request(principal: Principal, request_id: int, reason: str) -> RequestOut:
    async with write_transaction():
        request = await _request_row(request_id)
        case = await _case_by_id(request["case"])
        _require_case_manager(principal, case)
        if request["status"] in (RequestStatus.HELD.value, RequestStatus.ACCEPTED.value):
            hold = await _open_hold_of(request_id)
            if hold is not None:
                await _close_hold(
                    hold, HoldStatus.CANCELLED, principal, reason=f"request cancelled: {reason}"
                )
        await _set_request_status(
            request,
            RequestStatus.CANCELLED,
            principal,
            "cancelled",
            allowed_from=IN_PROGRESS_REQUEST_STATUSES,
            reason=reason,
        )
        await audit.record(principal, case["case_code"], "cancel_request", f"request {request_id}")
        out = await _request_out(await _request_row(request_id), principal)
    return out


async def _hold_outs(rows: list[dict[str, Any]], principal: Principal) -> list[HoldOut]:
    if not rows:
        return []
    beds = {
        row["id"]: row for row in await capacity.beds_for_matching(bed_ids=[r["bed"] for r in rows])
    }
    case_codes = {
        row["id"]: row["code"]
        for row in await PlacementRequest.select(
            PlacementRequest.id, PlacementRequest.case.case_code.as_alias("code")
        ).where(PlacementRequest.id.is_in([r["request"] for r in rows]))
    }
    return [_hold_out(row, beds[row["bed"]], case_codes[row["request"]], principal) for row in rows]


def _hold_out(
    row: dict[str, Any], bed: dict[str, Any], case_code: str, principal: Principal
) -> HoldOut:
    centre = bed["centre"]
    address_visible = capacity.may_see_address(
        principal, centre["id"], centre["address_confidential"]
    ) or row["status"] in (HoldStatus.ACCEPTED.value, HoldStatus.ADMITTED.value)
    return HoldOut(
        id=row["id"],
        request_id=row["request"],
        case_code=case_code,
        bed_id=bed["id"],
        bed_label=bed["label"],
        unit_name=bed["unit_name"],
        centre_id=centre["id"],
        centre_name=centre["name"],
        centre_address=centre["address"] if address_visible else None,
        status=HoldStatus(row["status"]),
        score=round(row["score"], 2),
        fallback=row["fallback"],
        created_at=as_utc(row["created_at"]),
        respond_by=as_utc(row["respond_by"]),
        expires_at=as_utc(row["expires_at"]),
        responded_at=as_utc(row["responded_at"]) if row["responded_at"] else None,
        refusal_reason=RefusalReason(row["refusal_reason"]) if row["refusal_reason"] else None,
        refusal_text=row["refusal_text"],
    )


async def _beds_and_case_codes(
    rows: list[dict[str, Any]],
) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """The beds (with their centre) and case codes that rows with `bed` and `case` name."""
    beds = {
        row["id"]: row
        for row in await capacity.beds_for_matching(bed_ids=sorted({r["bed"] for r in rows}))
    }
    codes = {
        row["id"]: row["case_code"]
        for row in await YouthCase.select(YouthCase.id, YouthCase.case_code).where(
            YouthCase.id.is_in(sorted({r["case"] for r in rows}))
        )
    }
    return beds, codes


async def _stay_outs(rows: list[dict[str, Any]]) -> list[StayOut]:
    if not rows:
        return []
    beds, codes = await _beds_and_case_codes(rows)
    runaways = (
        await RunawayEpisode.select(
            RunawayEpisode.id, RunawayEpisode.stay, RunawayEpisode.returned_at
        )
        .where(RunawayEpisode.stay.is_in([r["id"] for r in rows]))
        .order_by(RunawayEpisode.id)
    )
    runaway_counts = Counter(episode["stay"] for episode in runaways)
    open_runaways = {e["stay"]: e["id"] for e in runaways if e["returned_at"] is None}
    return [
        StayOut(
            id=row["id"],
            case_code=codes[row["case"]],
            request_id=row["request"],
            bed_id=row["bed"],
            bed_label=beds[row["bed"]]["label"],
            centre_id=row["centre"],
            centre_name=beds[row["bed"]]["centre"]["name"],
            status=StayStatus(row["status"]),
            fallback=row["fallback"],
            unmet_needs=list(row["unmet_needs"]),
            admitted_at=as_utc(row["admitted_at"]),
            ended_at=as_utc(row["ended_at"]) if row["ended_at"] else None,
            end_reason=StayEndReason(row["end_reason"]) if row["end_reason"] else None,
            runaway_count=runaway_counts[row["id"]],
            open_runaway_id=open_runaways.get(row["id"]),
        )
        for row in rows
    ]


async def _request_out(request: dict[str, Any], principal: Principal) -> RequestOut:
    case = await _case_by_id(request["case"])
    hold_row = await _open_hold_of(request["id"])
    stay_rows = await Stay.select().where(Stay.request == request["id"]).order_by(Stay.id)
    return RequestOut(
        id=request["id"],
        case_code=case["case_code"],
        status=RequestStatus(request["status"]),
        urgency=Urgency(request["urgency"]),
        needed_on=request["needed_on"],
        required_capabilities=[Capability(c) for c in request["required_capabilities"]],
        preferred_capabilities=[Capability(c) for c in request["preferred_capabilities"]],
        excluded_municipalities=list(request["excluded_municipalities"]),
        excluded_provinces=list(request["excluded_provinces"]),
        excluded_countries=list(request["excluded_countries"]),
        danger_latitude=request["danger_latitude"],
        danger_longitude=request["danger_longitude"],
        safety_distance_km=request["safety_distance_km"],
        distance_preference=DistancePreference(request["distance_preference"]),
        reference_latitude=request["reference_latitude"],
        reference_longitude=request["reference_longitude"],
        home_country=request["home_country"],
        cross_border_allowed=request["cross_border_allowed"],
        judge_ordered_public_institution=request["judge_ordered_public_institution"],
        notes=request["notes"],
        requesting_service=request["requesting_service"],
        created_by=request["creator"],
        created_at=as_utc(request["created_at"]),
        updated_at=as_utc(request["updated_at"]),
        waiting_since=as_utc(request["waiting_since"]) if request["waiting_since"] else None,
        hold=(await _hold_outs([hold_row], principal))[0] if hold_row else None,
        stay=(await _stay_outs(stay_rows[-1:]))[0] if stay_rows else None,
    )


async def get_request(principal: Principal, request_id: int) -> RequestDetail:
    request = await _request_row(request_id)
    case = await _case_by_id(request["case"])
    await _check_reader_or_audit_refusal(principal, case, "read_request", f"request {request_id}")
    async with write_transaction():
        await audit.record(principal, case["case_code"], "read_request", f"request {request_id}")
        out = await _request_out(request, principal)
        holds = await Hold.select().where(Hold.request == request_id).order_by(Hold.id)
        event_rows = (
            await RequestEvent.select(
                *RequestEvent.all_columns(), RequestEvent.actor.username.as_alias("by")
            )
            .where(RequestEvent.request == request_id)
            .order_by(RequestEvent.id)
        )
    return RequestDetail(
        **{field: getattr(out, field) for field in out.__struct_fields__},
        holds=await _hold_outs(holds, principal),
        events=[
            RequestEventOut(
                at=as_utc(row["at"]),
                actor=row["by"],
                action=row["action"],
                from_status=RequestStatus(row["from_status"]) if row["from_status"] else None,
                to_status=RequestStatus(row["to_status"]) if row["to_status"] else None,
                reason=row["reason"],
                detail=events.as_dict(row["detail"]),
            )
            for row in event_rows
        ],
    )


async def list_requests(
    principal: Principal, status: RequestStatus | None = None
) -> list[RequestOut]:
    query = PlacementRequest.select(*REQUEST_COLUMNS).order_by(
        PlacementRequest.created_at, ascending=False
    )
    if status is not None:
        query = query.where(PlacementRequest.status == status.value)
    if principal.role is Role.PLACEMENT_OFFICER:
        query = query.where(
            PlacementRequest.case.service == principal.service
            if principal.service
            else PlacementRequest.case.opened_by == principal.user_id
        )
    elif principal.role is Role.CENTRE_STAFF:
        case_ids = await _case_ids_at_centres(principal.centre_ids)
        query = query.where(PlacementRequest.case.is_in(sorted(case_ids) or [0]))
    elif principal.role not in (Role.ADMIN, Role.COORDINATOR):
        raise Forbidden(f"A {principal.role} sees no request.")
    async with write_transaction():
        rows = await query
        outs = [await _request_out(row, principal) for row in rows]
        await audit.record_many(principal, [out.case_code for out in outs], "list_requests")
    return outs


async def waiting_list(principal: Principal) -> list[RequestOut]:
    requests = await list_requests(principal, RequestStatus.WAITING)
    return sorted(
        requests,
        key=lambda r: (URGENCY_ORDER[r.urgency], r.waiting_since or r.created_at),
    )


# ---------------------------------------------------------------------------
# Holds


async def _open_hold_of(request_id: int) -> dict[str, Any] | None:
    return (
        await Hold.select()
        .where((Hold.request == request_id) & Hold.status.is_in(list(OPEN_HOLD_STATUSES)))
        .first()
    )


async def _place_hold(
    principal: Principal,
    request: dict[str, Any],
    bed_id: int,
    case: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Hold one bed for one request, inside the caller's transaction."""
    if request["status"] not in HOLDABLE_REQUEST_STATUSES:
        raise Conflict(
            f"Request {request['id']} is {request['status']}: a bed is held only for an open or "
            "waiting request.",
            field="request_id",
            current_status=request["status"],
        )
    rows = await capacity.beds_for_matching(bed_ids=[bed_id])
    if not rows or not rows[0]["active"]:
        raise NotFound(f"Bed {bed_id} does not exist or is not in use.", field="bed_id")
    bed = _candidate_of(rows[0])
    match_request, case = await _match_input(request, case)
    broken, scored = _assess(match_request, bed)
    if broken is ExclusionReason.NOT_AVAILABLE:
        raise Conflict(
            f"Bed {bed.bed_label} at {bed.centre_name} is {bed.status}, no longer available.",
            field="bed_id",
            current_status=bed.status.value,
        )
    if broken is not None:
        raise Conflict(
            f"Bed {bed.bed_label} at {bed.centre_name} does not suit this request "
            f"({broken.value.replace('_', ' ')}).",
            field="bed_id",
            excluded_by=broken.value,
        )
    try:
        await capacity.transition_bed(
            bed_id,
            BedStatus.HELD,
            actor_id=principal.user_id,
            reason=f"held for request {request['id']}",
            expected_current=BedStatus.AVAILABLE,
        )
    except Conflict as error:
        # Taken between our read and our update (PostgreSQL: concurrent holds all read it
        # available; the conditional update lets one through).
        raise Conflict(
            f"Bed {bed.bed_label} at {bed.centre_name} was taken just now: it is no longer "
            "available.",
            field="bed_id",
            **error.extra,
        ) from error
    settings = get_settings()
    now = utcnow()
    hold = (
        await Hold.insert(
            Hold(
                request=request["id"],
                bed=bed_id,
                centre=bed.centre_id,
                status=HoldStatus.PENDING.value,
                score=scored.score,
                fallback=scored.fallback,
                created_by=principal.user_id,
                created_at=now,
                respond_by=now + timedelta(minutes=settings.response_minutes[request["urgency"]]),
                expires_at=now + timedelta(minutes=settings.hold_minutes[request["urgency"]]),
                refusal_text="",
            )
        ).returning(*Hold.all_columns())
    )[0]
    await _set_request_status(
        request,
        RequestStatus.HELD,
        principal,
        "held",
        allowed_from=HOLDABLE_REQUEST_STATUSES,
        reason=f"bed {bed.bed_label} at {bed.centre_name}",
        detail={"hold_id": hold["id"], "bed_id": bed_id, "centre_id": bed.centre_id},
    )
    await audit.record(principal, case["case_code"], "hold", f"request {request['id']}")
    return hold


async def create_hold(principal: Principal, request_id: int, data: HoldCreate) -> HoldOut:
    async with write_transaction():
        request = await _request_row(request_id)
        case = await _case_by_id(request["case"])
        _require_case_manager(principal, case)
        hold = await _place_hold(principal, request, data.bed_id, case)
        return (await _hold_outs([hold], principal))[0]


async def _close_hold(
    hold: dict[str, Any],
    status: HoldStatus,
    actor: Principal | None,
    *,
    reason: str,
    refusal: RefusalIn | None = None,
) -> None:
    """End a pending or accepted hold and free its bed, inside the caller's transaction."""
    now = utcnow()
    values: dict = {Hold.status: status.value, Hold.closed_at: now}
    if status is HoldStatus.REFUSED:
        values.update(
            {
                Hold.responded_at: now,
                Hold.responded_by: actor.user_id if actor else None,
                Hold.refusal_reason: refusal.reason.value if refusal else None,
                Hold.refusal_text: refusal.text if refusal else "",
            }
        )
    won = (
        await Hold.update(values)
        .where((Hold.id == hold["id"]) & Hold.status.is_in(list(OPEN_HOLD_STATUSES)))
        .returning(Hold.id)
    )
    if not won:
        current = await _hold_row(hold["id"])
        raise Conflict(
            f"Hold {hold['id']} is already {current['status']}.",
            field="hold_id",
            current_status=current["status"],
        )
    await capacity.transition_bed(
        hold["bed"],
        BedStatus.AVAILABLE,
        actor_id=actor.user_id if actor else None,
        reason=f"hold {status.value}: {reason}"[:500],
        expected_current=BedStatus.HELD,
    )


async def _answerable_hold(principal: Principal, hold_id: int) -> dict[str, Any]:
    hold = await _hold_row(hold_id)
    _require_centre_actor(principal, hold["centre"])
    if hold["status"] not in OPEN_HOLD_STATUSES:
        raise Conflict(
            f"Hold {hold_id} is {hold['status']}.",
            field="hold_id",
            current_status=hold["status"],
        )
    if as_utc(hold["expires_at"]) <= utcnow():
        raise Conflict(
            f"Hold {hold_id} expired at {as_utc(hold['expires_at']).isoformat()}; the bed is "
            "being released.",
            field="hold_id",
        )
    return hold


async def accept_hold(principal: Principal, hold_id: int) -> HoldOut:
    async with write_transaction():
        hold = await _answerable_hold(principal, hold_id)
        if hold["status"] != HoldStatus.PENDING.value:
            raise Conflict(f"Hold {hold_id} was already accepted.", field="hold_id")
        now = utcnow()
        await Hold.update(
            {
                Hold.status: HoldStatus.ACCEPTED.value,
                Hold.responded_at: now,
                Hold.responded_by: principal.user_id,
            }
        ).where((Hold.id == hold_id) & (Hold.status == HoldStatus.PENDING.value))
        request = await _request_row(hold["request"])
        await _set_request_status(
            request,
            RequestStatus.ACCEPTED,
            principal,
            "accepted",
            allowed_from=[RequestStatus.HELD.value],
            detail={"hold_id": hold_id},
        )
        case = await _case_by_id(request["case"])
        await audit.record(principal, case["case_code"], "accept_hold", f"hold {hold_id}")
        return (await _hold_outs([await _hold_row(hold_id)], principal))[0]


async def refuse_hold(principal: Principal, hold_id: int, data: RefusalIn) -> HoldOut:
    if data.reason is RefusalReason.OTHER and not data.text.strip():
        raise InvalidInput("Say why in `text` when the reason is other.", field="text")
    async with write_transaction():
        hold = await _answerable_hold(principal, hold_id)
        await _close_hold(
            hold, HoldStatus.REFUSED, principal, reason=data.reason.value, refusal=data
        )
        request = await _request_row(hold["request"])
        await _set_request_status(
            request,
            RequestStatus.OPEN,
            principal,
            "refused",
            allowed_from=[RequestStatus.HELD.value, RequestStatus.ACCEPTED.value],
            reason=f"{data.reason.value}: {data.text}".rstrip(": "),
            detail={"hold_id": hold_id, "refusal_reason": data.reason.value},
        )
        case = await _case_by_id(request["case"])
        await audit.record(principal, case["case_code"], "refuse_hold", f"hold {hold_id}")
        out = (await _hold_outs([await _hold_row(hold_id)], principal))[0]
    return out


async def cancel_hold(principal: Principal, hold_id: int, reason: str) -> HoldOut:
    async with write_transaction():
        hold = await _hold_row(hold_id)
        request = await _request_row(hold["request"])
        case = await _case_by_id(request["case"])
        _require_case_manager(principal, case)
        await _close_hold(hold, HoldStatus.CANCELLED, principal, reason=reason)
        await _set_request_status(
            request,
            RequestStatus.OPEN,
            principal,
            "hold_cancelled",
            allowed_from=[RequestStatus.HELD.value, RequestStatus.ACCEPTED.value],
            reason=reason,
            detail={"hold_id": hold_id},
        )
        await audit.record(principal, case["case_code"], "cancel_hold", f"hold {hold_id}")
        out = (await _hold_outs([await _hold_row(hold_id)], principal))[0]
    return out


def _check_centre_filter(centre_id: int | None) -> None:
    if centre_id is not None and not is_storable_id(centre_id):
        raise NotFound(f"Centre {centre_id} does not exist.", field="centre_id")


async def list_holds(principal: Principal, centre_id: int | None = None) -> list[HoldOut]:
    _check_centre_filter(centre_id)
    query = Hold.select().where(Hold.status.is_in(list(OPEN_HOLD_STATUSES))).order_by(Hold.id)
    if principal.role is Role.CENTRE_STAFF:
        if centre_id is not None:
            _require_centre_actor(principal, centre_id)
        query = query.where(Hold.centre.is_in(sorted(principal.centre_ids) or [0]))
    elif principal.role not in (Role.ADMIN, Role.COORDINATOR):
        raise Forbidden(f"A {principal.role} does not answer holds.")
    if centre_id is not None:
        query = query.where(Hold.centre == centre_id)
    async with write_transaction():
        rows = await query
        outs = await _hold_outs(rows, principal)
        await audit.record_many(principal, [out.case_code for out in outs], "list_holds")
    return outs


# ---------------------------------------------------------------------------
# Stays


def _unmet_needs(match_request: MatchRequest, case: dict[str, Any], bed: BedCandidate) -> list[str]:
    offered = effective_capabilities(bed)
    needs = set(case["care_needs"]) | set(match_request.required_capabilities)
    if match_request.needs_exploitation_care:
        needs.add(EXPLOITATION_CARE)
    return sorted(needs - offered)


async def admit(principal: Principal, hold_id: int) -> StayOut:
    async with write_transaction():
        hold = await _answerable_hold(principal, hold_id)
        request = await _request_row(hold["request"])
        match_request, case = await _match_input(request)
        [bed_row] = await capacity.beds_for_matching(bed_ids=[hold["bed"]])
        bed = _candidate_of(bed_row)
        now = utcnow()
        if hold["status"] == HoldStatus.PENDING.value:
            await Hold.update({Hold.responded_at: now, Hold.responded_by: principal.user_id}).where(
                Hold.id == hold_id
            )
        await Hold.update({Hold.status: HoldStatus.ADMITTED.value, Hold.closed_at: now}).where(
            (Hold.id == hold_id) & Hold.status.is_in(list(OPEN_HOLD_STATUSES))
        )
        await capacity.transition_bed(
            hold["bed"],
            BedStatus.OCCUPIED,
            actor_id=principal.user_id,
            reason=f"admitted (request {request['id']})",
            expected_current=BedStatus.HELD,
        )
        fallback = (
            match_request.needs_exploitation_care
            and EXPLOITATION_CARE not in effective_capabilities(bed)
        )
        stay = (
            await Stay.insert(
                Stay(
                    case=case["id"],
                    request=request["id"],
                    hold=hold_id,
                    bed=hold["bed"],
                    centre=hold["centre"],
                    status=StayStatus.ACTIVE.value,
                    fallback=fallback,
                    unmet_needs=_unmet_needs(match_request, case, bed),
                    admitted_at=now,
                    admitted_by=principal.user_id,
                    end_note="",
                )
            ).returning(*Stay.all_columns())
        )[0]
        await _set_request_status(
            request,
            RequestStatus.PLACED,
            principal,
            "admitted",
            allowed_from=[RequestStatus.HELD.value, RequestStatus.ACCEPTED.value],
            reason="fallback placement: not a specialised place" if fallback else "",
            detail={"hold_id": hold_id, "stay_id": stay["id"], "fallback": fallback},
        )
        await audit.record(principal, case["case_code"], "admit", f"stay {stay['id']}")
        return (await _stay_outs([stay]))[0]


async def discharge(principal: Principal, stay_id: int, data: DischargeIn) -> StayOut:
    if data.reason is StayEndReason.NOT_RETURNED:
        raise InvalidInput(
            "A stay ends as not_returned only when a runaway's keep-bed period runs out.",
            field="reason",
        )
    async with write_transaction():
        stay = await _stay_row(stay_id)
        _require_centre_actor(principal, stay["centre"])
        now = utcnow()
        won = (
            await Stay.update(
                {
                    Stay.status: StayStatus.ENDED.value,
                    Stay.ended_at: now,
                    Stay.ended_by: principal.user_id,
                    Stay.end_reason: data.reason.value,
                    Stay.end_note: data.note,
                }
            )
            .where((Stay.id == stay_id) & Stay.status.is_in(list(LIVE_STAY_STATUSES)))
            .returning(Stay.id)
        )
        if not won:
            raise Conflict(f"Stay {stay_id} has already ended.", field="stay_id")
        await capacity.transition_bed(
            stay["bed"],
            BedStatus.AVAILABLE,
            actor_id=principal.user_id,
            reason=f"{data.reason.value} (stay {stay_id})",
            expected_current=BedStatus.OCCUPIED,
        )
        case = await _case_by_id(stay["case"])
        await audit.record(principal, case["case_code"], "end_stay", data.reason.value)
        out = (await _stay_outs([await _stay_row(stay_id)]))[0]
    return out


async def list_stays(principal: Principal, centre_id: int | None = None) -> list[StayOut]:
    _check_centre_filter(centre_id)
    query = Stay.select().where(Stay.status.is_in(list(LIVE_STAY_STATUSES))).order_by(Stay.id)
    if principal.role is Role.CENTRE_STAFF:
        if centre_id is not None:
            _require_centre_actor(principal, centre_id)
        query = query.where(Stay.centre.is_in(sorted(principal.centre_ids) or [0]))
    elif principal.role not in (Role.ADMIN, Role.COORDINATOR):
        raise Forbidden(f"A {principal.role} does not list stays.")
    if centre_id is not None:
        query = query.where(Stay.centre == centre_id)
    async with write_transaction():
        outs = await _stay_outs(await query)
        await audit.record_many(principal, [out.case_code for out in outs], "list_stays")
    return outs


async def guard_manual_bed_change(bed_id: int, current: BedStatus, target: BedStatus) -> None:
    """A bed that a hold or a stay owns changes through that hold or stay, not by hand."""
    if current is BedStatus.HELD and await Hold.exists().where(
        (Hold.bed == bed_id) & Hold.status.is_in(list(OPEN_HOLD_STATUSES))
    ):
        raise Conflict(
            "This bed is held for a placement request: accept, refuse or admit the hold.",
            field="status",
        )
    if current is BedStatus.OCCUPIED and await Stay.exists().where(
        (Stay.bed == bed_id) & Stay.status.is_in(list(LIVE_STAY_STATUSES))
    ):
        raise Conflict(
            "A placed minor occupies this bed: end the stay (discharge or transfer) instead.",
            field="status",
        )


capacity.add_manual_change_guard(guard_manual_bed_change)


# ---------------------------------------------------------------------------
# Scheduled work: expired holds, overdue answers, the waiting list


async def release_expired_holds(now: datetime | None = None) -> int:
    """Release every hold past its expiry; each in its own transaction. Safe to run twice."""
    now = now or utcnow()
    # A late job run must not skip the overdue answer of a hold it is about to expire.
    await record_overdue_responses(now)
    due = await Hold.select(Hold.id).where(
        Hold.status.is_in(list(OPEN_HOLD_STATUSES)) & (Hold.expires_at <= now)
    )
    released = 0
    for row in due:
        async with write_transaction():
            hold = await _hold_row(row["id"])
            if hold["status"] not in OPEN_HOLD_STATUSES:
                continue
            await _close_hold(hold, HoldStatus.EXPIRED, None, reason="no admission in time")
            request = await _request_row(hold["request"])
            await _set_request_status(
                request,
                RequestStatus.OPEN,
                None,
                "hold_expired",
                allowed_from=[RequestStatus.HELD.value, RequestStatus.ACCEPTED.value],
                reason="the hold expired before admission",
                detail={"hold_id": hold["id"]},
            )
            await events.record(
                HOLD_EXPIRED,
                f"{HOLD_EXPIRED}:{hold['id']}",
                {
                    "hold_id": hold["id"],
                    "request_id": request["id"],
                    "centre_id": hold["centre"],
                    "officer_id": hold["created_by"],
                },
            )
            released += 1
    return released


async def record_overdue_responses(now: datetime | None = None) -> int:
    """Record once, for each pending hold past its response deadline, that it is overdue."""
    now = now or utcnow()
    due = await Hold.select().where(
        (Hold.status == HoldStatus.PENDING.value) & (Hold.respond_by <= now)
    )
    recorded = 0
    for hold in due:
        async with write_transaction():
            fresh = await events.record(
                HOLD_RESPONSE_OVERDUE,
                f"{HOLD_RESPONSE_OVERDUE}:{hold['id']}",
                {
                    "hold_id": hold["id"],
                    "request_id": hold["request"],
                    "centre_id": hold["centre"],
                    "officer_id": hold["created_by"],
                    "respond_by": as_utc(hold["respond_by"]).isoformat(),
                },
            )
            if fresh:
                await _record_request_event(
                    hold["request"],
                    None,
                    "response_overdue",
                    reason="the centre did not answer in time",
                    detail={"hold_id": hold["id"], "centre_id": hold["centre"]},
                )
                recorded += 1
    return recorded


async def record_expiring_holds(now: datetime | None = None) -> int:
    """Record once, for each hold that expires within HOLD_EXPIRING_MINUTES without an
    admission, that its end is near."""
    now = now or utcnow()
    soon = now + timedelta(minutes=get_settings().hold_expiring_minutes)
    recorded = 0
    async with write_transaction():
        due = await Hold.select().where(
            Hold.status.is_in(list(OPEN_HOLD_STATUSES))
            & (Hold.expires_at > now)
            & (Hold.expires_at <= soon)
        )
        for hold in due:
            fresh = await events.record(
                HOLD_EXPIRING,
                f"{HOLD_EXPIRING}:{hold['id']}",
                {
                    "hold_id": hold["id"],
                    "request_id": hold["request"],
                    "centre_id": hold["centre"],
                    "officer_id": hold["created_by"],
                    "expires_at": as_utc(hold["expires_at"]).isoformat(),
                },
            )
            if fresh:
                recorded += 1
    return recorded


async def _requests_with_a_live_offer(request_ids: list[int], freed_bed_id: int) -> set[int]:
    """Requests whose latest offer is of another bed still free: one open offer at a time
    each, so an officer who has not answered yet does not take every bed that frees up."""
    if not request_ids:
        return set()
    offers = (
        await RequestEvent.select(RequestEvent.request, RequestEvent.detail)
        .where(RequestEvent.request.is_in(request_ids) & (RequestEvent.action == "offered"))
        .order_by(RequestEvent.id)
    )
    latest_bed = {row["request"]: events.as_dict(row["detail"])["bed_id"] for row in offers}
    if not latest_bed:
        return set()
    free = {
        row["id"]
        for row in await capacity.beds_for_matching(bed_ids=sorted(set(latest_bed.values())))
        if row["status"] == BedStatus.AVAILABLE.value and row["id"] != freed_bed_id
    }
    return {request_id for request_id, bed_id in latest_bed.items() if bed_id in free}


async def offer_freed_bed(event_id: int, payload: dict[str, Any]) -> None:
    """A bed became available: offer it to the first waiting request it suits, in priority
    order (urgency, then time waited). Runs inside the event's transaction."""
    rows = await capacity.beds_for_matching(bed_ids=[payload["bed_id"]])
    if not rows or rows[0]["status"] != BedStatus.AVAILABLE.value or not rows[0]["active"]:
        return
    bed = _candidate_of(rows[0])
    waiting = await PlacementRequest.select().where(
        PlacementRequest.status == RequestStatus.WAITING.value
    )
    waiting.sort(
        key=lambda r: (
            URGENCY_ORDER[Urgency(r["urgency"])],
            as_utc(r["waiting_since"] or r["created_at"]),
            r["id"],
        )
    )
    holding_an_offer = await _requests_with_a_live_offer([r["id"] for r in waiting], bed.bed_id)
    for request in waiting:
        if request["id"] in holding_an_offer:
            continue
        match_request, case = await _match_input(request)
        broken, scored = _assess(match_request, bed)
        if broken is not None:
            continue
        offer = {
            "request_id": request["id"],
            "case_code": case["case_code"],
            "officer_id": request["created_by"],
            "bed_id": bed.bed_id,
            "bed_label": bed.bed_label,
            "centre_id": bed.centre_id,
            "centre_name": bed.centre_name,
            "score": round(scored.score, 2),
            "fallback": scored.fallback,
        }
        if await events.record(WAITING_REQUEST_OFFER, f"{WAITING_REQUEST_OFFER}:{event_id}", offer):
            await _record_request_event(
                request["id"],
                None,
                "offered",
                reason=f"bed {bed.bed_label} at {bed.centre_name} became free",
                detail=offer,
            )
        return


events.on(capacity.BED_FREED, offer_freed_bed, consumer="placement")


# ---------------------------------------------------------------------------
# Batch allocation (coordinators)


async def _waiting_inputs() -> tuple[list[AllocationRequest], dict[int, dict[str, Any]]]:
    waiting = await PlacementRequest.select().where(
        PlacementRequest.status == RequestStatus.WAITING.value
    )
    waiting.sort(key=lambda r: (URGENCY_ORDER[Urgency(r["urgency"])], r["id"]))
    case_ids = sorted({request["case"] for request in waiting})
    case_rows = (
        {row["id"]: row for row in await YouthCase.select().where(YouthCase.id.is_in(case_ids))}
        if case_ids
        else {}
    )
    flagged = await _flagged_case_ids(case_ids)
    inputs, cases = [], {}
    for request in waiting:
        case = case_rows[request["case"]]
        match_request = _match_request(request, case, request["case"] in flagged)
        if match_request.urgency is Urgency.PLANNED:
            # Holds take beds free now: a planned request competes for those too.
            match_request = _free_now_only(match_request)
        inputs.append(AllocationRequest(request_id=request["id"], match=match_request))
        cases[request["id"]] = {**request, "case_code": case["case_code"]}
    return inputs, cases


def _free_now_only(match_request: MatchRequest) -> MatchRequest:
    return replace(match_request, urgency=Urgency.WITHIN_24H)


async def propose_allocation(principal: Principal) -> AllocationOut:
    _require_role(principal, Role.COORDINATOR)
    async with write_transaction():
        inputs, requests = await _waiting_inputs()
        rows = await capacity.beds_for_matching()
        pool = BedPool.from_beds([_candidate_of(row) for row in rows])
        result = allocate(inputs, pool)
        await audit.record_many(
            principal, sorted({r["case_code"] for r in requests.values()}), "batch_proposal"
        )
    return AllocationOut(
        proposals=[
            ProposalOut(
                request_id=p.request_id,
                case_code=requests[p.request_id]["case_code"],
                urgency=Urgency(requests[p.request_id]["urgency"]),
                bed_id=p.bed.bed_id,
                bed_label=p.bed.bed_label,
                centre_id=p.bed.centre_id,
                centre_name=p.bed.centre_name,
                score=round(p.score, 2),
                weighted_score=round(p.weighted_score, 2),
                fallback=p.fallback,
            )
            for p in result.proposals
        ],
        unassigned_request_ids=list(result.unassigned_request_ids),
        total_weighted_score=round(result.total_weighted_score, 2),
    )


async def confirm_allocation(principal: Principal, data: AllocationConfirm) -> list[HoldOut]:
    """Hold every proposed bed in one transaction: all of them, or none if one was taken."""
    _require_role(principal, Role.COORDINATOR)
    request_ids = [a.request_id for a in data.assignments]
    bed_ids = [a.bed_id for a in data.assignments]
    for field, ids in (("request_id", request_ids), ("bed_id", bed_ids)):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise InvalidInput(
                f"{field} {repeated[0]} appears twice in the assignments.", field="assignments"
            )
    holds = []
    async with write_transaction():
        # Beds in id order, so two confirmations never wait on each other in a cycle.
        for assignment in sorted(data.assignments, key=lambda a: a.bed_id):
            request = await _request_row(assignment.request_id)
            try:
                holds.append(await _place_hold(principal, request, assignment.bed_id))
            except Conflict as error:
                raise Conflict(
                    f"Nothing was held: request {assignment.request_id} → bed "
                    f"{assignment.bed_id}: {error.detail}",
                    field="assignments",
                    request_id=assignment.request_id,
                    bed_id=assignment.bed_id,
                ) from error
        holds.sort(key=lambda h: h["id"])
        return await _hold_outs(holds, principal)


# ---------------------------------------------------------------------------
# Facts the notifications domain needs about a request


async def request_facts(request_id: int) -> dict[str, Any] | None:
    """Where and for whom a request is: its urgency, country, service and officer."""
    return (
        await PlacementRequest.select(
            PlacementRequest.urgency,
            PlacementRequest.home_country,
            PlacementRequest.requesting_service,
            PlacementRequest.created_by.as_alias("officer_id"),
        )
        .where(PlacementRequest.id == request_id)
        .first()
    )


async def activity_stamp() -> tuple[int, ...]:
    """Changes when a request, hold, stay or runaway changes: the last request event, the
    last runaway episode, how many have been closed and checklist items ticked (for live
    pages)."""
    # A candidate list shown changes nothing, and the request page records one each time
    # it is shown: counting it would make that live page refresh itself forever.
    last_event = (
        await RequestEvent.select(RequestEvent.id)
        .where(RequestEvent.action != "candidates_shown")
        .order_by(RequestEvent.id, ascending=False)
        .first()
    )
    last_runaway = (
        await RunawayEpisode.select(RunawayEpisode.id)
        .order_by(RunawayEpisode.id, ascending=False)
        .first()
    )
    closed_or_ticked = [
        await RunawayEpisode.count().where(column.is_not_null())
        for column in (
            RunawayEpisode.returned_at,
            RunawayEpisode.police_informed_at,
            RunawayEpisode.hotline_informed_at,
            RunawayEpisode.referring_service_informed_at,
        )
    ]
    return (
        last_event["id"] if last_event else 0,
        last_runaway["id"] if last_runaway else 0,
        *closed_or_ticked,
    )
