"""A large synthetic network written straight into a freshly migrated database, for benchmarks.

    python bench/synthetic.py --database-url sqlite:////tmp/bench.sqlite --beds 100000 \\
        --open-requests 200 --waiting-requests 0 --migrate --tokens

Everything is invented and deterministic (one seeded generator; only the times follow the
clock): N beds in centres of 10 to 40 beds spread over the provinces of Belgium, the
Netherlands and Luxembourg, in units with an age range and a gender policy; 5 % of the beds
are `available` (exactly), the others occupied (some with an expected departure within five
weeks, so planned requests see more beds) or out of service. Then a placement officer with a
service, a coordinator, cases of that service (some with an active exploitation flag), and
placement requests: `open` ones to match and `waiting` ones for batch allocation.

Rows are inserted in bulk, many rows per INSERT statement, in one transaction, as the demo
loader does. No occupancy event is written: nothing in matching reads them and the schema
does not ask for a creation event per bed.

As a command it sets DATABASE_URL (and APP_ENV=test) before importing the app, since the
app reads its settings once, prints a JSON summary (ids, counts, and with --tokens an API
token for the officer and one for the coordinator) and exits. As a module, `build_network`
writes into whatever database the app is configured for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

SEED = 20_260_301
FREE_SHARE = 0.05
OFFICER_SERVICE = "SAJ Banc d'essai"
CODE_ALPHABET = "BCDFGHJKMNPQRSTVWXZ23456789"

# Approximate centre of each province (or Luxembourg canton); centres are scattered around it.
PROVINCE_CENTRES: dict[str, tuple[float, float]] = {
    "BE-BRU": (50.85, 4.35),
    "BE-VAN": (51.22, 4.60),
    "BE-VLI": (50.98, 5.45),
    "BE-VOV": (51.03, 3.80),
    "BE-VWV": (51.05, 3.05),
    "BE-VBR": (50.88, 4.60),
    "BE-WBR": (50.67, 4.55),
    "BE-WHT": (50.45, 3.95),
    "BE-WLG": (50.55, 5.70),
    "BE-WLX": (49.95, 5.45),
    "BE-WNA": (50.30, 4.85),
    "NL-DR": (52.85, 6.60),
    "NL-FL": (52.50, 5.60),
    "NL-FR": (53.10, 5.85),
    "NL-GE": (52.05, 5.90),
    "NL-GR": (53.25, 6.75),
    "NL-LI": (51.20, 5.95),
    "NL-NB": (51.55, 5.20),
    "NL-NH": (52.55, 4.85),
    "NL-OV": (52.40, 6.45),
    "NL-UT": (52.08, 5.20),
    "NL-ZE": (51.50, 3.85),
    "NL-ZH": (52.00, 4.50),
    "LU-CA": (49.65, 6.00),
    "LU-CL": (50.05, 6.03),
    "LU-DI": (49.87, 6.16),
    "LU-EC": (49.81, 6.42),
    "LU-ES": (49.50, 6.00),
    "LU-GR": (49.68, 6.44),
    "LU-LU": (49.61, 6.13),
    "LU-ME": (49.75, 6.10),
    "LU-RD": (49.76, 5.89),
    "LU-RM": (49.55, 6.37),
    "LU-VD": (49.93, 6.21),
    "LU-WI": (49.97, 5.93),
}
COUNTRY_WEIGHTS = {"BE": 70, "NL": 25, "LU": 5}
HOME_LANGUAGES = {"BE": ["fr", "nl", "de"], "NL": ["nl"], "LU": ["fr", "de", "lb"]}
OTHER_LANGUAGES = ["en", "ar", "ro", "bg", "ps", "fa", "ti", "uk", "es", "tr", "so", "sq"]
KINDS = {  # kind: weight
    "youth_aid_residential": 50,
    "emergency_shelter": 15,
    "mena_reception": 12,
    "psychiatric_youth": 10,
    "public_youth_institution": 7,
    "specialised_exploitation": 6,
}
CAPABILITIES = ["trauma", "addiction", "mother_and_child", "disability", "secure"]
AGE_RANGES = [(6, 12), (10, 16), (12, 17), (12, 17), (12, 18), (14, 18), (15, 18), (16, 21)]
GENDER_POLICIES = {"girls": 35, "boys": 35, "mixed": 30}
MUNICIPALITIES_PER_PROVINCE = 12
EXPECTED_DEPARTURE_SHARE = 0.3  # of occupied beds
OUT_OF_SERVICE_SHARE = 0.1  # of beds not available


def municipality(province: str, number: int) -> str:
    return f"Commune {province} {number:02d}"


@dataclass(frozen=True)
class NetworkSpec:
    beds: int
    free_share: float = FREE_SHARE
    open_requests: int = 0
    waiting_requests: int = 0
    seed: int = SEED


@dataclass
class NetworkSummary:
    beds: int
    free_beds: int
    centres: int
    units: int
    officer_id: int
    coordinator_id: int
    open_request_ids: list[int] = field(default_factory=list)
    waiting_request_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0
    tokens: dict[str, str] = field(default_factory=dict)


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _community(rng: random.Random, province: str) -> str | None:
    if not province.startswith("BE-"):
        return None
    if province == "BE-BRU":
        return rng.choice(["french", "flemish"])
    if province.startswith("BE-V"):
        return "flemish"
    if province == "BE-WLG" and rng.random() < 0.15:
        return "german_speaking"
    return "french"


def _split(rng: random.Random, total: int) -> list[int]:
    """A centre's beds split into one to four units of at least five beds."""
    if total < 10:
        return [total]
    units = rng.randint(1, max(1, min(4, total // 5)))
    sizes = [5] * units
    for _ in range(total - 5 * units):
        sizes[rng.randrange(units)] += 1
    return sizes


def _case_codes(rng: random.Random, count: int) -> list[str]:
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < count:
        code = "C-" + "".join(rng.choice(CODE_ALPHABET) for _ in range(8))
        if code not in seen:
            seen.add(code)
            codes.append(code)
    return codes


async def _insert(table, rows: list, *returning) -> list[dict[str, Any]]:
    """Many rows per INSERT (within both engines' bound-parameter limits)."""
    if not rows:
        return []
    per_statement = max(1, min(2000, 30000 // (len(table._meta.columns) + 1)))
    out: list[dict[str, Any]] = []
    for start in range(0, len(rows), per_statement):
        query = table.insert(*rows[start : start + per_statement])
        if returning:
            out.extend(await query.returning(*returning))
        else:
            await query
    return out


async def _insert_values(table, columns: tuple, rows: list[tuple[Any, ...]]) -> None:
    """Plain values (no arrays), many rows per INSERT through Piccolo's raw queries: about
    four times faster than building a Table instance per row, for the same stored values."""
    names = ", ".join(f'"{column._meta.db_column_name}"' for column in columns)
    placeholders = "(" + ", ".join(["{}"] * len(columns)) + ")"
    per_statement = 30000 // len(columns)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        await table.raw(
            f'INSERT INTO "{table._meta.tablename}" ({names}) VALUES '
            + ", ".join([placeholders] * len(chunk)),
            *[value for row in chunk for value in row],
        )


def _plan_request(rng: random.Random, today: date) -> dict[str, Any]:
    """The matching facts of one invented request (and its case)."""
    age = rng.choices(range(8, 18), weights=[1, 1, 2, 3, 5, 7, 9, 10, 10, 8])[0]
    urgency = rng.choices(["immediate", "within_24h", "planned"], weights=[50, 35, 15])[0]
    danger = rng.random() < 0.3
    danger_at = None
    if danger:
        province = rng.choice([p for p in PROVINCE_CENTRES if p.startswith("BE-")])
        lat, lon = PROVINCE_CENTRES[province]
        danger_at = (lat + rng.uniform(-0.1, 0.1), lon + rng.uniform(-0.1, 0.1))
    reference = None
    if not danger and rng.random() < 0.3:
        lat, lon = PROVINCE_CENTRES[rng.choice(list(PROVINCE_CENTRES)[:11])]
        reference = (lat + rng.uniform(-0.1, 0.1), lon + rng.uniform(-0.1, 0.1))
    preference = "none"
    if danger_at is not None and rng.random() < 0.7:
        preference = "away_from_danger"
    elif reference is not None:
        preference = "near_reference"
    return {
        "age": age,
        "gender": rng.choices(["girl", "boy", "other"], weights=[48, 46, 6])[0],
        "languages": sorted(
            {rng.choice(["fr", "nl", "de"])} | set(rng.sample(OTHER_LANGUAGES, rng.randint(0, 1)))
        ),
        "flagged": rng.random() < 0.1,
        "care_needs": ["trauma"] if rng.random() < 0.2 else [],
        "urgency": urgency,
        "needed_on": today + timedelta(days=rng.randint(3, 21)) if urgency == "planned" else None,
        "required": ["trauma"] if rng.random() < 0.1 else [],
        "preferred": sorted({c for c in CAPABILITIES if rng.random() < 0.1}),
        "excluded_provinces": [rng.choice(list(PROVINCE_CENTRES)[:11])]
        if rng.random() < 0.15
        else [],
        "danger": danger_at,
        "safety_distance_km": rng.choice([10.0, 25.0, 50.0]) if danger_at else None,
        "preference": preference,
        "reference": reference,
        "cross_border_allowed": rng.random() < 0.3,
    }


async def build_network(spec: NetworkSpec) -> NetworkSummary:
    """Write the network, users, cases and requests of `spec` into the configured database."""
    from backend.database import write_transaction
    from backend.identity import Role
    from backend.passwords import hash_password
    from backend.tables import User
    from backend.timeutil import utcnow
    from capacity.tables import Bed, Centre, Unit

    started = time.perf_counter()
    rng = random.Random(spec.seed)
    now = utcnow()
    today = now.date()
    provinces = {
        country: [code for code in PROVINCE_CENTRES if code.startswith(country)]
        for country in COUNTRY_WEIGHTS
    }

    # The plan first, in memory: centres, their units, each unit's bed count.
    centres: list[dict[str, Any]] = []
    placed = 0
    while placed < spec.beds:
        size = min(rng.randint(10, 40), spec.beds - placed)
        country = _weighted(rng, COUNTRY_WEIGHTS)
        province = rng.choice(provinces[country])
        lat, lon = PROVINCE_CENTRES[province]
        kind = _weighted(rng, KINDS)
        capabilities = {c for c in CAPABILITIES if rng.random() < 0.15}
        if kind == "specialised_exploitation":
            capabilities |= {"exploitation_care", "trauma"}
        elif kind == "public_youth_institution":
            capabilities.add("secure")
        number = len(centres) + 1
        centres.append(
            {
                "row": Centre(
                    name=f"Centre synthétique {number:05d}",
                    operator=f"ASBL Exemple {number % 500:03d}",
                    country=country,
                    community=_community(rng, province),
                    province=province,
                    municipality=municipality(
                        province, rng.randrange(1, MUNICIPALITIES_PER_PROVINCE + 1)
                    ),
                    latitude=round(lat + rng.uniform(-0.25, 0.25), 5),
                    longitude=round(lon + rng.uniform(-0.35, 0.35), 5),
                    kind=kind,
                    capabilities=sorted(capabilities),
                    languages=sorted(
                        {rng.choice(HOME_LANGUAGES[country]), "en"}
                        | set(rng.sample(OTHER_LANGUAGES, rng.randint(0, 3)))
                    ),
                    address=f"Rue Inventée {number}",
                    address_confidential=kind == "specialised_exploitation",
                    active=True,
                    created_at=now - timedelta(days=400),
                    updated_at=now - timedelta(days=1),
                    last_confirmed_at=now - timedelta(hours=rng.uniform(0.5, 30)),
                ),
                "units": _split(rng, size),
            }
        )
        placed += size
    free = set(rng.sample(range(spec.beds), round(spec.beds * spec.free_share)))

    async with write_transaction():
        password_hash = hash_password(secrets.token_urlsafe(24))
        users = await _insert(
            User,
            [
                User(
                    username=username,
                    display_name=display,
                    role=role.value,
                    language="fr",
                    service=service,
                    password_hash=password_hash,
                    active=True,
                    created_at=now - timedelta(days=400),
                )
                for username, display, role, service in (
                    (
                        "bench.officer",
                        "Délégué (banc d'essai)",
                        Role.PLACEMENT_OFFICER,
                        OFFICER_SERVICE,
                    ),
                    (
                        "bench.coordinator",
                        "Coordination (banc d'essai)",
                        Role.COORDINATOR,
                        "Coordination de garde (banc d'essai)",
                    ),
                )
            ],
            User.id,
            User.username,
        )
        user_ids = {row["username"]: row["id"] for row in users}
        officer_id = user_ids["bench.officer"]

        centre_ids = [
            row["id"] for row in await _insert(Centre, [c["row"] for c in centres], Centre.id)
        ]
        unit_rows, unit_sizes = [], []
        for centre_id, centre in zip(centre_ids, centres, strict=True):
            for number, size in enumerate(centre["units"], start=1):
                min_age, max_age = rng.choice(AGE_RANGES)
                unit_rows.append(
                    Unit(
                        centre=centre_id,
                        name=f"Groupe {number}",
                        min_age=min_age,
                        max_age=max_age,
                        gender_policy=_weighted(rng, GENDER_POLICIES),
                        active=True,
                    )
                )
                unit_sizes.append(size)
        unit_ids = [row["id"] for row in await _insert(Unit, unit_rows, Unit.id)]

        bed_rows: list[tuple[Any, ...]] = []
        index = 0
        created = now - timedelta(days=400)
        for unit_id, size in zip(unit_ids, unit_sizes, strict=True):
            for number in range(1, size + 1):
                departure = None
                if index in free:
                    status = "available"
                elif rng.random() < OUT_OF_SERVICE_SHARE:
                    status = "out_of_service"
                else:
                    status = "occupied"
                    if rng.random() < EXPECTED_DEPARTURE_SHARE:
                        departure = today + timedelta(days=rng.randint(1, 35))
                bed_rows.append((unit_id, f"L{number}", status, departure, True, created))
                index += 1
        await _insert_values(
            Bed,
            (Bed.unit, Bed.label, Bed.status, Bed.expected_departure, Bed.active, Bed.created_at),
            bed_rows,
        )

        open_ids, waiting_ids = await _insert_requests(
            rng, now, officer_id, spec.open_requests, spec.waiting_requests
        )

    return NetworkSummary(
        beds=spec.beds,
        free_beds=len(free),
        centres=len(centres),
        units=len(unit_rows),
        officer_id=officer_id,
        coordinator_id=user_ids["bench.coordinator"],
        open_request_ids=open_ids,
        waiting_request_ids=waiting_ids,
        seconds=round(time.perf_counter() - started, 2),
    )


async def _insert_requests(
    rng: random.Random, now: datetime, officer_id: int, open_count: int, waiting_count: int
) -> tuple[list[int], list[int]]:
    """One case per request (a case has at most one request in progress)."""
    from placement.tables import CaseFlag, PlacementRequest, YouthCase

    total = open_count + waiting_count
    if not total:
        return [], []
    plans = [_plan_request(rng, now.date()) for _ in range(total)]
    codes = _case_codes(rng, total)
    cases = await _insert(
        YouthCase,
        [
            YouthCase(
                case_code=code,
                birth_year=now.year - plan["age"],  # `age` years old today
                birth_month=rng.randint(1, now.month),
                gender=plan["gender"],
                languages=plan["languages"],
                nationality_group=rng.choice(["belgian", "eu", "non_eu", "unknown"]),
                migration_status=rng.choice(["none", "unaccompanied_foreign_minor", "unknown"]),
                care_needs=plan["care_needs"],
                service=OFFICER_SERVICE,
                opened_by=officer_id,
                opened_at=now - timedelta(days=rng.uniform(1, 60)),
            )
            for code, plan in zip(codes, plans, strict=True)
        ],
        YouthCase.id,
    )
    case_ids = [row["id"] for row in cases]
    await _insert(
        CaseFlag,
        [
            CaseFlag(
                case=case_id,
                exploitation_type=rng.choice(["loverboy_grooming", "trafficking", "sextortion"]),
                status="active",
                discovered_on=now.date() - timedelta(days=rng.randint(1, 30)),
                source_service=OFFICER_SERVICE,
                note="",
                supersedes=None,
                added_by=officer_id,
                added_at=now - timedelta(hours=rng.uniform(1, 500)),
            )
            for case_id, plan in zip(case_ids, plans, strict=True)
            if plan["flagged"]
        ],
    )
    rows = []
    for number, (case_id, plan) in enumerate(zip(case_ids, plans, strict=True)):
        waiting = number >= open_count
        created = now - timedelta(hours=rng.uniform(2, 200) if waiting else rng.uniform(0.1, 2))
        danger = plan["danger"] or (None, None)
        reference = plan["reference"] or (None, None)
        rows.append(
            PlacementRequest(
                case=case_id,
                status="waiting" if waiting else "open",
                urgency=plan["urgency"],
                needed_on=plan["needed_on"],
                required_capabilities=plan["required"],
                preferred_capabilities=plan["preferred"],
                excluded_municipalities=[],
                excluded_provinces=plan["excluded_provinces"],
                excluded_countries=[],
                danger_latitude=danger[0],
                danger_longitude=danger[1],
                safety_distance_km=plan["safety_distance_km"],
                distance_preference=plan["preference"],
                reference_latitude=reference[0],
                reference_longitude=reference[1],
                home_country="BE",
                cross_border_allowed=plan["cross_border_allowed"],
                judge_ordered_public_institution=False,
                notes="",
                requesting_service=OFFICER_SERVICE,
                created_by=officer_id,
                created_at=created,
                updated_at=created,
                waiting_since=created + timedelta(minutes=5) if waiting else None,
            )
        )
    ids = [row["id"] for row in await _insert(PlacementRequest, rows, PlacementRequest.id)]
    return ids[:open_count], ids[open_count:]


async def _create_tokens(summary: NetworkSummary) -> dict[str, str]:
    from backend.accounts import create_token

    return {
        "officer": (await create_token(summary.officer_id, "benchmark")).token,
        "coordinator": (await create_token(summary.coordinator_id, "benchmark")).token,
    }


async def _main_async(args: argparse.Namespace) -> NetworkSummary:
    if args.migrate:
        from backend.migrate import apply_migrations

        await apply_migrations()
    summary = await build_network(
        NetworkSpec(
            beds=args.beds,
            free_share=args.free_share,
            open_requests=args.open_requests,
            waiting_requests=args.waiting_requests,
            seed=args.seed,
        )
    )
    if args.tokens:
        summary.tokens = await _create_tokens(summary)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="sqlite:///path or postgresql://")
    parser.add_argument("--beds", type=int, required=True)
    parser.add_argument("--free-share", type=float, default=FREE_SHARE)
    parser.add_argument("--open-requests", type=int, default=0)
    parser.add_argument("--waiting-requests", type=int, default=0)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--migrate", action="store_true", help="apply the migrations first")
    parser.add_argument("--tokens", action="store_true", help="API tokens for both users")
    args = parser.parse_args(argv)
    # The app reads its settings once, at first import: fix them before importing it.
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["APP_ENV"] = "test"
    os.environ["SCHEDULER_ENABLED"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    summary = asyncio.run(_main_async(args))
    json.dump(asdict(summary), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
