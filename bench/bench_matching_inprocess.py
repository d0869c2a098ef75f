"""In-process benchmark of matching and batch allocation on synthetic pools.

    python bench/bench_matching_inprocess.py [--quick]

Builds deterministic synthetic networks (centres in BE, NL and LU with units of 6 to 20
beds, 5 % of beds free), then times BedPool.from_beds, match() and allocate(), and prints a
Markdown table. No database: this measures the algorithm, not the queries feeding it.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import scipy

from capacity.geography import province_codes
from capacity.vocabulary import (
    BedStatus,
    Capability,
    CentreKind,
    Country,
    GenderPolicy,
    MinorGender,
)
from placement.allocation import AllocationRequest, allocate
from placement.matching import BedCandidate, BedPool, MatchRequest, match
from placement.vocabulary import DistancePreference, Urgency

SEED = 20_240_601
TODAY = date(2025, 3, 3)
FREE_SHARE = 0.05
BRUSSELS = (50.8503, 4.3517)
LIEGE = (50.6326, 5.5797)

# Latitude and longitude boxes, roughly around each country.
AREAS = {
    Country.BE: ((49.55, 51.45), (2.6, 6.3)),
    Country.NL: ((51.3, 53.3), (3.6, 7.1)),
    Country.LU: ((49.5, 50.15), (5.8, 6.5)),
}
KINDS = [
    (CentreKind.YOUTH_AID_RESIDENTIAL, 50),
    (CentreKind.EMERGENCY_SHELTER, 15),
    (CentreKind.MENA_RECEPTION, 12),
    (CentreKind.SPECIALISED_EXPLOITATION, 6),
    (CentreKind.PSYCHIATRIC_YOUTH, 10),
    (CentreKind.PUBLIC_YOUTH_INSTITUTION, 7),
]
LANGUAGES = ["fr", "nl", "de", "en", "ar", "ro", "ps", "ti", "uk", "es", "tr", "so"]
HOME_LANGUAGES = {Country.BE: ["fr", "nl", "de"], Country.NL: ["nl"], Country.LU: ["fr", "de"]}
AGE_RANGES = [(0, 12), (6, 14), (10, 16), (12, 17), (12, 18), (14, 18), (16, 21)]
MUNICIPALITIES = ["Liège", "Namur", "Gent", "Leuven", "Mons", "Hasselt", "Brugge", "Arlon"]


def synthetic_beds(count: int, rng: random.Random, free_share: float = FREE_SHARE):
    """`count` beds in centres of one to three units of 6 to 20 beds."""
    beds: list[BedCandidate] = []
    centre_id = unit_id = 0
    while len(beds) < count:
        centre_id += 1
        country = rng.choices([Country.BE, Country.NL, Country.LU], weights=[80, 15, 5])[0]
        (lat_low, lat_high), (lon_low, lon_high) = AREAS[country]
        kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        capabilities = {c.value for c in Capability if rng.random() < 0.15}
        if kind is CentreKind.SPECIALISED_EXPLOITATION or rng.random() < 0.05:
            capabilities.add(Capability.EXPLOITATION_CARE.value)
        languages = {rng.choice(HOME_LANGUAGES[country])} | set(rng.sample(LANGUAGES, 2))
        centre = {
            "centre_id": centre_id,
            "centre_name": f"Centre {centre_id:05d}",
            "centre_kind": kind,
            "capabilities": frozenset(capabilities),
            "languages": frozenset(languages),
            "country": country.value,
            "province": rng.choice(province_codes(country)),
            "municipality": rng.choice(MUNICIPALITIES) + f" {rng.randrange(40)}",
            "latitude": rng.uniform(lat_low, lat_high),
            "longitude": rng.uniform(lon_low, lon_high),
        }
        for unit_number in range(rng.randint(1, 3)):
            unit_id += 1
            min_age, max_age = rng.choice(AGE_RANGES)
            policy = rng.choices(list(GenderPolicy), weights=[25, 25, 50])[0]
            for bed_number in range(rng.randint(6, 20)):
                roll = rng.random()
                if roll < free_share:
                    status, departure = BedStatus.AVAILABLE, None
                elif roll < free_share + 0.03:
                    status, departure = BedStatus.HELD, None
                elif roll < free_share + 0.05:
                    status, departure = BedStatus.OUT_OF_SERVICE, None
                else:
                    status = BedStatus.OCCUPIED
                    departure = (
                        TODAY + timedelta(days=rng.randrange(1, 120))
                        if rng.random() < 0.6
                        else None
                    )
                beds.append(
                    BedCandidate(
                        bed_id=len(beds) + 1,
                        bed_label=f"{unit_number + 1}.{bed_number + 1:02d}",
                        unit_id=unit_id,
                        unit_name=f"Unit {unit_number + 1}",
                        status=status,
                        expected_departure=departure,
                        min_age=min_age,
                        max_age=max_age,
                        gender_policy=policy,
                        **centre,
                    )
                )
    return beds[:count]


def realistic_requests() -> list[MatchRequest]:
    return [
        MatchRequest(  # a flagged victim of exploitation, immediate, away from Brussels
            age=15,
            gender=MinorGender.GIRL,
            languages=frozenset({"ro", "en"}),
            urgency=Urgency.IMMEDIATE,
            needed_on=TODAY,
            needs_exploitation_care=True,
            excluded_municipalities=frozenset({"Bruxelles"}),
            danger_point=BRUSSELS,
            safety_distance_km=30.0,
            distance_preference=DistancePreference.AWAY_FROM_DANGER,
        ),
        MatchRequest(
            age=13,
            gender=MinorGender.BOY,
            languages=frozenset({"nl"}),
            urgency=Urgency.WITHIN_24H,
            needed_on=TODAY,
            required_capabilities=frozenset({Capability.TRAUMA.value}),
            preferred_capabilities=frozenset({Capability.SECURE.value}),
        ),
        MatchRequest(  # planned: occupied beds leaving before the date count too
            age=16,
            gender=MinorGender.GIRL,
            languages=frozenset({"fr"}),
            urgency=Urgency.PLANNED,
            needed_on=TODAY + timedelta(days=30),
            excluded_provinces=frozenset({"BE-VAN"}),
            distance_preference=DistancePreference.NEAR_REFERENCE,
            reference_point=LIEGE,
        ),
        MatchRequest(
            age=14,
            gender=MinorGender.OTHER,
            languages=frozenset({"ar", "fr"}),
            urgency=Urgency.IMMEDIATE,
            needed_on=TODAY,
            cross_border_allowed=True,
            preferred_capabilities=frozenset({Capability.TRAUMA.value}),
        ),
        MatchRequest(
            age=17,
            gender=MinorGender.BOY,
            languages=frozenset({"fr"}),
            urgency=Urgency.IMMEDIATE,
            needed_on=TODAY,
            judge_ordered_public_institution=True,
        ),
    ]


def random_requests(count: int, rng: random.Random) -> list[MatchRequest]:
    requests = []
    for _ in range(count):
        urgency = rng.choices(list(Urgency), weights=[30, 30, 40])[0]
        flagged = rng.random() < 0.25
        danger = (rng.uniform(49.6, 51.4), rng.uniform(2.7, 6.2)) if rng.random() < 0.5 else None
        requests.append(
            MatchRequest(
                age=rng.randint(8, 17),
                gender=rng.choices(list(MinorGender), weights=[48, 48, 4])[0],
                languages=frozenset(rng.sample(LANGUAGES, rng.randint(1, 2))),
                urgency=urgency,
                needed_on=TODAY
                if urgency is not Urgency.PLANNED
                else TODAY + timedelta(days=rng.randrange(1, 60)),
                required_capabilities=frozenset({Capability.TRAUMA.value})
                if rng.random() < 0.1
                else frozenset(),
                preferred_capabilities=frozenset(
                    c.value for c in Capability if rng.random() < 0.15
                ),
                needs_exploitation_care=flagged,
                danger_point=danger,
                safety_distance_km=rng.choice([10.0, 25.0, 50.0]) if danger else None,
                cross_border_allowed=rng.random() < 0.2,
                distance_preference=DistancePreference.AWAY_FROM_DANGER
                if danger
                else DistancePreference.NONE,
            )
        )
    return requests


def timed(action: Callable[[], object]) -> float:
    """Seconds taken by one call."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke check")
    args = parser.parse_args()
    match_runs = 40 if args.quick else 200
    allocation_runs = 1 if args.quick else 3
    rng = random.Random(SEED)
    requests = realistic_requests()

    rows = []
    for size in (1_000, 10_000, 100_000):
        beds = synthetic_beds(size, rng)
        free = sum(bed.status is BedStatus.AVAILABLE for bed in beds)
        build = min(timed(lambda beds=beds: BedPool.from_beds(beds)) for _ in range(3))
        pool = BedPool.from_beds(beds)
        for request in requests:  # warm up
            match(request, pool)
        samples = []
        for run in range(match_runs):
            request = requests[run % len(requests)]
            samples.append(timed(lambda request=request, pool=pool: match(request, pool)))
        rows.append(
            (
                f"match(), {size:,} beds ({free:,} free), {match_runs} runs",
                f"build {ms(build)}",
                ms(statistics.median(samples)),
                ms(percentile(samples, 0.95)),
                ms(max(samples)),
            )
        )

    for request_count, bed_count in ((100, 1_000), (1_000, 10_000)):
        # The service loads free beds only for a batch: every bed of this pool is free.
        pool = BedPool.from_beds(synthetic_beds(bed_count, rng, free_share=1.0))
        batch = [
            AllocationRequest(request_id=number, match=request)
            for number, request in enumerate(random_requests(request_count, rng), start=1)
        ]
        samples = []
        assigned = 0
        for _ in range(allocation_runs):
            start = time.perf_counter()
            result = allocate(batch, pool)
            samples.append(time.perf_counter() - start)
            assigned = len(result.proposals)
        rows.append(
            (
                f"allocate(), {request_count:,} requests x {bed_count:,} free beds, "
                f"{allocation_runs} runs ({assigned} placed)",
                "",
                ms(statistics.median(samples)),
                "",
                ms(max(samples)),
            )
        )

    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()} {platform.system()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end (other work slows the tail)"
    )
    print()
    print("| measurement | pool build (ms) | p50 (ms) | p95 (ms) | max (ms) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, build, p50, p95, worst in rows:
        print(f"| {label} | {build.removeprefix('build ')} | {p50} | {p95} | {worst} |")


if __name__ == "__main__":
    main()
