"""Words of the notifications domain: alert kinds, severities, statuses, channels."""

from __future__ import annotations

from enum import StrEnum


class AlertKind(StrEnum):
    RUNAWAY = "runaway"
    RUNAWAY_UNRESOLVED = "runaway_unresolved"  # still missing after N hours
    VACANCY_FOR_WAITING_REQUEST = "vacancy_for_waiting_request"
    SPECIALISED_BED_FREED = "specialised_bed_freed"
    URGENT_REQUEST_UNMATCHED = "urgent_request_unmatched"
    HOLD_RESPONSE_OVERDUE = "hold_response_overdue"  # a centre did not answer a hold in time
    HOLD_EXPIRING = "hold_expiring"
    OCCUPANCY_STALE = "occupancy_stale"  # nothing confirmed or changed for a day
    VACANCY_DIGEST = "vacancy_digest"  # the daily vacancies of a region, for subscribers


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Audience(StrEnum):
    """Who an alert goes to; the rule table (rules.py) maps each kind to some of these."""

    ON_CALL = "on_call"  # the escalation chain of the alert's region, level by level
    REFERRING_SERVICE = "referring_service"  # officers of the service that opened the case
    REQUEST_OFFICER = "request_officer"  # the officer who made the placement request
    CENTRE_STAFF = "centre_staff"  # staff of the centre concerned
    COORDINATORS = "coordinators"  # every coordinator
    SUBSCRIBERS = "subscribers"  # external subscriptions (police unit, hotline, services)


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # to send, or sending (claimed until next_attempt_at)
    DELIVERED = "delivered"
    CANCELLED = "cancelled"  # a page no longer needed: the alert was acknowledged or resolved
    FAILED = "failed"  # gave up after the last attempt


class Purpose(StrEnum):
    PAGE = "page"  # asks for acknowledgement; stops when the alert is acknowledged
    NOTICE = "notice"  # informs; not withdrawn by an acknowledgement
    REMINDER = "reminder"  # acknowledged but still not resolved
