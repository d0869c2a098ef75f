"""Signing in through the API, as a browser does."""

from __future__ import annotations

import httpx

from backend.auth import SESSION_COOKIE
from tests.support.world import PASSWORD


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


def session_cookie_header(response: httpx.Response) -> str:
    """The one Set-Cookie header of the session cookie in a response."""
    headers = [
        value
        for value in response.headers.get_list("set-cookie")
        if value.startswith(f"{SESSION_COOKIE}=")
    ]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


def cookie_value(response: httpx.Response) -> str:
    return session_cookie_header(response).split(";", 1)[0].split("=", 1)[1]
