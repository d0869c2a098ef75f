"""Rank candidate beds for one placement request (DESIGN §5). Pure: no I/O, no clock.

Hard constraints exclude a bed, which is counted under the first rule it breaks; soft scores
rank the beds that remain. Both run vectorised (numpy) over a columnar `BedPool`, so one
request against 100k beds takes milliseconds; Python-level work is done only for the
candidates returned.

A centre of kind `SPECIALISED_EXPLOITATION` counts as offering `exploitation_care` even when
the capability is not recorded, for the hard rule as for the scores.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from types import MappingProxyType

import numpy as np

from capacity.vocabulary import (
    BedStatus,
    Capability,
    CentreKind,
    GenderPolicy,
    MinorGender,
    policy_admits,
)
from placement.vocabulary import DistancePreference, Urgency

EARTH_RADIUS_KM = 6371.0088

EXPLOITATION_CARE = Capability.EXPLOITATION_CARE.value
FALLBACK_REASON = "Fallback: not a specialised place for victims of exploitation"


class ExclusionReason(StrEnum):
    """Hard rules, in the order they are checked."""

    NOT_AVAILABLE = "not_available"
    AGE = "age"
    GENDER = "gender"
    REQUIRED_CAPABILITY = "required_capability"
    PUBLIC_INSTITUTION = "public_institution"
    CROSS_BORDER = "cross_border"
    EXCLUDED_ZONE = "excluded_zone"
    SAFETY_DISTANCE = "safety_distance"


_REASONS = tuple(ExclusionReason)
_REASON_INDEX = {reason: index for index, reason in enumerate(_REASONS)}
_REASON_LABELS = {
    ExclusionReason.NOT_AVAILABLE: "availability",
    ExclusionReason.AGE: "age",
    ExclusionReason.GENDER: "gender",
    ExclusionReason.REQUIRED_CAPABILITY: "required capability",
    ExclusionReason.PUBLIC_INSTITUTION: "public institution rule",
    ExclusionReason.CROSS_BORDER: "cross-border rule",
    ExclusionReason.EXCLUDED_ZONE: "excluded zone",
    ExclusionReason.SAFETY_DISTANCE: "safety distance",
}

_CAPABILITY_LABELS = {
    Capability.EXPLOITATION_CARE.value: "Specialised care for victims of exploitation",
    Capability.TRAUMA.value: "Trauma care",
    Capability.ADDICTION.value: "Addiction care",
    Capability.MOTHER_AND_CHILD.value: "Mother-and-child care",
    Capability.DISABILITY.value: "Care for disabilities",
    Capability.SECURE.value: "Secure unit",
}
_POLICY_LABELS = {
    GenderPolicy.GIRLS: "girls",
    GenderPolicy.BOYS: "boys",
    GenderPolicy.MIXED: "mixed",
}
_POLICIES = tuple(GenderPolicy)
_POLICY_CODE = {policy: code for code, policy in enumerate(_POLICIES)}
_NEVER = np.iinfo(np.int64).max  # departure day of a bed that will not come free


@dataclass(frozen=True, slots=True)
class BedCandidate:
    """One bed with its unit and centre attributes, as read from the database."""

    bed_id: int
    bed_label: str
    unit_id: int
    unit_name: str
    centre_id: int
    centre_name: str
    centre_kind: CentreKind
    status: BedStatus
    expected_departure: date | None
    min_age: int
    max_age: int
    gender_policy: GenderPolicy
    capabilities: frozenset[str]
    languages: frozenset[str]
    country: str
    province: str
    municipality: str
    latitude: float
    longitude: float


def municipality_key(name: str) -> str:
    """Compare municipalities without case, accents or spaces: "Liège" and "liege" agree."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return "".join(bare.casefold().split())


def language_key(language: str) -> str:
    return language.strip().casefold()


def effective_capabilities(bed: BedCandidate) -> frozenset[str]:
    """The bed's capabilities, with exploitation care implied by a specialised centre."""
    if bed.centre_kind is CentreKind.SPECIALISED_EXPLOITATION:
        return bed.capabilities | {EXPLOITATION_CARE}
    return bed.capabilities


def age_on(birth_year: int, birth_month: int, day: date) -> int:
    """Age in whole years on `day`; the birthday counts as reached from the 1st of its month."""
    return day.year - birth_year - (1 if day.month < birth_month else 0)


def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance between two (latitude, longitude) points in degrees."""
    lat_a, lon_a = math.radians(a[0]), math.radians(a[1])
    lat_b, lon_b = math.radians(b[0]), math.radians(b[1])
    h = (
        math.sin((lat_b - lat_a) / 2) ** 2
        + math.cos(lat_a) * math.cos(lat_b) * math.sin((lon_b - lon_a) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


# ---------------------------------------------------------------------------
# Columnar pool


def _codes(values: list[Hashable]) -> tuple[np.ndarray, list[Hashable]]:
    """Per value the index of its first occurrence among the distinct values; those values."""
    distinct = list(dict.fromkeys(values))
    index = {value: code for code, value in enumerate(distinct)}
    return np.fromiter(map(index.__getitem__, values), np.int32, len(values)), distinct


def _encode_values(
    values: list[str], normalise: Callable[[str], str] | None = None
) -> tuple[np.ndarray, dict[str, int]]:
    """Per bed a code for its value; the codes by (normalised) value."""
    array, distinct = _codes(values)
    if normalise is None:
        return array, {value: code for code, value in enumerate(distinct)}
    # Normalise each distinct value once, then merge the codes of equal normal forms.
    merged: dict[str, int] = {}
    remap = [merged.setdefault(normalise(value), len(merged)) for value in distinct]
    return np.array(remap, dtype=np.int32)[array], merged


def _encode_sets(
    sets: list[frozenset[str]], normalise: Callable[[str], str] | None = None
) -> tuple[np.ndarray, dict[str, int], np.ndarray]:
    """Per bed the code of its set; a (distinct sets by distinct names) membership table."""
    array, distinct = _codes(sets)
    rows = [{normalise(name) for name in members} if normalise else members for members in distinct]
    columns = {name: column for column, name in enumerate(sorted(set().union(*rows)))}
    table = np.zeros((len(rows), len(columns)), dtype=bool)
    for row, members in enumerate(rows):
        table[row, [columns[name] for name in members]] = True
    return array, columns, table


def _rank_strings(values: list[str]) -> np.ndarray:
    """Per value its rank in sorted order (equal strings share a rank)."""
    array, distinct = _codes(values)
    ranks = np.empty(len(distinct), dtype=np.int64)
    ranks[np.argsort(np.array(distinct, dtype=object), kind="stable")] = np.arange(len(distinct))
    return ranks[array]


class BedPool:
    """A columnar (numpy) view of beds, built once and matched against many requests.

    One array per attribute, aligned with `beds`. Strings become integer codes; capability
    and language sets become a code per bed into a small membership table, since beds of a
    centre share their sets.
    """

    def __init__(self, beds: tuple[BedCandidate, ...]) -> None:
        """Prefer `BedPool.from_beds`."""
        self.beds = beds
        status = [bed.status for bed in beds]
        self.free_now = np.array([s is BedStatus.AVAILABLE for s in status], dtype=bool)
        self.free_now_index = np.flatnonzero(self.free_now)
        self.departure_day = np.array(
            [
                bed.expected_departure.toordinal()
                if bed.status is BedStatus.OCCUPIED and bed.expected_departure is not None
                else _NEVER
                for bed in beds
            ],
            dtype=np.int64,
        )
        self.min_age = np.array([bed.min_age for bed in beds], dtype=np.int32)
        self.max_age = np.array([bed.max_age for bed in beds], dtype=np.int32)
        self.gender_policy = np.array(
            [_POLICY_CODE[bed.gender_policy] for bed in beds], dtype=np.int8
        )
        kind = [bed.centre_kind for bed in beds]
        self.public_institution = np.array(
            [k is CentreKind.PUBLIC_YOUTH_INSTITUTION for k in kind], dtype=bool
        )
        self.capability_set, self.capability_columns, self.capability_table = _encode_sets(
            [effective_capabilities(bed) for bed in beds]
        )
        self.language_set, self.language_columns, self.language_table = _encode_sets(
            [bed.languages for bed in beds], normalise=language_key
        )
        column = self.capability_columns.get(EXPLOITATION_CARE)
        if column is None:
            self.specialised = np.zeros(len(beds), dtype=bool)
        else:
            self.specialised = self.capability_table[self.capability_set, column]
        self.country, self.country_codes = _encode_values([bed.country for bed in beds])
        self.province, self.province_codes = _encode_values([bed.province for bed in beds])
        self.municipality, self.municipality_codes = _encode_values(
            [bed.municipality for bed in beds], normalise=municipality_key
        )
        self.latitude_rad = np.radians(np.array([bed.latitude for bed in beds], dtype=float))
        self.longitude_rad = np.radians(np.array([bed.longitude for bed in beds], dtype=float))
        self.cos_latitude = np.cos(self.latitude_rad)
        order = np.lexsort(
            (
                np.array([bed.bed_id for bed in beds], dtype=np.int64),
                _rank_strings([bed.bed_label for bed in beds]),
                _rank_strings([bed.centre_name for bed in beds]),
            )
        )
        self.tiebreak_rank = np.empty(len(beds), dtype=np.int64)
        self.tiebreak_rank[order] = np.arange(len(beds))

    @classmethod
    def from_beds(cls, beds: Sequence[BedCandidate]) -> BedPool:
        return cls(tuple(beds))

    def __len__(self) -> int:
        return len(self.beds)

    def distances_km(self, index: np.ndarray, point: tuple[float, float]) -> np.ndarray:
        """Great-circle distance from `point` to the centres of the beds at `index`."""
        lat = math.radians(point[0])
        lon = math.radians(point[1])
        h = (
            np.sin((self.latitude_rad[index] - lat) / 2) ** 2
            + math.cos(lat)
            * self.cos_latitude[index]
            * np.sin((self.longitude_rad[index] - lon) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, h)))


# ---------------------------------------------------------------------------
# Request, weights, result


def _default_urgency_weight() -> Mapping[Urgency, float]:
    return MappingProxyType({Urgency.IMMEDIATE: 3.0, Urgency.WITHIN_24H: 2.0, Urgency.PLANNED: 1.0})


@dataclass(frozen=True)
class MatchWeights:
    """Every soft-score weight in one place. All weights are points, never negative."""

    preferred_capability: float = 10.0  # per preferred capability the centre offers
    exploitation_care_when_flagged: float = 40.0  # specialised centre for a flagged case
    language: float = 8.0  # staff speak at least one of the minor's languages
    distance: float = 10.0  # distance policy, scaled 0..1 over distance_scale_km
    distance_scale_km: float = 100.0
    free_now: float = 5.0  # free now rather than only free by the needed date
    # Batch allocation multiplies (placement_base + score) by the request's urgency weight.
    urgency_weight: Mapping[Urgency, float] = field(
        default_factory=_default_urgency_weight, hash=False
    )
    placement_base: float = 1.0  # placing a minor at all beats leaving the request unassigned

    def __post_init__(self) -> None:
        points = {
            "preferred_capability": self.preferred_capability,
            "exploitation_care_when_flagged": self.exploitation_care_when_flagged,
            "language": self.language,
            "distance": self.distance,
            "free_now": self.free_now,
            "placement_base": self.placement_base,
        }
        for name, value in points.items():
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of points, 0 or more")
        if not (math.isfinite(self.distance_scale_km) and self.distance_scale_km > 0):
            raise ValueError("distance_scale_km must be a positive number")
        missing = set(Urgency) - set(self.urgency_weight)
        if missing:
            raise ValueError(f"urgency_weight lacks {', '.join(sorted(missing))}")
        if not all(math.isfinite(w) and w > 0 for w in self.urgency_weight.values()):
            raise ValueError("every urgency weight must be a positive number")
        # A read-only copy, so the caller's dict cannot change the weights afterwards.
        object.__setattr__(self, "urgency_weight", MappingProxyType(dict(self.urgency_weight)))


DEFAULT_WEIGHTS = MatchWeights()


@dataclass(frozen=True)
class MatchRequest:
    """What matching needs to know about one placement request. Nothing else is an input."""

    age: int  # whole years on the needed date (see age_on)
    gender: MinorGender
    languages: frozenset[str]
    urgency: Urgency
    needed_on: date  # today for immediate / within 24 h; the planned date otherwise
    required_capabilities: frozenset[str] = frozenset()
    preferred_capabilities: frozenset[str] = frozenset()
    needs_exploitation_care: bool = False  # active exploitation flag, or care needed
    excluded_municipalities: frozenset[str] = frozenset()
    excluded_provinces: frozenset[str] = frozenset()  # ISO 3166-2, e.g. "BE-WLG"
    excluded_countries: frozenset[str] = frozenset()  # "BE", "NL", "LU"
    danger_point: tuple[float, float] | None = None  # (latitude, longitude) in degrees
    safety_distance_km: float | None = None
    home_country: str = "BE"
    cross_border_allowed: bool = False
    judge_ordered_public_institution: bool = False
    distance_preference: DistancePreference = DistancePreference.NONE
    reference_point: tuple[float, float] | None = None  # school or family, for NEAR_REFERENCE


@dataclass(frozen=True)
class ScorePart:
    code: str  # stable machine code
    points: float
    reason: str  # one short human-readable sentence


@dataclass(frozen=True)
class RankedCandidate:
    bed: BedCandidate
    score: float  # sum of the parts' points
    parts: tuple[ScorePart, ...]
    free_now: bool
    specialised: bool  # the centre offers care for victims of exploitation
    fallback: bool  # the case needs that care and this bed does not offer it
    distance_from_danger_km: float | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class MatchResult:
    candidates: tuple[RankedCandidate, ...]  # best first
    candidate_count: int  # beds that passed every hard constraint
    excluded: dict[ExclusionReason, int]  # every reason, in rule order
    total_beds: int

    def exclusion_summary(self) -> str:
        """E.g. "14 excluded by age, 6 by safety distance"; "" when nothing was excluded."""
        parts = [
            f"{count} by {_REASON_LABELS[reason]}"
            for reason, count in self.excluded.items()
            if count
        ]
        if not parts:
            return ""
        parts[0] = parts[0].replace(" by ", " excluded by ", 1)
        return ", ".join(parts)


# ---------------------------------------------------------------------------
# Vectorised core


@dataclass
class _Evaluation:
    reasons: np.ndarray  # per bed: index of the first failing rule, -1 when feasible
    counts: list[int]  # per rule: beds excluded by it
    feasible: np.ndarray  # indices of feasible beds, ascending
    score: np.ndarray  # aligned with feasible
    danger_km: np.ndarray | None  # aligned with feasible
    reference_km: np.ndarray | None  # aligned with feasible


class _Cascade:
    """Applies the hard rules in order to the beds that passed the earlier ones."""

    def __init__(self, n: int, survivors: np.ndarray) -> None:
        self.reasons = np.zeros(n, dtype=np.int8)  # NOT_AVAILABLE until shown available
        self.counts = [0] * len(_REASONS)
        self.counts[0] = n - survivors.size
        self.survivors = survivors

    def drop(self, reason: ExclusionReason, fails: np.ndarray) -> None:
        count = int(np.count_nonzero(fails))
        if count:
            code = _REASON_INDEX[reason]
            self.reasons[self.survivors[fails]] = code
            self.counts[code] = count
            self.survivors = self.survivors[~fails]


def _code_mask(codes: Mapping[str, int], wanted: Iterable[str]) -> np.ndarray:
    mask = np.zeros(len(codes), dtype=bool)
    for value in wanted:
        code = codes.get(value)
        if code is not None:
            mask[code] = True
    return mask


def _set_has_all(columns: Mapping[str, int], table: np.ndarray, names: Iterable[str]) -> np.ndarray:
    """Per distinct set: does it hold every one of `names`?"""
    holds = np.ones(table.shape[0], dtype=bool)
    for name in names:
        column = columns.get(name)
        if column is None:
            return np.zeros(table.shape[0], dtype=bool)
        holds &= table[:, column]
    return holds


def _exploitation_points(request: MatchRequest, weights: MatchWeights) -> float:
    if request.needs_exploitation_care:
        return weights.exploitation_care_when_flagged
    if EXPLOITATION_CARE in request.preferred_capabilities:
        return weights.preferred_capability
    return 0.0


def _other_preferred(request: MatchRequest) -> list[str]:
    return sorted(request.preferred_capabilities - {EXPLOITATION_CARE})


def _evaluate(request: MatchRequest, pool: BedPool, weights: MatchWeights) -> _Evaluation:
    n = len(pool)
    if request.urgency is Urgency.PLANNED:
        due = pool.departure_day <= request.needed_on.toordinal()
        available = np.flatnonzero(pool.free_now | due)
    else:
        available = pool.free_now_index
    cascade = _Cascade(n, available)

    index = cascade.survivors
    cascade.drop(
        ExclusionReason.AGE,
        (pool.min_age[index] > request.age) | (pool.max_age[index] < request.age),
    )
    admitted = np.array([policy_admits(policy, request.gender) for policy in _POLICIES])
    cascade.drop(ExclusionReason.GENDER, ~admitted[pool.gender_policy[cascade.survivors]])
    if request.required_capabilities:
        holds = _set_has_all(
            pool.capability_columns, pool.capability_table, request.required_capabilities
        )
        cascade.drop(
            ExclusionReason.REQUIRED_CAPABILITY, ~holds[pool.capability_set[cascade.survivors]]
        )
    cascade.drop(
        ExclusionReason.PUBLIC_INSTITUTION,
        pool.public_institution[cascade.survivors] != request.judge_ordered_public_institution,
    )
    if not request.cross_border_allowed:
        home = pool.country_codes.get(request.home_country, -1)
        cascade.drop(ExclusionReason.CROSS_BORDER, pool.country[cascade.survivors] != home)
    if request.excluded_countries or request.excluded_provinces or request.excluded_municipalities:
        index = cascade.survivors
        municipalities = (municipality_key(name) for name in request.excluded_municipalities)
        cascade.drop(
            ExclusionReason.EXCLUDED_ZONE,
            _code_mask(pool.country_codes, request.excluded_countries)[pool.country[index]]
            | _code_mask(pool.province_codes, request.excluded_provinces)[pool.province[index]]
            | _code_mask(pool.municipality_codes, municipalities)[pool.municipality[index]],
        )
    danger_km = None
    if request.danger_point is not None:
        danger_km = pool.distances_km(cascade.survivors, request.danger_point)
        if request.safety_distance_km is not None:
            too_near = danger_km < request.safety_distance_km
            cascade.drop(ExclusionReason.SAFETY_DISTANCE, too_near)
            danger_km = danger_km[~too_near]

    feasible = cascade.survivors
    cascade.reasons[feasible] = -1

    # Scores, summed in the order `_parts` lists them so both give the same float.
    capability_sets = pool.capability_set[feasible]
    per_set = np.zeros(pool.capability_table.shape[0])
    for capability in _other_preferred(request):
        column = pool.capability_columns.get(capability)
        if column is not None:
            per_set += weights.preferred_capability * pool.capability_table[:, column]
    score = per_set[capability_sets]
    exploitation = _exploitation_points(request, weights)
    if exploitation:
        score += exploitation * pool.specialised[feasible]
    languages = [pool.language_columns.get(language_key(lang)) for lang in request.languages]
    columns = [column for column in languages if column is not None]
    if columns:
        speaks = pool.language_table[:, columns].any(axis=1)
        score += weights.language * speaks[pool.language_set[feasible]]
    reference_km = None
    if request.distance_preference is DistancePreference.AWAY_FROM_DANGER and danger_km is not None:
        score += weights.distance * np.minimum(1.0, danger_km / weights.distance_scale_km)
    elif (
        request.distance_preference is DistancePreference.NEAR_REFERENCE
        and request.reference_point is not None
    ):
        reference_km = pool.distances_km(feasible, request.reference_point)
        score += weights.distance * np.maximum(0.0, 1.0 - reference_km / weights.distance_scale_km)
    score += weights.free_now * pool.free_now[feasible]
    return _Evaluation(cascade.reasons, cascade.counts, feasible, score, danger_km, reference_km)


def evaluate(
    request: MatchRequest, pool: BedPool, weights: MatchWeights = DEFAULT_WEIGHTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bed: first failing rule's index in ExclusionReason order (-1 when feasible),
    feasibility, and score (0 where infeasible)."""
    evaluation = _evaluate(request, pool, weights)
    feasible = np.zeros(len(pool), dtype=bool)
    feasible[evaluation.feasible] = True
    score = np.zeros(len(pool))
    score[evaluation.feasible] = evaluation.score
    return evaluation.reasons, feasible, score


# ---------------------------------------------------------------------------
# Results


def _capability_label(capability: str) -> str:
    return _CAPABILITY_LABELS.get(capability) or capability.replace("_", " ").capitalize()


def _km(distance: float) -> str:
    return f"{distance:.1f}" if distance < 10 else f"{distance:.0f}"


def _parts(
    request: MatchRequest,
    weights: MatchWeights,
    bed: BedCandidate,
    free_now: bool,
    specialised: bool,
    danger_km: float | None,
    reference_km: float | None,
) -> list[ScorePart]:
    parts = []
    offered = effective_capabilities(bed)
    for capability in _other_preferred(request):
        if capability in offered:
            parts.append(
                ScorePart(
                    "preferred_capability",
                    weights.preferred_capability,
                    _capability_label(capability),
                )
            )
    exploitation = _exploitation_points(request, weights)
    if exploitation and specialised:
        parts.append(
            ScorePart("exploitation_care", exploitation, _capability_label(EXPLOITATION_CARE))
        )
    shared = {language_key(lang) for lang in request.languages} & {
        language_key(lang) for lang in bed.languages
    }
    if shared:
        parts.append(
            ScorePart("language", weights.language, f"Staff speak {', '.join(sorted(shared))}")
        )
    if request.distance_preference is DistancePreference.AWAY_FROM_DANGER and danger_km is not None:
        points = weights.distance * min(1.0, danger_km / weights.distance_scale_km)
        parts.append(
            ScorePart("away_from_danger", points, f"{_km(danger_km)} km from the danger point")
        )
    elif reference_km is not None:
        points = weights.distance * max(0.0, 1.0 - reference_km / weights.distance_scale_km)
        parts.append(
            ScorePart("near_reference", points, f"{_km(reference_km)} km from school or family")
        )
    if free_now:
        parts.append(ScorePart("free_now", weights.free_now, "Free now"))
    return parts


def _facts(request: MatchRequest, bed: BedCandidate, free_now: bool) -> list[str]:
    """Hard-constraint facts worth telling the officer."""
    facts = [f"Ages {bed.min_age}\N{EN DASH}{bed.max_age}, {_POLICY_LABELS[bed.gender_policy]}"]
    if not free_now and bed.expected_departure is not None:
        facts.append(f"Free from {bed.expected_departure.isoformat()}")
    if bed.country != request.home_country:
        facts.append(f"Cross-border: {bed.country}")
    if request.judge_ordered_public_institution:
        facts.append("Public youth institution, as ordered by the judge")
    return facts


def _top(evaluation: _Evaluation, pool: BedPool, limit: int) -> np.ndarray:
    """Positions (into evaluation.feasible) of the best `limit` beds, best first."""
    score = evaluation.score
    if limit <= 0 or score.size == 0:
        return np.empty(0, dtype=np.int64)
    positions = np.arange(score.size)
    if score.size > limit:
        # Only beds scoring at least the limit-th best can make it; ties are kept for the
        # tie-breakers below.
        threshold = np.partition(score, score.size - limit)[score.size - limit]
        positions = np.flatnonzero(score >= threshold)
    beds = evaluation.feasible[positions]
    free_now = pool.free_now[beds]
    available_from = np.where(free_now, np.int64(-1), pool.departure_day[beds])
    order = np.lexsort((pool.tiebreak_rank[beds], available_from, ~free_now, -score[positions]))
    return positions[order[:limit]]


def _ranked(
    request: MatchRequest,
    pool: BedPool,
    weights: MatchWeights,
    evaluation: _Evaluation,
    position: int,
) -> RankedCandidate:
    index = int(evaluation.feasible[position])
    bed = pool.beds[index]
    free_now = bool(pool.free_now[index])
    specialised = bool(pool.specialised[index])
    danger_km = None if evaluation.danger_km is None else float(evaluation.danger_km[position])
    reference_km = (
        None if evaluation.reference_km is None else float(evaluation.reference_km[position])
    )
    parts = _parts(request, weights, bed, free_now, specialised, danger_km, reference_km)
    fallback = request.needs_exploitation_care and not specialised
    reasons = [part.reason for part in parts]
    if fallback:
        reasons.append(FALLBACK_REASON)
    reasons.extend(_facts(request, bed, free_now))
    return RankedCandidate(
        bed=bed,
        score=float(evaluation.score[position]),
        parts=tuple(parts),
        free_now=free_now,
        specialised=specialised,
        fallback=fallback,
        distance_from_danger_km=danger_km,
        reasons=tuple(reasons),
    )


def match(
    request: MatchRequest,
    pool: BedPool,
    weights: MatchWeights = DEFAULT_WEIGHTS,
    *,
    limit: int = 20,
    already_excluded: Mapping[ExclusionReason, int] | None = None,
) -> MatchResult:
    """The best `limit` beds for the request, and how many beds each hard rule excluded.

    `already_excluded` counts beds the caller did not load because the database had already
    filtered them out (held or out-of-service beds, say).
    """
    extra = dict(already_excluded or {})
    if any(count < 0 for count in extra.values()):
        raise ValueError("already_excluded counts must be 0 or more")
    evaluation = _evaluate(request, pool, weights)
    candidates = tuple(
        _ranked(request, pool, weights, evaluation, int(position))
        for position in _top(evaluation, pool, limit)
    )
    excluded = {
        reason: evaluation.counts[code] + extra.get(reason, 0)
        for code, reason in enumerate(_REASONS)
    }
    return MatchResult(
        candidates=candidates,
        candidate_count=int(evaluation.feasible.size),
        excluded=excluded,
        total_beds=len(pool) + sum(extra.values()),
    )


def check_bed(request: MatchRequest, bed: BedCandidate) -> ExclusionReason | None:
    """The first hard rule the bed breaks for this request, or None when it may be proposed."""
    reasons, _, _ = evaluate(request, BedPool.from_beds([bed]))
    code = int(reasons[0])
    return None if code < 0 else _REASONS[code]
