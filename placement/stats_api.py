"""The statistics controller: thin; parse, call the service, return its answer."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, Response, get
from litestar.params import QueryParameter

from backend.identity import Principal, Role
from placement import stats_service
from placement.stats_service import DimensionsOut, StatisticsOut

AuthRequest = Request[Principal, str, object]
READERS = frozenset({Role.ANALYST, Role.COORDINATOR})

MONTH = "A month, YYYY-MM (local time); the period is whole months"


class StatisticsController(Controller):
    path = "/statistics"
    tags = ["statistics"]

    @get(
        "/",
        opt={"roles": READERS},
        summary="Anonymised counts over whole months, by up to two dimensions; cells under 5 "
        'and the cells protecting them are shown as "<5"',
    )
    async def table(
        self,
        request: AuthRequest,
        measure: Annotated[
            str, QueryParameter(description="What to count (default: cases)", max_length=40)
        ] = "cases",
        from_month: Annotated[
            str | None, QueryParameter(name="from", description=MONTH, max_length=20)
        ] = None,
        to_month: Annotated[
            str | None, QueryParameter(name="to", description=MONTH, max_length=20)
        ] = None,
        by: Annotated[
            list[str] | None,
            QueryParameter(description="A dimension; give it twice to cross two", max_items=3),
        ] = None,
        output: Annotated[
            str, QueryParameter(name="format", description="json or csv", max_length=10)
        ] = "json",
    ) -> StatisticsOut | Response[str]:
        result = await stats_service.statistics(
            request.user, measure, from_month, to_month, by, output
        )
        if isinstance(result, str):
            filename = f"{measure}.csv"
            return Response(
                content=result,
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        return result

    @get("/dimensions", opt={"roles": READERS}, summary="The measures and dimensions' values")
    async def dimensions(self, request: AuthRequest) -> DimensionsOut:
        return stats_service.dimensions(request.user)
