"""The app factory: assembles every domain's controllers behind one auth layer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router, get
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import ResponseHeader
from litestar.middleware import DefineMiddleware
from litestar.static_files import create_static_files_router
from litestar.stores.memory import MemoryStore
from litestar.stores.registry import StoreRegistry
from piccolo.engine.postgres import PostgresEngine

from backend.api import AuthController, MeController, UserController, login_router
from backend.audit_api import AuditController
from backend.auth import PUBLIC_PATHS, AuthenticationMiddleware, role_guard, session_config
from backend.database import get_engine
from backend.migrate import apply_migrations
from backend.openapi import SWAGGER_DIR, SWAGGER_STATIC, ClosedStructSchemaPlugin, openapi_config
from backend.problems import exception_handlers
from backend.scheduler import build_scheduler
from backend.session_store import DatabaseStore
from backend.settings import Settings, get_settings
from capacity.api import (
    BedController,
    CentreController,
    GeographyController,
    UnitController,
    VacancyController,
)
from frontend import STATIC_DIR
from frontend.routes import pages_router
from frontend.templating import template_config
from notifications.api import NOTIFICATION_CONTROLLERS
from placement.api import PLACEMENT_CONTROLLERS

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

SECURITY_HEADERS = [
    ResponseHeader(name="Content-Security-Policy", value=CONTENT_SECURITY_POLICY),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
]

API_CONTROLLERS = [
    AuthController,
    MeController,
    UserController,
    AuditController,
    CentreController,
    UnitController,
    BedController,
    VacancyController,
    GeographyController,
    *PLACEMENT_CONTROLLERS,
    *NOTIFICATION_CONTROLLERS,
]


@get("/health", opt={"exclude_from_auth": True}, include_in_schema=False)
async def health() -> dict[str, str]:
    return {"status": "ok"}


def _lifespan(settings: Settings):
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = get_engine()
        if settings.auto_migrate:
            await apply_migrations()
        if isinstance(engine, PostgresEngine):
            await engine.start_connection_pool()
        scheduler = build_scheduler(settings) if settings.scheduler_enabled else None
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None and scheduler.running:
                scheduler.shutdown(wait=False)
            if isinstance(engine, PostgresEngine):
                await engine.close_connection_pool()

    return lifespan


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every request's URL at INFO: webhook URLs may carry tokens.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    api = Router(
        path="/api",
        route_handlers=[login_router(settings), *API_CONTROLLERS],
        guards=[role_guard],
    )
    return Litestar(
        route_handlers=[
            api,
            pages_router(settings),
            health,
            create_static_files_router(
                path=SWAGGER_STATIC,
                directories=[SWAGGER_DIR],
                include_in_schema=False,
                opt={"exclude_from_auth": True},
            ),
            create_static_files_router(
                path="/static/app",
                directories=[STATIC_DIR],
                include_in_schema=False,
                opt={"exclude_from_auth": True},
            ),
        ],
        middleware=[
            session_config(settings).middleware,
            DefineMiddleware(AuthenticationMiddleware, exclude=PUBLIC_PATHS),
        ],
        stores=StoreRegistry(
            stores={"sessions": DatabaseStore(), "login_rate_limit": MemoryStore()}
        ),
        exception_handlers=exception_handlers(),
        template_config=template_config(),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="safebed_csrf",
            cookie_secure=settings.cookie_secure,
            cookie_samesite="strict",
            # The JSON API is called with a bearer token or the SameSite=Lax session cookie,
            # which browsers do not send on a cross-site POST.
            exclude=["^/api/", "^/schema", "^/health$", "^/static/"],
        ),
        openapi_config=openapi_config(),
        plugins=[ClosedStructSchemaPlugin()],
        response_headers=SECURITY_HEADERS,
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048),
        lifespan=[_lifespan(settings)],
        debug=False,
    )
