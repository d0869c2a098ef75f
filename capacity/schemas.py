"""API input and output shapes of the capacity registry."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from backend.schemas import NO_NUL, Input
from capacity.vocabulary import (
    MAX_AGE,
    MIN_AGE,
    BedStatus,
    Capability,
    CentreKind,
    Community,
    Country,
    GenderPolicy,
)

Name = Annotated[str, Meta(min_length=1, max_length=160, pattern=NO_NUL)]
ShortName = Annotated[str, Meta(min_length=1, max_length=120, pattern=NO_NUL)]
Label = Annotated[str, Meta(min_length=1, max_length=40, pattern=NO_NUL)]
Age = Annotated[int, Meta(ge=MIN_AGE, le=MAX_AGE)]
Latitude = Annotated[float, Meta(ge=-90, le=90)]
Longitude = Annotated[float, Meta(ge=-180, le=180)]
LanguageCode = Annotated[str, Meta(pattern=r"^[a-z]{2,3}$")]
ProvinceCode = Annotated[str, Meta(pattern=r"^[A-Z]{2}-[A-Z]{2,3}$")]
Reason = Annotated[str, Meta(max_length=500, pattern=NO_NUL)]
Address = Annotated[str, Meta(max_length=300, pattern=NO_NUL)]
Operator = Annotated[str, Meta(max_length=160, pattern=NO_NUL)]


class BedsCreate(Input, kw_only=True):
    labels: Annotated[list[Label], Meta(min_length=1, max_length=200)]


class UnitCreate(Input, kw_only=True):
    name: ShortName
    min_age: Age
    max_age: Age
    gender_policy: GenderPolicy
    bed_labels: Annotated[list[Label], Meta(max_length=200)] = []


class UnitUpdate(Input, kw_only=True):
    name: ShortName | UnsetType = UNSET
    min_age: Age | UnsetType = UNSET
    max_age: Age | UnsetType = UNSET
    gender_policy: GenderPolicy | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class CentreCreate(Input, kw_only=True):
    name: Name
    operator: Operator = ""
    country: Country
    community: Community | None = None
    province: ProvinceCode
    municipality: ShortName
    latitude: Latitude
    longitude: Longitude
    kind: CentreKind
    capabilities: list[Capability] = []
    languages: Annotated[list[LanguageCode], Meta(max_length=20)] = []
    address: Address = ""
    address_confidential: bool = False
    units: Annotated[list[UnitCreate], Meta(max_length=50)] = []


class CentreUpdate(Input, kw_only=True):
    name: Name | UnsetType = UNSET
    operator: Operator | UnsetType = UNSET
    country: Country | UnsetType = UNSET
    community: Community | UnsetType | None = UNSET
    province: ProvinceCode | UnsetType = UNSET
    municipality: ShortName | UnsetType = UNSET
    latitude: Latitude | UnsetType = UNSET
    longitude: Longitude | UnsetType = UNSET
    kind: CentreKind | UnsetType = UNSET
    capabilities: list[Capability] | UnsetType = UNSET
    languages: Annotated[list[LanguageCode], Meta(max_length=20)] | UnsetType = UNSET
    address: Address | UnsetType = UNSET
    address_confidential: bool | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class BedUpdate(Input, kw_only=True):
    label: Label | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class BedStatusChange(Input, kw_only=True):
    status: BedStatus
    reason: Reason = ""
    expected_status: BedStatus | None = None
    """The status the user saw; if the bed changed since, the change is refused (409)."""


class ExpectedDepartureIn(Input, kw_only=True):
    expected_departure: date | None


class Freshness(msgspec.Struct, kw_only=True):
    last_update_at: datetime | None
    minutes_since_update: int | None
    stale: bool


class BedOut(msgspec.Struct, kw_only=True):
    id: int
    unit_id: int
    label: str
    status: BedStatus
    expected_departure: date | None
    active: bool


class UnitOut(msgspec.Struct, kw_only=True):
    id: int
    centre_id: int
    name: str
    min_age: int
    max_age: int
    gender_policy: GenderPolicy
    active: bool
    beds: list[BedOut] = []


class CentreOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    operator: str
    country: Country
    community: Community | None
    province: str
    municipality: str
    latitude: float
    longitude: float
    kind: CentreKind
    capabilities: list[Capability]
    languages: list[str]
    address_confidential: bool
    address: str | None
    """None when the address is confidential and the reader is not allowed to see it."""
    active: bool
    freshness: Freshness
    units: list[UnitOut] = []


class BedDeleted(msgspec.Struct, kw_only=True):
    id: int
    deleted: bool
    """True when the bed was removed; False when it had history and was deactivated instead."""
    bed: BedOut | None


class OccupancyEventOut(msgspec.Struct, kw_only=True):
    id: int
    bed_id: int
    at: datetime
    actor: str | None
    from_status: BedStatus | None
    to_status: BedStatus
    reason: str


class VacantBed(msgspec.Struct, kw_only=True):
    id: int
    label: str
    unit_id: int
    unit_name: str
    min_age: int
    max_age: int
    gender_policy: GenderPolicy
    status: BedStatus
    expected_departure: date | None
    free_now: bool


class CentreVacancies(msgspec.Struct, kw_only=True):
    centre_id: int
    name: str
    kind: CentreKind
    country: Country
    province: str
    municipality: str
    capabilities: list[Capability]
    languages: list[str]
    address: str | None
    address_confidential: bool
    free_now: int
    free_by_date: int | None
    beds: list[VacantBed]
    freshness: Freshness


class VacancySearchOut(msgspec.Struct, kw_only=True):
    centres: list[CentreVacancies]
    total_free_now: int


class ProvinceOut(msgspec.Struct, kw_only=True):
    code: str
    country: Country
    name: str
