from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class User(Table, tablename="app_user"):
    username = Varchar(length=80, unique=True, index=True)
    display_name = Varchar(length=120)
    role = Varchar(length=32)
    language = Varchar(length=5, default="en")
    # The youth-aid service an officer works for (e.g. "SAJ Liège"): officers see its cases.
    service = Varchar(length=120, default="")
    # Where alerts are e-mailed (empty: in-app and personal webhooks only).
    email = Varchar(length=254, default="")
    password_hash = Text(default="")
    active = Boolean(default=True)
    created_at = Timestamptz()


class ApiToken(Table, tablename="api_token"):
    """Personal API token: only its SHA-256 digest is stored; the token is shown once."""

    user = ForeignKey(references=User, null=False)
    name = Varchar(length=80)
    token_digest = Varchar(length=64, unique=True, index=True)
    prefix = Varchar(length=12)
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class StoredSession(Table, tablename="web_session"):
    """Server-side browser sessions, shared by every app instance."""

    session_key = Varchar(length=128, unique=True, index=True)
    data = Text()
    expires_at = Timestamptz(null=True, default=None, index=True)


class AuditEntry(Table, tablename="audit_entry"):
    """Who read or changed which youth case, and when. Append-only (database triggers)."""

    at = Timestamptz(index=True)
    actor = ForeignKey(references=User, null=True, default=None)
    actor_role = Varchar(length=32, default="")
    case_code = Varchar(length=20, index=True)
    action = Varchar(length=40)
    detail = Text(default="")


class DomainEvent(Table, tablename="domain_event"):
    """Facts one domain records for another to act on (offers, overdue answers, freed beds).

    Written in the transaction that caused them, so none is lost; `dedupe_key` makes a job
    that runs twice record each fact once. `handled_at` is set once every in-process
    consumer (the waiting-list re-match, the notifications domain) has handled it.
    """

    kind = Varchar(length=40, index=True)
    dedupe_key = Varchar(length=200, unique=True)
    payload = JSON(default="{}")
    created_at = Timestamptz(index=True)
    handled_at = Timestamptz(null=True, default=None, index=True)


class EventReceipt(Table, tablename="event_receipt"):
    """One consumer has handled one domain event (written in the handler's transaction)."""

    event = ForeignKey(references=DomainEvent, null=False, index=True)
    consumer = Varchar(length=40)
    key = Varchar(length=60, unique=True)  # "<event id>:<consumer>"
    handled_at = Timestamptz()


class IdempotencyRecord(Table, tablename="idempotency_record"):
    """The first answer to a POST sent with an Idempotency-Key, replayed on retries."""

    user = ForeignKey(references=User, null=False)
    key = Varchar(length=220, unique=True)  # "<user id>:<client key>": keys are per user
    scope = Varchar(length=200)
    request_digest = Varchar(length=64)
    status_code = Integer()
    response = Text()
    created_at = Timestamptz(index=True)
