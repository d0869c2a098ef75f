"""The bed state machine (DESIGN §4). Pure: no I/O.

available → held → occupied → available; held → available (refused, expired, cancelled);
any → out_of_service → available. Centre staff may also record an admission that did not
go through a hold (available → occupied): a minor brought in by the police at night must
still show as occupying a bed.
"""

from __future__ import annotations

from capacity.vocabulary import BedStatus

ALLOWED_TRANSITIONS: dict[BedStatus, frozenset[BedStatus]] = {
    BedStatus.AVAILABLE: frozenset({BedStatus.HELD, BedStatus.OCCUPIED, BedStatus.OUT_OF_SERVICE}),
    BedStatus.HELD: frozenset({BedStatus.AVAILABLE, BedStatus.OCCUPIED, BedStatus.OUT_OF_SERVICE}),
    BedStatus.OCCUPIED: frozenset({BedStatus.AVAILABLE, BedStatus.OUT_OF_SERVICE}),
    BedStatus.OUT_OF_SERVICE: frozenset({BedStatus.AVAILABLE}),
}

# A hold is placed only by a placement request (placement domain), never by hand.
MANUAL_TARGETS: frozenset[BedStatus] = frozenset(
    {BedStatus.AVAILABLE, BedStatus.OCCUPIED, BedStatus.OUT_OF_SERVICE}
)


def allowed_targets(current: BedStatus) -> list[BedStatus]:
    return sorted(ALLOWED_TRANSITIONS[current])


def can_transition(current: BedStatus, target: BedStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]
