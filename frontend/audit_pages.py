"""The audit log viewer for admins: the same service as GET /api/audit, so reading the log
here is audited too. The filter form uses GET (a search changes nothing and its address can
be kept or shared); it carries no CSRF token for that reason."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from litestar import get
from litestar.response import Template

from backend import audit
from backend.errors import DomainError
from backend.identity import Role
from frontend.i18n import _
from frontend.web import PageRequest, form_errors, page, roles

FILTERS = ("user", "case_code", "from", "to")
PER_PAGE = 50


def _day(raw: str, field: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = _("Enter a date as YYYY-MM-DD.")
        return None


def _page_number(raw: str, errors: dict[str, str]) -> int:
    if not raw:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        errors["page"] = _("The page number is a whole number from 1.")
        return 1
    return int(raw)


@get("/admin/audit", opt=roles(Role.ADMIN))
async def audit_log(request: PageRequest) -> Template:
    query = request.query_params
    form = {name: (query.get(name) or "").strip()[:80] for name in FILTERS}
    errors: dict[str, str] = {}
    since = _day(form["from"], "from", errors)
    until = _day(form["to"], "to", errors)
    number = _page_number(query.get("page") or "", errors)
    result = None
    status = 200
    if errors:
        status = 422
    else:
        try:
            result = await audit.search(
                request.user,
                user=form["user"] or None,
                case_code=form["case_code"][:20] or None,
                since=since,
                until=until,
                page=number,
                per_page=PER_PAGE,
            )
        except DomainError as error:
            errors, status = form_errors(error, FILTERS), error.status_code
    links = {}
    if result is not None:
        kept = {name: value for name, value in form.items() if value}
        if number > 1:
            links["newer"] = "/admin/audit?" + urlencode({**kept, "page": number - 1})
        if number * PER_PAGE < result.total:
            links["older"] = "/admin/audit?" + urlencode({**kept, "page": number + 1})
    return page(
        "admin/audit.html",
        request,
        status,
        form=form,
        errors=errors,
        result=result,
        links=links,
    )


HANDLERS = [audit_log]
