"""Idempotency-Key for POSTs that create things: a retry returns the first answer.

The record is written in the same transaction as the work it describes. Two concurrent
first attempts with one key cannot both commit: the second hits the key's unique index
(or a rule the first one's work now breaks), its whole transaction (work included) rolls
back, and it answers with the first one's stored response.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from backend.database import write_transaction
from backend.errors import InvalidInput
from backend.identity import Principal
from backend.tables import IdempotencyRecord
from backend.timeutil import utcnow

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Outcome:
    body: bytes
    replayed: bool


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.", field=HEADER
        )


def digest_of(scope: str, payload: Any) -> str:
    return hashlib.sha256(scope.encode() + b"\0" + msgspec.json.encode(payload)).hexdigest()


async def _stored(principal: Principal, key: str, scope: str, digest: str) -> Outcome | None:
    row = (
        await IdempotencyRecord.select()
        .where(IdempotencyRecord.key == f"{principal.user_id}:{key}")
        .first()
    )
    if row is None:
        return None
    if row["scope"] != scope or row["request_digest"] != digest:
        raise InvalidInput(
            f"This {HEADER} was already used for a different request; use a new key.",
            field=HEADER,
        )
    return Outcome(body=row["response"].encode(), replayed=True)


async def run_once(
    principal: Principal,
    key: str | None,
    scope: str,
    payload: Any,
    operation: Callable[[], Awaitable[Any]],
    status_code: int = 201,
) -> Outcome:
    """Run `operation` (a service call) once per (user, key); replay its answer afterwards."""
    if key is None:
        return Outcome(body=msgspec.json.encode(await operation()), replayed=False)
    _check_key(key)
    digest = digest_of(scope, payload)
    try:
        async with write_transaction():
            stored = await _stored(principal, key, scope, digest)
            if stored is not None:
                return stored
            body = msgspec.json.encode(await operation())
            await IdempotencyRecord.insert(
                IdempotencyRecord(
                    user=principal.user_id,
                    key=f"{principal.user_id}:{key}",
                    scope=scope,
                    request_digest=digest,
                    status_code=status_code,
                    response=body.decode(),
                    created_at=utcnow(),
                )
            )
            return Outcome(body=body, replayed=False)
    except Exception:
        # A concurrent first attempt with this key committed meanwhile, and our work failed
        # on it: on the key's unique index, or on a rule its work now breaks (one live
        # request per case, a bed already held). Answer as it did.
        stored = await _stored(principal, key, scope, digest)
        if stored is None:
            raise
        return stored
