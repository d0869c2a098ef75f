"""The pages' shell: who may see which page, the request's language, sign-in and sign-out,
the language switch, and what a refused or failed page shows.

Pages are thin controllers like the API's: they read a form, call a domain service and
render a template (or redirect after a successful POST). Every form carries the CSRF
token; every page refuses a role it is not for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect, Template

from backend import accounts
from backend.auth import ROTATE_FLAG, login_rate_limit
from backend.errors import DomainError, Forbidden, NotFound
from backend.identity import Principal, Role
from backend.schemas import UserUpdate
from backend.settings import Settings
from frontend import i18n
from frontend.i18n import _

LANGUAGE_COOKIE = "safebed_lang"
PageRequest = Request[Principal, str, object]

# Where each role starts.
HOME = {
    Role.PLACEMENT_OFFICER: "/requests",
    Role.CENTRE_STAFF: "/board",
    Role.COORDINATOR: "/alerts",
    Role.ADMIN: "/admin",
    Role.ANALYST: "/statistics",
}


def roles(*allowed: Role) -> dict[str, Any]:
    """A page's opt: which roles may open it."""
    return {"page_roles": frozenset(allowed)}


def signed_in(connection: ASGIConnection) -> Principal | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def page_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    # The refusal below is a page too: in the visitor's language.
    use_language_of(connection)
    if handler.opt.get("exclude_from_auth"):
        return
    principal = signed_in(connection)
    if principal is None:
        raise NotAuthorizedException()
    allowed = handler.opt.get("page_roles")
    if allowed is None:
        raise PermissionDeniedException("This page has no access rule and is closed.")
    if principal.role not in allowed:
        raise PermissionDeniedException()


async def choose_language(request: Request) -> None:
    """Before every page: the signed-in user's language, else a chosen one, else the
    browser's."""
    use_language_of(request)


def use_language_of(request: ASGIConnection) -> None:
    principal = signed_in(request)
    if principal is not None and principal.language in i18n.LANGUAGES:
        i18n.use(principal.language)
    else:
        i18n.use(browser_language(request))


def browser_language(request: ASGIConnection) -> str:
    """The language chosen with the selector before signing in, else the browser's."""
    if request.cookies.get(LANGUAGE_COOKIE) in i18n.LANGUAGES:
        return request.cookies[LANGUAGE_COOKIE]
    return i18n.negotiate(request.headers.get("accept-language"))


def safe_next(target: str | None) -> str:
    """Only a path of this site: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def page(name: str, request: Request, status_code: int = 200, **context: Any) -> Template:
    """Render a page template with what every page needs."""
    principal = signed_in(request)
    return Template(
        template_name=name,
        context={
            "user": principal,
            "home": HOME.get(principal.role, "/") if principal else "/login",
            "path": request.url.path,
            "errors": {},
            "notice": request.query_params.get("done"),
            **context,
        },
        status_code=status_code,
    )


def done(path: str, notice: str = "saved") -> Redirect:
    """After a successful POST: back to a page, with a short notice (post/redirect/get)."""
    separator = "&" if "?" in path else "?"
    return Redirect(path=f"{path}{separator}done={quote(notice)}", status_code=303)


def form_errors(error: DomainError, fields: Iterable[str]) -> dict[str, str]:
    """A domain refusal as errors beside the field that caused it (else the form's top)."""
    field = getattr(error, "field", None)
    key = field if field in set(fields) else "_form"
    return {key: str(error)}


# ---------------------------------------------------------------------------
# What a refused, missing or failed page shows


def _to_login(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(path=f"/login?next={quote(target)}", status_code=303)


def _forbidden(request: Request, _exc: Exception) -> Response:
    use_language_of(request)
    return page(
        "error.html",
        request,
        403,
        title=_("Not for your role"),
        message=_("This page is not part of your work in this system. Use the menu to go back."),
    )


def _not_found(request: Request, _exc: Exception) -> Response:
    use_language_of(request)
    return page(
        "error.html",
        request,
        404,
        title=_("Not found"),
        message=_("This page or this record does not exist (any more)."),
    )


def _http_error(request: Request, exc: HTTPException) -> Response:
    use_language_of(request)
    if exc.status_code == 403:
        return _forbidden(request, exc)
    if exc.status_code == 404:
        return _not_found(request, exc)
    message = _("This request could not be handled.")
    return page(
        "error.html", request, exc.status_code, title=_("Something went wrong"), message=message
    )


PAGE_EXCEPTION_HANDLERS = {
    NotAuthorizedException: _to_login,
    PermissionDeniedException: _forbidden,
    Forbidden: _forbidden,
    NotFoundException: _not_found,
    NotFound: _not_found,
    HTTPException: _http_error,
}


# ---------------------------------------------------------------------------
# Signing in and out, choosing a language


@get("/", opt=roles(*Role))
async def home(request: PageRequest) -> Redirect:
    return Redirect(path=HOME[request.user.role], status_code=303)


@get("/login", opt={"exclude_from_auth": True})
async def login_form(request: Request) -> Template:
    return page("login.html", request, next=safe_next(request.query_params.get("next")))


@post("/login", opt={"exclude_from_auth": True}, status_code=303)
async def login(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username", "")).strip()
    target = safe_next(str(form.get("next", "")))
    user_id = await accounts.authenticate(username, str(form.get("password", "")))
    if user_id is None:
        return page(
            "login.html",
            request,
            401,
            next=target,
            username=username,
            errors={"password": _("Wrong username or password.")},
        )
    request.scope.setdefault("state", {})[ROTATE_FLAG] = True
    request.set_session({"user_id": user_id})
    principal = await accounts.principal_for_user(user_id)
    if principal is not None and principal.language not in i18n.LANGUAGES:
        # A new account without a language takes the browser's at its first sign-in.
        await accounts.update_user(user_id, UserUpdate(language=browser_language(request)))
    if target == "/":
        target = HOME[principal.role] if principal else "/"
    return Redirect(path=target, status_code=303)


@post("/logout", opt=roles(*Role), status_code=303)
async def logout(request: PageRequest) -> Redirect:
    request.clear_session()
    return Redirect(path="/login", status_code=303)


@post("/language", opt={"exclude_from_auth": True}, status_code=303)
async def choose(request: Request) -> Response:
    form = await request.form()
    language = str(form.get("language", ""))
    back = safe_next(str(form.get("next", "/")))
    if language not in i18n.LANGUAGES:
        return Redirect(path=back, status_code=303)
    # This route skips authentication (it serves the sign-in page too): read the session.
    session = request.scope.get("session")
    user_id = session.get("user_id") if isinstance(session, dict) else None
    if user_id is not None:
        await accounts.update_user(user_id, UserUpdate(language=language))
    response = Redirect(path=back, status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, samesite="lax")
    return response


@get("/account", opt=roles(*Role))
async def account(request: PageRequest) -> Template:
    return page("account.html", request, me=await accounts.get_user(request.user.user_id))


def login_pages(settings: Settings) -> Router:
    """The sign-in form, rate-limited like the API's sign-in."""
    return Router(
        path="/",
        route_handlers=[login],
        middleware=[login_rate_limit(settings).middleware],
    )


SHELL_HANDLERS = [home, login_form, logout, choose, account]
