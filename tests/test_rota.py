"""On-call arithmetic: local wall-clock shifts across daylight-saving changes, who is on
call, the next escalation level, retry backoff. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifications import rota
from notifications.rules import RULES, severity_of
from notifications.vocabulary import AlertKind, Audience, Severity

pytestmark = pytest.mark.pure

BRUSSELS = ZoneInfo("Europe/Brussels")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_local_time_becomes_utc_with_the_offset_of_its_season():
    assert rota.local_to_utc(datetime(2027, 1, 15, 20, 0), BRUSSELS) == utc(2027, 1, 15, 19)
    assert rota.local_to_utc(datetime(2027, 7, 15, 20, 0), BRUSSELS) == utc(2027, 7, 15, 18)


def test_a_time_skipped_when_the_clocks_go_forward_is_refused():
    with pytest.raises(rota.NonexistentLocalTime, match="does not exist in Europe/Brussels"):
        rota.local_to_utc(datetime(2027, 3, 28, 2, 30), BRUSSELS)


def test_a_time_that_happens_twice_when_the_clocks_go_back_is_its_first_occurrence():
    # 02:30 on 31 October 2027 happens at 00:30 UTC (summer time) and again at 01:30 UTC.
    assert rota.local_to_utc(datetime(2027, 10, 31, 2, 30), BRUSSELS) == utc(2027, 10, 31, 0, 30)


def test_a_weekly_night_shift_keeps_its_wall_clock_hours_across_both_changes():
    spring = rota.weekly_shifts(
        datetime(2027, 3, 20, 20, 0), datetime(2027, 3, 21, 8, 0), 2, BRUSSELS
    )
    assert [(end - start) for start, end in spring] == [timedelta(hours=12), timedelta(hours=11)]
    assert spring[1][0] == utc(2027, 3, 27, 19)  # 20:00 winter time
    assert spring[1][1] == utc(2027, 3, 28, 6)  # 08:00 summer time
    autumn = rota.weekly_shifts(
        datetime(2027, 10, 30, 20, 0), datetime(2027, 10, 31, 8, 0), 1, BRUSSELS
    )
    assert autumn[0][1] - autumn[0][0] == timedelta(hours=13)


def test_the_province_rota_comes_first_then_the_country():
    at = utc(2027, 1, 15, 22)
    night = (utc(2027, 1, 15, 19), utc(2027, 1, 16, 7))
    shifts = [
        rota.Shift(1, "BE", 1, *night),
        rota.Shift(2, "BE-WLG", 1, *night),
        rota.Shift(3, "BE", 2, *night),
        rota.Shift(4, "BE-WLG", 1, utc(2027, 1, 16, 7), utc(2027, 1, 16, 19)),  # later
    ]
    assert rota.on_call_at(shifts, "BE-WLG", 1, at) == [2]
    assert rota.on_call_at(shifts, "BE-VAN", 1, at) == [1]
    assert rota.on_call_at(shifts, "BE-WLG", 2, at) == [3]
    assert rota.on_call_at(shifts, "BE-WLG", 3, at) == []
    # A shift ends at its end time exactly, and the next one starts then.
    assert rota.on_call_at(shifts, "BE-WLG", 1, utc(2027, 1, 16, 7)) == [4]


def test_escalation_skips_a_level_nobody_staffs():
    assert rota.next_level(0, {1: [5], 2: [6], 3: [7]}) == 1
    assert rota.next_level(1, {1: [5], 2: [], 3: [7]}) == 3
    assert rota.next_level(3, {1: [5], 2: [6], 3: [7]}) is None
    assert rota.next_level(0, {1: [], 2: [], 3: []}) is None


def test_retries_back_off_exponentially_up_to_a_cap():
    waits = [rota.backoff(n).total_seconds() for n in range(1, 12)]
    assert waits[:5] == [5, 10, 20, 40, 80]
    assert max(waits) == 1800
    assert waits == sorted(waits)
    assert rota.backoff(1000).total_seconds() == 1800


def test_the_rule_table_covers_every_kind_and_pages_only_what_needs_a_person():
    assert set(RULES) == set(AlertKind)
    paged = {kind for kind, rule in RULES.items() if rule.escalates}
    assert paged == {
        AlertKind.RUNAWAY,
        AlertKind.RUNAWAY_UNRESOLVED,
        AlertKind.URGENT_REQUEST_UNMATCHED,
    }
    for kind in paged:
        assert Audience.ON_CALL in RULES[kind].audiences
    assert Audience.REFERRING_SERVICE in RULES[AlertKind.RUNAWAY].audiences
    assert Audience.REQUEST_OFFICER in RULES[AlertKind.VACANCY_FOR_WAITING_REQUEST].audiences


def test_a_runaway_below_high_risk_is_high_not_critical():
    assert severity_of(AlertKind.RUNAWAY, {"risk_level": "high"}) is Severity.CRITICAL
    assert severity_of(AlertKind.RUNAWAY, {"risk_level": "medium"}) is Severity.HIGH
    assert severity_of(AlertKind.HOLD_EXPIRING, {}) is Severity.NORMAL
