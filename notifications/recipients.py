"""Who receives an alert, and on which channels: the rule table's audiences resolved
against users, centre staff, the on-call rota and external subscriptions. Runs inside the
caller's transaction; reads only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from backend.identity import Role
from backend.settings import get_settings
from backend.tables import User
from capacity import service as capacity
from notifications import rota
from notifications.tables import EscalationPolicy, OnCallShift, SmtpSettings, Subscription
from notifications.vocabulary import AlertKind, Channel


@dataclass(frozen=True)
class AlertContext:
    """Who an alert concerns, for resolving its audiences (not stored, not sent)."""

    region: str
    centre_id: int | None = None
    service: str = ""  # the referring youth-aid service (the case's)
    officer_id: int | None = None  # the officer who made the placement request


@dataclass(frozen=True)
class Target:
    """One delivery to make: a user (with their language) or an external subscription."""

    channel: Channel
    user_id: int | None = None
    subscription_id: int | None = None


@dataclass
class Policy:
    level_minutes: list[float] = field(default_factory=list)
    reminder_minutes: float = 30.0

    @property
    def reminder(self) -> timedelta:
        return timedelta(minutes=self.reminder_minutes)

    def timeout(self, level: int) -> timedelta:
        index = min(max(level, 1), len(self.level_minutes)) - 1
        return timedelta(minutes=self.level_minutes[index])


async def policy_for(region: str) -> Policy:
    """The region's escalation policy, else its country's, else the configured defaults."""
    settings = get_settings()
    rows = await EscalationPolicy.select().where(
        EscalationPolicy.region.is_in(list(rota.region_chain(region)))
    )
    by_region = {row["region"]: row for row in rows}
    for place in rota.region_chain(region):
        if place in by_region:
            row = by_region[place]
            return Policy([float(m) for m in row["level_minutes"]], float(row["reminder_minutes"]))
    return Policy([settings.escalation_minutes] * len(rota.LEVELS), settings.reminder_minutes)


async def staffed_levels(region: str, at: datetime) -> dict[int, list[int]]:
    """Active users on call at each level for the region at `at`."""
    rows = await OnCallShift.select(
        OnCallShift.user,
        OnCallShift.region,
        OnCallShift.level,
        OnCallShift.starts_at,
        OnCallShift.ends_at,
    ).where(
        OnCallShift.region.is_in(list(rota.region_chain(region)))
        & (OnCallShift.starts_at <= at)
        & (OnCallShift.ends_at > at)
        & (OnCallShift.user.active == True)  # noqa: E712
    )
    shifts = [
        rota.Shift(r["user"], r["region"], r["level"], r["starts_at"], r["ends_at"]) for r in rows
    ]
    return {level: rota.on_call_at(shifts, region, level, at) for level in rota.LEVELS}


async def active_users(user_ids: Iterable[int]) -> list[int]:
    ids = sorted(set(user_ids))
    if not ids:
        return []
    rows = await User.select(User.id).where(
        User.id.is_in(ids) & (User.active == True)  # noqa: E712
    )
    return sorted(row["id"] for row in rows)


async def coordinators() -> list[int]:
    rows = await User.select(User.id).where(
        (User.role == Role.COORDINATOR.value) & (User.active == True)  # noqa: E712
    )
    return sorted(row["id"] for row in rows)


async def service_officers(service: str) -> list[int]:
    if not service:
        return []
    rows = await User.select(User.id).where(
        (User.role == Role.PLACEMENT_OFFICER.value)
        & (User.service == service)
        & (User.active == True)  # noqa: E712
    )
    return sorted(row["id"] for row in rows)


async def centre_staff(centre_id: int | None) -> list[int]:
    return await active_users(await capacity.staff_user_ids(centre_id)) if centre_id else []


async def smtp_configured() -> bool:
    return await SmtpSettings.exists().where(SmtpSettings.id == 1)


async def user_targets(user_ids: Iterable[int]) -> list[Target]:
    """Every channel of each user: the in-app feed, e-mail when the user has an address and
    a mail server is set up, and each of the user's own active webhooks."""
    ids = sorted(set(user_ids))
    if not ids:
        return []
    with_mail = set()
    if await smtp_configured():
        rows = await User.select(User.id).where(User.id.is_in(ids) & (User.email != ""))
        with_mail = {row["id"] for row in rows}
    hooks = await Subscription.select(Subscription.id, Subscription.user).where(
        Subscription.user.is_in(ids)
        & (Subscription.active == True)  # noqa: E712
        & (Subscription.channel == Channel.WEBHOOK.value)
    )
    targets: list[Target] = []
    for user_id in ids:
        targets.append(Target(Channel.IN_APP, user_id=user_id))
        if user_id in with_mail:
            targets.append(Target(Channel.EMAIL, user_id=user_id))
        targets.extend(
            Target(Channel.WEBHOOK, user_id=user_id, subscription_id=hook["id"])
            for hook in hooks
            if hook["user"] == user_id
        )
    return targets


async def subscriber_targets(kind: AlertKind, region: str) -> list[Target]:
    """External subscriptions (no user) to this kind in this region."""
    rows = await Subscription.select(
        Subscription.id, Subscription.channel, Subscription.kinds, Subscription.regions
    ).where(
        Subscription.user.is_null() & (Subscription.active == True)  # noqa: E712
    )
    places = set(rota.region_chain(region)) if region else set()
    targets = []
    for row in rows:
        if row["kinds"] and kind.value not in row["kinds"]:
            continue
        if row["regions"] and not places & set(row["regions"]):
            continue
        if row["channel"] == Channel.EMAIL.value and not await smtp_configured():
            continue
        targets.append(Target(Channel(row["channel"]), subscription_id=row["id"]))
    return targets
