"""Anonymised statistics: the figures, their small-cell suppression, and who may read them."""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import UTC, date, datetime

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.database import write_transaction
from capacity.tables import Bed
from placement import stats, stats_service
from placement.stats import Fact
from placement.tables import CaseFlag, Hold, PlacementRequest, Stay, YouthCase
from tests.support.placement import flag_case, open_case
from tests.test_roles import PLACEMENT_PATHS, api_routes

# ---------------------------------------------------------------------------
# Suppression, as pure properties: nothing small is recoverable from every table published
# over every sub-period (differencing) and from the margins the smaller tables publish
# (crossing).

MONTHS = ["2026-01", "2026-02", "2026-03"]
ROWS, COLS = ["<=12", "13-14", "15-16"], ["none", "prostitution", "trafficking"]


def _facts(counts: list[list[list[int]]]) -> list[Fact]:
    """counts[month][row][col] facts of age band by exploitation."""
    facts = []
    for m, grid in enumerate(counts):
        for (r, band), (c, kind) in itertools.product(enumerate(ROWS), enumerate(COLS)):
            fact = Fact(
                "placements", date(2026, m + 1, 3), band, "girl", kind, "none", "BE", "none"
            )
            facts += [fact] * grid[r][c]
    return facts


def _entries(dims: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The entries of a table and its margins, each named by the values it sums over."""
    if len(dims) == 2:
        inner = [(a, b) for a in ROWS for b in COLS]
        return inner + [(a, "*") for a in ROWS] + [("*", b) for b in COLS] + [("*", "*")]
    return [(a, "*") for a in ROWS] + [("*", "*")]


def _published(dims: tuple[str, ...], facts: list[Fact], first: str, last: str):
    """{entry: count or None (suppressed)} for one table and its margins."""
    result = stats.table(facts, "placements", first, last, dims)
    shown = {}
    for cell in result.cells if dims else []:
        key = cell.values if len(dims) == 2 else (*cell.values, "*")
        shown[key] = None if cell.suppressed else cell.count
    for dim, margin in result.margins.items():
        for cell in margin:
            key = (cell.values[0], "*") if dim == "age_band" else ("*", cell.values[0])
            shown[key] = None if cell.suppressed else cell.count
    shown[("*", "*")] = None if result.total.suppressed else result.total.count
    return shown


def _vector(entry: tuple[str, ...], months: list[int]) -> np.ndarray:
    """The entry over those months as a combination of the month-level inner cells."""
    vector = np.zeros(len(MONTHS) * len(ROWS) * len(COLS))
    for m in months:
        for r, c in itertools.product(range(len(ROWS)), range(len(COLS))):
            if entry[0] in ("*", ROWS[r]) and entry[1] in ("*", COLS[c]):
                vector[(m * len(ROWS) + r) * len(COLS) + c] = 1
    return vector


def _value(counts, entry, months) -> int:
    return int(_vector(entry, months) @ np.array(counts).ravel())


grids = st.lists(
    st.lists(st.lists(st.integers(0, 12), min_size=3, max_size=3), min_size=3, max_size=3),
    min_size=3,
    max_size=3,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counts=grids)
def test_no_small_value_is_recoverable_by_differencing_or_crossing(counts):
    facts = _facts(counts)
    periods = [list(range(i, j + 1)) for i in range(3) for j in range(i, 3)]
    known = []
    for months, dims in itertools.product(
        periods, [(), ("age_band",), ("age_band", "exploitation")]
    ):
        shown = _published(dims, facts, MONTHS[months[0]], MONTHS[months[-1]])
        for entry, count in shown.items():
            if count is not None:
                assert count == _value(counts, entry, months)
                # Whole-month rule: nothing published covers a month where it was 1..4.
                assert all(not 0 < _value(counts, entry, [m]) < 5 for m in months)
                known.append(_vector(entry, months))
    system = np.array(known)
    rank = np.linalg.matrix_rank(system)
    # Every small figure, for any entry over any period, stays out of reach of the attacker's
    # whole linear system (all tables over all periods, margins included).
    for months, entry in itertools.product(periods, _entries(("age_band", "exploitation"))):
        if 0 < _value(counts, entry, months) < 5:
            target = _vector(entry, months)
            assert np.linalg.matrix_rank(np.vstack([system, target])) > rank, (entry, months)


@settings(max_examples=40, deadline=None)
@given(counts=grids)
def test_every_line_hides_none_or_at_least_two(counts):
    result = stats.table(
        _facts(counts), "placements", MONTHS[0], MONTHS[-1], ["age_band", "exploitation"]
    )
    hidden = {cell.values for cell in result.cells if cell.suppressed}
    rows = {cell.values[0] for cell in result.margins["age_band"] if cell.suppressed}
    cols = {cell.values[0] for cell in result.margins["exploitation"] if cell.suppressed}
    for band in ROWS:
        assert sum((band, c) in hidden for c in COLS) + (band in rows) != 1
    for kind in COLS:
        assert sum((r, kind) in hidden for r in ROWS) + (kind in cols) != 1


# ---------------------------------------------------------------------------
# Through the API


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


async def _backdate_case(case_code: str, day: date) -> None:
    async with write_transaction():
        await YouthCase.update({YouthCase.opened_at: _at(day)}).where(
            YouthCase.case_code == case_code
        )


async def _table(client, world, actor="analyst", **params):
    response = await client.get("/api/statistics", params=params, headers=world.auth(actor))
    assert response.status_code == 200, response.text
    return response.json()


def _counts(body) -> dict[tuple, int | str]:
    return {tuple(row[d] for d in body["by"]): row["count"] for row in body["rows"]}


async def test_cases_by_sex_and_age_hand_computed(client, world):
    """Six girls of 15 and one boy of 13 opened in March 2026: girls 6, boys "<5", and the
    boy cannot be found from the total: another cell is hidden with him."""
    for _ in range(6):
        case = await open_case(client, world, birth_year=2010, birth_month=6)
        await _backdate_case(case["case_code"], date(2026, 3, 10))
    boy = await open_case(client, world, birth_year=2012, birth_month=6, gender="boy")
    await _backdate_case(boy["case_code"], date(2026, 3, 11))

    by_sex = await _table(
        client, world, measure="cases", by="sex", **{"from": "2026-03", "to": "2026-03"}
    )
    assert _counts(by_sex) == {("girl",): "<5", ("boy",): "<5", ("other",): 0}
    assert by_sex["total"] == 7
    assert by_sex["suppressed"] == 2

    crossed = await _table(
        client,
        world,
        measure="cases",
        by=["age_band", "sex"],
        **{"from": "2026-01", "to": "2026-06"},
    )
    counts = _counts(crossed)
    assert counts[("13-14", "boy")] == "<5"
    assert counts[("15-16", "girl")] == "<5"  # hidden to protect the boy
    assert crossed["total"] == 7
    # The margins are the one-dimension tables.
    by_age = await _table(
        client, world, measure="cases", by="age_band", **{"from": "2026-01", "to": "2026-06"}
    )
    assert crossed["totals"]["age_band"] == by_age["rows"]


async def test_flags_count_from_the_day_they_were_discovered(client, world):
    """Flags typed in today about exploitation discovered in January count in January, and
    the case counts as exploited from then on."""
    for _ in range(5):
        case = await open_case(client, world, birth_year=2010, birth_month=6)
        await _backdate_case(case["case_code"], date(2025, 12, 1))
        await flag_case(
            client,
            world,
            case["case_code"],
            exploitation_type="sextortion",
            discovered_on="2026-01-20",
        )
    flags = await _table(
        client, world, measure="flags", by="month", **{"from": "2025-12", "to": "2026-02"}
    )
    assert _counts(flags) == {("2025-12",): 0, ("2026-01",): 5, ("2026-02",): 0}
    by_type = await _table(
        client, world, measure="flags", by="exploitation", **{"from": "2026-01", "to": "2026-01"}
    )
    assert _counts(by_type)[("sextortion",)] == 5
    # Opened in December, before the discovery: counted as "none" then.
    cases = await _table(
        client, world, measure="cases", by="exploitation", **{"from": "2025-12", "to": "2025-12"}
    )
    assert _counts(cases)[("none",)] == 5


async def test_bad_queries_name_the_field(client, world):
    cases = {
        "measure": {"measure": "beds"},
        "by": {"by": ["sex", "colour"]},
        "format": {"format": "xml"},
        "from": {"from": "2026-13"},
        "to": {"to": "26-01"},
    }
    for field, params in cases.items():
        response = await client.get("/api/statistics", params=params, headers=world.auth("analyst"))
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["field"] == field, response.text
    for params, field in (
        ({"by": ["sex", "age_band", "place"]}, "by"),
        ({"from": "2026-05", "to": "2026-04"}, "from"),
    ):
        response = await client.get("/api/statistics", params=params, headers=world.auth("analyst"))
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == field, (
            response.text
        )


async def test_analysts_get_403_on_every_case_level_route(client, world, app):
    case_level = [
        (method, path)
        for method, path, _ in api_routes(app)
        if path.startswith((*PLACEMENT_PATHS, "/api/alerts", "/api/audit"))
    ]
    assert len(case_level) > 20
    wrong = []
    for method, path in case_level:
        url = re.sub(r"\{(\w+):int\}", "1", re.sub(r"\{(\w+):str\}", "ZZZZ", path))
        response = await client.request(method, url, headers=world.auth("analyst"), json={})
        if response.status_code != 403:
            wrong.append(f"{method} {path}: {response.status_code}")
    assert not wrong, wrong


# ---------------------------------------------------------------------------
# The scripted year on the demo network, and a retention purge


_codes: list[str] = []


async def _scripted_placement(
    day: date, birth: tuple[int, int], kind: str | None, bed: dict, n: int
):
    """n placements admitted on `day` in `bed`'s centre, rows as the services write them."""
    at = _at(day)
    for _ in range(n):
        _codes.append(f"SCRIPT{len(_codes):05d}")
        case = (
            await YouthCase.insert(
                YouthCase(
                    case_code=_codes[-1],
                    birth_year=birth[0],
                    birth_month=birth[1],
                    gender="girl",
                    languages=["fr"],
                    nationality_group="eu",
                    migration_status="unaccompanied_foreign_minor",
                    care_needs=[],
                    service="SAJ Namur",
                    opened_at=at,
                )
            ).returning(YouthCase.id)
        )[0]["id"]
        if kind:
            await CaseFlag.insert(
                CaseFlag(
                    case=case,
                    exploitation_type=kind,
                    status="active",
                    discovered_on=day,
                    source_service="SAJ Namur",
                    added_at=at,
                )
            )
        request = (
            await PlacementRequest.insert(
                PlacementRequest(
                    case=case,
                    status="placed",
                    urgency="immediate",
                    required_capabilities=[],
                    preferred_capabilities=[],
                    excluded_municipalities=[],
                    excluded_provinces=[],
                    excluded_countries=[],
                    distance_preference="none",
                    home_country="BE",
                    requesting_service="SAJ Namur",
                    created_at=at,
                    updated_at=at,
                )
            ).returning(PlacementRequest.id)
        )[0]["id"]
        hold = (
            await Hold.insert(
                Hold(
                    request=request,
                    bed=bed["id"],
                    centre=bed["centre"],
                    status="admitted",
                    created_at=at,
                    respond_by=at,
                    expires_at=at,
                    closed_at=at,
                )
            ).returning(Hold.id)
        )[0]["id"]
        await Stay.insert(
            Stay(
                case=case,
                request=request,
                hold=hold,
                bed=bed["id"],
                centre=bed["centre"],
                status="ended",
                unmet_needs=[],
                admitted_at=at,
                ended_at=at,
                end_reason="discharge",
            )
        )


async def test_year_of_placements_csv_and_purge_leaves_figures_unchanged(client, world):
    from backend.demo import load_demo

    await load_demo()
    bed = (
        await Bed.select(Bed.id, Bed.unit.centre.as_alias("centre"))
        .where(Bed.unit.centre.kind == "specialised_exploitation")
        .first()
    )
    assert bed is not None
    for month in range(1, 13):
        await _scripted_placement(date(2025, month, 5), (2010, 1), "prostitution", bed, 6)
        await _scripted_placement(date(2025, month, 6), (2008, 1), "loverboy_grooming", bed, 5)
    await _scripted_placement(date(2025, 3, 7), (2012, 1), "trafficking", bed, 2)
    params = {
        "measure": "placements",
        "by": ["age_band", "exploitation"],
        "from": "2025-01",
        "to": "2025-12",
    }

    response = await client.get(
        "/api/statistics", params={**params, "format": "csv"}, headers=world.auth("analyst")
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["age_band", "exploitation", "count"]
    cells = {(band, kind): count for band, kind, count in rows[1:]}
    assert len(cells) == len(stats.AGE_BANDS) * len(stats.STATIC_VOCABULARIES["exploitation"])
    assert cells[("15-16", "prostitution")] == "72"
    assert cells[("13-14", "trafficking")] == "<5"
    # March: the 2 trafficking placements hide their age band and type, so one more cell in
    # each of those lines is hidden (the loverboy placements of 17-year-olds).
    assert cells[("17", "loverboy_grooming")] == "<5"
    assert {k: v for k, v in cells.items() if v not in ("0",)}.keys() == {
        ("15-16", "prostitution"),
        ("13-14", "trafficking"),
        ("17", "loverboy_grooming"),
    }
    # Every other month on its own is published in full.
    june = await _table(client, world, **{**params, "from": "2025-06", "to": "2025-06"})
    assert _counts(june)[("17", "loverboy_grooming")] == 5

    # Coordinators see fallback placements per month too.
    fallback = await _table(
        client,
        world,
        "coordinator",
        measure="fallback_placements",
        by="month",
        **{"from": "2025-01", "to": "2025-12"},
    )
    assert fallback["total"] == 0

    queries = [
        params,
        {**params, "by": ["month", "place"]},
        {"measure": "cases", "by": ["migration", "sex"], "from": "2025-01", "to": "2025-12"},
        {"measure": "flags", "by": ["exploitation"], "from": "2025-01", "to": "2025-12"},
        {"measure": "holds", "by": ["centre_kind"], "from": "2025-03", "to": "2025-03"},
    ]
    before = [await _table(client, world, **query) for query in queries]
    case_ids = [row["id"] for row in await YouthCase.select(YouthCase.id)]
    async with write_transaction():
        stored = await stats_service.freeze_facts(case_ids)
        await YouthCase.update(
            {
                YouthCase.purged_at: datetime.now(UTC),
                YouthCase.gender: "other",
                YouthCase.birth_year: 2000,
                YouthCase.migration_status: "unknown",
            }
        ).where(YouthCase.id.is_in(case_ids))
    assert stored == 134 * 5  # per case: the case, its request, hold, placement and flag
    assert await stats_service.freeze_facts(case_ids) == 0  # purged cases are frozen once
    after = [await _table(client, world, **query) for query in queries]
    assert after == before
