from __future__ import annotations

import os
from urllib.parse import urlparse, urlunparse

import asyncpg

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url(database: str | None = None) -> str:
    base = os.environ.get("TEST_DATABASE_URL") or DEFAULT_SERVER
    if database is None:
        return base
    return urlunparse(urlparse(base)._replace(path=f"/{database}"))


async def reachable() -> bool:
    try:
        connection = await asyncpg.connect(server_url(), timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


async def create_database(name: str) -> None:
    connection = await asyncpg.connect(server_url(), timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(name: str) -> None:
    connection = await asyncpg.connect(server_url(), timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def truncate_all() -> None:
    from backend.database import get_engine

    engine = get_engine()
    rows = await engine._run_in_new_connection(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migration'"
    )
    names = ", ".join(f'"{row["tablename"]}"' for row in rows)
    if names:
        await engine._run_in_new_connection(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
