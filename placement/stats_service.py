"""Anonymised statistics: the facts from the database, and the published tables.

A case's facts are computed from the live tables while the case is not purged, and read from
its frozen AnonymisedFact rows once it is: both go through `stats.case_facts`, so a retention
purge leaves every figure unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

import msgspec

from backend.database import write_transaction
from backend.errors import DomainError, Forbidden
from backend.identity import Principal, Role
from backend.settings import get_settings
from backend.timeutil import local_today
from capacity.tables import Centre
from placement import stats
from placement.stats import (
    AtCentre,
    CaseData,
    CaseHistory,
    CentreData,
    Fact,
    FlagData,
    RequestData,
)
from placement.tables import (
    AnonymisedFact,
    CaseFlag,
    Hold,
    PlacementRequest,
    RunawayEpisode,
    Stay,
    YouthCase,
)

FACT_FIELDS = ("age_band", "sex", "exploitation", "migration", "place", "centre_kind")


async def _centres() -> dict[int, CentreData]:
    rows = await Centre.select(Centre.id, Centre.province, Centre.kind)
    return {row["id"]: CentreData(province=row["province"], kind=row["kind"]) for row in rows}


def _by_case(rows: Iterable[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["case"]].append(row)
    return grouped


async def _histories(case_ids: list[int] | None) -> list[CaseHistory]:
    """The plain data `stats.case_facts` needs, for the given cases (None: every case not
    purged). Six queries, whatever the number of cases."""
    case_query = YouthCase.select(
        YouthCase.id,
        YouthCase.birth_year,
        YouthCase.birth_month,
        YouthCase.gender,
        YouthCase.migration_status,
        YouthCase.opened_at,
    ).where(YouthCase.purged_at.is_null())
    if case_ids is not None:
        if not case_ids:
            return []
        case_query = case_query.where(YouthCase.id.is_in(case_ids))
    cases = await case_query
    if not cases:
        return []
    ids = [case["id"] for case in cases]
    centres = await _centres()
    flags = _by_case(
        await CaseFlag.select(
            CaseFlag.id,
            CaseFlag.case,
            CaseFlag.exploitation_type,
            CaseFlag.status,
            CaseFlag.discovered_on,
            CaseFlag.supersedes,
        ).where(CaseFlag.case.is_in(ids))
    )
    requests = _by_case(
        await PlacementRequest.select(
            PlacementRequest.case, PlacementRequest.created_at, PlacementRequest.home_country
        ).where(PlacementRequest.case.is_in(ids))
    )
    holds = _by_case(
        await Hold.select(
            Hold.request.case.as_alias("case"), Hold.created_at.as_alias("at"), Hold.centre
        ).where(Hold.request.case.is_in(ids))
    )
    stays = _by_case(
        await Stay.select(
            Stay.case, Stay.admitted_at.as_alias("at"), Stay.centre, Stay.fallback
        ).where(Stay.case.is_in(ids))
    )
    runaways = _by_case(
        await RunawayEpisode.select(
            RunawayEpisode.case, RunawayEpisode.reported_at.as_alias("at"), RunawayEpisode.centre
        ).where(RunawayEpisode.case.is_in(ids))
    )

    def at_centre(row: dict[str, Any]) -> AtCentre:
        return AtCentre(
            at=row["at"], centre=centres[row["centre"]], fallback=bool(row.get("fallback"))
        )

    return [
        CaseHistory(
            case=CaseData(
                birth_year=case["birth_year"],
                birth_month=case["birth_month"],
                gender=case["gender"],
                migration_status=case["migration_status"],
                opened_at=case["opened_at"],
            ),
            flags=[
                FlagData(
                    id=f["id"],
                    exploitation_type=f["exploitation_type"],
                    status=f["status"],
                    discovered_on=f["discovered_on"],
                    supersedes=f["supersedes"],
                )
                for f in flags[case["id"]]
            ],
            requests=[
                RequestData(created_at=r["created_at"], home_country=r["home_country"])
                for r in requests[case["id"]]
            ],
            holds=[at_centre(row) for row in holds[case["id"]]],
            stays=[at_centre(row) for row in stays[case["id"]]],
            runaways=[at_centre(row) for row in runaways[case["id"]]],
        )
        for case in cases
    ]


async def _live_facts(case_ids: list[int] | None) -> list[Fact]:
    zone = get_settings().display_timezone
    return [
        fact for history in await _histories(case_ids) for fact in stats.case_facts(history, zone)
    ]


async def fact_records(measure: str | None = None) -> list[Fact]:
    """Every fact: computed from the live tables for cases not purged, read from the frozen
    anonymised facts for purged ones. Only `measure`'s facts when given."""
    frozen_query = AnonymisedFact.select(
        AnonymisedFact.measure,
        AnonymisedFact.day,
        *(getattr(AnonymisedFact, name) for name in FACT_FIELDS),
    )
    if measure is not None:
        frozen_query = frozen_query.where(AnonymisedFact.measure == measure)
    frozen = [
        Fact(
            measure=row["measure"],
            day=_as_date(row["day"]),
            **{name: row[name] for name in FACT_FIELDS},
        )
        for row in await frozen_query
    ]
    live = await _live_facts(None)
    if measure is not None:
        live = [fact for fact in live if fact.measure == measure]
    return live + frozen


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


async def freeze_facts(case_ids: list[int]) -> int:
    """Store the facts of these cases as anonymised rows, computed by the same code as the
    live figures; returns how many were stored.

    Call it in the transaction that then erases the cases and sets `purged_at` (it joins the
    caller's transaction): from then on the statistics read these rows instead of the live
    tables. Cases already purged are skipped, so a second run stores nothing for them.
    """
    async with write_transaction():
        facts = await _live_facts(case_ids)
        if facts:
            await AnonymisedFact.insert(
                *(
                    AnonymisedFact(
                        measure=fact.measure,
                        day=fact.day,
                        month=fact.month,
                        **{name: getattr(fact, name) for name in FACT_FIELDS},
                    )
                    for fact in facts
                )
            )
    return len(facts)


# ---------------------------------------------------------------------------
# Published tables

READERS = frozenset({Role.ANALYST, Role.COORDINATOR})
DEFAULT_MONTHS = 12
MAX_MONTHS = 120
FORMATS = ("json", "csv")


class StatisticsOut(msgspec.Struct, kw_only=True):
    measure: str
    from_month: str = msgspec.field(name="from")
    to_month: str = msgspec.field(name="to")
    by: list[str]
    rows: list[dict[str, str | int]]
    """One per cell of the table, every combination of the dimensions' values (zeros too);
    `count` is "<5" where the cell is suppressed."""
    totals: dict[str, list[dict[str, str | int]]]
    """Per dimension, its one-dimension table: the margins of `rows`."""
    total: str | int
    suppressed: int
    """How many rows are suppressed."""
    suppressed_below: int = stats.SMALL


class DimensionsOut(msgspec.Struct, kw_only=True):
    measures: list[str]
    dimensions: dict[str, list[str]]
    """The values of each dimension; `month` takes the months of the period asked for."""
    max_dimensions: int = stats.MAX_DIMENSIONS
    suppressed_below: int = stats.SMALL


def _require_reader(principal: Principal) -> None:
    if principal.role not in READERS:
        raise Forbidden("Only analysts and coordinators read the statistics.")


def _month(value: str | None, field: str, default: str) -> str:
    if value is None or value == "":
        return default
    parsed = stats.parse_month(value)
    if parsed is None or not 2000 <= parsed[0] <= 2100:
        raise DomainError(
            f"{field} must be a month written YYYY-MM, got {value[:20]!r}.", field=field
        )
    return value


def check_query(
    measure: str, from_month: str | None, to_month: str | None, by: list[str], output: str
) -> tuple[str, str]:
    """The period asked for, after checking every parameter; 400 naming the first bad one."""
    if measure not in stats.MEASURES:
        raise DomainError(
            f"Unknown measure {measure[:40]!r}; use one of {', '.join(stats.MEASURES)}.",
            field="measure",
        )
    for dim in by:
        if dim not in stats.DIMENSIONS:
            raise DomainError(
                f"Unknown dimension {dim[:40]!r}; use one of {', '.join(stats.DIMENSIONS)}.",
                field="by",
            )
    if len(by) > stats.MAX_DIMENSIONS:
        raise DomainError("A table crosses at most two dimensions.", field="by")
    if len(set(by)) != len(by):
        raise DomainError("A dimension is given twice.", field="by")
    if output not in FORMATS:
        raise DomainError("format is json or csv.", field="format")
    today = local_today(get_settings().display_timezone)
    last = _month(to_month, "to", stats.month_of(today))
    year, month = int(last[:4]), int(last[5:]) - (DEFAULT_MONTHS - 1)
    if month < 1:
        year, month = year - 1, month + 12
    first = _month(from_month, "from", f"{year:04d}-{month:02d}")
    if first > last:
        raise DomainError(f"from ({first}) is after to ({last}).", field="from")
    if len(stats.months_between(first, last)) > MAX_MONTHS:
        raise DomainError(f"A table covers at most {MAX_MONTHS} months.", field="from")
    return first, last


def _published(cells: list[stats.Cell], dims: tuple[str, ...]) -> list[dict[str, str | int]]:
    return [
        {**dict(zip(dims, cell.values, strict=True)), "count": cell.published()} for cell in cells
    ]


async def statistics(
    principal: Principal,
    measure: str,
    from_month: str | None = None,
    to_month: str | None = None,
    by: list[str] | None = None,
    output: str = "json",
) -> StatisticsOut | str:
    """The table of `measure` over whole months, by up to two dimensions, small cells
    suppressed; a StatisticsOut, or the CSV text when output is "csv"."""
    _require_reader(principal)
    dims = list(by or [])
    first, last = check_query(measure, from_month, to_month, dims, output)
    result = stats.table(await fact_records(measure), measure, first, last, dims)
    if output == "csv":
        return stats.to_csv(result)
    return StatisticsOut(
        measure=measure,
        from_month=first,
        to_month=last,
        by=dims,
        rows=_published(result.cells, result.dims),
        totals={dim: _published(result.margins[dim], (dim,)) for dim in result.dims},
        total=result.total.published(),
        suppressed=result.suppressed,
    )


def dimensions(principal: Principal) -> DimensionsOut:
    _require_reader(principal)
    return DimensionsOut(
        measures=list(stats.MEASURES),
        dimensions={
            **{name: list(values) for name, values in stats.STATIC_VOCABULARIES.items()},
            "month": [],
        },
    )
