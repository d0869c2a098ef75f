"""Coordinator pages: the alerts to act on, the network's vacancies at a glance, who is on
call, and batch allocation of the waiting list.

Each handler reads through (or acts through) the same domain services as the JSON API, with
the signed-in user as the principal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from backend.errors import Conflict, InvalidInput
from backend.identity import Role
from backend.settings import get_settings
from backend.timeutil import as_utc
from capacity import service as capacity
from capacity.geography import PROVINCES
from capacity.schemas import CentreOut
from capacity.vocabulary import Capability, CentreKind
from frontend import i18n
from frontend.i18n import _
from frontend.web import PageRequest, done, form_errors, page, roles
from notifications import admin as oncall
from notifications import service as notifications
from notifications.rules import RULES
from notifications.schemas import AlertOut, ResolveIn
from notifications.vocabulary import AlertKind, AlertStatus, Audience
from placement import service as placement
from placement.schemas import AllocationConfirm, AllocationOut

SUPERVISORS = roles(Role.COORDINATOR, Role.ADMIN)
COORDINATORS = roles(Role.COORDINATOR)

# Alerts paged along the on-call chain: their escalation level means something.
PAGED_KINDS = frozenset(kind for kind, rule in RULES.items() if Audience.ON_CALL in rule.audiences)
SEVERITY_ORDER = {"critical": 0, "high": 1, "normal": 2, "low": 3}
RECENTLY_RESOLVED = 20


def region_name(code: str) -> str:
    """A province (or a country) in the reader's language."""
    province = PROVINCES.get(code)
    if province is not None:
        return province.name(i18n.current())
    countries = {"BE": _("Belgium"), "NL": _("Netherlands"), "LU": _("Luxembourg")}
    return countries.get(code, code)


# ---------------------------------------------------------------------------
# Alerts


def _most_pressing_first(alerts: list[AlertOut]) -> list[AlertOut]:
    return sorted(
        alerts,
        key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), -as_utc(a.created_at).timestamp()),
    )


async def _alerts_page(
    request: PageRequest,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    notes: dict[int, str] | None = None,
) -> Template:
    principal = request.user
    open_alerts = await notifications.list_alerts(principal, AlertStatus.OPEN)
    acknowledged = await notifications.list_alerts(principal, AlertStatus.ACKNOWLEDGED)
    # Born-resolved notices (the daily digest) were never something to act on.
    resolved = [
        alert
        for alert in await notifications.list_alerts(principal, AlertStatus.RESOLVED)
        if RULES[alert.kind].needs_action
    ]
    resolved.sort(key=lambda a: as_utc(a.resolved_at or a.created_at), reverse=True)
    return page(
        "coordinator/alerts.html",
        request,
        status_code,
        open_alerts=_most_pressing_first(open_alerts),
        acknowledged=_most_pressing_first(acknowledged),
        resolved=resolved[:RECENTLY_RESOLVED],
        paged_kinds=PAGED_KINDS,
        runaway_kinds=(AlertKind.RUNAWAY, AlertKind.RUNAWAY_UNRESOLVED),
        region_name=region_name,
        errors=errors or {},
        notes=notes or {},
    )


@get("/alerts", opt=SUPERVISORS)
async def alerts(request: PageRequest) -> Template:
    return await _alerts_page(request)


@post("/alerts/{alert_id:int}/acknowledge", opt=SUPERVISORS, status_code=303)
async def acknowledge_alert(request: PageRequest, alert_id: FromPath[int]) -> Response:
    try:
        await notifications.acknowledge(request.user, alert_id)
    except Conflict as error:
        return await _alerts_page(request, 409, errors=form_errors(error, ()))
    return done("/alerts")


@post("/alerts/{alert_id:int}/resolve", opt=SUPERVISORS, status_code=303)
async def resolve_alert(request: PageRequest, alert_id: FromPath[int]) -> Response:
    form = await request.form()
    note = str(form.get("note", "")).strip()
    note_field = f"note-{alert_id}"
    try:
        data = msgspec.convert({"note": note}, ResolveIn)
    except msgspec.ValidationError:
        return await _alerts_page(
            request,
            422,
            errors={note_field: _("The note can be at most 2000 characters long.")},
            notes={alert_id: note},
        )
    try:
        await notifications.resolve(request.user, alert_id, data.note)
    except Conflict as error:
        return await _alerts_page(request, 409, errors=form_errors(error, ()))
    return done("/alerts")


# ---------------------------------------------------------------------------
# The network's vacancies

# The chart's geometry, in SVG user units (it scales to the page's width).
CHART_WIDTH = 360
BAR_WIDTH = 250
ROW_HEIGHT = 48
BAR_HEIGHT = 16


@dataclass
class Segment:
    kind: CentreKind
    free: int
    x: float
    width: float


@dataclass
class ProvinceRow:
    code: str
    name: str
    free_by_kind: dict[CentreKind, int]
    total: int = 0
    segments: list[Segment] = field(default_factory=list)
    top: int = 0


@dataclass
class Chart:
    rows: list[ProvinceRow]
    kinds: list[CentreKind]
    height: int


def vacancy_chart(centres: list[CentreOut], free: dict[int, int]) -> Chart:
    """Free beds per province, split by centre kind, laid out as horizontal stacked bars.
    Every province with an active centre has a row, even with nothing free."""
    by_province: dict[str, dict[CentreKind, int]] = {}
    for centre in centres:
        kinds = by_province.setdefault(centre.province, {})
        kinds[centre.kind] = kinds.get(centre.kind, 0) + free.get(centre.id, 0)
    kind_order = list(CentreKind)
    rows = sorted(
        (
            ProvinceRow(
                code=code,
                name=region_name(code),
                free_by_kind=dict(
                    sorted(kinds.items(), key=lambda item: kind_order.index(item[0]))
                ),
                total=sum(kinds.values()),
            )
            for code, kinds in by_province.items()
        ),
        key=lambda row: row.name,
    )
    scale = BAR_WIDTH / max([row.total for row in rows] + [1])
    for index, row in enumerate(rows):
        row.top = index * ROW_HEIGHT
        x = 0.0
        for kind, count in row.free_by_kind.items():
            if count:
                row.segments.append(Segment(kind, count, round(x, 1), round(count * scale, 1)))
                x += count * scale
    kinds = [kind for kind in kind_order if any(kind in row.free_by_kind for row in rows)]
    return Chart(rows=rows, kinds=kinds, height=max(len(rows), 1) * ROW_HEIGHT + 4)


def _specialised(centre: CentreOut) -> bool:
    return (
        centre.kind is CentreKind.SPECIALISED_EXPLOITATION
        or Capability.EXPLOITATION_CARE in centre.capabilities
    )


def _places(centre: CentreOut) -> int:
    """The places a centre offers: active beds of active units."""
    return sum(1 for unit in centre.units if unit.active for bed in unit.beds if bed.active)


@get("/network", opt=SUPERVISORS)
async def network(request: PageRequest) -> Template:
    principal = request.user
    centres = await capacity.list_centres(principal)
    vacancies = await capacity.search_vacancies(principal)
    free = {centre.centre_id: centre.free_now for centre in vacancies.centres}
    specialised: list[dict[str, Any]] = []
    for centre in centres:
        if _specialised(centre):
            detail = await capacity.get_centre(principal, centre.id)
            specialised.append(
                {"name": centre.name, "free": free.get(centre.id, 0), "total": _places(detail)}
            )
    centres.sort(key=lambda c: (region_name(c.province), c.name))
    return page(
        "coordinator/network.html",
        request,
        chart=vacancy_chart(centres, free),
        chart_width=CHART_WIDTH,
        bar_width=BAR_WIDTH,
        bar_height=BAR_HEIGHT,
        centres=centres,
        free=free,
        total_free=vacancies.total_free_now,
        specialised=specialised,
        region_name=region_name,
        stale_after_hours=get_settings().stale_after_hours,
    )


# ---------------------------------------------------------------------------
# On-call rota (read-only; admins edit it on /admin/rota)


@get("/rota", opt=SUPERVISORS)
async def rota(request: PageRequest) -> Template:
    shifts = await oncall.list_shifts(None, None, None)
    regions = ["BE", *sorted({shift.region for shift in shifts} - {"BE"}, key=region_name)]
    on_call = [await oncall.on_call_now(region) for region in regions]
    return page(
        "coordinator/rota.html",
        request,
        on_call=on_call,
        shifts=shifts,
        region_name=region_name,
    )


# ---------------------------------------------------------------------------
# Batch allocation of the waiting list


def _allocation_page(
    request: PageRequest,
    status_code: int = 200,
    allocation: AllocationOut | None = None,
    chosen: set[str] | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    return page(
        "coordinator/allocation.html",
        request,
        status_code,
        allocation=allocation,
        chosen=chosen,
        errors=errors or {},
    )


@get("/allocation", opt=COORDINATORS)
async def allocation(request: PageRequest) -> Template:
    return _allocation_page(request)


@post("/allocation/propose", opt=COORDINATORS, status_code=200)
async def propose(request: PageRequest) -> Template:
    # Computing proposals writes audit records: a POST, never a plain visit.
    return _allocation_page(request, allocation=await placement.propose_allocation(request.user))


def _confirmation(values: list[str]) -> AllocationConfirm | str:
    """The ticked checkboxes ("request_id:bed_id") as the service's input, or what is wrong."""
    if not values:
        return _("Choose at least one assignment to confirm.")
    try:
        assignments = []
        for value in values:
            request_id, _sep, bed_id = value.partition(":")
            assignments.append({"request_id": int(request_id), "bed_id": int(bed_id)})
        return msgspec.convert({"assignments": assignments}, AllocationConfirm)
    except (ValueError, msgspec.ValidationError):
        return _("These assignments cannot be read. Compute the proposals again.")


@post("/allocation/confirm", opt=COORDINATORS, status_code=303)
async def confirm(request: PageRequest) -> Response:
    form = await request.form()
    values = [str(value) for value in form.getall("assignment", [])]
    data = _confirmation(values)
    if isinstance(data, str):
        # The proposals again, as they stand now, with the message beside them.
        return _allocation_page(
            request,
            422,
            allocation=await placement.propose_allocation(request.user),
            chosen=set(values),
            errors={"assignments": data},
        )
    try:
        await placement.confirm_allocation(request.user, data)
    except (Conflict, InvalidInput) as error:
        # The proposals are out of date: say why at the top, offer to compute them again.
        return _allocation_page(request, error.status_code, errors=form_errors(error, ()))
    return done("/allocation", "held")


HANDLERS = [alerts, acknowledge_alert, resolve_alert, network, rota, allocation, propose, confirm]
