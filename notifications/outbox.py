"""The delivery outbox: rows written with their alert, sent after the commit.

`kick()` starts a background send right after a transaction that raised alerts commits,
so the request that raised them never waits for a receiver; the scheduled job
`deliver_due` is the safety net. A delivery is claimed before it is sent (attempts + 1,
next_attempt_at pushed a lease ahead): two processes never send the same row at once, and
a process killed mid-send leaves a row that is retried when its lease runs out. Receivers
get the delivery id as idempotency key, so a retry after a crash never shows twice.
Each delivery has its own timeout and its own backoff: a slow or broken receiver delays
only its own deliveries.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
from datetime import datetime, timedelta
from typing import Any

import httpx

from backend import events
from backend.database import is_sqlite, write_transaction
from backend.settings import get_settings
from backend.tables import User
from backend.timeutil import utcnow
from notifications import messages, rota
from notifications.channels import DeliveryFailed, SmtpServer, post_webhook, send_email
from notifications.tables import Alert, Delivery, SmtpSettings, Subscription
from notifications.vocabulary import AlertKind, Channel, DeliveryStatus, Purpose

log = logging.getLogger(__name__)

BATCH = 100
PARALLEL_SENDS = 20
CONNECT_SECONDS = 2.0
_background: set[asyncio.Task] = set()


def kick() -> None:
    """Send what is due now, in the background (no-op outside a running event loop)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = loop.create_task(_deliver_quietly())
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _deliver_quietly() -> None:
    try:
        await deliver_due()
    except Exception:
        log.exception("Sending due deliveries failed; the outbox job retries them")


async def drain() -> None:
    """Wait for background sends started by `kick` (tests, shutdown)."""
    while _background:
        await asyncio.gather(*list(_background), return_exceptions=True)


async def deliver_due(now: datetime | None = None) -> int:
    """Claim and send every due delivery; returns how many were delivered."""
    delivered = 0
    while True:
        claimed = await _claim(now or utcnow(), BATCH)
        if not claimed:
            return delivered
        delivered += await _send_all(claimed)
        if len(claimed) < BATCH:
            return delivered


CLAIM_SQL = """
UPDATE alert_delivery SET attempts = attempts + 1, next_attempt_at = {}
WHERE id IN (
    SELECT id FROM alert_delivery
    WHERE status = 'pending' AND next_attempt_at <= {}
    ORDER BY next_attempt_at, id
    LIMIT {}
    FOR UPDATE SKIP LOCKED
)
RETURNING id, alert, "user", subscription, channel, purpose, level, attempts
"""


async def _claim(now: datetime, limit: int) -> list[dict[str, Any]]:
    settings = get_settings()
    # A claim outlives the longest possible send, or a slow send would be claimed twice.
    lease = max(
        settings.delivery_lease_seconds, settings.webhook_timeout_seconds + CONNECT_SECONDS + 1
    )
    lease_until = now + timedelta(seconds=lease)
    if not is_sqlite():
        # Several instances claim concurrently: each due row goes to exactly one of them.
        return await Delivery.raw(CLAIM_SQL, lease_until, now, limit)
    # SQLite: the immediate transaction is the lock (one writer at a time).
    async with write_transaction():
        due = (
            await Delivery.select(Delivery.id)
            .where(
                (Delivery.status == DeliveryStatus.PENDING.value)
                & (Delivery.next_attempt_at <= now)
            )
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
        )
        if not due:
            return []
        return (
            await Delivery.update(
                {Delivery.attempts: Delivery.attempts + 1, Delivery.next_attempt_at: lease_until}
            )
            .where(Delivery.id.is_in([row["id"] for row in due]))
            .returning(
                Delivery.id,
                Delivery.alert,
                Delivery.user,
                Delivery.subscription,
                Delivery.channel,
                Delivery.purpose,
                Delivery.level,
                Delivery.attempts,
            )
        )


async def _send_all(claimed: list[dict[str, Any]]) -> int:
    context = await _Context.load(claimed)
    settings = get_settings()
    gate = asyncio.Semaphore(PARALLEL_SENDS)
    timeout = httpx.Timeout(settings.webhook_timeout_seconds, connect=CONNECT_SECONDS)
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, verify=_tls_context()
    ) as client:

        async def one(row: dict[str, Any]) -> bool:
            async with gate:
                return await _send_one(row, context, client)

        results = await asyncio.gather(*(one(row) for row in claimed))
    return sum(results)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Built once per process: loading the CA bundle costs ~30 ms of CPU per client."""
    return httpx.create_ssl_context()


class _Context:
    """What a batch of deliveries needs, read once: alerts, people, subscriptions, SMTP."""

    def __init__(self) -> None:
        self.alerts: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.subscriptions: dict[int, dict[str, Any]] = {}
        self.smtp: SmtpServer | None = None

    @classmethod
    async def load(cls, claimed: list[dict[str, Any]]) -> _Context:
        context = cls()
        alert_ids = sorted({row["alert"] for row in claimed})
        for alert in await Alert.select().where(Alert.id.is_in(alert_ids)):
            alert["facts"] = events.as_dict(alert["facts"])
            context.alerts[alert["id"]] = alert
        user_ids = sorted({row["user"] for row in claimed if row["user"]})
        if user_ids:
            rows = await User.select(User.id, User.language, User.email, User.active).where(
                User.id.is_in(user_ids)
            )
            context.users = {row["id"]: row for row in rows}
        sub_ids = sorted({row["subscription"] for row in claimed if row["subscription"]})
        if sub_ids:
            rows = await Subscription.select().where(Subscription.id.is_in(sub_ids))
            context.subscriptions = {row["id"]: row for row in rows}
        smtp = await SmtpSettings.select().where(SmtpSettings.id == 1).first()
        if smtp:
            context.smtp = SmtpServer(
                host=smtp["host"],
                port=smtp["port"],
                security=smtp["security"],
                username=smtp["username"],
                password=smtp["password"],
                sender=smtp["sender"],
            )
        return context


def _language(row: dict[str, Any], context: _Context) -> str:
    if row["subscription"] and not row["user"]:
        return context.subscriptions.get(row["subscription"], {}).get("language", "en")
    return context.users.get(row["user"], {}).get("language", "en")


def _message(row: dict[str, Any], alert: dict[str, Any], language: str) -> messages.Message:
    settings = get_settings()
    return messages.render(
        AlertKind(alert["kind"]),
        alert["facts"],
        language=language,
        zone=settings.display_timezone,
        purpose=Purpose(row["purpose"]),
        level=row["level"],
        case_code=alert["case_code"],
        link=f"{settings.base_url}/api/alerts/{alert['id']}",
    )


def webhook_body(row: dict[str, Any], alert: dict[str, Any], language: str) -> bytes:
    """The JSON a webhook receives; the same bytes on every retry of a delivery."""
    message = _message(row, alert, language)
    document = {
        "delivery_id": row["id"],
        "purpose": row["purpose"],
        "level": row["level"],
        "alert": {
            "id": alert["id"],
            "kind": alert["kind"],
            "severity": alert["severity"],
            "region": alert["region"],
            "case_code": alert["case_code"] or None,
            "facts": alert["facts"],
            "created_at": alert["created_at"].isoformat(),
        },
        "message": {"language": language, "subject": message.subject, "text": message.text},
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


async def _send_one(row: dict[str, Any], context: _Context, client: httpx.AsyncClient) -> bool:
    alert = context.alerts[row["alert"]]
    language = _language(row, context)
    try:
        channel = Channel(row["channel"])
        if channel is Channel.WEBHOOK:
            subscription = context.subscriptions.get(row["subscription"])
            if subscription is None or not subscription["active"]:
                raise DeliveryFailed("the webhook target was removed or switched off")
            await post_webhook(
                client,
                subscription["url"],
                subscription["secret"],
                webhook_body(row, alert, language),
                idempotency_key=str(row["id"]),
                deadline=get_settings().webhook_timeout_seconds + CONNECT_SECONDS,
            )
        elif channel is Channel.EMAIL:
            address = (
                context.subscriptions.get(row["subscription"], {}).get("email")
                if row["subscription"]
                else context.users.get(row["user"], {}).get("email")
            )
            if context.smtp is None:
                raise DeliveryFailed("no mail server is configured")
            if not address:
                raise DeliveryFailed("the recipient has no e-mail address")
            await send_email(
                context.smtp,
                address,
                _message(row, alert, language),
                get_settings().webhook_timeout_seconds * 2,
                key=f"delivery-{row['id']}",
            )
    except DeliveryFailed as error:
        await _record_failure(row, str(error))
        return False
    except Exception as error:
        await _record_failure(row, f"unexpected error ({type(error).__name__})")
        log.exception("Delivery %s failed unexpectedly", row["id"])
        return False
    await Delivery.update(
        {
            Delivery.status: DeliveryStatus.DELIVERED.value,
            Delivery.delivered_at: utcnow(),
            Delivery.last_error: "",
        }
    ).where(Delivery.id == row["id"])
    return True


async def _record_failure(row: dict[str, Any], reason: str) -> None:
    settings = get_settings()
    if row["attempts"] >= settings.delivery_max_attempts:
        values = {Delivery.status: DeliveryStatus.FAILED.value, Delivery.last_error: reason}
        log.warning("Delivery %s gave up after %s attempts: %s", row["id"], row["attempts"], reason)
    else:
        wait = rota.backoff(row["attempts"], settings.delivery_retry_base_seconds)
        values = {Delivery.next_attempt_at: utcnow() + wait, Delivery.last_error: reason}
        log.info(
            "Delivery %s attempt %s failed (%s); retry in %s",
            row["id"],
            row["attempts"],
            reason,
            wait,
        )
    await Delivery.update(values).where(
        (Delivery.id == row["id"]) & (Delivery.status == DeliveryStatus.PENDING.value)
    )
