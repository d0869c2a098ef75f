"""Page helpers for in-process tests: sign in through the form, send forms with the CSRF
token the way a browser does, and read what a page shows."""

from __future__ import annotations

import re
from html import unescape

import httpx

from tests.support.world import PASSWORD

CSRF_COOKIE = "safebed_csrf"


async def csrf_token(client: httpx.AsyncClient) -> str:
    """The CSRF token of this client (a GET of any page sets it)."""
    if CSRF_COOKIE not in client.cookies:
        await client.get("/login")
    return client.cookies[CSRF_COOKIE]


async def submit(
    client: httpx.AsyncClient, path: str, data: dict | list[tuple[str, str]] | None = None
) -> httpx.Response:
    """POST a form as the page would, with the CSRF token as a hidden field."""
    pairs = list(data.items()) if isinstance(data, dict) else list(data or [])
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        values = value if isinstance(value, list | tuple) else [value]
        fields.setdefault(name, []).extend(str(v) for v in values)
    fields["_csrf_token"] = [await csrf_token(client)]
    return await client.post(path, data=fields)


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> None:
    """Sign in through the sign-in form (a session cookie, like a browser)."""
    client.cookies.clear()
    response = await submit(client, "/login", {"username": username, "password": password})
    assert response.status_code == 303, response.text


def text_of(html: str) -> str:
    """The visible text of a page, whitespace collapsed (for assertions on wording)."""
    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def main_text(html: str) -> str:
    found = re.search(r"(?is)<main\b.*?</main>", html)
    return text_of(found.group(0) if found else html)
