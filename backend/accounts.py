"""Accounts service: users, passwords, personal API tokens. Each operation is one transaction."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from msgspec import UNSET

from backend import passwords
from backend.database import is_storable_id, write_transaction
from backend.errors import Conflict, InvalidInput, NotFound
from backend.identity import Principal, Role
from backend.schemas import TokenCreated, TokenOut, UserCreate, UserOut, UserUpdate
from backend.tables import ApiToken, User
from backend.timeutil import as_utc, utcnow
from capacity import service as capacity

TOKEN_PREFIX = "sb_"
TOKEN_USE_RESOLUTION = timedelta(minutes=5)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _user_out(row: dict) -> UserOut:
    return UserOut(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        language=row["language"],
        service=row["service"],
        email=row["email"],
        active=row["active"],
        centre_ids=sorted(await capacity.staff_centre_ids(row["id"])),
    )


async def _user_row(user_id: int) -> dict:
    row = await User.select().where(User.id == user_id).first() if is_storable_id(user_id) else None
    if row is None:
        raise NotFound(f"User {user_id} does not exist.", field="user_id")
    return row


def _check_centre_binding(role: Role, centre_ids: list[int]) -> None:
    if centre_ids and role is not Role.CENTRE_STAFF:
        raise InvalidInput("Only centre_staff users are bound to centres.", field="centre_ids")
    if role is Role.CENTRE_STAFF and not centre_ids:
        raise InvalidInput("A centre_staff user needs at least one centre.", field="centre_ids")


async def create_user(data: UserCreate) -> UserOut:
    _check_centre_binding(data.role, data.centre_ids)
    async with write_transaction():
        if await User.exists().where(User.username == data.username):
            raise Conflict(f"Username {data.username!r} is taken.", field="username")
        row = (
            await User.insert(
                User(
                    username=data.username,
                    display_name=data.display_name,
                    role=data.role.value,
                    language=data.language or "",
                    service=data.service.strip(),
                    email=data.email,
                    password_hash=passwords.hash_password(data.password),
                    active=True,
                    created_at=utcnow(),
                )
            ).returning(*User.all_columns())
        )[0]
        await capacity.set_staff_centres(row["id"], data.centre_ids)
        return await _user_out(row)


async def update_user(user_id: int, data: UserUpdate) -> UserOut:
    async with write_transaction():
        row = await _user_row(user_id)
        role = Role(row["role"]) if data.role is UNSET else data.role
        centre_ids = (
            sorted(await capacity.staff_centre_ids(user_id))
            if data.centre_ids is UNSET
            else data.centre_ids
        )
        if role is not Role.CENTRE_STAFF and data.centre_ids is UNSET:
            centre_ids = []
        _check_centre_binding(role, centre_ids)
        values: dict = {User.role: role.value}
        if data.display_name is not UNSET:
            values[User.display_name] = data.display_name
        if data.language is not UNSET:
            values[User.language] = data.language
        if data.service is not UNSET:
            values[User.service] = data.service.strip()
        if data.email is not UNSET:
            values[User.email] = data.email
        if data.active is not UNSET:
            values[User.active] = data.active
        if data.password is not UNSET:
            values[User.password_hash] = passwords.hash_password(data.password)
        await User.update(values).where(User.id == user_id)
        await capacity.set_staff_centres(user_id, centre_ids)
        return await _user_out(await _user_row(user_id))


async def get_user(user_id: int) -> UserOut:
    return await _user_out(await _user_row(user_id))


async def list_users() -> list[UserOut]:
    rows = await User.select().order_by(User.username)
    return [await _user_out(row) for row in rows]


async def authenticate(username: str, password: str) -> int | None:
    """The user id when the password is right and the account active, else None."""
    row = (
        await User.select(User.id, User.password_hash, User.active)
        .where(User.username == username)
        .first()
    )
    if not passwords.verify_password(row["password_hash"] if row else None, password):
        return None
    if not row["active"]:
        return None
    if passwords.needs_rehash(row["password_hash"]):
        await User.update({User.password_hash: passwords.hash_password(password)}).where(
            User.id == row["id"]
        )
    return row["id"]


async def principal_for_user(user_id: int) -> Principal | None:
    row = (
        await User.select(
            User.id, User.username, User.role, User.language, User.service, User.active
        )
        .where(User.id == user_id)
        .first()
    )
    if row is None or not row["active"]:
        return None
    return Principal(
        user_id=row["id"],
        username=row["username"],
        role=Role(row["role"]),
        language=row["language"],
        service=row["service"],
        centre_ids=frozenset(await capacity.staff_centre_ids(row["id"])),
    )


async def principal_for_token(token: str) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = (
        await ApiToken.select(
            ApiToken.id, ApiToken.user, ApiToken.revoked_at, ApiToken.last_used_at
        )
        .where(ApiToken.token_digest == _digest(token))
        .first()
    )
    if row is None or row["revoked_at"] is not None:
        return None
    now = utcnow()
    # Recorded at most every few minutes: a write on every API call would serialise readers.
    if row["last_used_at"] is None or now - as_utc(row["last_used_at"]) > TOKEN_USE_RESOLUTION:
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"])
    return await principal_for_user(row["user"])


def _token_out(row: dict) -> TokenOut:
    return TokenOut(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


async def create_token(user_id: int, name: str) -> TokenCreated:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with write_transaction():
        row = (
            await ApiToken.insert(
                ApiToken(
                    user=user_id,
                    name=name,
                    token_digest=_digest(token),
                    prefix=token[:10],
                    created_at=utcnow(),
                )
            ).returning(*ApiToken.all_columns())
        )[0]
    out = _token_out(row)
    return TokenCreated(**{f: getattr(out, f) for f in out.__struct_fields__}, token=token)


async def list_tokens(user_id: int) -> list[TokenOut]:
    rows = await ApiToken.select().where(ApiToken.user == user_id).order_by(ApiToken.id)
    return [_token_out(row) for row in rows]


async def revoke_token(user_id: int, token_id: int) -> TokenOut:
    async with write_transaction():
        row = (
            await ApiToken.select()
            .where((ApiToken.id == token_id) & (ApiToken.user == user_id))
            .first()
            if is_storable_id(token_id)
            else None
        )
        if row is None:
            raise NotFound(f"Token {token_id} does not exist.", field="token_id")
        if row["revoked_at"] is None:
            await ApiToken.update({ApiToken.revoked_at: utcnow()}).where(ApiToken.id == token_id)
            row["revoked_at"] = utcnow()
        return _token_out(row)
