"""The closed vocabularies of the capacity registry."""

from __future__ import annotations

from enum import StrEnum


class Country(StrEnum):
    BE = "BE"
    NL = "NL"
    LU = "LU"


class Community(StrEnum):
    """Belgian communities, which run youth aid; centres outside Belgium have none."""

    FLEMISH = "flemish"
    FRENCH = "french"
    GERMAN_SPEAKING = "german_speaking"


class CentreKind(StrEnum):
    SPECIALISED_EXPLOITATION = "specialised_exploitation"
    YOUTH_AID_RESIDENTIAL = "youth_aid_residential"
    EMERGENCY_SHELTER = "emergency_shelter"
    PUBLIC_YOUTH_INSTITUTION = "public_youth_institution"
    MENA_RECEPTION = "mena_reception"
    PSYCHIATRIC_YOUTH = "psychiatric_youth"


class Capability(StrEnum):
    EXPLOITATION_CARE = "exploitation_care"  # specialised care for victims of exploitation
    TRAUMA = "trauma"
    ADDICTION = "addiction"
    MOTHER_AND_CHILD = "mother_and_child"
    DISABILITY = "disability"
    SECURE = "secure"


class GenderPolicy(StrEnum):
    GIRLS = "girls"
    BOYS = "boys"
    MIXED = "mixed"


class MinorGender(StrEnum):
    GIRL = "girl"
    BOY = "boy"
    OTHER = "other"


def policy_admits(policy: GenderPolicy, gender: MinorGender) -> bool:
    """Girls' units take girls, boys' units boys; a minor of another gender only mixed units."""
    if policy is GenderPolicy.MIXED:
        return True
    if policy is GenderPolicy.GIRLS:
        return gender is MinorGender.GIRL
    return gender is MinorGender.BOY


class BedStatus(StrEnum):
    AVAILABLE = "available"
    HELD = "held"
    OCCUPIED = "occupied"
    OUT_OF_SERVICE = "out_of_service"


MIN_AGE = 0
MAX_AGE = 25
