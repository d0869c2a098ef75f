"""Database engine from DATABASE_URL and the one way services open a write transaction."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from urllib.parse import unquote, urlparse

from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

log = logging.getLogger(__name__)


def engine_from_url(url: str) -> Engine:
    """PostgreSQL for postgres:// and postgresql:// URLs, SQLite for sqlite:///path."""
    if url.startswith(("postgres://", "postgresql://")):
        return PostgresEngine(config=postgres_config(url))
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # timeout is SQLite's busy timeout: wait for a writer instead of failing at once.
        return SQLiteEngine(path=str(path), timeout=30)
    raise ValueError("DATABASE_URL must start with sqlite:///, postgres:// or postgresql://")


def postgres_config(url: str) -> dict[str, object]:
    parsed = urlparse(url)
    config: dict[str, object] = {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "database": unquote(parsed.path.lstrip("/")) or "postgres",
        "user": unquote(parsed.username) if parsed.username else "postgres",
    }
    if parsed.password:
        config["password"] = unquote(parsed.password)
    return config


def get_engine() -> Engine:
    engine = engine_finder()
    if engine is None:
        raise RuntimeError("No Piccolo engine configured (piccolo_conf.DB).")
    return engine


_depth: ContextVar[int] = ContextVar("write_transaction_depth", default=0)
_after_commit: ContextVar[list[Callable[[], Awaitable[object]]] | None] = ContextVar(
    "after_commit", default=None
)


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """A transaction that takes the write lock up front on SQLite (see docs/architecture.md).

    SQLite's default deferred transactions fail with 'database is locked' when two
    writers race; an immediate transaction waits on the busy timeout instead. Nested calls
    join the outer transaction; work registered with `after_commit` runs once the
    outermost one has committed (never after a rollback).
    """
    engine = get_engine()
    if isinstance(engine, SQLiteEngine):
        transaction = engine.transaction(transaction_type=TransactionType.immediate)
    else:
        transaction = engine.transaction()
    depth = _depth.get()
    depth_token = _depth.set(depth + 1)
    hooks_token = _after_commit.set([]) if depth == 0 else None
    try:
        async with transaction:
            yield
        hooks = list(_after_commit.get() or []) if depth == 0 else []
    finally:
        _depth.reset(depth_token)
        if hooks_token is not None:
            _after_commit.reset(hooks_token)
    for hook in hooks:
        try:
            await hook()
        except Exception:
            # The transaction is committed: its caller succeeded. Scheduled jobs redo the work.
            log.exception("Work after a commit failed; a scheduled job will retry it")


def after_commit(hook: Callable[[], Awaitable[object]]) -> bool:
    """Run `hook()` after the current write transaction commits (once per transaction).
    False outside a write transaction: the caller's own schedule must pick the work up."""
    hooks = _after_commit.get()
    if hooks is None:
        return False
    if hook not in hooks:
        hooks.append(hook)
    return True


# Ids are PostgreSQL `serial` (4-byte) columns. A larger number in a URL or a body cannot name
# a row, and both drivers raise on it instead of finding nothing: check before querying.
MAX_ROW_ID = 2**31 - 1


def is_storable_id(value: int) -> bool:
    return 0 < value <= MAX_ROW_ID


def is_sqlite() -> bool:
    return isinstance(get_engine(), SQLiteEngine)
