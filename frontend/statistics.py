"""The statistics page (analysts, coordinators): the unmet-need report drawn as our own SVG
charts, each with its numbers in a table beside it, and downloads of the anonymised tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from litestar import get
from litestar.response import Template

from backend.errors import DomainError
from backend.identity import Role
from frontend.coordinator import region_name
from frontend.i18n import _
from frontend.web import PageRequest, form_errors, page, roles
from placement import unmet_need

READERS = roles(Role.COORDINATOR, Role.ANALYST)

# Chart geometry in SVG user units (the drawing scales to the page's width).
WIDTH = 360
PLOT_LEFT = 46
PLOT_RIGHT = 26  # room for the last month's label
PLOT_TOP = 10
PLOT_HEIGHT = 120
HEIGHT = PLOT_TOP + PLOT_HEIGHT + 24


@dataclass
class Bar:
    month: str
    x: float
    y: float
    width: float
    height: float
    value: int | str | None
    suppressed: bool


@dataclass
class BarChart:
    bars: list[Bar]
    top: int  # the value at the top of the scale
    baseline: float


def bar_chart(months: list[str], values: list[int | str | None]) -> BarChart:
    """One column per month; a suppressed month ("<5") is drawn as an outlined stub, never
    as a height, so that the drawing reveals no more than the table."""
    numbers = [v for v in values if isinstance(v, int)]
    top = max([*numbers, 5])
    slot = (WIDTH - PLOT_LEFT - PLOT_RIGHT) / max(len(months), 1)
    baseline = PLOT_TOP + PLOT_HEIGHT
    bars = []
    for i, (month, value) in enumerate(zip(months, values, strict=True)):
        suppressed = isinstance(value, str)
        height = PLOT_HEIGHT * value / top if isinstance(value, int) else 0.0
        if suppressed:
            height = 6.0
        bars.append(
            Bar(
                month=month,
                x=round(PLOT_LEFT + i * slot + slot * 0.15, 1),
                y=round(baseline - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                value=value,
                suppressed=suppressed,
            )
        )
    return BarChart(bars=bars, top=top, baseline=baseline)


@dataclass
class Line:
    name: str
    points: str  # the polyline's "x,y x,y"
    markers: list[tuple[float, float]]


def occupancy_lines(report: unmet_need.UnmetNeedOut) -> tuple[list[Line], list[float]]:
    """Two lines, specialised and general places, percent occupied per month (0 to 100);
    the x of each month for the axis labels."""
    months = report.months
    slot = (WIDTH - PLOT_LEFT - PLOT_RIGHT) / max(len(months), 1)
    xs = [round(PLOT_LEFT + slot * (i + 0.5), 1) for i in range(len(months))]
    lines = []
    for name in ("specialised", "general"):
        markers = []
        for x, month in zip(xs, report.occupancy, strict=True):
            percent = getattr(month, f"{name}_occupied_percent")
            if percent is not None:
                markers.append((x, round(PLOT_TOP + PLOT_HEIGHT * (1 - percent / 100), 1)))
        lines.append(Line(name, " ".join(f"{x},{y}" for x, y in markers), markers))
    return lines, xs


def _stats_csv(measure: str, report: unmet_need.UnmetNeedOut, *dims: str) -> str:
    query = [("measure", measure), ("from", report.from_month), ("to", report.to_month)]
    query += [("by", dim) for dim in dims] + [("format", "csv")]
    return "/api/statistics?" + urlencode(query)


@get("/statistics", opt=READERS)
async def statistics(request: PageRequest) -> Template:
    asked = {key: request.query_params.get(key) or "" for key in ("from", "to")}
    errors: dict[str, str] = {}
    status = 200
    try:
        report = await unmet_need.unmet_need_report(request.user, asked["from"], asked["to"])
    except DomainError as error:
        # The service's words are English: say it in the reader's language beside the field.
        field = form_errors(error, ("from", "to")).popitem()[0]
        errors = {
            field: _(
                "Choose whole months written YYYY-MM, the first not after the last, "
                "at most ten years apart."
            )
        }
        status = error.status_code
        report = await unmet_need.unmet_need_report(request.user)
    lines, xs = occupancy_lines(report)
    months = report.months
    return page(
        "statistics/index.html",
        request,
        status,
        errors=errors,
        asked=asked,
        report=report,
        region_name=region_name,
        width=WIDTH,
        height=HEIGHT,
        plot_left=PLOT_LEFT,
        plot_top=PLOT_TOP,
        plot_height=PLOT_HEIGHT,
        unmatched=bar_chart(months, [m.count for m in report.urgent_unmatched]),
        fallback=bar_chart(months, [m.fallback_placements for m in report.fallback_placements]),
        waiting=bar_chart(months, [m.waiting for m in report.waiting_list]),
        lines=lines,
        xs=xs,
        downloads=[
            (
                "placements_by_age_and_exploitation",
                _stats_csv("placements", report, "age_band", "exploitation"),
            ),
            ("fallback_by_month", _stats_csv("fallback_placements", report, "month")),
            ("requests_by_migration", _stats_csv("requests", report, "migration")),
        ],
    )


HANDLERS = [statistics]
