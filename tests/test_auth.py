"""Signing in and out, the session cookie, personal API tokens and the sign-in rate limit."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from backend.auth import SESSION_COOKIE
from backend.settings import get_settings
from backend.tables import ApiToken, StoredSession, User
from tests.support.http import app_client
from tests.support.signin import cookie_value, session_cookie_header, sign_in
from tests.support.world import PASSWORD, make_user

PROBLEM = "application/problem+json"


def _as_cookie(value: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={value}"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


# ---------------------------------------------------------------------------
# Password sign-in and the session cookie


async def test_sign_in_sets_an_httponly_samesite_session_cookie(client, world):
    response = await sign_in(client, "officer")
    assert response.status_code == 200, response.text
    assert response.json()["username"] == "officer"
    assert response.json()["role"] == "placement_officer"

    attributes = [part.strip().lower() for part in session_cookie_header(response).split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # tests run over plain http, as development does
    assert len(cookie_value(response)) >= 64  # 32 random bytes, hex

    me = await client.get("/api/me")  # the client sends the cookie back, no token
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "officer"


async def test_session_data_is_kept_on_the_server_not_in_the_cookie(client, world):
    response = await sign_in(client, "analyst")
    value = cookie_value(response)
    assert "user_id" not in value
    stored = await StoredSession.select().where(StoredSession.session_key == value).first()
    assert stored is not None
    assert str(world.users["analyst"].user_id) in stored["data"]


async def test_session_cookie_is_secure_when_settings_say_so(world):
    from backend.app import create_app

    app = create_app(dataclasses.replace(get_settings(), cookie_secure=True))
    async with app_client(app) as client:
        response = await sign_in(client, "officer")
    assert response.status_code == 200, response.text
    assert "secure" in [p.strip().lower() for p in session_cookie_header(response).split(";")]


@pytest.mark.parametrize(
    ("username", "password"),
    [("officer", "wrong-password-123"), ("nobody", PASSWORD), ("officer", "")],
    ids=["wrong password", "unknown user", "empty password"],
)
async def test_wrong_credentials_are_401_problem_details(client, world, username, password):
    response = await sign_in(client, username, password)
    body = assert_problem(response, 401)
    # The same answer whether the user exists or not: nothing to learn about usernames.
    assert body["detail"] == "Wrong username or password."
    assert not response.headers.get_list("set-cookie")
    assert (await client.get("/api/me")).status_code == 401


async def test_sign_in_with_unknown_fields_is_400_naming_the_field(client, world):
    response = await client.post(
        "/api/auth/login",
        json={"username": "officer", "password": PASSWORD, "remember": True},
    )
    body = assert_problem(response, 400)
    assert body["errors"][0]["field"] == "remember"


async def test_an_inactive_user_cannot_sign_in(client, world):
    await make_user("retired", world.users["officer"].role)
    await User.update({User.active: False}).where(User.username == "retired")
    response = await sign_in(client, "retired")
    body = assert_problem(response, 401)
    assert body["detail"] == "Wrong username or password."


async def test_deactivating_a_user_ends_their_session_and_tokens(client, world):
    assert (await sign_in(client, "coordinator")).status_code == 200
    assert (await client.get("/api/me")).status_code == 200
    response = await client.patch(
        f"/api/users/{world.users['coordinator'].user_id}",
        headers=world.auth("admin"),
        json={"active": False},
    )
    assert response.status_code == 200, response.text
    assert_problem(await client.get("/api/me"), 401)
    assert_problem(await client.get("/api/me", headers=world.auth("coordinator")), 401)


async def test_sign_out_ends_the_session(client, world):
    old = cookie_value(await sign_in(client, "staff_a"))
    assert (await client.get("/api/me")).status_code == 200

    response = await client.post("/api/auth/logout")
    assert response.status_code == 204
    cleared = session_cookie_header(response).lower()
    assert "max-age=0" in cleared
    assert await StoredSession.count().where(StoredSession.session_key == old) == 0

    client.cookies.clear()
    assert_problem(await client.get("/api/me", headers=_as_cookie(old)), 401)


async def test_sign_in_gives_a_new_session_id(client, world):
    """An id planted before sign-in (session fixation) is never the signed-in session."""
    planted = "a" * 64
    response = await client.post(
        "/api/auth/login",
        json={"username": "admin", "password": PASSWORD},
        headers=_as_cookie(planted),
    )
    assert response.status_code == 200, response.text
    fresh = cookie_value(response)
    assert fresh != planted
    client.cookies.clear()
    assert_problem(await client.get("/api/me", headers=_as_cookie(planted)), 401)
    assert (await client.get("/api/me", headers=_as_cookie(fresh))).status_code == 200

    # Signing in again while signed in also rotates, and retires the previous id.
    again = await client.post(
        "/api/auth/login",
        json={"username": "admin", "password": PASSWORD},
        headers=_as_cookie(fresh),
    )
    newer = cookie_value(again)
    assert newer != fresh
    assert_problem(await client.get("/api/me", headers=_as_cookie(fresh)), 401)
    assert (await client.get("/api/me", headers=_as_cookie(newer))).status_code == 200


async def test_callers_not_signed_in_get_no_session(client, world):
    """Health checks, anonymous callers and API-token integrations leave no session behind."""
    for response in (
        await client.get("/health"),
        await client.get("/api/me"),
        await client.get("/api/vacancies", headers=world.auth("officer")),
    ):
        assert not response.headers.get_list("set-cookie"), response.headers
    assert await StoredSession.count() == 0


async def test_a_cookie_naming_no_session_is_cleared(client, world):
    response = await client.get("/health", headers=_as_cookie("b" * 64))
    assert response.status_code == 200
    cleared = session_cookie_header(response).lower()
    assert "max-age=0" in cleared
    assert await StoredSession.count() == 0


# ---------------------------------------------------------------------------
# Personal API tokens


async def test_personal_api_token_lifecycle(client, world):
    officer = world.auth("officer")

    created = await client.post("/api/me/tokens", headers=officer, json={"name": "ticketing"})
    assert created.status_code == 201, created.text
    body = created.json()
    token = body["token"]
    assert token.startswith("sb_") and len(token) > 40
    assert body["name"] == "ticketing"
    assert body["prefix"] == token[:10]
    assert body["revoked_at"] is None

    # Only a digest is stored: the token itself is nowhere in the table.
    rows = await ApiToken.select()
    assert not [row for row in rows if any(token in str(value) for value in row.values())]
    [row] = [row for row in rows if row["id"] == body["id"]]
    assert row["token_digest"] == hashlib.sha256(token.encode()).hexdigest()

    # It works as a Bearer token, for its owner.
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "officer"

    # Listing never shows a token again.
    listed = await client.get("/api/me/tokens", headers=officer)
    assert listed.status_code == 200
    assert token not in listed.text
    assert world.tokens["officer"] not in listed.text
    assert all("token" not in item for item in listed.json())
    assert {item["name"] for item in listed.json()} == {"tests", "ticketing"}
    [entry] = [item for item in listed.json() if item["id"] == body["id"]]
    assert entry["last_used_at"] is not None

    # Revoked: refused from then on; the other token goes on working.
    revoked = await client.delete(f"/api/me/tokens/{body['id']}", headers=officer)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    refused = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(refused, 401)
    assert (await client.get("/api/me", headers=officer)).status_code == 200


async def test_a_token_can_be_created_from_a_browser_session(client, world):
    await sign_in(client, "coordinator")
    created = await client.post("/api/me/tokens", json={"name": "dashboard"})
    assert created.status_code == 201, created.text
    client.cookies.clear()
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {created.json()['token']}"})
    assert me.json()["username"] == "coordinator"


async def test_nobody_revokes_someone_elses_token(client, world):
    listed = await client.get("/api/me/tokens", headers=world.auth("analyst"))
    analyst_token = listed.json()[0]["id"]
    response = await client.delete(f"/api/me/tokens/{analyst_token}", headers=world.auth("admin"))
    body = assert_problem(response, 404)
    assert body["errors"][0]["field"] == "token_id"
    assert (await client.get("/api/me", headers=world.auth("analyst"))).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Basic b2ZmaWNlcjpwYXNzd29yZA==",
        "Bearer",
        "Bearer ",
        "Token {token}",
        "{token}",
        "Bearer sb_not-a-token-we-issued",
        "Bearer not-even-our-format",
        "Bearer {token}x",
    ],
)
async def test_malformed_or_unknown_authorization_is_401(client, world, header):
    value = header.format(token=world.tokens["officer"])
    response = await client.get("/api/me", headers={"Authorization": value})
    assert_problem(response, 401)


async def test_a_bad_authorization_header_is_not_rescued_by_a_session(client, world):
    await sign_in(client, "officer")
    response = await client.get("/api/me", headers={"Authorization": "Bearer sb_forged"})
    assert_problem(response, 401)


async def test_token_creation_validates_the_name(client, world):
    response = await client.post("/api/me/tokens", headers=world.auth("officer"), json={})
    body = assert_problem(response, 400)
    assert body["errors"][0]["field"] == "name"


# ---------------------------------------------------------------------------
# Sign-in rate limit


async def test_sign_in_is_rate_limited(world):
    from backend.app import create_app

    app = create_app(dataclasses.replace(get_settings(), login_attempts_per_minute=3))
    async with app_client(app) as client:
        for _ in range(3):
            assert (await sign_in(client, "officer", "guessing-12345")).status_code == 401
        limited = await sign_in(client, "officer")  # even the right password now waits
        body = assert_problem(limited, 429)
        assert body["title"] == "Too many requests"
        assert "set-cookie" not in limited.headers
        # Only sign-in is limited: the rest of the API still answers.
        assert (await client.get("/api/me", headers=world.auth("officer"))).status_code == 200


async def test_abandoned_sessions_are_removed_by_the_scheduled_clean_up(client, world):
    from datetime import timedelta

    from backend import session_store
    from backend.tables import StoredSession

    store = session_store.DatabaseStore()
    await store.set("abandoned", b"{}", expires_in=timedelta(seconds=-1))
    await store.set("alive", b"{}", expires_in=timedelta(hours=1))
    assert await session_store.delete_expired() == 1
    keys = {row["session_key"] for row in await StoredSession.select(StoredSession.session_key)}
    assert "abandoned" not in keys and "alive" in keys
