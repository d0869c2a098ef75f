"""Domain events: facts one domain records for another to act on.

A domain records an event inside the transaction that caused it (`record`), so an event
exists exactly when its cause was committed. In-process handlers (`on`) run after the
commit (`handle_pending`, called by the service that recorded the event and by a
scheduled job as a safety net). Claiming an event and running its handler is one
transaction: a handler that fails leaves the event pending, and two processes never
handle the same event twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from backend.database import write_transaction
from backend.tables import DomainEvent
from backend.timeutil import utcnow

log = logging.getLogger(__name__)

Handler = Callable[[int, dict[str, Any]], Awaitable[None]]
_handlers: dict[str, Handler] = {}


def on(kind: str, handler: Handler) -> None:
    """Run `handler(event_id, payload)` for every event of `kind` (one handler per kind)."""
    _handlers[kind] = handler


async def record(kind: str, dedupe_key: str, payload: dict[str, Any]) -> bool:
    """Record a fact once; False when an event with this key was already recorded."""
    inserted = (
        await DomainEvent.insert(
            DomainEvent(
                kind=kind,
                dedupe_key=dedupe_key,
                payload=payload,
                created_at=utcnow(),
                # Kinds nobody handles in-process are born handled; their consumers
                # (notifications) read them by id.
                handled_at=None if kind in _handlers else utcnow(),
            )
        )
        .on_conflict(action="DO NOTHING")
        .returning(DomainEvent.id)
    )
    return bool(inserted)


async def handle_pending(limit: int = 100) -> int:
    """Run the handlers of events not handled yet, oldest first; returns how many ran."""
    if not _handlers:
        return 0
    pending = (
        await DomainEvent.select(DomainEvent.id, DomainEvent.kind)
        .where(DomainEvent.handled_at.is_null() & DomainEvent.kind.is_in(list(_handlers)))
        .order_by(DomainEvent.id)
        .limit(limit)
    )
    handled = 0
    for event in pending:
        try:
            async with write_transaction():
                claimed = (
                    await DomainEvent.update({DomainEvent.handled_at: utcnow()})
                    .where((DomainEvent.id == event["id"]) & DomainEvent.handled_at.is_null())
                    .returning(DomainEvent.payload)
                )
                if not claimed:
                    continue
                await _handlers[event["kind"]](event["id"], as_dict(claimed[0]["payload"]))
                handled += 1
        except Exception:
            # The event stays pending for the next run; the caller's own work is committed.
            log.exception("Handler for %s event %s failed", event["kind"], event["id"])
    return handled


def as_dict(payload: Any) -> dict[str, Any]:
    if isinstance(payload, str):
        return json.loads(payload)
    return dict(payload)


async def events_of(kind: str, after_id: int = 0) -> list[dict[str, Any]]:
    rows = (
        await DomainEvent.select()
        .where((DomainEvent.kind == kind) & (DomainEvent.id > after_id))
        .order_by(DomainEvent.id)
    )
    for row in rows:
        row["payload"] = as_dict(row["payload"])
    return rows
