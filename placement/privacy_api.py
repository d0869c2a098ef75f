"""Subject access export for admins: thin, the service audits the export."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath

from backend.identity import Principal, Role
from placement import subject_access


class SubjectAccessController(Controller):
    path = "/cases"
    tags = ["privacy"]

    @get(
        "/{case_code:str}/export",
        opt={"roles": frozenset({Role.ADMIN})},
        summary="Everything held about one case code, as JSON (subject access; audited)",
    )
    async def export(
        self, request: Request[Principal, str, object], case_code: FromPath[str]
    ) -> dict[str, Any]:
        return await subject_access.export_case(request.user, case_code)
