"""Database engine from DATABASE_URL and the one way services open a write transaction."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType


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


def write_transaction():
    """A transaction that takes the write lock up front on SQLite (see docs/architecture.md).

    SQLite's default deferred transactions fail with 'database is locked' when two
    writers race; an immediate transaction waits on the busy timeout instead.
    """
    engine = get_engine()
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


# Ids are PostgreSQL `serial` (4-byte) columns. A larger number in a URL or a body cannot name
# a row, and both drivers raise on it instead of finding nothing: check before querying.
MAX_ROW_ID = 2**31 - 1


def is_storable_id(value: int) -> bool:
    return 0 < value <= MAX_ROW_ID


def is_sqlite() -> bool:
    return isinstance(get_engine(), SQLiteEngine)
