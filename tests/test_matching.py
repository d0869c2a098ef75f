"""Matching (DESIGN §5): hard rules, soft scores, ranking. Pure: no database."""

from __future__ import annotations

import dataclasses
import math
import unicodedata
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity.vocabulary import (
    BedStatus,
    Capability,
    CentreKind,
    GenderPolicy,
    MinorGender,
    policy_admits,
)
from placement.matching import (
    FALLBACK_REASON,
    BedCandidate,
    BedPool,
    ExclusionReason,
    MatchRequest,
    MatchWeights,
    age_on,
    check_bed,
    evaluate,
    great_circle_km,
    match,
)
from placement.vocabulary import DistancePreference, Urgency
from tests.support.matching import BRUSSELS, bed

pytestmark = pytest.mark.pure

TODAY = date(2025, 3, 3)
WAVRE = (50.717, 4.601)
NAMUR = (50.4669, 4.8675)
LIEGE = (50.6326, 5.5797)
ARLON = (49.6833, 5.8167)
MAASTRICHT = (50.8514, 5.6910)

EXPLOITATION = Capability.EXPLOITATION_CARE.value
TRAUMA = Capability.TRAUMA.value
SECURE = Capability.SECURE.value


def request(**changes: object) -> MatchRequest:
    values: dict[str, object] = {
        "age": 15,
        "gender": MinorGender.GIRL,
        "languages": frozenset({"nl"}),
        "urgency": Urgency.IMMEDIATE,
        "needed_on": TODAY,
    }
    values.update(changes)
    return MatchRequest(**values)


def ids(result) -> list[int]:
    return [candidate.bed.bed_id for candidate in result.candidates]


# ---------------------------------------------------------------------------
# Hard rules: one bed admitted, one excluded, counted under the rule

PLANNED = {"urgency": Urgency.PLANNED, "needed_on": TODAY + timedelta(days=10)}
OCCUPIED = BedStatus.OCCUPIED

HARD_RULE_CASES = [
    # (rule, request changes, admitted bed changes, excluded bed changes)
    (ExclusionReason.NOT_AVAILABLE, {}, {}, {"status": OCCUPIED}),
    (ExclusionReason.NOT_AVAILABLE, {}, {}, {"status": BedStatus.HELD}),
    (ExclusionReason.NOT_AVAILABLE, {}, {}, {"status": BedStatus.OUT_OF_SERVICE}),
    # Free later counts only for planned requests.
    (
        ExclusionReason.NOT_AVAILABLE,
        {},
        {},
        {"status": OCCUPIED, "expected_departure": TODAY - timedelta(days=1)},
    ),
    (
        ExclusionReason.NOT_AVAILABLE,
        PLANNED,
        {"status": OCCUPIED, "expected_departure": TODAY + timedelta(days=10)},
        {"status": OCCUPIED, "expected_departure": TODAY + timedelta(days=11)},
    ),
    (
        ExclusionReason.NOT_AVAILABLE,
        PLANNED,
        {"status": OCCUPIED, "expected_departure": TODAY},
        {"status": OCCUPIED, "expected_departure": None},
    ),
    (
        ExclusionReason.NOT_AVAILABLE,
        PLANNED,
        {},
        {"status": BedStatus.HELD, "expected_departure": TODAY},
    ),
    (ExclusionReason.NOT_AVAILABLE, PLANNED, {}, {"status": BedStatus.OUT_OF_SERVICE}),
    (ExclusionReason.AGE, {"age": 12}, {"min_age": 12}, {"min_age": 13}),
    (ExclusionReason.AGE, {"age": 17}, {"max_age": 17}, {"max_age": 16}),
    (
        ExclusionReason.GENDER,
        {"gender": MinorGender.GIRL},
        {"gender_policy": GenderPolicy.GIRLS},
        {"gender_policy": GenderPolicy.BOYS},
    ),
    (
        ExclusionReason.GENDER,
        {"gender": MinorGender.BOY},
        {"gender_policy": GenderPolicy.BOYS},
        {"gender_policy": GenderPolicy.GIRLS},
    ),
    (
        ExclusionReason.GENDER,
        {"gender": MinorGender.OTHER},
        {"gender_policy": GenderPolicy.MIXED},
        {"gender_policy": GenderPolicy.GIRLS},
    ),
    (
        ExclusionReason.GENDER,
        {"gender": MinorGender.OTHER},
        {"gender_policy": GenderPolicy.MIXED},
        {"gender_policy": GenderPolicy.BOYS},
    ),
    (
        ExclusionReason.REQUIRED_CAPABILITY,
        {"required_capabilities": frozenset({TRAUMA, SECURE})},
        {"capabilities": frozenset({TRAUMA, SECURE, EXPLOITATION})},
        {"capabilities": frozenset({TRAUMA})},
    ),
    (
        ExclusionReason.REQUIRED_CAPABILITY,
        {"required_capabilities": frozenset({EXPLOITATION})},
        {"centre_kind": CentreKind.SPECIALISED_EXPLOITATION},
        {"capabilities": frozenset({TRAUMA})},
    ),
    (
        ExclusionReason.PUBLIC_INSTITUTION,
        {},
        {},
        {"centre_kind": CentreKind.PUBLIC_YOUTH_INSTITUTION},
    ),
    (
        ExclusionReason.PUBLIC_INSTITUTION,
        {"judge_ordered_public_institution": True},
        {"centre_kind": CentreKind.PUBLIC_YOUTH_INSTITUTION},
        {"centre_kind": CentreKind.EMERGENCY_SHELTER},
    ),
    (
        ExclusionReason.CROSS_BORDER,
        {},
        {},
        {"country": "NL", "province": "NL-LI", "municipality": "Maastricht", "at": MAASTRICHT},
    ),
    (
        ExclusionReason.CROSS_BORDER,
        {"home_country": "NL"},
        {"country": "NL", "province": "NL-LI", "municipality": "Maastricht", "at": MAASTRICHT},
        {},
    ),
    (
        ExclusionReason.EXCLUDED_ZONE,
        {"excluded_municipalities": frozenset({"Liège"})},
        {"municipality": "Namur", "at": NAMUR},
        {"municipality": "liege", "at": LIEGE},
    ),
    (
        ExclusionReason.EXCLUDED_ZONE,
        {"excluded_municipalities": frozenset({"la louvière "})},
        {},
        {"municipality": "La Louvière"},
    ),
    (
        ExclusionReason.EXCLUDED_ZONE,
        {"excluded_provinces": frozenset({"BE-WLG"})},
        {"province": "BE-WNA", "at": NAMUR},
        {"province": "BE-WLG", "at": LIEGE},
    ),
    (
        ExclusionReason.EXCLUDED_ZONE,
        {"excluded_countries": frozenset({"NL"}), "cross_border_allowed": True},
        {"country": "LU", "province": "LU-CA", "at": ARLON},
        {"country": "NL", "province": "NL-LI", "at": MAASTRICHT},
    ),
    (
        ExclusionReason.SAFETY_DISTANCE,
        {"danger_point": BRUSSELS, "safety_distance_km": 30.0},
        {"at": NAMUR},
        {"at": WAVRE},
    ),
]


@pytest.mark.parametrize(("rule", "asked", "admitted", "excluded"), HARD_RULE_CASES)
def test_each_hard_rule_admits_one_bed_and_excludes_the_other(
    rule: ExclusionReason, asked: dict, admitted: dict, excluded: dict
) -> None:
    wanted = request(**asked)
    result = match(wanted, BedPool.from_beds([bed(1, **admitted), bed(2, **excluded)]))

    assert ids(result) == [1]
    assert result.candidate_count == 1
    assert result.excluded == {reason: int(reason is rule) for reason in ExclusionReason}
    assert result.total_beds == 2
    assert check_bed(wanted, bed(1, **admitted)) is None
    assert check_bed(wanted, bed(2, **excluded)) is rule


def test_cross_border_allowed_admits_another_country() -> None:
    abroad = bed(1, country="NL", province="NL-LI", at=MAASTRICHT)
    assert check_bed(request(), abroad) is ExclusionReason.CROSS_BORDER
    assert check_bed(request(cross_border_allowed=True), abroad) is None


def test_safety_distance_is_the_great_circle_distance() -> None:
    wavre = bed(1, at=WAVRE)
    assert 22 < great_circle_km(BRUSSELS, WAVRE) < 24
    near = request(danger_point=BRUSSELS, safety_distance_km=22.9)
    far = request(danger_point=BRUSSELS, safety_distance_km=23.1)
    assert check_bed(near, wavre) is None
    assert check_bed(far, wavre) is ExclusionReason.SAFETY_DISTANCE


def test_a_bed_is_counted_under_its_first_failing_rule_only() -> None:
    too_young_and_boys = bed(1, max_age=12, gender_policy=GenderPolicy.BOYS)
    occupied_and_too_young = bed(2, status=OCCUPIED, max_age=12)
    result = match(request(), BedPool.from_beds([too_young_and_boys, occupied_and_too_young]))

    assert result.excluded[ExclusionReason.AGE] == 1
    assert result.excluded[ExclusionReason.NOT_AVAILABLE] == 1
    assert result.excluded[ExclusionReason.GENDER] == 0
    assert list(result.excluded) == list(ExclusionReason)


def test_exclusion_summary_and_beds_the_database_already_filtered() -> None:
    beds = [bed(1), bed(2, max_age=12), bed(3, max_age=13), bed(4, at=WAVRE)]
    wanted = request(danger_point=BRUSSELS, safety_distance_km=10.0)
    result = match(
        wanted,
        BedPool.from_beds(beds),
        already_excluded={ExclusionReason.NOT_AVAILABLE: 5},
    )

    # The beds in Brussels itself are within 10 km of the danger point.
    assert result.candidate_count == 1
    assert ids(result) == [4]
    assert result.excluded[ExclusionReason.NOT_AVAILABLE] == 5
    assert result.total_beds == 9
    assert result.exclusion_summary() == (
        "5 excluded by availability, 2 by age, 1 by safety distance"
    )
    assert match(request(), BedPool.from_beds([bed(1)])).exclusion_summary() == ""


def test_empty_pool() -> None:
    result = match(request(), BedPool.from_beds([]))
    assert result.candidates == ()
    assert result.candidate_count == 0
    assert result.total_beds == 0
    assert set(result.excluded.values()) == {0}


def test_limit_keeps_the_best() -> None:
    beds = [
        bed(n, bed_label=f"B{n:02d}", languages=frozenset({"nl"} if n % 3 == 0 else ()))
        for n in range(1, 31)
    ]
    result = match(request(), BedPool.from_beds(beds), limit=5)
    assert result.candidate_count == 30
    assert ids(result) == [3, 6, 9, 12, 15]


# ---------------------------------------------------------------------------
# Soft scores


def test_exploitation_care_weighs_most_when_the_case_is_flagged() -> None:
    specialised = bed(1, centre_kind=CentreKind.SPECIALISED_EXPLOITATION, centre_name="Z")
    general = bed(
        2,
        centre_name="A",
        capabilities=frozenset({TRAUMA, SECURE}),
        languages=frozenset({"ro"}),
    )
    wanted = request(
        needs_exploitation_care=True,
        preferred_capabilities=frozenset({TRAUMA, SECURE}),
        languages=frozenset({"ro"}),
    )
    first, second = match(wanted, BedPool.from_beds([general, specialised])).candidates

    assert first.bed.bed_id == 1
    assert first.specialised and not first.fallback
    assert "Specialised care for victims of exploitation" in first.reasons
    assert [part.code for part in first.parts] == ["exploitation_care", "free_now"]
    assert second.fallback and not second.specialised
    assert FALLBACK_REASON in second.reasons
    assert first.score > second.score


def test_exploitation_care_preferred_without_a_flag_counts_once() -> None:
    specialised = bed(1, capabilities=frozenset({EXPLOITATION}))
    wanted = request(preferred_capabilities=frozenset({EXPLOITATION}))
    (candidate,) = match(wanted, BedPool.from_beds([specialised])).candidates

    weights = MatchWeights()
    assert candidate.score == weights.preferred_capability + weights.free_now
    assert [part.code for part in candidate.parts] == ["exploitation_care", "free_now"]
    assert not candidate.fallback


def test_shared_language_ranks_first_and_is_named() -> None:
    beds = [bed(1, centre_name="A"), bed(2, centre_name="B", languages=frozenset({"RO", "nl"}))]
    wanted = request(languages=frozenset({"ro", "ar", "nl"}))
    first, second = match(wanted, BedPool.from_beds(beds)).candidates

    assert first.bed.bed_id == 2
    assert "Staff speak nl, ro" in first.reasons
    assert first.score - second.score == MatchWeights().language


def test_away_from_danger_prefers_the_farther_bed() -> None:
    beds = [bed(1, at=NAMUR), bed(2, at=ARLON), bed(3, at=LIEGE)]
    wanted = request(
        danger_point=BRUSSELS,
        safety_distance_km=20.0,
        distance_preference=DistancePreference.AWAY_FROM_DANGER,
    )
    result = match(wanted, BedPool.from_beds(beds))

    assert ids(result) == [2, 3, 1]
    arlon = result.candidates[0]
    assert arlon.distance_from_danger_km == pytest.approx(great_circle_km(BRUSSELS, ARLON))
    # Beyond the distance scale (100 km) the part is worth its full weight.
    assert arlon.distance_from_danger_km > 100
    assert any(p.code == "away_from_danger" and p.points == 10.0 for p in arlon.parts)
    assert any(reason.endswith("km from the danger point") for reason in arlon.reasons)


def test_near_reference_prefers_the_nearer_bed() -> None:
    beds = [bed(1, at=ARLON), bed(2, at=LIEGE), bed(3, at=NAMUR)]
    wanted = request(
        distance_preference=DistancePreference.NEAR_REFERENCE, reference_point=(50.64, 5.57)
    )
    result = match(wanted, BedPool.from_beds(beds))

    assert ids(result) == [2, 3, 1]
    assert result.candidates[0].distance_from_danger_km is None


def test_free_now_beats_free_later() -> None:
    beds = [
        bed(1, centre_name="A", status=OCCUPIED, expected_departure=TODAY + timedelta(days=2)),
        bed(2, centre_name="B"),
        bed(3, centre_name="A", status=OCCUPIED, expected_departure=TODAY + timedelta(days=1)),
    ]
    result = match(request(**PLANNED), BedPool.from_beds(beds))

    # Free now first; among the free later, the earlier one.
    assert ids(result) == [2, 3, 1]
    assert [c.free_now for c in result.candidates] == [True, False, False]
    assert "Free now" in result.candidates[0].reasons
    assert f"Free from {TODAY + timedelta(days=1)}" in result.candidates[1].reasons


def test_equal_scores_are_ordered_by_centre_then_bed_label_then_id() -> None:
    beds = [
        bed(4, centre_name="B", bed_label="1"),
        bed(3, centre_name="A", bed_label="2"),
        bed(2, centre_name="A", bed_label="1"),
        bed(1, centre_name="A", bed_label="2"),
    ]
    assert ids(match(request(), BedPool.from_beds(beds))) == [2, 1, 3, 4]


def test_parts_sum_to_the_score_and_reasons_read_as_sentences() -> None:
    specialised = bed(
        1,
        centre_kind=CentreKind.SPECIALISED_EXPLOITATION,
        capabilities=frozenset({TRAUMA}),
        languages=frozenset({"ro"}),
        gender_policy=GenderPolicy.GIRLS,
        at=LIEGE,
    )
    wanted = request(
        needs_exploitation_care=True,
        preferred_capabilities=frozenset({TRAUMA, EXPLOITATION}),
        languages=frozenset({"ro"}),
        danger_point=BRUSSELS,
        safety_distance_km=40.0,
        distance_preference=DistancePreference.AWAY_FROM_DANGER,
    )
    (candidate,) = match(wanted, BedPool.from_beds([specialised])).candidates

    assert math.isclose(sum(part.points for part in candidate.parts), candidate.score)
    assert [part.code for part in candidate.parts] == [
        "preferred_capability",
        "exploitation_care",
        "language",
        "away_from_danger",
        "free_now",
    ]
    assert "Ages 12\N{EN DASH}17, girls" in candidate.reasons
    assert "Trauma care" in candidate.reasons
    assert "Staff speak ro" in candidate.reasons
    for reason in candidate.reasons:
        assert (reason[0].isupper() or reason[0].isdigit()) and "_" not in reason


def test_evaluate_returns_reasons_feasibility_and_scores_per_bed() -> None:
    beds = [bed(1), bed(2, max_age=12), bed(3, status=OCCUPIED)]
    reasons, feasible, score = evaluate(request(), BedPool.from_beds(beds))
    order = list(ExclusionReason)

    assert reasons.tolist() == [-1, order.index(ExclusionReason.AGE), 0]
    assert feasible.tolist() == [True, False, False]
    assert score.tolist() == [MatchWeights().free_now, 0.0, 0.0]


def test_weights_are_validated_and_hashable() -> None:
    weights = MatchWeights(urgency_weight={u: 1.0 for u in Urgency})
    assert hash(weights) == hash(MatchWeights(urgency_weight={u: 1.0 for u in Urgency}))
    assert weights != MatchWeights()
    with pytest.raises(ValueError):
        MatchWeights(language=-1.0)
    with pytest.raises(ValueError):
        MatchWeights(urgency_weight={Urgency.IMMEDIATE: 1.0})
    with pytest.raises(TypeError):
        weights.urgency_weight[Urgency.PLANNED] = 9.0  # type: ignore[index]


def test_match_request_has_no_criminal_investigation_input() -> None:
    names = [f.name for f in dataclasses.fields(MatchRequest)]
    assert not [n for n in names if "investigation" in n or "cooperat" in n]


# ---------------------------------------------------------------------------
# Age and distance


def test_age_on_counts_the_birthday_from_the_first_of_its_month() -> None:
    assert age_on(2010, 3, date(2025, 2, 28)) == 14
    assert age_on(2010, 3, date(2025, 3, 1)) == 15
    assert age_on(2010, 3, date(2025, 12, 31)) == 15
    assert age_on(2010, 12, date(2025, 11, 30)) == 14
    assert age_on(2010, 1, date(2025, 1, 1)) == 15


def test_great_circle_distance_between_known_cities() -> None:
    assert 89 < great_circle_km(BRUSSELS, LIEGE) < 91
    assert great_circle_km(LIEGE, LIEGE) == 0
    assert great_circle_km(BRUSSELS, LIEGE) == pytest.approx(great_circle_km(LIEGE, BRUSSELS))


# ---------------------------------------------------------------------------
# Properties, against a plain one-bed-at-a-time re-implementation of the hard rules

POINTS = [BRUSSELS, WAVRE, NAMUR, LIEGE, ARLON, MAASTRICHT]
MUNICIPALITIES = ["Liège", "liege", "Namur", "La Louvière", "Bruxelles"]
PROVINCES = ["BE-WLG", "BE-BRU", "NL-LI", "LU-CA"]
COUNTRIES = ["BE", "NL", "LU"]
CAPABILITIES = [EXPLOITATION, TRAUMA, SECURE]
LANGUAGES = ["fr", "nl", "ro", "RO"]


def _plain(name: str) -> str:
    decomposed = unicodedata.normalize("NFD", name)
    return (
        "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower().replace(" ", "")
    )


def _haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def first_broken_rule(wanted: MatchRequest, candidate: BedCandidate) -> ExclusionReason | None:
    free_now = candidate.status is BedStatus.AVAILABLE
    free_later = (
        wanted.urgency is Urgency.PLANNED
        and candidate.status is BedStatus.OCCUPIED
        and candidate.expected_departure is not None
        and candidate.expected_departure <= wanted.needed_on
    )
    if not (free_now or free_later):
        return ExclusionReason.NOT_AVAILABLE
    if not candidate.min_age <= wanted.age <= candidate.max_age:
        return ExclusionReason.AGE
    if not policy_admits(candidate.gender_policy, wanted.gender):
        return ExclusionReason.GENDER
    offered = set(candidate.capabilities)
    if candidate.centre_kind is CentreKind.SPECIALISED_EXPLOITATION:
        offered.add(EXPLOITATION)
    if not wanted.required_capabilities <= offered:
        return ExclusionReason.REQUIRED_CAPABILITY
    public = candidate.centre_kind is CentreKind.PUBLIC_YOUTH_INSTITUTION
    if public != wanted.judge_ordered_public_institution:
        return ExclusionReason.PUBLIC_INSTITUTION
    if candidate.country != wanted.home_country and not wanted.cross_border_allowed:
        return ExclusionReason.CROSS_BORDER
    if (
        candidate.country in wanted.excluded_countries
        or candidate.province in wanted.excluded_provinces
        or _plain(candidate.municipality) in {_plain(m) for m in wanted.excluded_municipalities}
    ):
        return ExclusionReason.EXCLUDED_ZONE
    if wanted.danger_point is not None and wanted.safety_distance_km is not None:
        where = (candidate.latitude, candidate.longitude)
        if _haversine_km(wanted.danger_point, where) < wanted.safety_distance_km:
            return ExclusionReason.SAFETY_DISTANCE
    return None


def _subset(values: list[str]) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(values), max_size=len(values))


def _usually(usual: object, *others: object) -> st.SearchStrategy:
    """Mostly the usual value, so that some beds pass every rule."""
    return st.sampled_from([usual, usual, usual, usual, usual, usual, *others])


centres = st.fixed_dictionaries(
    {
        "centre_name": st.sampled_from(["Alpha", "Beta", "Gamma"]),
        "centre_kind": st.sampled_from([*CentreKind, CentreKind.YOUTH_AID_RESIDENTIAL]),
        "capabilities": _subset(CAPABILITIES),
        "languages": _subset(LANGUAGES),
        "country": _usually("BE", "NL", "LU"),
        "province": st.sampled_from(PROVINCES),
        "municipality": st.sampled_from(MUNICIPALITIES),
        "at": st.sampled_from(POINTS),
    }
)


bed_rows = st.tuples(
    st.sampled_from(["1", "2", "10"]),
    _usually(BedStatus.AVAILABLE, BedStatus.OCCUPIED, BedStatus.OCCUPIED, *BedStatus),
    st.none() | st.sampled_from([TODAY + timedelta(days=d) for d in range(-3, 13)]),
    st.sampled_from([(12, 17), (0, 12), (10, 16), (14, 18), (16, 21), (15, 15)]),
    st.sampled_from([GenderPolicy.MIXED, GenderPolicy.GIRLS, GenderPolicy.BOYS]),
    st.integers(0, 5),
)


@st.composite
def beds(draw: st.DrawFn) -> list[BedCandidate]:
    """Up to 60 beds in up to 6 centres."""
    centre_list = draw(st.lists(centres, min_size=1, max_size=6))
    count = draw(st.integers(0, 60))
    rows = draw(st.lists(bed_rows, min_size=count, max_size=count))
    return [
        bed(
            number,
            bed_label=label,
            status=status,
            expected_departure=departure,
            min_age=ages[0],
            max_age=ages[1],
            gender_policy=policy,
            **centre_list[centre % len(centre_list)],
        )
        for number, (label, status, departure, ages, policy, centre) in enumerate(rows, start=1)
    ]


@st.composite
def requests(draw: st.DrawFn) -> MatchRequest:
    return request(
        age=draw(_usually(15, 8, 12, 16, 17, 18, 21)),
        gender=draw(st.sampled_from(MinorGender)),
        languages=draw(_subset(LANGUAGES)),
        urgency=draw(st.sampled_from(Urgency)),
        needed_on=TODAY + timedelta(days=draw(st.integers(0, 10))),
        required_capabilities=draw(_usually(frozenset(), *(frozenset({c}) for c in CAPABILITIES))),
        preferred_capabilities=draw(_subset(CAPABILITIES)),
        needs_exploitation_care=draw(st.booleans()),
        excluded_municipalities=draw(
            _usually(
                frozenset(),
                frozenset({"LIÈGE"}),
                frozenset({"namur", "Nowhere"}),
                frozenset({"lalouviere"}),
            )
        ),
        excluded_provinces=draw(_usually(frozenset(), *(frozenset({p}) for p in PROVINCES))),
        excluded_countries=draw(_usually(frozenset(), *(frozenset({c}) for c in COUNTRIES))),
        danger_point=draw(st.none() | st.sampled_from([*POINTS, (50.3, 4.9)])),
        safety_distance_km=draw(st.none() | st.sampled_from([5.5, 30.25, 80.75])),
        home_country=draw(_usually("BE", "NL", "LU")),
        cross_border_allowed=draw(st.booleans()),
        judge_ordered_public_institution=draw(_usually(False, True)),
        distance_preference=draw(st.sampled_from(DistancePreference)),
        reference_point=draw(st.none() | st.sampled_from(POINTS)),
    )


# Generating a pool of up to 60 beds takes a while; that is not a problem here.
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool_beds=beds(), wanted=requests(), limit=st.sampled_from([1, 2, 3, 5, 20]))
def test_properties_against_a_plain_re_implementation(
    pool_beds: list[BedCandidate], wanted: MatchRequest, limit: int
) -> None:
    result = match(wanted, BedPool.from_beds(pool_beds), limit=limit)
    expected = {b.bed_id: first_broken_rule(wanted, b) for b in pool_beds}
    feasible = [bed_id for bed_id, rule in expected.items() if rule is None]

    for candidate in result.candidates:
        assert expected[candidate.bed.bed_id] is None
        assert math.isclose(sum(p.points for p in candidate.parts), candidate.score)
        specialised = (
            EXPLOITATION in candidate.bed.capabilities
            or candidate.bed.centre_kind is CentreKind.SPECIALISED_EXPLOITATION
        )
        assert candidate.specialised == specialised
        assert candidate.fallback == (wanted.needs_exploitation_care and not specialised)
    assert result.candidate_count == len(feasible)
    assert len(result.candidates) == min(limit, len(feasible))
    assert result.candidate_count + sum(result.excluded.values()) == result.total_beds
    assert result.total_beds == len(pool_beds)
    for reason in ExclusionReason:
        assert result.excluded[reason] == sum(rule is reason for rule in expected.values())

    scores = [candidate.score for candidate in result.candidates]
    assert scores == sorted(scores, reverse=True)
    keys = [
        (
            -c.score,
            not c.free_now,
            c.bed.expected_departure if not c.free_now else date.min,
            c.bed.centre_name,
            c.bed.bed_label,
            c.bed.bed_id,
        )
        for c in result.candidates
    ]
    assert keys == sorted(keys)
    if len(feasible) > limit:
        _, _, every_score = evaluate(wanted, BedPool.from_beds(pool_beds))
        returned = {c.bed.bed_id for c in result.candidates}
        left_out = [
            score
            for b, score in zip(pool_beds, every_score.tolist(), strict=True)
            if b.bed_id in feasible and b.bed_id not in returned
        ]
        assert max(left_out) <= scores[-1]

    for candidate_bed in pool_beds:
        assert check_bed(wanted, candidate_bed) is expected[candidate_bed.bed_id]
