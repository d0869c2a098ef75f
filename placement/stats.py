"""Anonymised statistics: facts, tables and small-cell suppression. Pure: no I/O.

Every countable event becomes a `Fact`: a measure, a local day and the published dimensions,
nothing that names a minor. `case_facts` derives the facts of one case from plain data (the
service loads it); `table` aggregates facts over whole months and suppresses small cells.
docs/statistics.md explains the rules; the comments here say why the code does what it does.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from capacity.geography import PROVINCES
from capacity.vocabulary import CentreKind, Country, MinorGender
from placement.matching import age_on
from placement.vocabulary import ExploitationType, FlagStatus, MigrationStatus

# ---------------------------------------------------------------------------
# Vocabularies

MEASURES = (
    "cases",
    "requests",
    "holds",
    "placements",
    "fallback_placements",
    "runaways",
    "flags",
)
AGE_BANDS = ("<=12", "13-14", "15-16", "17", "18+")
NO_EXPLOITATION = "none"
SEVERAL_EXPLOITATION_TYPES = "multiple"
UNKNOWN_PLACE = "unknown"
NO_CENTRE = "none"
DIMENSIONS = ("age_band", "sex", "exploitation", "migration", "place", "centre_kind", "month")
MAX_DIMENSIONS = 2
SMALL = 5  # counts 1..SMALL-1 are never published
SUPPRESSED = "<5"

STATIC_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "age_band": AGE_BANDS,
    "sex": tuple(g.value for g in MinorGender),
    "exploitation": (
        NO_EXPLOITATION,
        *(t.value for t in ExploitationType),
        SEVERAL_EXPLOITATION_TYPES,
    ),
    "migration": tuple(s.value for s in MigrationStatus),
    "place": (*PROVINCES, *(c.value for c in Country), UNKNOWN_PLACE),
    "centre_kind": (NO_CENTRE, *(k.value for k in CentreKind)),
}


# ---------------------------------------------------------------------------
# Facts


@dataclass(frozen=True)
class Fact:
    measure: str
    day: date
    age_band: str
    sex: str
    exploitation: str
    migration: str
    place: str
    centre_kind: str

    @property
    def month(self) -> str:
        return month_of(self.day)

    def value(self, dimension: str) -> str:
        return self.month if dimension == "month" else getattr(self, dimension)


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def age_band(age: int) -> str:
    # Cases may stay open past majority (young adults in youth aid): they are counted as 18+.
    if age <= 12:
        return "<=12"
    if age <= 14:
        return "13-14"
    if age <= 16:
        return "15-16"
    return "17" if age == 17 else "18+"


@dataclass(frozen=True)
class CaseData:
    birth_year: int
    birth_month: int
    gender: str
    migration_status: str
    opened_at: datetime


@dataclass(frozen=True)
class FlagData:
    id: int
    exploitation_type: str
    status: str
    discovered_on: date
    supersedes: int | None


@dataclass(frozen=True)
class RequestData:
    created_at: datetime
    home_country: str


@dataclass(frozen=True)
class CentreData:
    province: str
    kind: str


@dataclass(frozen=True)
class AtCentre:
    """A hold, a stay or a runaway episode: something that happened at a centre."""

    at: datetime
    centre: CentreData
    fallback: bool = False


@dataclass(frozen=True)
class CaseHistory:
    case: CaseData
    flags: Sequence[FlagData] = ()
    requests: Sequence[RequestData] = ()
    holds: Sequence[AtCentre] = ()
    stays: Sequence[AtCentre] = ()
    runaways: Sequence[AtCentre] = ()


def exploitation_on(flags: Sequence[FlagData], day: date) -> str:
    """The case's exploitation type as known for `day`: flags count from the day the
    exploitation was discovered (not the day the flag was typed in), and a correction or a
    withdrawal replaces the flag it supersedes from its own discovery day on."""
    known = [flag for flag in flags if flag.discovered_on <= day]
    replaced = {flag.supersedes for flag in known if flag.supersedes is not None}
    types = {
        flag.exploitation_type
        for flag in known
        if flag.id not in replaced and flag.status == FlagStatus.ACTIVE.value
    }
    if not types:
        return NO_EXPLOITATION
    return types.pop() if len(types) == 1 else SEVERAL_EXPLOITATION_TYPES


def case_facts(history: CaseHistory, zone: ZoneInfo) -> list[Fact]:
    """Every countable fact of one case, each on its local day."""
    case = history.case
    requests = sorted(history.requests, key=lambda r: r.created_at)
    # A case has no country of its own: its first request says where the minor lives.
    case_place = requests[0].home_country if requests else UNKNOWN_PLACE

    def fact(measure: str, day: date, place: str, centre_kind: str = NO_CENTRE) -> Fact:
        return Fact(
            measure=measure,
            day=day,
            age_band=age_band(age_on(case.birth_year, case.birth_month, day)),
            sex=case.gender,
            exploitation=exploitation_on(history.flags, day),
            migration=case.migration_status,
            place=place,
            centre_kind=centre_kind,
        )

    def local(moment: datetime) -> date:
        return moment.astimezone(zone).date()

    facts = [fact("cases", local(case.opened_at), case_place)]
    facts += [fact("requests", local(r.created_at), r.home_country) for r in requests]
    # One flag fact per follow-up flag; corrections and withdrawals are not new flags. A flag
    # is counted under its own exploitation type, not the case's (which may be "multiple").
    facts += [
        replace(fact("flags", flag.discovered_on, case_place), exploitation=flag.exploitation_type)
        for flag in history.flags
        if flag.supersedes is None and flag.status == FlagStatus.ACTIVE.value
    ]
    for measure, events in (
        ("holds", history.holds),
        ("placements", history.stays),
        ("runaways", history.runaways),
    ):
        facts += [fact(measure, local(e.at), e.centre.province, e.centre.kind) for e in events]
    facts += [
        fact("fallback_placements", local(s.at), s.centre.province, s.centre.kind)
        for s in history.stays
        if s.fallback
    ]
    return facts


# ---------------------------------------------------------------------------
# Periods


def parse_month(text: str) -> tuple[int, int] | None:
    """(year, month) of a "YYYY-MM" string, None when it is not one."""
    if len(text) != 7 or text[4] != "-" or not (text[:4].isdigit() and text[5:].isdigit()):
        return None
    year, month = int(text[:4]), int(text[5:])
    return (year, month) if 1 <= month <= 12 else None


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` inclusive ("YYYY-MM"); empty when first > last."""
    start, end = parse_month(first), parse_month(last)
    if start is None or end is None:
        raise ValueError("months are YYYY-MM")
    (year, month), months = start, []
    while (year, month) <= end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


# ---------------------------------------------------------------------------
# Suppression
#
# Each month is protected on its own, and a period publishes a value only where every one of
# its months would. So a figure for a whole period, minus figures for other periods, only
# ever adds up month values that are 0 or at least 5, and the cells hidden in one month stay
# hidden in every period containing that month, with the same complementary cells around
# them. (Proof sketch in docs/statistics.md.)
#
# Within one month, a table and its margins form lines (each row and each column, with its
# total) whose published entries and totals give one equation each. A hidden entry can be
# recovered exactly when it lies on no cycle of hidden entries linking rows to columns (the
# hidden entries as edges of a bipartite graph: recoverable = a bridge). Margins are the
# one-dimension tables and the grand total the zero-dimension one: they are published as
# those tables publish them, so only inner cells are added here.


def _small(count: int) -> bool:
    return 0 < count < SMALL


def _cheapest(candidates: Iterable[tuple[int, int, Any]]) -> Any:
    """The entry to hide next: the smallest non-zero count (hiding the least information),
    a zero only when nothing else is left; ties in vocabulary order."""
    ordered = sorted(candidates, key=lambda c: (c[0] == 0, c[0], c[1]))
    return ordered[0][2] if ordered else None


def protect_line(counts: Sequence[int], total_suppressed: bool) -> set[int]:
    """A one-dimension table of one month (a line and its total): the indexes to hide, none
    or at least two with the total."""
    hidden = {i for i, count in enumerate(counts) if _small(count)}
    if len(hidden) + total_suppressed == 1:
        extra = _cheapest((c, i, i) for i, c in enumerate(counts) if i not in hidden)
        if extra is not None:
            hidden.add(extra)
    return hidden


_MARGIN = -1


def _bridges(edges: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """The bridges of the bipartite graph whose edges are (row, column) pairs."""
    adjacency: dict[tuple[str, int], list[tuple[tuple[str, int], tuple[int, int]]]] = defaultdict(
        list
    )
    for row, col in edges:
        adjacency[("r", row)].append((("c", col), (row, col)))
        adjacency[("c", col)].append((("r", row), (row, col)))
    order: dict[tuple[str, int], int] = {}
    low: dict[tuple[str, int], int] = {}
    found: list[tuple[int, int]] = []
    for root in sorted(adjacency):
        if root in order:
            continue
        order[root] = low[root] = len(order)
        # Iterative depth-first search: (node, edge it was reached by, iterator of neighbours).
        stack = [(root, None, iter(adjacency[root]))]
        while stack:
            node, via, neighbours = stack[-1]
            advanced = False
            for neighbour, edge in neighbours:
                if edge == via:
                    continue
                if neighbour in order:
                    low[node] = min(low[node], order[neighbour])
                else:
                    order[neighbour] = low[neighbour] = len(order)
                    stack.append((neighbour, edge, iter(adjacency[neighbour])))
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > order[parent]:
                        found.append(via)
    return found


def _side(edges: set[tuple[int, int]], start: tuple[str, int]) -> set[tuple[str, int]]:
    """The nodes reachable from `start` through `edges`."""
    seen, todo = {start}, [start]
    while todo:
        kind, index = todo.pop()
        for row, col in edges:
            for here, there in ((("r", row), ("c", col)), (("c", col), ("r", row))):
                if here == (kind, index) and there not in seen:
                    seen.add(there)
                    todo.append(there)
    return seen


def protect_grid(
    counts: Sequence[Sequence[int]],
    rows_hidden: set[int],
    cols_hidden: set[int],
    total_hidden: bool,
) -> set[tuple[int, int]]:
    """A two-dimension table of one month: the inner cells to hide, given the hidden margins
    (row totals, column totals, grand total) as the smaller tables publish them."""
    n_rows, n_cols = len(counts), len(counts[0])
    cell_count = {(r, c): counts[r][c] for r in range(n_rows) for c in range(n_cols)}
    hidden = {cell for cell, count in cell_count.items() if _small(count)}

    def hide_cheapest(cells: Iterable[tuple[int, int]]) -> bool:
        extra = _cheapest(
            (cell_count[cell], cell[0] * n_cols + cell[1], cell)
            for cell in cells
            if cell not in hidden
        )
        if extra is None:
            return False
        hidden.add(extra)
        return True

    while True:
        # A line with a single hidden entry gives it away: hide another inner cell there.
        changed = False
        for r in range(n_rows):
            if sum((r, c) in hidden for c in range(n_cols)) + (r in rows_hidden) == 1:
                changed |= hide_cheapest((r, c) for c in range(n_cols))
        for c in range(n_cols):
            if sum((r, c) in hidden for r in range(n_rows)) + (c in cols_hidden) == 1:
                changed |= hide_cheapest((r, c) for r in range(n_rows))
        if changed:
            continue
        # Every hidden entry must lie on a cycle; join the two sides of a bridge.
        edges = (
            hidden
            | {(r, _MARGIN) for r in rows_hidden}
            | {(_MARGIN, c) for c in cols_hidden}
            | ({(_MARGIN, _MARGIN)} if total_hidden else set())
        )
        bridges = _bridges(edges)
        if not bridges:
            return hidden
        row, col = bridges[0]
        rest = edges - {(row, col)}
        side = _side(rest, ("r", row))
        other = _side(rest, ("c", col))
        crossing = [
            cell
            for cell in cell_count
            if (("r", cell[0]) in side and ("c", cell[1]) in other)
            or (("r", cell[0]) in other and ("c", cell[1]) in side)
        ]
        if not hide_cheapest(crossing) and not hide_cheapest(cell_count):
            return hidden  # every inner cell is hidden already: nothing more to give


# ---------------------------------------------------------------------------
# Tables


@dataclass
class Cell:
    values: tuple[str, ...]
    count: int
    suppressed: bool

    def published(self) -> int | str:
        return SUPPRESSED if self.suppressed else self.count


@dataclass
class StatTable:
    measure: str
    first: str
    last: str
    dims: tuple[str, ...]
    cells: list[Cell]
    margins: dict[str, list[Cell]]  # per dimension: its one-dimension table
    total: Cell

    @property
    def suppressed(self) -> int:
        return sum(cell.suppressed for cell in self.cells)


def vocabulary(dimension: str, months: Sequence[str], facts: Iterable[Fact] = ()) -> list[str]:
    """A dimension's values in publication order; values met in the facts but unknown to the
    vocabulary (older data) come last."""
    if dimension == "month":
        return list(months)
    known = list(STATIC_VOCABULARIES[dimension])
    extra = sorted({fact.value(dimension) for fact in facts} - set(known))
    return known + extra


def _month_counts(
    facts: Sequence[Fact], dims: Sequence[str], vocab: dict[str, list[str]]
) -> list[list[int]] | list[int] | int:
    if not dims:
        return len(facts)
    index = {dim: {value: i for i, value in enumerate(vocab[dim])} for dim in dims}
    if len(dims) == 1:
        line = [0] * len(vocab[dims[0]])
        for fact in facts:
            line[index[dims[0]][fact.value(dims[0])]] += 1
        return line
    first, second = dims
    grid = [[0] * len(vocab[second]) for _ in vocab[first]]
    for fact in facts:
        grid[index[first][fact.value(first)]][index[second][fact.value(second)]] += 1
    return grid


def table(
    facts: Iterable[Fact], measure: str, first: str, last: str, dims: Sequence[str]
) -> StatTable:
    """The published table of `measure` from month `first` to `last` (inclusive), by 0, 1
    or 2 dimensions, with its margins, small cells and their protection hidden."""
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure}")
    if len(dims) > MAX_DIMENSIONS or len(set(dims)) != len(dims):
        raise ValueError("at most two different dimensions")
    months = months_between(first, last)
    if not months:
        raise ValueError("the period is empty")
    chosen = [f for f in facts if f.measure == measure and f.month in set(months)]
    vocab = {dim: vocabulary(dim, months, chosen) for dim in dims}
    by_month: dict[str, list[Fact]] = {month: [] for month in months}
    for fact in chosen:
        by_month[fact.month].append(fact)

    total_count = len(chosen)
    total_hidden = False
    line_hidden: dict[str, set[int]] = {dim: set() for dim in dims}
    grid_hidden: set[tuple[int, int]] = set()
    for month_facts in by_month.values():
        month_total = len(month_facts)
        month_total_hidden = _small(month_total)
        total_hidden |= month_total_hidden
        month_lines = {}
        for dim in dims:
            line = _month_counts(month_facts, [dim], vocab)
            month_lines[dim] = protect_line(line, month_total_hidden)
            line_hidden[dim] |= month_lines[dim]
        if len(dims) == 2:
            grid = _month_counts(month_facts, dims, vocab)
            grid_hidden |= protect_grid(
                grid, month_lines[dims[0]], month_lines[dims[1]], month_total_hidden
            )

    margins: dict[str, list[Cell]] = {}
    for dim in dims:
        line = _month_counts(chosen, [dim], vocab)
        margins[dim] = [
            Cell((value,), line[i], i in line_hidden[dim]) for i, value in enumerate(vocab[dim])
        ]
    total = Cell((), total_count, total_hidden)
    if not dims:
        cells = [total]
    elif len(dims) == 1:
        cells = margins[dims[0]]
    else:
        grid = _month_counts(chosen, dims, vocab)
        cells = [
            Cell((a, b), grid[i][j], (i, j) in grid_hidden)
            for i, a in enumerate(vocab[dims[0]])
            for j, b in enumerate(vocab[dims[1]])
        ]
    return StatTable(measure, first, last, tuple(dims), cells, margins, total)


def to_csv(result: StatTable) -> str:
    """A header and one line per cell, "<5" where a cell is hidden."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*result.dims, "count"])
    for cell in result.cells:
        writer.writerow([*cell.values, cell.published()])
    return out.getvalue()
