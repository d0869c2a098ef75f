"""The bed state machine and data freshness: pure rules, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from capacity import bed_states
from capacity.freshness import freshness, last_update
from capacity.vocabulary import BedStatus

AVAILABLE = BedStatus.AVAILABLE
HELD = BedStatus.HELD
OCCUPIED = BedStatus.OCCUPIED
OUT = BedStatus.OUT_OF_SERVICE

# DESIGN §4, plus the direct admission (available → occupied) centre staff may record.
EXPECTED_ALLOWED = {
    (AVAILABLE, HELD),
    (AVAILABLE, OCCUPIED),
    (AVAILABLE, OUT),
    (HELD, AVAILABLE),
    (HELD, OCCUPIED),
    (HELD, OUT),
    (OCCUPIED, AVAILABLE),
    (OCCUPIED, OUT),
    (OUT, AVAILABLE),
}
EVERY_PAIR = [(a, b) for a in BedStatus for b in BedStatus]


@pytest.mark.parametrize(("current", "target"), EVERY_PAIR)
def test_can_transition_matches_the_design(current, target):
    assert bed_states.can_transition(current, target) is ((current, target) in EXPECTED_ALLOWED)


@pytest.mark.parametrize("current", list(BedStatus))
def test_allowed_targets_are_sorted_and_agree_with_can_transition(current):
    allowed = bed_states.allowed_targets(current)
    assert allowed == sorted(allowed)
    assert set(allowed) == {t for (c, t) in EXPECTED_ALLOWED if c is current}


def test_no_status_goes_to_itself():
    assert not any(bed_states.can_transition(s, s) for s in BedStatus)


def test_every_status_can_reach_available_and_out_of_service_is_left_only_to_available():
    for status in BedStatus:
        if status is not AVAILABLE:
            assert bed_states.can_transition(status, AVAILABLE)
    assert bed_states.allowed_targets(OUT) == [AVAILABLE]


def test_a_hold_is_never_a_manual_target():
    assert HELD not in bed_states.MANUAL_TARGETS
    assert set(bed_states.MANUAL_TARGETS) == {AVAILABLE, OCCUPIED, OUT}


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def test_last_update_is_the_latest_known_moment():
    older, newer = NOW - timedelta(hours=5), NOW - timedelta(minutes=3)
    assert last_update(older, newer) == newer
    assert last_update(newer, older) == newer
    assert last_update(None, older) == older
    assert last_update(older, None) == older
    assert last_update(None, None) is None
    assert last_update() is None


def test_never_updated_is_stale_with_unknown_age():
    result = freshness(None, NOW, DAY)
    assert result.stale is True
    assert result.last_update_at is None
    assert result.minutes_since_update is None


@pytest.mark.parametrize(
    ("age", "minutes", "stale"),
    [
        (timedelta(0), 0, False),
        (timedelta(seconds=59), 0, False),
        (timedelta(minutes=1), 1, False),
        (timedelta(minutes=90, seconds=30), 90, False),
        (DAY, 24 * 60, False),
        (DAY + timedelta(seconds=1), 24 * 60, True),
        (timedelta(days=3), 3 * 24 * 60, True),
    ],
)
def test_freshness_counts_whole_minutes_and_is_stale_after_the_limit(age, minutes, stale):
    result = freshness(NOW - age, NOW, DAY)
    assert result.last_update_at == NOW - age
    assert result.minutes_since_update == minutes
    assert result.stale is stale


def test_a_moment_slightly_in_the_future_counts_as_just_now():
    # Clocks of two app instances differ by a little: never a negative age.
    result = freshness(NOW + timedelta(seconds=5), NOW, DAY)
    assert result.minutes_since_update == 0
    assert result.stale is False


def test_the_limit_is_a_parameter():
    result = freshness(NOW - timedelta(hours=2), NOW, timedelta(hours=1))
    assert result.stale is True
