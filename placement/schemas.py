"""API input and output shapes of the placement domain."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from backend.schemas import NO_NUL, Input
from capacity.schemas import LanguageCode, Latitude, Longitude, ProvinceCode, ShortName
from capacity.vocabulary import Capability, CentreKind, Country, GenderPolicy, MinorGender
from placement.vocabulary import (
    DistancePreference,
    ExploitationType,
    FlagStatus,
    HoldStatus,
    MigrationStatus,
    NationalityGroup,
    RefusalReason,
    RequestStatus,
    RiskLevel,
    RunawayKind,
    StayEndReason,
    StayStatus,
    Urgency,
)

ServiceName = Annotated[str, Meta(min_length=1, max_length=120, pattern=NO_NUL)]
Note = Annotated[str, Meta(max_length=2000, pattern=NO_NUL)]
Reason = Annotated[str, Meta(max_length=500, pattern=NO_NUL)]
BirthYear = Annotated[int, Meta(ge=1990, le=2100)]
BirthMonth = Annotated[int, Meta(ge=1, le=12)]
Languages = Annotated[list[LanguageCode], Meta(max_length=10)]
Capabilities = Annotated[list[Capability], Meta(max_length=len(Capability))]
DistanceKm = Annotated[float, Meta(gt=0, le=1000)]
AwareTime = Annotated[datetime, Meta(tz=True)]
"""A moment with its UTC offset (a time without one would be ambiguous)."""
PoliceReference = Annotated[str, Meta(min_length=1, max_length=60, pattern=NO_NUL)]


# ---------------------------------------------------------------------------
# Cases and flags


class CaseCreate(Input, kw_only=True):
    birth_year: BirthYear
    birth_month: BirthMonth
    gender: MinorGender
    languages: Languages = []
    nationality_group: NationalityGroup = NationalityGroup.UNKNOWN
    migration_status: MigrationStatus = MigrationStatus.UNKNOWN
    care_needs: Capabilities = []


class CaseUpdate(Input, kw_only=True):
    languages: Languages | UnsetType = UNSET
    nationality_group: NationalityGroup | UnsetType = UNSET
    migration_status: MigrationStatus | UnsetType = UNSET
    care_needs: Capabilities | UnsetType = UNSET


class FlagCreate(Input, kw_only=True):
    exploitation_type: ExploitationType
    discovered_on: date
    source_service: ServiceName
    note: Note = ""
    status: FlagStatus = FlagStatus.ACTIVE
    supersedes: int | None = None
    """The id of an earlier flag of this case that this one corrects or withdraws."""


class FlagOut(msgspec.Struct, kw_only=True):
    id: int
    exploitation_type: ExploitationType
    status: FlagStatus
    discovered_on: date
    source_service: str
    note: str
    supersedes: int | None
    superseded_by: int | None
    current: bool
    added_by: str | None
    added_at: datetime


class CaseOut(msgspec.Struct, kw_only=True):
    """A purged case (purged_at set) keeps its code, service and dates: its personal fields
    are null (birth, age, gender, nationality, migration status) or empty (languages, care
    needs, flag notes and sources)."""

    case_code: str
    birth_year: int | None
    birth_month: int | None
    age: int | None
    gender: MinorGender | None
    languages: list[str]
    nationality_group: NationalityGroup | None
    migration_status: MigrationStatus | None
    care_needs: list[Capability]
    service: str
    opened_at: datetime
    closed_at: datetime | None
    exploitation_flagged: bool
    flags: list[FlagOut]
    """Every flag ever added, oldest first; `current` marks those not superseded."""
    runaway_count: int
    """Runaway episodes of this case, over all its stays."""
    purged_at: datetime | None = None
    """When the retention purge erased the personal fields (None: not purged)."""


class CaseSummary(msgspec.Struct, kw_only=True):
    case_code: str
    age: int | None
    """None once the case is purged, like gender."""
    gender: MinorGender | None
    service: str
    exploitation_flagged: bool
    opened_at: datetime


# ---------------------------------------------------------------------------
# Requests


class RequestCreate(Input, kw_only=True):
    case_code: Annotated[str, Meta(min_length=1, max_length=20, pattern=NO_NUL)]
    urgency: Urgency
    needed_on: date | None = None
    """Required for planned requests: the day the bed is needed."""
    required_capabilities: Capabilities = []
    preferred_capabilities: Capabilities = []
    excluded_municipalities: Annotated[list[ShortName], Meta(max_length=50)] = []
    excluded_provinces: Annotated[list[ProvinceCode], Meta(max_length=30)] = []
    excluded_countries: Annotated[list[Country], Meta(max_length=3)] = []
    danger_latitude: Latitude | None = None
    danger_longitude: Longitude | None = None
    safety_distance_km: DistanceKm | None = None
    distance_preference: DistancePreference | None = None
    """Defaults to away_from_danger when a danger point is given, else none."""
    reference_latitude: Latitude | None = None
    reference_longitude: Longitude | None = None
    home_country: Country = Country.BE
    cross_border_allowed: bool = False
    judge_ordered_public_institution: bool = False
    notes: Note = ""
    requesting_service: ServiceName | None = None
    """Defaults to the officer's own service."""


class ReasonIn(Input, kw_only=True):
    reason: Annotated[str, Meta(min_length=1, max_length=500, pattern=NO_NUL)]


class HoldCreate(Input, kw_only=True):
    bed_id: int


class RefusalIn(Input, kw_only=True):
    reason: RefusalReason
    text: Reason = ""
    """Required when the reason is `other`."""


class DischargeIn(Input, kw_only=True):
    reason: StayEndReason = StayEndReason.DISCHARGE
    note: Reason = ""


class ScorePartOut(msgspec.Struct, kw_only=True):
    code: str
    points: float
    reason: str


class CandidateOut(msgspec.Struct, kw_only=True):
    rank: int
    bed_id: int
    bed_label: str
    unit_id: int
    unit_name: str
    min_age: int
    max_age: int
    gender_policy: GenderPolicy
    centre_id: int
    centre_name: str
    centre_kind: CentreKind
    country: str
    province: str
    municipality: str
    score: float
    parts: list[ScorePartOut]
    reasons: list[str]
    free_now: bool
    expected_departure: date | None
    specialised: bool
    fallback: bool
    distance_from_danger_km: float | None


class MatchOut(msgspec.Struct, kw_only=True):
    request_id: int
    request_status: RequestStatus
    candidates: list[CandidateOut]
    candidate_count: int
    excluded: dict[str, int]
    """Beds excluded per hard-constraint reason; with the candidates they add up to total_beds."""
    exclusion_summary: str
    total_beds: int


class HoldOut(msgspec.Struct, kw_only=True):
    id: int
    request_id: int
    case_code: str
    bed_id: int
    bed_label: str
    unit_name: str
    centre_id: int
    centre_name: str
    centre_address: str | None
    """Shown to the officer only once the centre accepted, when the address is confidential."""
    status: HoldStatus
    score: float
    fallback: bool
    created_at: datetime
    respond_by: datetime
    expires_at: datetime
    responded_at: datetime | None
    refusal_reason: RefusalReason | None
    refusal_text: str


class StayOut(msgspec.Struct, kw_only=True):
    id: int
    case_code: str
    request_id: int
    bed_id: int
    bed_label: str
    centre_id: int
    centre_name: str
    status: StayStatus
    fallback: bool
    unmet_needs: list[str]
    admitted_at: datetime
    ended_at: datetime | None
    end_reason: StayEndReason | None
    runaway_count: int
    open_runaway_id: int | None
    """The runaway episode not closed by a return yet, if any."""


class RequestEventOut(msgspec.Struct, kw_only=True):
    at: datetime
    actor: str | None
    action: str
    from_status: RequestStatus | None
    to_status: RequestStatus | None
    reason: str
    detail: dict


class RequestOut(msgspec.Struct, kw_only=True):
    id: int
    case_code: str
    status: RequestStatus
    urgency: Urgency
    needed_on: date | None
    required_capabilities: list[Capability]
    preferred_capabilities: list[Capability]
    excluded_municipalities: list[str]
    excluded_provinces: list[str]
    excluded_countries: list[str]
    danger_latitude: float | None
    danger_longitude: float | None
    safety_distance_km: float | None
    distance_preference: DistancePreference
    reference_latitude: float | None
    reference_longitude: float | None
    home_country: str
    cross_border_allowed: bool
    judge_ordered_public_institution: bool
    notes: str
    requesting_service: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    waiting_since: datetime | None
    hold: HoldOut | None
    """The hold in force (pending or accepted), if any."""
    stay: StayOut | None


class RequestDetail(RequestOut, kw_only=True):
    holds: list[HoldOut]
    events: list[RequestEventOut]


class RequestCreated(msgspec.Struct, kw_only=True):
    request: RequestOut
    match: MatchOut


# ---------------------------------------------------------------------------
# Runaway episodes


class RunawayCreate(Input, kw_only=True):
    last_seen_at: AwareTime
    """When the minor was last seen; not in the future, not before the admission."""
    kind: RunawayKind = RunawayKind.MISSING
    risk_level: RiskLevel | None = None
    """Defaults to high when the case has an active exploitation flag or the minor is under
    14, otherwise medium."""
    circumstances: Note = ""


class ChecklistUpdate(Input, kw_only=True):
    """Only the items sent change. `true` records the item now, with your name (an item
    already recorded keeps its first time); `false` clears it."""

    police_informed: bool | UnsetType = UNSET
    police_reference: PoliceReference | UnsetType | None = UNSET
    """Only with police_informed (sent now or recorded before)."""
    hotline_informed: bool | UnsetType = UNSET
    """The missing-children hotline."""
    referring_service_informed: bool | UnsetType = UNSET
    return_interview_planned_on: date | UnsetType | None = UNSET
    """Only after the return, on or after its day."""


class ReturnIn(Input, kw_only=True):
    returned_at: AwareTime | None = None
    """Defaults to now; not in the future, not before last_seen_at."""


class ChecklistOut(msgspec.Struct, kw_only=True):
    police_informed_at: datetime | None
    police_informed_by: str | None
    police_reference: str | None
    hotline_informed_at: datetime | None
    hotline_informed_by: str | None
    referring_service_informed_at: datetime | None
    referring_service_informed_by: str | None
    return_interview_planned_on: date | None
    return_interview_planned_by: str | None


class RunawayOut(msgspec.Struct, kw_only=True):
    id: int
    stay_id: int
    stay_status: StayStatus
    case_code: str
    centre_id: int
    centre_name: str
    bed_id: int
    bed_label: str
    kind: RunawayKind
    risk_level: RiskLevel
    last_seen_at: datetime
    reported_at: datetime
    reported_by: str | None
    circumstances: str
    checklist: ChecklistOut
    keep_bed_until: datetime
    """The bed is kept until then; afterwards the stay ends as not returned."""
    open: bool
    """True until the return is recorded."""
    returned_at: datetime | None
    returned_by: str | None
    stay_ended_at: datetime | None
    """When the keep-bed period ended the stay (the episode stays open until the return)."""


# ---------------------------------------------------------------------------
# Batch allocation


class ProposalOut(msgspec.Struct, kw_only=True):
    request_id: int
    case_code: str
    urgency: Urgency
    bed_id: int
    bed_label: str
    centre_id: int
    centre_name: str
    score: float
    weighted_score: float
    fallback: bool


class AllocationOut(msgspec.Struct, kw_only=True):
    proposals: list[ProposalOut]
    unassigned_request_ids: list[int]
    total_weighted_score: float


class Assignment(Input, kw_only=True):
    request_id: int
    bed_id: int


class AllocationConfirm(Input, kw_only=True):
    assignments: Annotated[list[Assignment], Meta(min_length=1, max_length=1000)]
