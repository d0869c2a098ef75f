"""The closed vocabularies of the placement domain. Pure data, no I/O."""

from __future__ import annotations

from enum import StrEnum


class Urgency(StrEnum):
    IMMEDIATE = "immediate"
    WITHIN_24H = "within_24h"
    PLANNED = "planned"


class ExploitationType(StrEnum):
    PROSTITUTION = "prostitution"
    LOVERBOY_GROOMING = "loverboy_grooming"
    SEXTORTION = "sextortion"
    TRAFFICKING = "trafficking"
    OTHER = "other"


class NationalityGroup(StrEnum):
    BELGIAN = "belgian"
    EU = "eu"
    NON_EU = "non_eu"
    STATELESS = "stateless"
    UNKNOWN = "unknown"


class MigrationStatus(StrEnum):
    NONE = "none"  # no migration background relevant to the placement
    UNACCOMPANIED_FOREIGN_MINOR = "unaccompanied_foreign_minor"
    ASYLUM_SEEKER_WITH_FAMILY = "asylum_seeker_with_family"
    RECOGNISED_REFUGEE = "recognised_refugee"
    UNDOCUMENTED = "undocumented"
    UNKNOWN = "unknown"


class FlagStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"  # a later flag states the earlier one no longer applies


class RequestStatus(StrEnum):
    OPEN = "open"
    WAITING = "waiting"
    HELD = "held"
    ACCEPTED = "accepted"
    PLACED = "placed"
    CANCELLED = "cancelled"


class HoldStatus(StrEnum):
    PENDING = "pending"  # waiting for the centre's answer
    ACCEPTED = "accepted"
    REFUSED = "refused"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    ADMITTED = "admitted"


class RefusalReason(StrEnum):
    NO_PLACE_IN_PRACTICE = "no_place_in_practice"
    UNSUITABLE_GROUP = "unsuitable_group"
    SAFETY = "safety"
    OTHER = "other"


class StayStatus(StrEnum):
    ACTIVE = "active"
    ON_RUNAWAY = "on_runaway"
    ENDED = "ended"


class StayEndReason(StrEnum):
    DISCHARGE = "discharge"
    TRANSFER = "transfer"
    MAJORITY = "majority"
    NOT_RETURNED = "not_returned"


class DistancePreference(StrEnum):
    """What distance means for this minor, beyond the hard safety distance."""

    NONE = "none"
    AWAY_FROM_DANGER = "away_from_danger"
    NEAR_REFERENCE = "near_reference"  # near school or family, only where it is safe


class RunawayKind(StrEnum):
    MISSING = "missing"  # whereabouts unknown
    AWAY_WITHOUT_AUTHORISATION = "away_without_authorisation"  # whereabouts known, not back


class RiskLevel(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
