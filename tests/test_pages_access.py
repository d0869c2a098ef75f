"""Every page: who may open it, CSRF on every form, the security headers, and every
message a page uses translated in French, Dutch and German."""

from __future__ import annotations

import re

import pytest
from litestar.routes import HTTPRoute

from backend.identity import Role
from frontend import catalogues
from tests.support.pages import sign_in, submit
from tests.support.world import World

ROLE_USERS = {
    Role.ADMIN: "admin",
    Role.PLACEMENT_OFFICER: "officer",
    Role.COORDINATOR: "coordinator",
    Role.ANALYST: "analyst",
    Role.CENTRE_STAFF: "staff_a",
}
NOT_PAGES = ("/api", "/schema", "/static", "/health")
OPEN_PAGES = {("GET", "/login"), ("POST", "/login"), ("POST", "/language")}
_PARAMETER = re.compile(r"\{(\w+):\w+\}")


def page_routes(app) -> list[tuple[str, str, dict]]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith(NOT_PAGES):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                found.append((method, route.path, handler.opt))
    return found


def test_every_page_says_who_may_open_it(app):
    routes = page_routes(app)
    assert len(routes) > 10
    closed = [
        f"{method} {path}"
        for method, path, opt in routes
        if not opt.get("page_roles") and (method, path) not in OPEN_PAGES
    ]
    assert not closed, f"pages without page_roles: {closed}"


async def test_every_form_refuses_a_post_without_its_csrf_token(client, world: World, app):
    await sign_in(client, "admin")
    for method, path, _opt in page_routes(app):
        if method != "POST":
            continue
        url = _PARAMETER.sub("1", path)
        response = await client.post(url, data={"anything": "x"})
        assert response.status_code == 403, f"{path}: {response.status_code}"
        assert "csrf" in response.text.lower() or "<html" in response.text, path


@pytest.mark.parametrize("role", list(ROLE_USERS), ids=str)
async def test_pages_open_for_their_roles_only(client, world: World, app, role: Role):
    await sign_in(client, ROLE_USERS[role])
    wrong = []
    for method, path, opt in page_routes(app):
        if method != "GET" or "{" in path or path in ("/live", "/login"):
            continue
        response = await client.get(path)
        allowed = role in opt.get("page_roles", ())
        if path == "/" or (allowed and response.status_code in (302, 303)):
            continue  # the start page sends each role to its own page
        expected = 200 if allowed else 403
        if response.status_code != expected:
            wrong.append(f"{path}: {response.status_code}, expected {expected}")
    assert not wrong, "\n".join(wrong)


async def test_signed_out_visitors_are_sent_to_sign_in(client, world: World, app):
    for method, path, _opt in page_routes(app):
        if method != "GET" or "{" in path or (method, path) in OPEN_PAGES or path == "/live":
            continue
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path


async def test_pages_carry_a_strict_content_security_policy(client, world: World):
    await sign_in(client, "officer")
    response = await client.get("/account")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "http://" not in response.text.replace("http://testserver", "")
    assert "https://" not in response.text


async def test_a_wrong_password_is_said_beside_the_field_in_the_users_language(client, world):
    response = await submit(client, "/login", {"username": "officer", "password": "nope"})
    assert response.status_code == 401
    assert 'aria-invalid="true"' in response.text and 'id="password-error"' in response.text
    client.cookies.set("safebed_lang", "nl")
    response = await submit(client, "/login", {"username": "officer", "password": "nope"})
    assert 'lang="nl"' in response.text


@pytest.mark.pure
def test_every_message_of_the_pages_is_translated():
    gaps = catalogues.missing()
    summary = {language: (len(messages), messages[:5]) for language, messages in gaps.items()}
    assert not any(gaps.values()), (
        "messages missing from the catalogues (run `python -m frontend.catalogues update`, "
        f"then translate): {summary}"
    )


async def test_a_new_account_takes_the_browsers_language_at_first_sign_in(client, world):
    created = await client.post(
        "/api/users",
        json={
            "username": "nieuw",
            "display_name": "Nieuwe consulent",
            "role": "placement_officer",
            "password": "a-long-enough-password",
            "service": "OCJ Gent",
        },
        headers=world.auth("admin"),
    )
    assert created.status_code == 201 and created.json()["language"] == ""
    client.headers["Accept-Language"] = "nl-BE,nl;q=0.9,en;q=0.5"
    await sign_in(client, "nieuw", "a-long-enough-password")
    page = await client.get("/account")
    assert 'lang="nl"' in page.text
    me = await client.get(f"/api/users/{created.json()['id']}", headers=world.auth("admin"))
    assert me.json()["language"] == "nl"
    # Chosen once, it stays: another browser does not change it.
    client.headers["Accept-Language"] = "de"
    await sign_in(client, "nieuw", "a-long-enough-password")
    assert 'lang="nl"' in (await client.get("/account")).text
