from __future__ import annotations

from piccolo.columns import (
    Boolean,
    ForeignKey,
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
