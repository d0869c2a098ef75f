"""The ways a delivery leaves the app: a signed webhook POST and an e-mail over SMTP.

Each send either returns (delivered) or raises DeliveryFailed with a short reason that
names no person: it is stored as the delivery's last_error and may be logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

import httpx

from notifications.messages import Message

SIGNATURE_HEADER = "X-Safebed-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class DeliveryFailed(Exception):
    """The receiver did not take the delivery; `str(error)` is safe to store and log."""


def sign(secret: str, body: bytes) -> str:
    """The signature header value: HMAC-SHA256 of the exact body, hex, as "sha256=<hex>"."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_webhook(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    body: bytes,
    idempotency_key: str,
    deadline: float | None = None,
) -> None:
    """`deadline` bounds the whole request: httpx's timeouts apply to each read, so a
    receiver trickling its answer would otherwise hold the delivery open for ever."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "safebed-alerts",
        IDEMPOTENCY_HEADER: idempotency_key,
        SIGNATURE_HEADER: sign(secret, body),
    }
    try:
        async with asyncio.timeout(deadline):
            response = await client.post(url, content=body, headers=headers)
    except (httpx.TimeoutException, TimeoutError) as error:
        raise DeliveryFailed(f"timed out ({type(error).__name__})") from error
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"could not connect ({type(error).__name__})") from error
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"receiver answered HTTP {response.status_code}")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str
    password: str
    sender: str


def _send_mail(server: SmtpServer, to: str, message: Message, seconds: float, key: str) -> None:
    mail = EmailMessage()
    mail["From"] = server.sender
    mail["To"] = to
    mail["Subject"] = message.subject
    mail["Message-ID"] = f"<{key}@safebed>"
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    context = ssl.create_default_context()
    smtp_class = smtplib.SMTP_SSL if server.security == "tls" else smtplib.SMTP
    extra = {"context": context} if server.security == "tls" else {}
    with smtp_class(server.host, server.port, timeout=seconds, **extra) as smtp:
        if server.security == "starttls":
            smtp.starttls(context=context)
        if server.username:
            smtp.login(server.username, server.password)
        smtp.send_message(mail)


async def send_email(
    server: SmtpServer, to: str, message: Message, seconds: float, key: str
) -> None:
    try:
        await asyncio.to_thread(_send_mail, server, to, message, seconds, key)
    except (smtplib.SMTPException, OSError) as error:
        code = getattr(error, "smtp_code", None)
        reason = f" {code}" if code else ""
        raise DeliveryFailed(
            f"mail server refused or unreachable ({type(error).__name__}{reason})"
        ) from error
