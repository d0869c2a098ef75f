"""Every page route, assembled into one router behind the page guard."""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import ResponseHeader

from backend.settings import Settings
from frontend import admin_pages, audit_pages, centre, coordinator, officer, statistics
from frontend.live import live
from frontend.web import (
    PAGE_EXCEPTION_HANDLERS,
    SHELL_HANDLERS,
    choose_language,
    login_pages,
    page_guard,
)

# Pages load nothing but this site's own files: no inline script or style at all.
PAGE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

PAGE_HANDLERS: list = [
    *SHELL_HANDLERS,
    live,
    *officer.HANDLERS,
    *centre.HANDLERS,
    *coordinator.HANDLERS,
    *admin_pages.HANDLERS,
    *audit_pages.HANDLERS,
    *statistics.HANDLERS,
]


def pages_router(settings: Settings) -> Router:
    return Router(
        path="/",
        route_handlers=[login_pages(settings), *PAGE_HANDLERS],
        guards=[page_guard],
        before_request=choose_language,
        exception_handlers=PAGE_EXCEPTION_HANDLERS,
        include_in_schema=False,
        response_headers=[
            ResponseHeader(name="Content-Security-Policy", value=PAGE_CONTENT_SECURITY_POLICY)
        ],
    )
