"""Domain events: facts one domain records for other domains to act on.

A domain records an event inside the transaction that caused it (`record`), so an event
exists exactly when its cause was committed. Consumers (`on`) run after the commit
(`handle_pending`, called by the service that recorded the event and by a scheduled job as
a safety net). Each consumer handles each event once: its receipt and its handler's work
are one transaction, so a handler that fails leaves the event pending for that consumer
only, and two processes never handle the same event twice for the same consumer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import Any

from backend.database import after_commit, is_sqlite, write_transaction
from backend.tables import DomainEvent, EventReceipt
from backend.timeutil import utcnow

log = logging.getLogger(__name__)

Handler = Callable[[int, dict[str, Any]], Awaitable[None]]
_handlers: dict[str, dict[str, Handler]] = {}  # kind -> consumer -> handler
_after_handling: list[Callable[[], object]] = []
_handling: ContextVar[bool] = ContextVar("handling_events", default=False)

# Handlers may record further events (a freed bed offered to a waiting request raises a
# vacancy alert); a few rounds handle the whole chain in one call.
MAX_ROUNDS = 4


def on(kind: str, handler: Handler, consumer: str) -> None:
    """Run `handler(event_id, payload)` once for every event of `kind`, as `consumer`."""
    _handlers.setdefault(kind, {})[consumer] = handler


def after_handling(hook: Callable[[], object]) -> None:
    """Call `hook()` after a `handle_pending` call that handled something (post-commit)."""
    _after_handling.append(hook)


async def record(kind: str, dedupe_key: str, payload: dict[str, Any]) -> bool:
    """Record a fact once; False when an event with this key was already recorded."""
    inserted = (
        await DomainEvent.insert(
            DomainEvent(
                kind=kind,
                dedupe_key=dedupe_key,
                payload=payload,
                created_at=utcnow(),
                # Kinds no consumer handles are born handled (read later with events_of).
                handled_at=None if kind in _handlers else utcnow(),
            )
        )
        .on_conflict(action="DO NOTHING")
        .returning(DomainEvent.id)
    )
    if inserted and kind in _handlers and not _handling.get():
        # Consumers run right after the commit that recorded the fact.
        after_commit(handle_pending)
    return bool(inserted)


async def handle_pending(limit: int = 100) -> int:
    """Run every consumer on the events it has not handled yet, oldest first."""
    handled = 0
    token = _handling.set(True)  # events recorded by consumers: handled by the next round
    try:
        for _ in range(MAX_ROUNDS):
            handled_now = await _handle_batch(limit)
            handled += handled_now
            if handled_now == 0:
                break
    finally:
        _handling.reset(token)
    if handled:
        for hook in _after_handling:
            hook()
    return handled


async def _handle_batch(limit: int) -> int:
    if not _handlers:
        return 0
    pending = (
        await DomainEvent.select(DomainEvent.id, DomainEvent.kind, DomainEvent.payload)
        .where(DomainEvent.handled_at.is_null() & DomainEvent.kind.is_in(list(_handlers)))
        .order_by(DomainEvent.id)
        .limit(limit)
    )
    if not pending:
        return 0
    receipts = await EventReceipt.select(EventReceipt.event, EventReceipt.consumer).where(
        EventReceipt.event.is_in([event["id"] for event in pending])
    )
    done: dict[int, set[str]] = {}
    for receipt in receipts:
        done.setdefault(receipt["event"], set()).add(receipt["consumer"])
    handled = 0
    for event in pending:
        consumers = _handlers[event["kind"]]
        finished = done.setdefault(event["id"], set())
        for consumer, handler in consumers.items():
            if consumer in finished:
                continue
            if await _consume(event, consumer, handler):
                handled += 1
                finished.add(consumer)
        if finished >= set(consumers):
            await DomainEvent.update({DomainEvent.handled_at: utcnow()}).where(
                (DomainEvent.id == event["id"]) & DomainEvent.handled_at.is_null()
            )
    return handled


async def _consume(event: dict[str, Any], consumer: str, handler: Handler) -> bool:
    try:
        async with write_transaction():
            claimed = (
                await EventReceipt.insert(
                    EventReceipt(
                        event=event["id"],
                        consumer=consumer,
                        key=f"{event['id']}:{consumer}",
                        handled_at=utcnow(),
                    )
                )
                .on_conflict(action="DO NOTHING")
                .returning(EventReceipt.id)
            )
            if not claimed:
                return False  # another process handled it
            await handler(event["id"], as_dict(event["payload"]))
            return True
    except Exception:
        # The event stays pending for this consumer; the caller's own work is committed.
        log.exception("Consumer %s failed on %s event %s", consumer, event["kind"], event["id"])
        return False


async def redact(case_code: str, fields: Iterable[str]) -> int:
    """Remove `fields` from the payloads of the events about one case (retention): the
    facts stay, the personal details go. Returns how many events changed."""
    # A cheap text match first (JSON is stored as text on SQLite, json on PostgreSQL).
    text = "payload" if is_sqlite() else "payload::text"
    rows = await DomainEvent.raw(
        f"SELECT id, payload FROM domain_event WHERE {text} LIKE {{}}", f'%"{case_code}"%'
    )
    dropped = set(fields)
    changed = 0
    for row in rows:
        payload = as_dict(row["payload"])
        if payload.get("case_code") != case_code or not dropped & set(payload):
            continue
        kept = {key: value for key, value in payload.items() if key not in dropped}
        await DomainEvent.update({DomainEvent.payload: kept}).where(DomainEvent.id == row["id"])
        changed += 1
    return changed


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
