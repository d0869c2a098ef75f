"""Authentication (session cookie or personal API token), the role guard, and login routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Empty, Message

from backend import accounts
from backend.identity import Principal
from backend.settings import Settings

SESSION_COOKIE = "safebed_session"
ROTATE_FLAG = "rotate_session"
PUBLIC_PATHS = ["^/schema", "^/static/", "^/health$"]


class RotatingSessionBackend(ServerSideSessionBackend):
    """Gives a fresh session id at sign-in, so an id planted before sign-in is worthless."""

    def get_session_id(self, connection: ASGIConnection) -> str:
        state = connection.scope.setdefault("state", {})
        if state.get(ROTATE_FLAG):
            if "new_session_id" not in state:
                state["new_session_id"] = self.generate_session_id()
            return state["new_session_id"]
        return super().get_session_id(connection)

    async def store_in_message(
        self, scope_session: Any, message: Message, connection: ASGIConnection
    ) -> None:
        cookie = connection.cookies.get(self.config.key)
        store = self.config.get_store_from_app(connection.scope["app"])
        if scope_session is Empty or not scope_session:
            # Signed out, or never signed in (API tokens, health checks, anonymous callers):
            # store nothing. A cookie naming a session is removed along with that session.
            if cookie:
                await self.delete(cookie, store=store)
                MutableScopeHeaders.from_message(message).add("Set-Cookie", self._removal_cookie())
            return
        if cookie and connection.scope.get("state", {}).get(ROTATE_FLAG):
            await self.delete(cookie, store=store)
        await super().store_in_message(scope_session, message, connection)

    def _removal_cookie(self) -> str:
        # Litestar's own removal cookie keeps the configured Max-Age, which outranks its
        # past Expires: browsers would keep sending it.
        return Cookie(
            key=self.config.key,
            value="",
            max_age=0,
            expires=0,
            path=self.config.path,
            domain=self.config.domain,
            secure=self.config.secure,
            httponly=self.config.httponly,
            samesite=self.config.samesite,
        ).to_header(header="")


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


def session_config(settings: Settings) -> ServerSideSessionConfig:
    return RotatingSessionConfig(
        key=SESSION_COOKIE,
        max_age=settings.session_max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        store="sessions",
        renew_on_access=True,
    )


class AuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """`Authorization: Bearer <token>` for integrations, the session cookie for browsers."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise NotAuthorizedException("Use 'Authorization: Bearer <token>'.")
            principal = await accounts.principal_for_token(token.strip())
            if principal is None:
                raise NotAuthorizedException("This API token is unknown or revoked.")
            return AuthenticationResult(user=principal, auth="token")
        session = connection.scope.get("session") or {}
        user_id = session.get("user_id") if isinstance(session, dict) else None
        principal = await accounts.principal_for_user(user_id) if user_id else None
        if principal is None:
            raise NotAuthorizedException(
                "Sign in first (POST /api/auth/login) or send an API token."
            )
        return AuthenticationResult(user=principal, auth="session")


def role_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Every API route declares its allowed roles in opt['roles']; none declared, none allowed."""
    if handler.opt.get("exclude_from_auth"):
        return
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal):
        raise NotAuthorizedException("Sign in first.")
    roles = handler.opt.get("roles")
    if roles is None:
        raise PermissionDeniedException("This route has no access rule and is closed.")
    if principal.role not in roles:
        allowed = ", ".join(sorted(str(role) for role in roles))
        raise PermissionDeniedException(
            f"Your role ({principal.role}) may not do this; allowed: {allowed}."
        )


def login_rate_limit(settings: Settings) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", settings.login_attempts_per_minute),
        store="login_rate_limit",
    )
