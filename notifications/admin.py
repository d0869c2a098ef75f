"""Admin side of notifications: subscriptions (webhook targets, mail subscriptions, a
person's own webhook), the mail server, the on-call rota and escalation policies. Secrets
(webhook secrets, the SMTP password) are written, never read back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import UNSET

from backend.database import is_storable_id, write_transaction
from backend.errors import InvalidInput, NotFound
from backend.identity import Principal
from backend.settings import get_settings
from backend.tables import User
from backend.timeutil import as_utc, utcnow
from capacity.geography import PROVINCES
from capacity.vocabulary import Country
from notifications import recipients, rota
from notifications.schemas import (
    OnCallLevel,
    OnCallNow,
    PolicyIn,
    PolicyOut,
    ShiftCreate,
    ShiftOut,
    SmtpIn,
    SmtpOut,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionUpdate,
)
from notifications.tables import EscalationPolicy, OnCallShift, SmtpSettings, Subscription
from notifications.vocabulary import Channel

# ---------------------------------------------------------------------------
# Subscriptions


def _subscription_out(row: dict[str, Any]) -> SubscriptionOut:
    webhook = row["channel"] == Channel.WEBHOOK.value
    return SubscriptionOut(
        id=row["id"],
        name=row["name"],
        channel=Channel(row["channel"]),
        url=row["url"] if webhook else None,
        has_secret=bool(row["secret"]),
        email=row["email"] if not webhook else None,
        language=row["language"],
        kinds=list(row["kinds"]),
        regions=list(row["regions"]),
        user_id=row["user"],
        active=row["active"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def check_region(region: str, field: str) -> None:
    if region not in PROVINCES and region not in {c.value for c in Country}:
        raise InvalidInput(
            f"Unknown region {region!r}: use a province code (BE-WLG) or a country (BE).",
            field=field,
        )


def _check_subscription(channel: Channel, values: dict[str, Any]) -> None:
    if channel is Channel.IN_APP:
        raise InvalidInput("The in-app feed needs no subscription.", field="channel")
    if channel is Channel.WEBHOOK:
        if not values.get("url"):
            raise InvalidInput("A webhook needs a url.", field="url")
        if not values.get("secret"):
            raise InvalidInput("A webhook needs a secret to sign its bodies.", field="secret")
        if values.get("email"):
            raise InvalidInput("A webhook has no e-mail address.", field="email")
    else:
        if not values.get("email"):
            raise InvalidInput("An e-mail subscription needs an address.", field="email")
        if values.get("url") or values.get("secret"):
            raise InvalidInput("An e-mail subscription has no url or secret.", field="url")
    for region in values.get("regions", []):
        check_region(region, "regions")


async def _subscription_row(subscription_id: int) -> dict[str, Any]:
    row = (
        await Subscription.select().where(Subscription.id == subscription_id).first()
        if is_storable_id(subscription_id)
        else None
    )
    if row is None:
        raise NotFound(f"Subscription {subscription_id} does not exist.", field="subscription_id")
    return row


async def create_subscription(data: SubscriptionCreate) -> SubscriptionOut:
    values = {
        "url": data.url or "",
        "secret": data.secret or "",
        "email": data.email or "",
        "regions": data.regions,
    }
    _check_subscription(data.channel, values)
    if data.user_id is not None and data.channel is not Channel.WEBHOOK:
        raise InvalidInput(
            "A person's alerts go to their account's e-mail address; only webhooks are "
            "personal subscriptions.",
            field="user_id",
        )
    async with write_transaction():
        if data.user_id is not None and not (
            is_storable_id(data.user_id) and await User.exists().where(User.id == data.user_id)
        ):
            raise NotFound(f"User {data.user_id} does not exist.", field="user_id")
        now = utcnow()
        row = (
            await Subscription.insert(
                Subscription(
                    name=data.name,
                    channel=data.channel.value,
                    language=data.language,
                    kinds=sorted({k.value for k in data.kinds}),
                    user=data.user_id,
                    active=data.active,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
            ).returning(*Subscription.all_columns())
        )[0]
    return _subscription_out(row)


async def update_subscription(subscription_id: int, data: SubscriptionUpdate) -> SubscriptionOut:
    async with write_transaction():
        row = await _subscription_row(subscription_id)
        merged = {**row}
        for name in ("name", "url", "secret", "email", "language", "regions", "active"):
            value = getattr(data, name)
            if value is not UNSET:
                merged[name] = value
        if data.kinds is not UNSET:
            merged["kinds"] = sorted({k.value for k in data.kinds})
        _check_subscription(Channel(row["channel"]), merged)
        merged["updated_at"] = utcnow()
        columns = Subscription._meta.columns
        await Subscription.update(
            {c: merged[c._meta.name] for c in columns if c._meta.name not in ("id", "created_at")}
        ).where(Subscription.id == subscription_id)
        return _subscription_out(await _subscription_row(subscription_id))


async def list_subscriptions() -> list[SubscriptionOut]:
    rows = await Subscription.select().order_by(Subscription.id)
    return [_subscription_out(row) for row in rows]


async def get_subscription(subscription_id: int) -> SubscriptionOut:
    return _subscription_out(await _subscription_row(subscription_id))


async def delete_subscription(subscription_id: int) -> None:
    async with write_transaction():
        await _subscription_row(subscription_id)
        # Its deliveries go with it (cascade): pending ones must not be sent anywhere else.
        await Subscription.delete().where(Subscription.id == subscription_id)


# ---------------------------------------------------------------------------
# SMTP


def _smtp_out(row: dict[str, Any] | None) -> SmtpOut:
    if row is None:
        return SmtpOut(configured=False)
    return SmtpOut(
        configured=True,
        host=row["host"],
        port=row["port"],
        security=row["security"],
        username=row["username"],
        has_password=bool(row["password"]),
        sender=row["sender"],
        updated_at=row["updated_at"],
    )


async def get_smtp() -> SmtpOut:
    return _smtp_out(await SmtpSettings.select().where(SmtpSettings.id == 1).first())


async def set_smtp(data: SmtpIn) -> SmtpOut:
    async with write_transaction():
        current = await SmtpSettings.select().where(SmtpSettings.id == 1).first()
        password = (
            data.password if data.password is not None else (current or {}).get("password", "")
        )
        if data.password is not None and not data.username:
            raise InvalidInput("A password needs a username.", field="password")
        values = {
            SmtpSettings.host: data.host,
            SmtpSettings.port: data.port,
            SmtpSettings.security: data.security,
            SmtpSettings.username: data.username,
            SmtpSettings.password: password if data.username else "",
            SmtpSettings.sender: data.sender,
            SmtpSettings.updated_at: utcnow(),
        }
        if current is None:
            await SmtpSettings.insert(
                SmtpSettings(id=1, **{column._meta.name: value for column, value in values.items()})
            )
        else:
            await SmtpSettings.update(values).where(SmtpSettings.id == 1)
        return _smtp_out(await SmtpSettings.select().where(SmtpSettings.id == 1).first())


async def clear_smtp() -> None:
    async with write_transaction():
        await SmtpSettings.delete().where(SmtpSettings.id == 1)


# ---------------------------------------------------------------------------
# On-call rota and escalation policies


def _local(moment: datetime) -> str:
    zone = get_settings().display_timezone
    return as_utc(moment).astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _shift_out(row: dict[str, Any]) -> ShiftOut:
    starts, ends = as_utc(row["starts_at"]), as_utc(row["ends_at"])
    return ShiftOut(
        id=row["id"],
        region=row["region"],
        level=row["level"],
        user_id=row["user"],
        username=row["username"],
        starts_at=starts,
        ends_at=ends,
        starts_local=_local(starts),
        ends_local=_local(ends),
        hours=round((ends - starts).total_seconds() / 3600, 2),
        note=row["note"],
    )


SHIFT_COLUMNS = (*OnCallShift.all_columns(), OnCallShift.user.username.as_alias("username"))


def _starts_exist(data: ShiftCreate, zone) -> bool:
    try:
        rota.weekly_shifts(data.starts_local, data.starts_local, data.repeat_weeks, zone)
    except rota.NonexistentLocalTime:
        return False
    return True


async def create_shifts(principal: Principal, data: ShiftCreate) -> list[ShiftOut]:
    check_region(data.region, "region")
    zone = get_settings().display_timezone
    try:
        periods = rota.weekly_shifts(data.starts_local, data.ends_local, data.repeat_weeks, zone)
    except rota.NonexistentLocalTime as error:
        field = "ends_local" if _starts_exist(data, zone) else "starts_local"
        raise InvalidInput(f"{error} (the clocks go forward that night).", field=field) from error
    if any(ends <= starts for starts, ends in periods):
        raise InvalidInput("A shift must end after it starts.", field="ends_local")
    if any(ends - starts > rota.MAX_SHIFT for starts, ends in periods):
        raise InvalidInput("A shift lasts at most 7 days.", field="ends_local")
    async with write_transaction():
        user = (
            await User.select(User.id, User.active).where(User.id == data.user_id).first()
            if is_storable_id(data.user_id)
            else None
        )
        if user is None:
            raise NotFound(f"User {data.user_id} does not exist.", field="user_id")
        if not user["active"]:
            raise InvalidInput("This user is deactivated.", field="user_id")
        now = utcnow()
        inserted = await OnCallShift.insert(
            *[
                OnCallShift(
                    region=data.region,
                    level=data.level,
                    user=data.user_id,
                    starts_at=starts,
                    ends_at=ends,
                    note=data.note,
                    created_by=principal.user_id,
                    created_at=now,
                )
                for starts, ends in periods
            ]
        ).returning(OnCallShift.id)
        rows = (
            await OnCallShift.select(*SHIFT_COLUMNS)
            .where(OnCallShift.id.is_in([row["id"] for row in inserted]))
            .order_by(OnCallShift.starts_at)
        )
    return [_shift_out(row) for row in rows]


async def list_shifts(
    region: str | None, starts_before: datetime | None, ends_after: datetime | None
) -> list[ShiftOut]:
    query = OnCallShift.select(*SHIFT_COLUMNS).order_by(OnCallShift.starts_at).limit(1000)
    if region is not None:
        check_region(region, "region")
        query = query.where(OnCallShift.region == region)
    query = query.where(OnCallShift.ends_at > (ends_after or utcnow()))
    if starts_before is not None:
        query = query.where(OnCallShift.starts_at < starts_before)
    return [_shift_out(row) for row in await query]


async def delete_shift(shift_id: int) -> None:
    async with write_transaction():
        deleted = (
            await OnCallShift.delete().where(OnCallShift.id == shift_id).returning(OnCallShift.id)
            if is_storable_id(shift_id)
            else []
        )
        if not deleted:
            raise NotFound(f"Shift {shift_id} does not exist.", field="shift_id")


async def get_policy(region: str) -> PolicyOut:
    check_region(region, "region")
    row = await EscalationPolicy.select().where(EscalationPolicy.region == region).first()
    policy = await recipients.policy_for(region)
    return PolicyOut(
        region=region,
        level_minutes=policy.level_minutes,
        reminder_minutes=policy.reminder_minutes,
        configured=row is not None,
    )


async def set_policy(region: str, data: PolicyIn) -> PolicyOut:
    check_region(region, "region")
    async with write_transaction():
        values = {
            EscalationPolicy.level_minutes: list(data.level_minutes),
            EscalationPolicy.reminder_minutes: data.reminder_minutes,
            EscalationPolicy.updated_at: utcnow(),
        }
        if await EscalationPolicy.exists().where(EscalationPolicy.region == region):
            await EscalationPolicy.update(values).where(EscalationPolicy.region == region)
        else:
            await EscalationPolicy.insert(
                EscalationPolicy(
                    region=region, **{column._meta.name: value for column, value in values.items()}
                )
            )
    return await get_policy(region)


async def list_policies() -> list[PolicyOut]:
    rows = await EscalationPolicy.select(EscalationPolicy.region).order_by(EscalationPolicy.region)
    return [await get_policy(row["region"]) for row in rows]


async def on_call_now(region: str, at: datetime | None = None) -> OnCallNow:
    check_region(region, "region")
    at = as_utc(at) if at else utcnow()
    staffed = await recipients.staffed_levels(region, at)
    ids = sorted({user for users in staffed.values() for user in users})
    names = {}
    if ids:
        rows = await User.select(User.id, User.username).where(User.id.is_in(ids))
        names = {row["id"]: row["username"] for row in rows}
    return OnCallNow(
        region=region,
        at=at,
        levels=[
            OnCallLevel(
                level=level,
                name=rota.LEVEL_NAMES[level],
                users=[names[user] for user in staffed[level]],
            )
            for level in rota.LEVELS
        ],
        policy=await get_policy(region),
    )
