"""Notifications controllers: thin; parse, call the service, return its answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from backend.identity import ALL_ROLES, Principal, Role
from notifications import admin, feed, service
from notifications.schemas import (
    AlertDetail,
    AlertOut,
    InboxItem,
    MarkedOut,
    MarkReadIn,
    OnCallNow,
    PolicyIn,
    PolicyOut,
    Region,
    ResolveIn,
    ShiftCreate,
    ShiftOut,
    SmtpIn,
    SmtpOut,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionUpdate,
)
from notifications.vocabulary import AlertKind, AlertStatus

AuthRequest = Request[Principal, str, object]

# Alerts reach people of every role but analysts (they see no case-level facts).
ALERT_USERS = ALL_ROLES - {Role.ANALYST}
ADMINS = frozenset({Role.ADMIN})
ROTA_READERS = frozenset({Role.ADMIN, Role.COORDINATOR})
FEED_POLL_SECONDS = 2.0
KEEPALIVE_SECONDS = 15.0


class AlertController(Controller):
    path = "/alerts"
    tags = ["alerts"]

    @get("/", opt={"roles": ALERT_USERS}, summary="Alerts (coordinators and admins: all)")
    async def list_alerts(
        self,
        request: AuthRequest,
        status: FromQuery[AlertStatus | None] = None,
        kind: FromQuery[AlertKind | None] = None,
    ) -> list[AlertOut]:
        return await service.list_alerts(request.user, status, kind)

    @get("/{alert_id:int}", opt={"roles": ALERT_USERS}, summary="One alert and its deliveries")
    async def get_alert(self, request: AuthRequest, alert_id: FromPath[int]) -> AlertDetail:
        return await service.get_alert(request.user, alert_id)

    @post(
        "/{alert_id:int}/acknowledge",
        opt={"roles": ALERT_USERS},
        status_code=200,
        summary="Acknowledge: stops paging at once",
    )
    async def acknowledge(self, request: AuthRequest, alert_id: FromPath[int]) -> AlertDetail:
        return await service.acknowledge(request.user, alert_id)

    @post(
        "/{alert_id:int}/resolve",
        opt={"roles": ALERT_USERS},
        status_code=200,
        summary="Resolve: never pages again",
    )
    async def resolve(
        self, request: AuthRequest, alert_id: FromPath[int], data: JSONBody[ResolveIn]
    ) -> AlertDetail:
        return await service.resolve(request.user, alert_id, data.note)


class InboxController(Controller):
    path = "/inbox"
    tags = ["alerts"]

    @get("/", opt={"roles": ALERT_USERS}, summary="Your in-app alerts (unread unless all=true)")
    async def inbox(
        self,
        request: AuthRequest,
        all_items: Annotated[bool, QueryParameter(name="all")] = False,
    ) -> list[InboxItem]:
        return await service.inbox(request.user, unread_only=not all_items)

    @post("/read", opt={"roles": ALERT_USERS}, status_code=200, summary="Mark alerts read")
    async def mark_read(self, request: AuthRequest, data: JSONBody[MarkReadIn]) -> MarkedOut:
        return MarkedOut(marked=await service.mark_read(request.user, data.ids))

    @get(
        "/stream",
        opt={"roles": ALERT_USERS},
        summary="Server-sent events: each new in-app alert as it arrives",
        description=(
            "Event `alert` with an inbox item as data and its id as event id; send "
            "Last-Event-ID to resume after a reconnection. Without it, the stream starts "
            "with your unread alerts."
        ),
    )
    async def stream(
        self,
        request: AuthRequest,
        last_event_id: Annotated[
            int | None, HeaderParameter(name="Last-Event-ID", required=False, ge=0)
        ] = None,
    ) -> ServerSentEvent:
        return ServerSentEvent(_alert_stream(request, last_event_id))


async def _alert_stream(
    request: AuthRequest, last_event_id: int | None
) -> AsyncIterator[ServerSentEventMessage]:
    principal = request.user
    cursor = last_event_id or 0
    unread_only = last_event_id is None
    yield ServerSentEventMessage(comment="connected", retry=3000, data=None)
    idle = 0.0
    while True:
        items = await service.inbox(principal, after_id=cursor, unread_only=unread_only)
        unread_only = False
        for item in items:
            cursor = max(cursor, item.id)
            yield ServerSentEventMessage(
                data=json.dumps(msgspec.to_builtins(item)), event="alert", id=item.id
            )
        if items:
            idle = 0.0
        elif idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield ServerSentEventMessage(comment="keep-alive", data=None)
        await feed.wait(FEED_POLL_SECONDS)
        idle += FEED_POLL_SECONDS


class SubscriptionController(Controller):
    path = "/subscriptions"
    tags = ["alerts admin"]

    @get("/", opt={"roles": ADMINS}, summary="Webhook targets and mail subscriptions")
    async def list_subscriptions(self) -> list[SubscriptionOut]:
        return await admin.list_subscriptions()

    @post("/", opt={"roles": ADMINS}, summary="Add a webhook target or mail subscription")
    async def create_subscription(self, data: JSONBody[SubscriptionCreate]) -> SubscriptionOut:
        return await admin.create_subscription(data)

    @get("/{subscription_id:int}", opt={"roles": ADMINS}, summary="One subscription")
    async def get_subscription(self, subscription_id: FromPath[int]) -> SubscriptionOut:
        return await admin.get_subscription(subscription_id)

    @patch("/{subscription_id:int}", opt={"roles": ADMINS}, summary="Change a subscription")
    async def update_subscription(
        self, subscription_id: FromPath[int], data: JSONBody[SubscriptionUpdate]
    ) -> SubscriptionOut:
        return await admin.update_subscription(subscription_id, data)

    @delete("/{subscription_id:int}", opt={"roles": ADMINS}, summary="Remove a subscription")
    async def delete_subscription(self, subscription_id: FromPath[int]) -> None:
        await admin.delete_subscription(subscription_id)


class SmtpController(Controller):
    path = "/settings/smtp"
    tags = ["alerts admin"]

    @get("/", opt={"roles": ADMINS}, summary="The mail server (the password is never shown)")
    async def get_smtp(self) -> SmtpOut:
        return await admin.get_smtp()

    @put("/", opt={"roles": ADMINS}, summary="Set the mail server")
    async def set_smtp(self, data: JSONBody[SmtpIn]) -> SmtpOut:
        return await admin.set_smtp(data)

    @delete("/", opt={"roles": ADMINS}, summary="Remove the mail server (no more e-mail)")
    async def clear_smtp(self) -> None:
        await admin.clear_smtp()


class RotaController(Controller):
    path = "/oncall"
    tags = ["alerts admin"]

    @get("/shifts", opt={"roles": ROTA_READERS}, summary="Shifts still to come or running")
    async def list_shifts(
        self,
        region: FromQuery[Region | None] = None,
        starts_before: FromQuery[datetime | None] = None,
        ends_after: FromQuery[datetime | None] = None,
    ) -> list[ShiftOut]:
        return await admin.list_shifts(region, starts_before, ends_after)

    @post(
        "/shifts",
        opt={"roles": ADMINS},
        summary="Add a shift (local times), optionally repeated weekly",
    )
    async def create_shifts(
        self, request: AuthRequest, data: JSONBody[ShiftCreate]
    ) -> list[ShiftOut]:
        return await admin.create_shifts(request.user, data)

    @delete("/shifts/{shift_id:int}", opt={"roles": ADMINS}, summary="Remove a shift")
    async def delete_shift(self, shift_id: FromPath[int]) -> None:
        await admin.delete_shift(shift_id)

    @get("/now/{region:str}", opt={"roles": ROTA_READERS}, summary="Who is on call now")
    async def on_call_now(self, region: FromPath[Region]) -> OnCallNow:
        return await admin.on_call_now(region)

    @get("/policies", opt={"roles": ROTA_READERS}, summary="Escalation policies")
    async def list_policies(self) -> list[PolicyOut]:
        return await admin.list_policies()

    @get("/policies/{region:str}", opt={"roles": ROTA_READERS}, summary="A region's policy")
    async def get_policy(self, region: FromPath[Region]) -> PolicyOut:
        return await admin.get_policy(region)

    @put("/policies/{region:str}", opt={"roles": ADMINS}, summary="Set a region's policy")
    async def set_policy(self, region: FromPath[Region], data: JSONBody[PolicyIn]) -> PolicyOut:
        return await admin.set_policy(region, data)


NOTIFICATION_CONTROLLERS = [
    AlertController,
    InboxController,
    SubscriptionController,
    SmtpController,
    RotaController,
]
