"""Subject access: everything the system holds about one case code, as one JSON document.

For an admin answering a data subject's request (GDPR art. 15). The export is audited
("subject_access_export") and that entry is part of the export itself.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from backend import audit
from backend.database import write_transaction
from backend.errors import Forbidden, NotFound
from backend.identity import Principal
from backend.tables import AuditEntry
from backend.timeutil import as_utc, utcnow
from notifications.tables import Alert, Delivery
from placement.tables import (
    CaseFlag,
    Hold,
    PlacementRequest,
    RequestEvent,
    RunawayEpisode,
    Stay,
    YouthCase,
)

SUBJECT_ACCESS_EXPORT = "subject_access_export"


def _value(name: str, value: Any, json_columns: tuple[str, ...]) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if name in json_columns and isinstance(value, str):
        return json.loads(value or "{}")
    if isinstance(value, tuple):
        return list(value)
    return value


def _plain(row: dict[str, Any], json_columns: tuple[str, ...] = ()) -> dict[str, Any]:
    return {name: _value(name, value, json_columns) for name, value in row.items()}


async def export_case(principal: Principal, case_code: str) -> dict[str, Any]:
    if not principal.is_admin:
        raise Forbidden("Only an admin exports what is held about a case.")
    code = case_code.strip().upper()
    async with write_transaction():
        case = await YouthCase.select().where(YouthCase.case_code == code).first()
        if case is None:
            raise NotFound(f"Case {code} does not exist.", field="case_code")
        await audit.record(principal, code, SUBJECT_ACCESS_EXPORT)
        case_id = case["id"]
        flags = await CaseFlag.select().where(CaseFlag.case == case_id).order_by(CaseFlag.id)
        requests = (
            await PlacementRequest.select()
            .where(PlacementRequest.case == case_id)
            .order_by(PlacementRequest.id)
        )
        request_ids = [row["id"] for row in requests] or [0]
        events = (
            await RequestEvent.select()
            .where(RequestEvent.request.is_in(request_ids))
            .order_by(RequestEvent.id)
        )
        holds = await Hold.select().where(Hold.request.is_in(request_ids)).order_by(Hold.id)
        stays = await Stay.select().where(Stay.case == case_id).order_by(Stay.id)
        episodes = (
            await RunawayEpisode.select()
            .where(RunawayEpisode.case == case_id)
            .order_by(RunawayEpisode.id)
        )
        entries = (
            await AuditEntry.select(
                *AuditEntry.all_columns(), AuditEntry.actor.username.as_alias("username")
            )
            .where(AuditEntry.case_code == code)
            .order_by(AuditEntry.id)
        )
        alerts = await Alert.select().where(Alert.case_code == code).order_by(Alert.id)
        deliveries = (
            await Delivery.select(
                Delivery.id,
                Delivery.alert,
                Delivery.channel,
                Delivery.purpose,
                Delivery.level,
                Delivery.status,
                Delivery.attempts,
                Delivery.created_at,
                Delivery.delivered_at,
                Delivery.read_at,
                Delivery.user.username.as_alias("recipient_user"),
                Delivery.subscription.name.as_alias("recipient_subscription"),
            )
            .where(Delivery.alert.is_in([row["id"] for row in alerts] or [0]))
            .order_by(Delivery.id)
        )
    events_of: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        events_of.setdefault(event["request"], []).append(_plain(event, ("detail",)))
    deliveries_of: dict[int, list[dict[str, Any]]] = {}
    for delivery in deliveries:
        deliveries_of.setdefault(delivery["alert"], []).append(_plain(delivery))
    return {
        "case_code": code,
        "exported_at": utcnow().isoformat(),
        "case": _plain(case),
        "flags": [_plain(flag) for flag in flags],
        "requests": [
            {**_plain(request), "events": events_of.get(request["id"], [])} for request in requests
        ],
        "holds": [_plain(hold) for hold in holds],
        "stays": [_plain(stay) for stay in stays],
        "runaway_episodes": [_plain(episode) for episode in episodes],
        "audit_entries": [_plain(entry) for entry in entries],
        "alerts": [
            {**_plain(alert, ("facts",)), "deliveries": deliveries_of.get(alert["id"], [])}
            for alert in alerts
        ],
    }
