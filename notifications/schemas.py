"""API input and output shapes of alerts, the inbox, subscriptions, SMTP and the rota."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from backend.schemas import NO_NUL, EmailAddress, Input
from notifications.vocabulary import (
    AlertKind,
    AlertStatus,
    Channel,
    DeliveryStatus,
    Purpose,
)

Region = Annotated[str, Meta(min_length=2, max_length=8, pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]
Note = Annotated[str, Meta(max_length=2000, pattern=NO_NUL)]
Name = Annotated[str, Meta(min_length=1, max_length=120, pattern=NO_NUL)]
Url = Annotated[str, Meta(min_length=8, max_length=2000, pattern=r"^https?://[^\s\x00]+$")]
Secret = Annotated[str, Meta(min_length=16, max_length=200, pattern=NO_NUL)]
Language = Annotated[str, Meta(pattern=r"^(fr|nl|de|en)$")]
SubscribableKind = AlertKind
Minutes = Annotated[int, Meta(ge=1, le=24 * 60)]
LocalTime = Annotated[datetime, Meta(tz=False)]
"""A wall-clock time in the display time zone (Europe/Brussels), without offset."""


class AlertOut(msgspec.Struct, kw_only=True):
    id: int
    kind: AlertKind
    severity: str
    status: AlertStatus
    region: str
    centre_id: int | None
    case_code: str | None
    facts: dict[str, Any]
    level: int
    """Escalation level paged last: 1 on call, 2 backup, 3 head of service, 0 none/all
    coordinators."""
    created_at: datetime
    escalate_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str


class DeliveryOut(msgspec.Struct, kw_only=True):
    id: int
    channel: Channel
    purpose: Purpose
    level: int
    recipient: str
    status: DeliveryStatus
    attempts: int
    last_error: str
    delivered_at: datetime | None


class AlertDetail(AlertOut, kw_only=True):
    deliveries: list[DeliveryOut]
    """Every delivery of the alert (coordinators and admins; empty for others)."""


class InboxItem(msgspec.Struct, kw_only=True):
    id: int
    purpose: Purpose
    level: int
    created_at: datetime
    read: bool
    alert: AlertOut


class ResolveIn(Input, kw_only=True):
    note: Note = ""


class MarkReadIn(Input, kw_only=True):
    ids: Annotated[list[int], Meta(max_length=500)] | None = None
    """Inbox item ids to mark read; omitted: all."""


class MarkedOut(msgspec.Struct, kw_only=True):
    marked: int


# Subscriptions (webhook targets and mail subscriptions)


class SubscriptionCreate(Input, kw_only=True):
    name: Name
    channel: Channel
    url: Url | None = None
    secret: Secret | None = None
    """Signs each webhook body (HMAC-SHA256). Write-only: never shown again."""
    email: EmailAddress | None = None
    language: Language = "en"
    kinds: Annotated[list[SubscribableKind], Meta(max_length=len(AlertKind))] = []
    regions: Annotated[list[Region], Meta(max_length=40)] = []
    user_id: int | None = None
    """A person's own webhook (e.g. a pager gateway): used whenever they are alerted."""
    active: bool = True


class SubscriptionUpdate(Input, kw_only=True):
    name: Name | UnsetType = UNSET
    url: Url | UnsetType = UNSET
    secret: Secret | UnsetType = UNSET
    email: EmailAddress | UnsetType = UNSET
    language: Language | UnsetType = UNSET
    kinds: Annotated[list[SubscribableKind], Meta(max_length=len(AlertKind))] | UnsetType = UNSET
    regions: Annotated[list[Region], Meta(max_length=40)] | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class SubscriptionOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    channel: Channel
    url: str | None
    has_secret: bool
    email: str | None
    language: str
    kinds: list[str]
    regions: list[str]
    user_id: int | None
    active: bool
    created_at: datetime
    updated_at: datetime


# SMTP


class SmtpIn(Input, kw_only=True):
    host: Annotated[str, Meta(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.:\[\]-]+$")]
    port: Annotated[int, Meta(ge=1, le=65535)]
    security: Annotated[str, Meta(pattern=r"^(none|starttls|tls)$")] = "starttls"
    username: Annotated[str, Meta(max_length=255, pattern=NO_NUL)] = ""
    password: Annotated[str, Meta(max_length=255, pattern=NO_NUL)] | None = None
    """Write-only. Omitted: the stored password is kept."""
    sender: EmailAddress


class SmtpOut(msgspec.Struct, kw_only=True):
    configured: bool
    host: str | None = None
    port: int | None = None
    security: str | None = None
    username: str | None = None
    has_password: bool = False
    sender: str | None = None
    updated_at: datetime | None = None


# On-call rota


class ShiftCreate(Input, kw_only=True):
    region: Region
    level: Annotated[int, Meta(ge=1, le=3)]
    user_id: int
    starts_local: LocalTime
    """Local wall-clock start in the display time zone, e.g. 2027-03-27T20:00."""
    ends_local: LocalTime
    repeat_weeks: Annotated[int, Meta(ge=1, le=52)] = 1
    """Create the same local-time shift this many weeks running."""
    note: Annotated[str, Meta(max_length=200, pattern=NO_NUL)] = ""


class ShiftOut(msgspec.Struct, kw_only=True):
    id: int
    region: str
    level: int
    user_id: int
    username: str
    starts_at: datetime
    ends_at: datetime
    starts_local: str
    ends_local: str
    hours: float
    note: str


class PolicyIn(Input, kw_only=True):
    level_minutes: Annotated[list[Minutes], Meta(min_length=3, max_length=3)]
    """How long levels 1, 2 and 3 each have to acknowledge before the next is paged."""
    reminder_minutes: Annotated[int, Meta(ge=1, le=7 * 24 * 60)]


class PolicyOut(msgspec.Struct, kw_only=True):
    region: str
    level_minutes: list[float]
    reminder_minutes: float
    configured: bool
    """False: the defaults (ESCALATION_MINUTES, REMINDER_MINUTES) apply."""


class OnCallLevel(msgspec.Struct, kw_only=True):
    level: int
    name: str
    users: list[str]


class OnCallNow(msgspec.Struct, kw_only=True):
    region: str
    at: datetime
    levels: list[OnCallLevel]
    policy: PolicyOut
