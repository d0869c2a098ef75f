"""A Litestar Store kept in the database, so browser sessions survive restarts and are shared
by every app instance."""

from __future__ import annotations

from datetime import timedelta

from litestar.stores.base import Store

from backend.tables import StoredSession
from backend.timeutil import as_utc, utcnow


def _expiry(expires_in: int | timedelta | None):
    if expires_in is None:
        return None
    seconds = expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
    return utcnow() + timedelta(seconds=seconds)


class DatabaseStore(Store):
    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        data = value.decode() if isinstance(value, bytes) else value
        expires_at = _expiry(expires_in)
        updated = (
            await StoredSession.update(
                {StoredSession.data: data, StoredSession.expires_at: expires_at}
            )
            .where(StoredSession.session_key == key)
            .returning(StoredSession.id)
        )
        if not updated:
            await StoredSession.insert(
                StoredSession(session_key=key, data=data, expires_at=expires_at)
            )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        row = await StoredSession.select().where(StoredSession.session_key == key).first()
        if row is None:
            return None
        if row["expires_at"] is not None and as_utc(row["expires_at"]) <= utcnow():
            await self.delete(key)
            return None
        if renew_for is not None and row["expires_at"] is not None:
            await StoredSession.update({StoredSession.expires_at: _expiry(renew_for)}).where(
                StoredSession.id == row["id"]
            )
        return row["data"].encode()

    async def delete(self, key: str) -> None:
        await StoredSession.delete().where(StoredSession.session_key == key)

    async def delete_all(self) -> None:
        await StoredSession.delete(force=True)

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = (
            await StoredSession.select(StoredSession.expires_at)
            .where(StoredSession.session_key == key)
            .first()
        )
        if row is None or row["expires_at"] is None:
            return None
        return int((as_utc(row["expires_at"]) - utcnow()).total_seconds())


async def delete_expired() -> int:
    """Remove sessions past their expiry (abandoned browsers never present them again)."""
    deleted = (
        await StoredSession.delete()
        .where(StoredSession.expires_at < utcnow())
        .returning(StoredSession.id)
    )
    return len(deleted)
