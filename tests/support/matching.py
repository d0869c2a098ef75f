"""Building blocks for the pure matching and allocation tests: a bed with sensible defaults."""

from __future__ import annotations

from capacity.vocabulary import BedStatus, CentreKind, GenderPolicy
from placement.matching import BedCandidate

BRUSSELS = (50.85, 4.35)


def bed(bed_id: int = 1, **changes: object) -> BedCandidate:
    place = changes.pop("at", BRUSSELS)
    values: dict[str, object] = {
        "bed_id": bed_id,
        "bed_label": f"B{bed_id}",
        "unit_id": 1,
        "unit_name": "Unit 1",
        "centre_id": 1,
        "centre_name": "Centre A",
        "centre_kind": CentreKind.YOUTH_AID_RESIDENTIAL,
        "status": BedStatus.AVAILABLE,
        "expected_departure": None,
        "min_age": 12,
        "max_age": 17,
        "gender_policy": GenderPolicy.MIXED,
        "capabilities": frozenset(),
        "languages": frozenset({"fr"}),
        "country": "BE",
        "province": "BE-BRU",
        "municipality": "Bruxelles",
        "latitude": place[0],
        "longitude": place[1],
    }
    values.update(changes)
    return BedCandidate(**values)
