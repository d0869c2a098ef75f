"""The audit log viewer for admins: thin, the service records the read."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get
from litestar.params import QueryParameter

from backend import audit
from backend.identity import Principal, Role


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]
    opt = {"roles": frozenset({Role.ADMIN})}

    @get(
        "/",
        summary="Who read or changed which case, and when; newest first (this read is audited)",
    )
    async def search(
        self,
        request: Request[Principal, str, object],
        user: Annotated[
            str | None, QueryParameter(description="username", max_length=80, required=False)
        ] = None,
        case_code: Annotated[str | None, QueryParameter(max_length=20, required=False)] = None,
        since: Annotated[
            str | None,
            QueryParameter(
                name="from",
                max_length=10,
                description="first local day, YYYY-MM-DD",
                required=False,
            ),
        ] = None,
        until: Annotated[
            str | None,
            QueryParameter(
                name="to", max_length=10, description="last local day, YYYY-MM-DD", required=False
            ),
        ] = None,
        page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=audit.MAX_PER_PAGE)] = 50,
    ) -> audit.AuditPage:
        return await audit.search(
            request.user,
            user=user,
            case_code=case_code,
            since=since,
            until=until,
            page=page,
            per_page=per_page,
        )
