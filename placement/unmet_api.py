"""The unmet-need report's controller: thin; parse, call the service, return its answer."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get
from litestar.params import QueryParameter

from backend.identity import Principal, Role
from placement import unmet_need
from placement.unmet_need import UnmetNeedOut

AuthRequest = Request[Principal, str, object]


def _month(name: str, description: str) -> QueryParameter:
    return QueryParameter(name=name, description=description, max_length=20)


class UnmetNeedController(Controller):
    path = "/statistics/unmet-need"
    tags = ["statistics"]

    @get(
        "/",
        opt={"roles": frozenset({Role.ANALYST, Role.COORDINATOR})},
        summary="Where places are missing: unmatched urgent requests, time to a bed, fallback "
        "placements, occupancy, runaways per 100 stays, waiting list; groups under 5 suppressed",
    )
    async def report(
        self,
        request: AuthRequest,
        from_month: Annotated[
            str | None, _month("from", "First month, YYYY-MM (default: 11 months before to)")
        ] = None,
        to_month: Annotated[
            str | None, _month("to", "Last month, YYYY-MM, local time (default: this month)")
        ] = None,
    ) -> UnmetNeedOut:
        return await unmet_need.unmet_need_report(request.user, from_month, to_month)
