from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar


@asynccontextmanager
async def app_client(app: Litestar, token: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The app runs in this test's event loop (AsyncTestClient would use another thread and
    loop, which breaks PostgreSQL connections). The lifespan is not run here: the session's
    `migrated` fixture already did its work (migrations, connection pool)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers=headers,
    ) as client:
        yield client
