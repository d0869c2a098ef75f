"""The alert rule table: for each kind, its severity, who receives it, and whether it is
paged along the on-call escalation chain until someone acknowledges it. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from notifications.vocabulary import AlertKind, Audience, Severity


@dataclass(frozen=True)
class AlertRule:
    severity: Severity
    audiences: tuple[Audience, ...]
    escalates: bool = False  # page level 1, then 2, then 3 until acknowledged
    needs_action: bool = True  # False: informational, born resolved (the daily digest)


RULES: dict[AlertKind, AlertRule] = {
    AlertKind.RUNAWAY: AlertRule(
        Severity.CRITICAL,
        (Audience.ON_CALL, Audience.REFERRING_SERVICE, Audience.SUBSCRIBERS),
        escalates=True,
    ),
    AlertKind.RUNAWAY_UNRESOLVED: AlertRule(
        Severity.CRITICAL,
        (Audience.ON_CALL, Audience.REFERRING_SERVICE, Audience.SUBSCRIBERS),
        escalates=True,
    ),
    AlertKind.URGENT_REQUEST_UNMATCHED: AlertRule(
        Severity.HIGH,
        (Audience.ON_CALL, Audience.REQUEST_OFFICER, Audience.SUBSCRIBERS),
        escalates=True,
    ),
    AlertKind.HOLD_RESPONSE_OVERDUE: AlertRule(
        Severity.HIGH,
        (Audience.CENTRE_STAFF, Audience.REQUEST_OFFICER, Audience.SUBSCRIBERS),
    ),
    AlertKind.VACANCY_FOR_WAITING_REQUEST: AlertRule(
        Severity.NORMAL, (Audience.REQUEST_OFFICER, Audience.SUBSCRIBERS)
    ),
    AlertKind.SPECIALISED_BED_FREED: AlertRule(
        Severity.NORMAL, (Audience.COORDINATORS, Audience.SUBSCRIBERS)
    ),
    AlertKind.HOLD_EXPIRING: AlertRule(
        Severity.NORMAL,
        (Audience.REQUEST_OFFICER, Audience.CENTRE_STAFF, Audience.SUBSCRIBERS),
    ),
    AlertKind.OCCUPANCY_STALE: AlertRule(
        Severity.LOW, (Audience.CENTRE_STAFF, Audience.SUBSCRIBERS)
    ),
    AlertKind.VACANCY_DIGEST: AlertRule(Severity.LOW, (Audience.SUBSCRIBERS,), needs_action=False),
}


def severity_of(kind: AlertKind, facts: dict[str, Any]) -> Severity:
    """The rule's severity, lowered one step for a runaway assessed below high risk."""
    severity = RULES[kind].severity
    if kind is AlertKind.RUNAWAY and facts.get("risk_level") not in (None, "high"):
        return Severity.HIGH
    return severity
