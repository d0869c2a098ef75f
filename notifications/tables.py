from __future__ import annotations

from piccolo.columns import JSON, Array, Boolean, Integer, Text, Timestamptz, Varchar
from piccolo.columns.column_types import ForeignKey, OnDelete
from piccolo.table import Table

from backend.tables import User
from capacity.tables import Centre


class Alert(Table, tablename="alert"):
    """Something a person must know or act on: open -> acknowledged -> resolved."""

    kind = Varchar(length=40, index=True)
    severity = Varchar(length=10)
    status = Varchar(length=14, index=True)
    subject_key = Varchar(length=200, unique=True)  # one alert per fact ("runaway:12")
    region = Varchar(length=8, index=True)  # province (ISO 3166-2) or country
    centre = ForeignKey(references=Centre, null=True, default=None, on_delete=OnDelete.restrict)
    case_code = Varchar(length=20, default="", index=True)  # pseudonymous; "" when none
    facts = JSON(default="{}")
    level = Integer(default=0)  # escalation level paged last (0: not paged on call)
    page_round = Integer(default=0)
    escalate_at = Timestamptz(null=True, default=None, index=True)
    remind_at = Timestamptz(null=True, default=None, index=True)
    created_at = Timestamptz(index=True)
    acknowledged_at = Timestamptz(null=True, default=None)
    acknowledged_by = ForeignKey(
        references=User, null=True, default=None, on_delete=OnDelete.restrict
    )
    resolved_at = Timestamptz(null=True, default=None)
    resolved_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    resolution_note = Text(default="")


class Subscription(Table, tablename="alert_subscription"):
    """Where alerts go outside the app: a person's own webhook (user set, e.g. a pager
    gateway) or an external service (police missing-persons unit, hotline, a youth-aid
    service's daily digest) by webhook or e-mail, filtered by kind and region."""

    name = Varchar(length=120)
    channel = Varchar(length=10)
    url = Varchar(length=2000, default="")
    secret = Varchar(length=200, default="")  # signs webhook bodies; never returned or logged
    email = Varchar(length=254, default="")
    language = Varchar(length=2, default="en")
    kinds = Array(base_column=Varchar(length=40))  # empty: every kind
    regions = Array(base_column=Varchar(length=8))  # empty: every region
    user = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.cascade)
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Delivery(Table, tablename="alert_delivery"):
    """The outbox: one row per alert x recipient x channel (x page round), sent after the
    transaction that created it commits and retried with backoff until delivered."""

    alert = ForeignKey(references=Alert, null=False, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(
        references=User, null=True, default=None, on_delete=OnDelete.cascade, index=True
    )
    subscription = ForeignKey(
        references=Subscription, null=True, default=None, on_delete=OnDelete.cascade
    )
    channel = Varchar(length=10)
    purpose = Varchar(length=10)
    level = Integer(default=0)
    dedupe_key = Varchar(length=120, unique=True)
    status = Varchar(length=10, index=True)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(index=True)
    last_error = Varchar(length=300, default="")
    delivered_at = Timestamptz(null=True, default=None)
    read_at = Timestamptz(null=True, default=None)  # in-app: the user has seen it
    created_at = Timestamptz()


class SmtpSettings(Table, tablename="smtp_settings"):
    """The one outgoing mail server (row id 1)."""

    host = Varchar(length=255)
    port = Integer()
    security = Varchar(length=10)  # none | starttls | tls
    username = Varchar(length=255, default="")
    password = Varchar(length=255, default="")  # never returned or logged
    sender = Varchar(length=254)
    updated_at = Timestamptz()


class OnCallShift(Table, tablename="on_call_shift"):
    region = Varchar(length=8, index=True)  # province (ISO 3166-2) or a whole country
    level = Integer()  # 1 on call, 2 backup, 3 head of service
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)
    starts_at = Timestamptz(index=True)
    ends_at = Timestamptz(index=True)
    note = Varchar(length=200, default="")
    created_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz()


class EscalationPolicy(Table, tablename="escalation_policy"):
    """Per region: how long each level has to acknowledge before the next is paged, and
    when an acknowledged but unresolved alert is recalled."""

    region = Varchar(length=8, unique=True)
    level_minutes = Array(base_column=Integer())  # [level 1, level 2, level 3]
    reminder_minutes = Integer()
    updated_at = Timestamptz()
