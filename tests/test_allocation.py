"""Batch allocation (DESIGN §5): the best total, checked against brute force. No database."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity.vocabulary import BedStatus, Capability, CentreKind, GenderPolicy, MinorGender
from placement.allocation import AllocationRequest, AllocationResult, allocate
from placement.matching import (
    BedPool,
    MatchRequest,
    MatchWeights,
    check_bed,
    evaluate,
)
from placement.vocabulary import DistancePreference, Urgency
from tests.support.matching import bed

pytestmark = pytest.mark.pure

TODAY = date(2025, 3, 3)
POINTS = [(50.85, 4.35), (50.4669, 4.8675), (50.6326, 5.5797), (49.6833, 5.8167)]
TRAUMA = Capability.TRAUMA.value
EXPLOITATION = Capability.EXPLOITATION_CARE.value


def wanted(**changes: object) -> MatchRequest:
    values: dict[str, object] = {
        "age": 15,
        "gender": MinorGender.GIRL,
        "languages": frozenset({"fr"}),
        "urgency": Urgency.IMMEDIATE,
        "needed_on": TODAY,
    }
    values.update(changes)
    return MatchRequest(**values)


def brute_force_best(
    requests: list[AllocationRequest], pool: BedPool, weights: MatchWeights
) -> float:
    """Try every way of giving each request one distinct feasible bed or none."""
    utilities = []
    for request in requests:
        _, feasible, score = evaluate(request.match, pool, weights)
        urgency = weights.urgency_weight[request.match.urgency]
        utilities.append(
            {
                index: urgency * (weights.placement_base + float(score[index]))
                for index in range(len(pool))
                if feasible[index]
            }
        )

    def best(row: int, used: frozenset[int]) -> float:
        if row == len(utilities):
            return 0.0
        options = [best(row + 1, used)]
        for index, utility in utilities[row].items():
            if index not in used:
                options.append(utility + best(row + 1, used | {index}))
        return max(options)

    return best(0, frozenset())


def assert_consistent(
    result: AllocationResult, requests: list[AllocationRequest], weights: MatchWeights
) -> None:
    by_id = {request.request_id: request for request in requests}
    beds_used = [proposal.bed.bed_id for proposal in result.proposals]
    assert len(beds_used) == len(set(beds_used))
    placed = [proposal.request_id for proposal in result.proposals]
    order = [request.request_id for request in requests]
    assert placed == [rid for rid in order if rid in set(placed)]
    assert result.unassigned_request_ids == tuple(rid for rid in order if rid not in placed)
    for proposal in result.proposals:
        match = by_id[proposal.request_id].match
        assert check_bed(match, proposal.bed) is None
        urgency = weights.urgency_weight[match.urgency]
        assert math.isclose(
            proposal.weighted_score, urgency * (weights.placement_base + proposal.score)
        )
        assert proposal.fallback == (
            match.needs_exploitation_care
            and EXPLOITATION not in proposal.bed.capabilities
            and proposal.bed.centre_kind is not CentreKind.SPECIALISED_EXPLOITATION
        )
    assert math.isclose(
        result.total_weighted_score, sum(p.weighted_score for p in result.proposals)
    )


small_beds = st.lists(
    st.builds(
        dict,
        status=st.sampled_from([BedStatus.AVAILABLE, BedStatus.AVAILABLE, BedStatus.OCCUPIED]),
        expected_departure=st.sampled_from([None, TODAY + timedelta(days=3)]),
        min_age=st.sampled_from([0, 0, 12, 14]),
        gender_policy=st.sampled_from([GenderPolicy.MIXED, *GenderPolicy]),
        centre_kind=st.sampled_from(
            [CentreKind.YOUTH_AID_RESIDENTIAL, CentreKind.SPECIALISED_EXPLOITATION]
        ),
        capabilities=st.frozensets(st.sampled_from([TRAUMA, EXPLOITATION])),
        languages=st.frozensets(st.sampled_from(["fr", "nl", "ro"])),
        at=st.sampled_from(POINTS),
    ),
    min_size=1,
    max_size=6,
)

small_requests = st.lists(
    st.builds(
        dict,
        age=st.sampled_from([13, 15, 11, 17]),
        gender=st.sampled_from([MinorGender.GIRL, MinorGender.BOY, MinorGender.OTHER]),
        languages=st.frozensets(st.sampled_from(["fr", "nl", "ro"]), min_size=1),
        urgency=st.sampled_from(Urgency),
        needed_on=st.sampled_from([TODAY, TODAY + timedelta(days=5)]),
        preferred_capabilities=st.frozensets(st.sampled_from([TRAUMA, EXPLOITATION])),
        needs_exploitation_care=st.booleans(),
        danger_point=st.none() | st.sampled_from(POINTS),
        distance_preference=st.sampled_from(DistancePreference),
        reference_point=st.none() | st.sampled_from(POINTS),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bed_rows=small_beds, request_rows=small_requests)
def test_allocation_reaches_the_brute_force_maximum(
    bed_rows: list[dict], request_rows: list[dict]
) -> None:
    beds = []
    for number, row in enumerate(bed_rows, start=1):
        (latitude, longitude), attributes = row["at"], {k: v for k, v in row.items() if k != "at"}
        beds.append(
            bed(
                number,
                centre_name=f"C{number % 2}",
                latitude=latitude,
                longitude=longitude,
                **attributes,
            )
        )
    pool = BedPool.from_beds(beds)
    requests = [
        AllocationRequest(request_id=100 + number, match=wanted(**row))
        for number, row in enumerate(request_rows)
    ]
    weights = MatchWeights()

    result = allocate(requests, pool, weights)

    assert_consistent(result, requests, weights)
    assert math.isclose(
        result.total_weighted_score, brute_force_best(requests, pool, weights), abs_tol=1e-9
    )


def test_the_immediate_request_gets_the_only_bed_over_an_equally_good_planned_one() -> None:
    pool = BedPool.from_beds([bed(1)])
    planned = AllocationRequest(1, wanted(urgency=Urgency.PLANNED, needed_on=TODAY))
    immediate = AllocationRequest(2, wanted(urgency=Urgency.IMMEDIATE))

    result = allocate([planned, immediate], pool)

    assert [(p.request_id, p.bed.bed_id) for p in result.proposals] == [(2, 1)]
    assert result.unassigned_request_ids == (1,)
    weights = MatchWeights()
    expected = weights.urgency_weight[Urgency.IMMEDIATE] * (
        weights.placement_base + weights.language + weights.free_now
    )
    assert result.total_weighted_score == pytest.approx(expected)


def test_each_request_gets_the_bed_that_fits_it() -> None:
    # The flagged case needs the specialised bed more than the other case wants its language.
    specialised = bed(1, centre_kind=CentreKind.SPECIALISED_EXPLOITATION)
    speaks_ro = bed(2, languages=frozenset({"ro"}))
    boys_only = bed(3, gender_policy=GenderPolicy.BOYS)
    flagged = AllocationRequest(10, wanted(needs_exploitation_care=True))
    romanian = AllocationRequest(11, wanted(languages=frozenset({"ro"})))
    boy = AllocationRequest(12, wanted(gender=MinorGender.BOY, languages=frozenset({"nl"})))

    result = allocate(
        [flagged, romanian, boy], BedPool.from_beds([speaks_ro, boys_only, specialised])
    )

    assert [(p.request_id, p.bed.bed_id, p.fallback) for p in result.proposals] == [
        (10, 1, False),
        (11, 2, False),
        (12, 3, False),
    ]
    assert result.unassigned_request_ids == ()


def test_a_request_no_bed_admits_stays_unassigned() -> None:
    pool = BedPool.from_beds([bed(1, max_age=13)])
    result = allocate([AllocationRequest(1, wanted(age=16))], pool)
    assert result == AllocationResult((), (1,), 0.0)


def test_empty_inputs() -> None:
    pool = BedPool.from_beds([bed(1)])
    assert allocate([], pool) == AllocationResult((), (), 0.0)
    assert allocate([], BedPool.from_beds([])) == AllocationResult((), (), 0.0)
    requests = [AllocationRequest(7, wanted()), AllocationRequest(3, wanted())]
    assert allocate(requests, BedPool.from_beds([])) == AllocationResult((), (7, 3), 0.0)


def test_request_ids_must_be_unique() -> None:
    with pytest.raises(ValueError):
        allocate(
            [AllocationRequest(1, wanted()), AllocationRequest(1, wanted())], BedPool.from_beds([])
        )


def test_placement_must_be_worth_something() -> None:
    with pytest.raises(ValueError):
        allocate(
            [AllocationRequest(1, wanted())],
            BedPool.from_beds([bed(1)]),
            MatchWeights(placement_base=0),
        )


def test_keeping_each_request_to_its_best_beds_keeps_the_optimum() -> None:
    # Both requests like bed 1 best; there are more feasible beds than requests.
    beds = [
        bed(1, languages=frozenset({"ro"}), capabilities=frozenset({TRAUMA})),
        bed(2, languages=frozenset({"ro"})),
        bed(3),
        bed(4),
        bed(5),
    ]
    pool = BedPool.from_beds(beds)
    requests = [
        AllocationRequest(1, wanted(languages=frozenset({"ro"}))),
        AllocationRequest(
            2, wanted(languages=frozenset({"ro"}), preferred_capabilities=frozenset({TRAUMA}))
        ),
    ]
    weights = MatchWeights()

    result = allocate(requests, pool, weights)

    assert [(p.request_id, p.bed.bed_id) for p in result.proposals] == [(1, 2), (2, 1)]
    assert result.total_weighted_score == pytest.approx(brute_force_best(requests, pool, weights))
