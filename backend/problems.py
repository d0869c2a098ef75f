"""Every error leaves the API as RFC 9457 problem details naming the field or rule at fault."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_500_INTERNAL_SERVER_ERROR

from backend.errors import DomainError
from backend.schemas import NO_NUL

logger = logging.getLogger("safebed.errors")

MEDIA_TYPE = "application/problem+json"
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")
_PATH = re.compile(r"at `\$\.?([^`]*)`")
# How msgspec words a text refused by the NO_NUL pattern of backend.schemas.
_NO_NUL_MESSAGE = f"matching regex {NO_NUL!r}"

_TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
}


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field_of(error: dict[str, Any]) -> str | None:
    message = str(error.get("message", ""))
    for pattern in (_UNKNOWN_FIELD, _MISSING_FIELD):
        if match := pattern.search(message):
            prefix = str(error.get("key") or "").removeprefix("data").strip(".")
            return f"{prefix}.{match.group(1)}" if prefix else match.group(1)
    key = error.get("key")
    if key in (None, "", "data"):
        match = _PATH.search(message)
        return match.group(1) or None if match else None
    return str(key)


def _message_of(error: dict[str, Any]) -> Any:
    message = error.get("message")
    if message == "'data'" and error.get("source") == "body":
        # Litestar reports a missing body as the KeyError of its `data` argument.
        return "The request body is missing: send a JSON object."
    if isinstance(message, str) and _NO_NUL_MESSAGE in message:
        return "Text may not contain the NUL character (\\u0000)."
    return message


def validation_handler(request: Request, exc: ValidationException) -> Response:
    raw = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        {
            "field": _field_of(error),
            "source": error.get("source"),
            "message": _message_of(error),
        }
        for error in raw
        if isinstance(error, dict)
    ]
    if errors:
        first = errors[0]
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    else:
        detail = exc.detail
    return problem(request, 400, detail, title="Invalid input", errors=errors or None)


def domain_handler(request: Request, exc: DomainError) -> Response:
    errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
    return problem(
        request, exc.status_code, exc.detail, title=exc.title, errors=errors, **exc.extra
    )


def http_handler(request: Request, exc: HTTPException) -> Response:
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    return problem(request, exc.status_code, exc.detail, headers=exc.headers, **extra)


def integrity_handler(request: Request, exc: Exception) -> Response:
    """A race lost against a uniqueness rule: the other writer won, nothing of ours was kept."""
    return problem(
        request,
        HTTP_409_CONFLICT,
        "This conflicts with data written at the same time; reload and try again.",
    )


def internal_handler(request: Request, exc: Exception) -> Response:
    # The exception type only: messages can carry submitted values.
    logger.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.scope.get("path")
    )
    return problem(
        request, HTTP_500_INTERNAL_SERVER_ERROR, "Something went wrong on our side; it was logged."
    )


def exception_handlers() -> dict[Any, Any]:
    import sqlite3

    import asyncpg

    return {
        ValidationException: validation_handler,
        DomainError: domain_handler,
        HTTPException: http_handler,
        sqlite3.IntegrityError: integrity_handler,
        asyncpg.exceptions.IntegrityConstraintViolationError: integrity_handler,
        Exception: internal_handler,
    }
