"""Alerts: raised from domain events, paged along the on-call chain until acknowledged,
resolved by a person (or by the fact that caused them going away). Each public function is
one transaction; deliveries are outbox rows sent after the commit (outbox.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend import events
from backend.database import is_storable_id, write_transaction
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.identity import Principal, Role
from backend.settings import get_settings
from backend.tables import User
from backend.timeutil import as_utc, utcnow
from capacity import service as capacity
from capacity.geography import PROVINCES
from notifications import feed, outbox, recipients, rota
from notifications.recipients import AlertContext, Target
from notifications.rules import RULES, severity_of
from notifications.schemas import AlertDetail, AlertOut, DeliveryOut, InboxItem
from notifications.tables import Alert, Delivery, Subscription
from notifications.vocabulary import (
    AlertKind,
    AlertStatus,
    Audience,
    Channel,
    DeliveryStatus,
    Purpose,
)

CONSUMER = "notifications"
SUPERVISORS = (Role.ADMIN, Role.COORDINATOR)


# ---------------------------------------------------------------------------
# Raising alerts (inside the caller's transaction)


async def raise_alert(
    kind: AlertKind,
    subject_key: str,
    context: AlertContext,
    facts: dict[str, Any],
    case_code: str = "",
) -> int | None:
    """Create the alert and its deliveries once per subject; None when it already exists."""
    rule = RULES[kind]
    now = utcnow()
    inserted = (
        await Alert.insert(
            Alert(
                kind=kind.value,
                severity=severity_of(kind, facts).value,
                status=(AlertStatus.OPEN if rule.needs_action else AlertStatus.RESOLVED).value,
                subject_key=subject_key,
                region=context.region,
                centre=context.centre_id,
                case_code=case_code,
                facts=facts,
                created_at=now,
                resolved_at=None if rule.needs_action else now,
            )
        )
        .on_conflict(action="DO NOTHING")
        .returning(Alert.id)
    )
    if not inserted:
        return None
    alert_id = inserted[0]["id"]
    paged: set[int] = set()
    if Audience.ON_CALL in rule.audiences:
        level, paged_users = await _first_level(context.region, now)
        paged = set(paged_users)
        policy = await recipients.policy_for(context.region)
        await Alert.update(
            {
                Alert.level: level,
                Alert.page_round: 1,
                Alert.escalate_at: now + policy.timeout(level) if rule.escalates else None,
            }
        ).where(Alert.id == alert_id)
        purpose = Purpose.PAGE if rule.escalates else Purpose.NOTICE
        await _add_deliveries(
            alert_id, await recipients.user_targets(paged), purpose, level, round_=1
        )
    others = set(await _audience_users(rule.audiences, context)) - paged
    await _add_deliveries(
        alert_id, await recipients.user_targets(others), Purpose.NOTICE, 0, round_=1
    )
    if Audience.SUBSCRIBERS in rule.audiences:
        await _add_deliveries(
            alert_id,
            await recipients.subscriber_targets(kind, context.region),
            Purpose.NOTICE,
            0,
            round_=1,
        )
    return alert_id


async def _first_level(region: str, at: datetime) -> tuple[int, list[int]]:
    """The lowest staffed level of the region's chain; with nobody on call at all, every
    coordinator is paged (level 0) so that no alert goes unseen."""
    staffed = await recipients.staffed_levels(region, at)
    level = rota.next_level(0, staffed)
    if level is None:
        return 0, await recipients.coordinators()
    return level, staffed[level]


async def _audience_users(audiences: tuple[Audience, ...], context: AlertContext) -> list[int]:
    users: set[int] = set()
    if Audience.REFERRING_SERVICE in audiences:
        users.update(await recipients.service_officers(context.service))
    if (
        Audience.REFERRING_SERVICE in audiences or Audience.REQUEST_OFFICER in audiences
    ) and context.officer_id:
        users.update(await recipients.active_users([context.officer_id]))
    if Audience.CENTRE_STAFF in audiences:
        users.update(await recipients.centre_staff(context.centre_id))
    if Audience.COORDINATORS in audiences:
        users.update(await recipients.coordinators())
    return sorted(users)


async def _add_deliveries(
    alert_id: int, targets: list[Target], purpose: Purpose, level: int, round_: int
) -> int:
    if not targets:
        return 0
    now = utcnow()
    rows = []
    for target in targets:
        who = f"u{target.user_id}" if target.user_id else ""
        who += f"s{target.subscription_id}" if target.subscription_id else ""
        in_app = target.channel is Channel.IN_APP
        rows.append(
            Delivery(
                alert=alert_id,
                user=target.user_id,
                subscription=target.subscription_id,
                channel=target.channel.value,
                purpose=purpose.value,
                level=level,
                dedupe_key=f"{alert_id}:{purpose.value}{round_}:{who}:{target.channel.value}",
                # The in-app feed is the database row itself: delivered once written.
                status=(DeliveryStatus.DELIVERED if in_app else DeliveryStatus.PENDING).value,
                attempts=0,
                next_attempt_at=now,
                delivered_at=now if in_app else None,
                created_at=now,
            )
        )
    # In-app streams are woken after the commit (they would not see the rows before it).
    inserted = await Delivery.insert(*rows).on_conflict(action="DO NOTHING").returning(Delivery.id)
    return len(inserted)


# ---------------------------------------------------------------------------
# Domain events -> alerts


def _region_of(centre: dict[str, Any] | None, fallback: str = "BE") -> str:
    return centre["province"] if centre else fallback


async def _centre(centre_id: int | None) -> dict[str, Any] | None:
    if centre_id is None:
        return None
    return (await capacity.centre_facts([centre_id])).get(centre_id)


RUNAWAY_FACTS = (
    "episode_id",
    "stay_id",
    "risk_level",
    "kind",
    "last_seen_at",
    "reported_at",
    "keep_bed_until",
    "age",
    "gender",
    "exploitation_flagged",
    "hours_missing",
)


async def _on_runaway(kind: AlertKind, event_id: int, payload: dict[str, Any]) -> None:
    centre = await _centre(payload["centre_id"])
    facts = {key: payload[key] for key in RUNAWAY_FACTS if key in payload}
    facts["centre_id"] = payload["centre_id"]
    facts["centre_name"] = centre["name"] if centre else "?"
    await raise_alert(
        kind,
        f"{kind.value}:{payload['episode_id']}",
        AlertContext(
            region=_region_of(centre),
            centre_id=payload["centre_id"],
            service=payload.get("service") or "",
            officer_id=payload.get("officer_id"),
        ),
        facts,
        case_code=payload.get("case_code", ""),
    )


async def on_runaway_reported(event_id: int, payload: dict[str, Any]) -> None:
    await _on_runaway(AlertKind.RUNAWAY, event_id, payload)


async def on_runaway_unresolved(event_id: int, payload: dict[str, Any]) -> None:
    await _on_runaway(AlertKind.RUNAWAY_UNRESOLVED, event_id, payload)


async def on_runaway_returned(event_id: int, payload: dict[str, Any]) -> None:
    """She is back: the runaway alerts of the episode are resolved and stop paging."""
    keys = [f"{kind.value}:{payload['episode_id']}" for kind in RUNAWAY_KINDS]
    alerts = await Alert.select(Alert.id).where(
        Alert.subject_key.is_in(keys) & (Alert.status != AlertStatus.RESOLVED.value)
    )
    for alert in alerts:
        await _close(alert["id"], None, "the minor returned", utcnow())


RUNAWAY_KINDS = (AlertKind.RUNAWAY, AlertKind.RUNAWAY_UNRESOLVED)


async def on_waiting_request_offer(event_id: int, payload: dict[str, Any]) -> None:
    centre = await _centre(payload["centre_id"])
    facts = {
        key: payload.get(key)
        for key in ("request_id", "bed_id", "bed_label", "centre_id", "centre_name", "score")
    }
    facts["fallback"] = bool(payload.get("fallback"))
    await raise_alert(
        AlertKind.VACANCY_FOR_WAITING_REQUEST,
        f"vacancy_for_waiting_request:{event_id}",
        AlertContext(
            region=_region_of(centre),
            centre_id=payload["centre_id"],
            officer_id=payload.get("officer_id"),
        ),
        facts,
        case_code=payload.get("case_code", ""),
    )


async def on_bed_freed(event_id: int, payload: dict[str, Any]) -> None:
    centre = await _centre(payload["centre_id"])
    if centre is None or not centre["specialised"]:
        return
    await raise_alert(
        AlertKind.SPECIALISED_BED_FREED,
        f"specialised_bed_freed:{payload['occupancy_event_id']}",
        AlertContext(region=_region_of(centre), centre_id=payload["centre_id"]),
        {
            "bed_id": payload["bed_id"],
            "centre_id": payload["centre_id"],
            "centre_name": centre["name"],
        },
    )


async def on_urgent_request_unmatched(event_id: int, payload: dict[str, Any]) -> None:
    from placement import service as placement  # placement imports nothing of ours

    request = await placement.request_facts(payload["request_id"])
    await raise_alert(
        AlertKind.URGENT_REQUEST_UNMATCHED,
        f"urgent_request_unmatched:{event_id}",
        AlertContext(
            region=(request or {}).get("home_country") or "BE",
            service=(request or {}).get("requesting_service") or "",
            officer_id=payload.get("officer_id"),
        ),
        {"request_id": payload["request_id"], "excluded": payload.get("excluded", {})},
        case_code=payload.get("case_code", ""),
    )


async def _on_hold(kind: AlertKind, payload: dict[str, Any], extra: dict[str, Any]) -> None:
    centre = await _centre(payload["centre_id"])
    await raise_alert(
        kind,
        f"{kind.value}:{payload['hold_id']}",
        AlertContext(
            region=_region_of(centre),
            centre_id=payload["centre_id"],
            officer_id=payload.get("officer_id"),
        ),
        {
            "hold_id": payload["hold_id"],
            "request_id": payload["request_id"],
            "centre_id": payload["centre_id"],
            "centre_name": centre["name"] if centre else "?",
            **extra,
        },
    )


async def on_hold_response_overdue(event_id: int, payload: dict[str, Any]) -> None:
    await _on_hold(
        AlertKind.HOLD_RESPONSE_OVERDUE, payload, {"respond_by": payload.get("respond_by")}
    )


async def on_hold_expiring(event_id: int, payload: dict[str, Any]) -> None:
    await _on_hold(AlertKind.HOLD_EXPIRING, payload, {"expires_at": payload.get("expires_at")})


async def on_occupancy_stale(event_id: int, payload: dict[str, Any]) -> None:
    centre = await _centre(payload["centre_id"])
    await raise_alert(
        AlertKind.OCCUPANCY_STALE,
        f"occupancy_stale:{payload['centre_id']}:{payload.get('last_change_at')}",
        AlertContext(region=_region_of(centre), centre_id=payload["centre_id"]),
        {
            "centre_id": payload["centre_id"],
            "centre_name": payload.get("centre_name") or (centre or {}).get("name", "?"),
            "last_change_at": payload.get("last_change_at"),
        },
    )


async def on_case_purged(event_id: int, payload: dict[str, Any]) -> None:
    """Retention erased a case's personal fields: the alerts about it forget them too."""
    dropped = set(payload.get("fields", ()))
    alerts = await Alert.select(Alert.id, Alert.facts).where(
        Alert.case_code == payload["case_code"]
    )
    for alert in alerts:
        facts = events.as_dict(alert["facts"])
        if dropped & set(facts):
            kept = {key: value for key, value in facts.items() if key not in dropped}
            await Alert.update({Alert.facts: kept}).where(Alert.id == alert["id"])


EVENT_HANDLERS = {
    "runaway_reported": on_runaway_reported,
    "runaway_unresolved": on_runaway_unresolved,
    "runaway_returned": on_runaway_returned,
    "waiting_request_offer": on_waiting_request_offer,
    "bed_freed": on_bed_freed,
    "urgent_request_unmatched": on_urgent_request_unmatched,
    "hold_response_overdue": on_hold_response_overdue,
    "hold_expiring": on_hold_expiring,
    "occupancy_stale": on_occupancy_stale,
    "case_purged": on_case_purged,
}

for _kind, _handler in EVENT_HANDLERS.items():
    events.on(_kind, _handler, consumer=CONSUMER)
events.after_handling(outbox.kick)
events.after_handling(feed.changed)


# ---------------------------------------------------------------------------
# Acknowledge and resolve


async def _alert_row(alert_id: int) -> dict[str, Any]:
    row = (
        await Alert.select().where(Alert.id == alert_id).first()
        if is_storable_id(alert_id)
        else None
    )
    if row is None:
        raise NotFound(f"Alert {alert_id} does not exist.", field="alert_id")
    return row


async def _received(user_id: int, alert_id: int, purposes: tuple[Purpose, ...] = ()) -> bool:
    where = (Delivery.alert == alert_id) & (Delivery.user == user_id)
    if purposes:
        where = where & Delivery.purpose.is_in([p.value for p in purposes])
    return await Delivery.exists().where(where)


async def _require_responder(principal: Principal, alert: dict[str, Any]) -> None:
    """Coordinators and admins act on any alert. An alert paged along the on-call chain is
    answered by the people it paged (the others it informs cannot stop the paging); any
    other alert by whoever received it."""
    if principal.role in SUPERVISORS:
        return
    if RULES[AlertKind(alert["kind"])].escalates:
        if await _received(principal.user_id, alert["id"], (Purpose.PAGE, Purpose.REMINDER)):
            return
        raise Forbidden("The people on call, coordinators and admins act on this alert.")
    if await _received(principal.user_id, alert["id"]):
        return
    raise Forbidden("Only the people this alert was sent to, coordinators and admins act on it.")


async def _cancel_pending(alert_id: int, purposes: tuple[Purpose, ...]) -> None:
    await Delivery.update({Delivery.status: DeliveryStatus.CANCELLED.value}).where(
        (Delivery.alert == alert_id)
        & (Delivery.status == DeliveryStatus.PENDING.value)
        & Delivery.purpose.is_in([p.value for p in purposes])
    )


async def acknowledge(principal: Principal, alert_id: int) -> AlertDetail:
    async with write_transaction():
        alert = await _alert_row(alert_id)
        await _require_responder(principal, alert)
        if alert["status"] != AlertStatus.OPEN.value:
            raise Conflict(f"Alert {alert_id} is already {alert['status']}.", field="alert_id")
        now = utcnow()
        policy = await recipients.policy_for(alert["region"])
        won = (
            await Alert.update(
                {
                    Alert.status: AlertStatus.ACKNOWLEDGED.value,
                    Alert.acknowledged_at: now,
                    Alert.acknowledged_by: principal.user_id,
                    Alert.escalate_at: None,
                    Alert.remind_at: now + policy.reminder,
                }
            )
            .where((Alert.id == alert_id) & (Alert.status == AlertStatus.OPEN.value))
            .returning(Alert.id)
        )
        if not won:
            raise Conflict(f"Alert {alert_id} was acknowledged meanwhile.", field="alert_id")
        # Paging stops at once: pages not sent yet (or still being retried) are withdrawn.
        await _cancel_pending(alert_id, (Purpose.PAGE,))
        detail = await _detail(principal, await _alert_row(alert_id))
    feed.changed()
    return detail


async def resolve(principal: Principal, alert_id: int, note: str) -> AlertDetail:
    async with write_transaction():
        alert = await _alert_row(alert_id)
        await _require_responder(principal, alert)
        if alert["status"] == AlertStatus.RESOLVED.value:
            raise Conflict(f"Alert {alert_id} is already resolved.", field="alert_id")
        if not await _close(alert_id, principal.user_id, note, utcnow()):
            raise Conflict(f"Alert {alert_id} was resolved meanwhile.", field="alert_id")
        detail = await _detail(principal, await _alert_row(alert_id))
    feed.changed()
    return detail


async def _close(alert_id: int, user_id: int | None, note: str, now: datetime) -> bool:
    won = (
        await Alert.update(
            {
                Alert.status: AlertStatus.RESOLVED.value,
                Alert.resolved_at: now,
                Alert.resolved_by: user_id,
                Alert.resolution_note: note,
                Alert.escalate_at: None,
                Alert.remind_at: None,
            }
        )
        .where((Alert.id == alert_id) & (Alert.status != AlertStatus.RESOLVED.value))
        .returning(Alert.id)
    )
    if won:
        await _cancel_pending(alert_id, (Purpose.PAGE, Purpose.REMINDER))
    return bool(won)


# ---------------------------------------------------------------------------
# Reading alerts and the in-app inbox


def _alert_out(row: dict[str, Any], names: dict[int, str]) -> AlertOut:
    return AlertOut(
        id=row["id"],
        kind=AlertKind(row["kind"]),
        severity=row["severity"],
        status=AlertStatus(row["status"]),
        region=row["region"],
        centre_id=row["centre"],
        case_code=row["case_code"] or None,
        facts=events.as_dict(row["facts"]),
        level=row["level"],
        created_at=row["created_at"],
        escalate_at=row["escalate_at"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=names.get(row["acknowledged_by"]) if row["acknowledged_by"] else None,
        resolved_at=row["resolved_at"],
        resolved_by=names.get(row["resolved_by"]) if row["resolved_by"] else None,
        resolution_note=row["resolution_note"],
    )


async def _names(rows: list[dict[str, Any]]) -> dict[int, str]:
    ids = {row[c] for row in rows for c in ("acknowledged_by", "resolved_by") if row.get(c)}
    if not ids:
        return {}
    users = await User.select(User.id, User.username).where(User.id.is_in(sorted(ids)))
    return {user["id"]: user["username"] for user in users}


async def _detail(principal: Principal, row: dict[str, Any]) -> AlertDetail:
    base = _alert_out(row, await _names([row]))
    deliveries: list[DeliveryOut] = []
    if principal.role in SUPERVISORS:
        rows = (
            await Delivery.select(
                *Delivery.all_columns(), Delivery.user.username.as_alias("username")
            )
            .where(Delivery.alert == row["id"])
            .order_by(Delivery.id)
        )
        deliveries = [
            DeliveryOut(
                id=d["id"],
                channel=Channel(d["channel"]),
                purpose=Purpose(d["purpose"]),
                level=d["level"],
                recipient=d["username"] or f"subscription {d['subscription']}",
                status=DeliveryStatus(d["status"]),
                attempts=d["attempts"],
                last_error=d["last_error"],
                delivered_at=d["delivered_at"],
            )
            for d in rows
        ]
    return AlertDetail(
        **{f: getattr(base, f) for f in base.__struct_fields__}, deliveries=deliveries
    )


async def list_alerts(
    principal: Principal, status: AlertStatus | None = None, kind: AlertKind | None = None
) -> list[AlertOut]:
    query = Alert.select().order_by(Alert.id, ascending=False).limit(500)
    if status is not None:
        query = query.where(Alert.status == status.value)
    if kind is not None:
        query = query.where(Alert.kind == kind.value)
    if principal.role not in SUPERVISORS:
        received = Delivery.select(Delivery.alert).where(Delivery.user == principal.user_id)
        query = query.where(Alert.id.is_in(received))
    rows = await query
    names = await _names(rows)
    return [_alert_out(row, names) for row in rows]


async def get_alert(principal: Principal, alert_id: int) -> AlertDetail:
    alert = await _alert_row(alert_id)
    if principal.role not in SUPERVISORS and not await _received(principal.user_id, alert_id):
        raise Forbidden("This alert was not sent to you.")
    return await _detail(principal, alert)


async def inbox(
    principal: Principal, after_id: int = 0, unread_only: bool = True
) -> list[InboxItem]:
    """The user's in-app alerts, newest last."""
    query = (
        Delivery.select(
            Delivery.id,
            Delivery.purpose,
            Delivery.level,
            Delivery.created_at,
            Delivery.read_at,
            *(getattr(Delivery.alert, c._meta.name) for c in Alert.all_columns()),
        )
        .where(
            (Delivery.user == principal.user_id)
            & (Delivery.channel == Channel.IN_APP.value)
            & (Delivery.id > after_id)
        )
        .order_by(Delivery.id)
        .limit(200)
    )
    if unread_only:
        query = query.where(Delivery.read_at.is_null())
    rows = await query
    alerts = [{c: row[f"alert.{c}"] for c in _ALERT_COLUMNS} for row in rows]
    names = await _names(alerts)
    return [
        InboxItem(
            id=row["id"],
            purpose=Purpose(row["purpose"]),
            level=row["level"],
            created_at=row["created_at"],
            read=row["read_at"] is not None,
            alert=_alert_out(alert, names),
        )
        for row, alert in zip(rows, alerts, strict=True)
    ]


_ALERT_COLUMNS = [c._meta.name for c in Alert.all_columns()]


async def mark_read(principal: Principal, delivery_ids: list[int] | None) -> int:
    """Mark some (or, with None, all) of the user's in-app alerts as read."""
    if delivery_ids is not None:
        bad = [i for i in delivery_ids if not is_storable_id(i)]
        if bad:
            raise InvalidInput(f"Unknown inbox item {bad[0]}.", field="ids")
    async with write_transaction():
        where = (
            (Delivery.user == principal.user_id)
            & (Delivery.channel == Channel.IN_APP.value)
            & Delivery.read_at.is_null()
        )
        if delivery_ids is not None:
            where = where & Delivery.id.is_in(delivery_ids or [0])
        marked = (
            await Delivery.update({Delivery.read_at: utcnow()}).where(where).returning(Delivery.id)
        )
    return len(marked)


# ---------------------------------------------------------------------------
# Scheduled: escalation, reminders, the daily vacancy digest


async def escalate_due(now: datetime | None = None) -> int:
    """Page the next level of every open alert whose level did not acknowledge in time; at
    the top of the chain, page the top level again. Each alert in its own transaction."""
    now = now or utcnow()
    due = await Alert.select(Alert.id).where(
        (Alert.status == AlertStatus.OPEN.value) & (Alert.escalate_at <= now)
    )
    paged = 0
    for row in due:
        async with write_transaction():
            alert = await _alert_row(row["id"])
            if alert["status"] != AlertStatus.OPEN.value or alert["escalate_at"] is None:
                continue
            if as_utc(alert["escalate_at"]) > now:
                continue
            staffed = await recipients.staffed_levels(alert["region"], now)
            level = rota.next_level(alert["level"], staffed)
            if level is not None:
                users = staffed[level]
            elif alert["level"] == 0 or not staffed.get(alert["level"]):
                level, users = alert["level"], await recipients.coordinators()
            else:
                level, users = alert["level"], staffed[alert["level"]]
            policy = await recipients.policy_for(alert["region"])
            round_ = alert["page_round"] + 1
            won = (
                await Alert.update(
                    {
                        Alert.level: level,
                        Alert.page_round: round_,
                        Alert.escalate_at: now + policy.timeout(level),
                    }
                )
                .where(
                    (Alert.id == alert["id"])
                    & (Alert.page_round == alert["page_round"])
                    & (Alert.status == AlertStatus.OPEN.value)
                )
                .returning(Alert.id)
            )
            if not won:
                continue
            await _add_deliveries(
                alert["id"], await recipients.user_targets(users), Purpose.PAGE, level, round_
            )
            paged += 1
    if paged:
        outbox.kick()
        feed.changed()
    return paged


async def remind_due(now: datetime | None = None) -> int:
    """Recall acknowledged alerts that are still unresolved to the person who acknowledged."""
    now = now or utcnow()
    due = await Alert.select(Alert.id).where(
        (Alert.status == AlertStatus.ACKNOWLEDGED.value) & (Alert.remind_at <= now)
    )
    reminded = 0
    for row in due:
        async with write_transaction():
            alert = await _alert_row(row["id"])
            if alert["status"] != AlertStatus.ACKNOWLEDGED.value or alert["remind_at"] is None:
                continue
            policy = await recipients.policy_for(alert["region"])
            round_ = alert["page_round"] + 1
            won = (
                await Alert.update(
                    {
                        Alert.remind_at: now + policy.reminder,
                        Alert.page_round: round_,
                    }
                )
                .where(
                    (Alert.id == alert["id"])
                    & (Alert.remind_at == alert["remind_at"])
                    & (Alert.status == AlertStatus.ACKNOWLEDGED.value)
                )
                .returning(Alert.id)
            )
            if not won:
                continue
            targets = await recipients.user_targets(
                await recipients.active_users([alert["acknowledged_by"]])
            )
            await _add_deliveries(alert["id"], targets, Purpose.REMINDER, alert["level"], round_)
            reminded += 1
    if reminded:
        outbox.kick()
        feed.changed()
    return reminded


DIGEST_PRINCIPAL = Principal(user_id=0, username="vacancy-digest", role=Role.ANALYST)


async def send_vacancy_digests(now: datetime | None = None) -> int:
    """Once a day per region with subscribers: the free beds of that region's centres (no
    confidential address), as an informational alert. Safe to run twice a day."""
    now = now or utcnow()
    settings = get_settings()
    day = now.astimezone(settings.display_timezone).date()
    rows = await Subscription.select(Subscription.regions, Subscription.kinds).where(
        Subscription.user.is_null() & (Subscription.active == True)  # noqa: E712
    )
    wanted = [r for r in rows if AlertKind.VACANCY_DIGEST.value in r["kinds"]]
    regions: set[str] = set()
    for row in wanted:
        regions.update(row["regions"] or [p for p in PROVINCES if p.startswith("BE-")])
    sent = 0
    for region in sorted(r for r in regions if r in PROVINCES):
        vacancies = await capacity.search_vacancies(DIGEST_PRINCIPAL, province=region)
        facts = {
            "date": day.isoformat(),
            "region": region,
            "region_name": PROVINCES[region].name("en"),
            "total_free_now": vacancies.total_free_now,
            "centres": [
                {
                    "name": c.name,
                    "kind": c.kind.value,
                    "free_now": c.free_now,
                    "stale": c.freshness.stale,
                }
                for c in vacancies.centres
                if c.free_now
            ],
        }
        async with write_transaction():
            if await raise_alert(
                AlertKind.VACANCY_DIGEST,
                f"vacancy_digest:{region}:{day.isoformat()}",
                AlertContext(region=region),
                facts,
            ):
                sent += 1
    if sent:
        outbox.kick()
        feed.changed()
    return sent


async def alerts_stamp() -> tuple[int, int, int]:
    """Changes when an alert is raised, acknowledged or resolved (for live pages)."""
    last = await Alert.select(Alert.id).order_by(Alert.id, ascending=False).first()
    acknowledged = await Alert.count().where(Alert.acknowledged_at.is_not_null())
    resolved = await Alert.count().where(Alert.resolved_at.is_not_null())
    return (last["id"] if last else 0, acknowledged, resolved)
