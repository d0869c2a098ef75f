"""API input and output shapes for accounts and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from backend.identity import Role

# PostgreSQL text cannot hold the NUL character: free text refuses it, on both engines.
NO_NUL = r"^[^\x00]*$"

Username = Annotated[str, Meta(min_length=3, max_length=80, pattern=r"^[a-z0-9._-]+$")]
Password = Annotated[str, Meta(min_length=10, max_length=200)]
Language = Annotated[str, Meta(pattern=r"^(fr|nl|de|en)$")]
ShortText = Annotated[str, Meta(min_length=1, max_length=120, pattern=NO_NUL)]
ServiceName = Annotated[str, Meta(max_length=120, pattern=NO_NUL)]
# Deliberately loose: one @, no spaces; the SMTP server is the judge of the rest.
EmailAddress = Annotated[
    str, Meta(max_length=254, pattern=r"^([^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+)?$")
]
TokenName = Annotated[str, Meta(min_length=1, max_length=80, pattern=NO_NUL)]


def sent_fields(data: msgspec.Struct) -> dict[str, object]:
    """The fields a PATCH body actually carries (the others are UNSET)."""
    return {
        name: getattr(data, name)
        for name in data.__struct_fields__
        if getattr(data, name) is not UNSET
    }


class Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every request body: an unknown field is an error, never silently ignored."""


class LoginIn(Input, kw_only=True):
    username: Annotated[str, Meta(max_length=80, pattern=NO_NUL)]
    password: Annotated[str, Meta(max_length=200)]


class UserCreate(Input, kw_only=True):
    username: Username
    display_name: ShortText
    role: Role
    password: Password
    language: Language | None = None
    """Omitted: the browser's language at the user's first sign-in."""
    service: ServiceName = ""
    email: EmailAddress = ""
    centre_ids: list[int] = []


class UserUpdate(Input, kw_only=True):
    display_name: ShortText | UnsetType = UNSET
    role: Role | UnsetType = UNSET
    password: Password | UnsetType = UNSET
    language: Language | UnsetType = UNSET
    service: ServiceName | UnsetType = UNSET
    email: EmailAddress | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    centre_ids: list[int] | UnsetType = UNSET


class UserOut(msgspec.Struct, kw_only=True):
    id: int
    username: str
    display_name: str
    role: Role
    language: str
    service: str
    email: str
    active: bool
    centre_ids: list[int]


class TokenCreate(Input, kw_only=True):
    name: TokenName


class TokenOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut, kw_only=True):
    token: str
    """Shown once: only its digest is stored."""
