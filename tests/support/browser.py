"""Headless Chromium (Debian's package) driven by Playwright, for the browser tests.

    page = await new_page(browser, server.url, language="nl", width=360)

Every page a test opens is watched: a request to any other host than the app's, a script
error or a console error fails the test (`PageWatch.assert_clean()`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = Path("/usr/bin/chromium")
# As the machine's own checks start it: no sandbox (root in a container), no background
# traffic to the browser vendor's hosts.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 860}


@dataclass
class PageWatch:
    origin: str
    foreign_requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.foreign_requests, f"requests to other hosts: {self.foreign_requests}"
        assert not self.errors, f"errors in the page: {self.errors}"


async def new_page(browser, base_url: str, language: str = "en", viewport: dict | None = None):
    """A fresh browser context (no cookies) with a language and a screen size."""
    context = await browser.new_context(
        base_url=base_url,
        locale={"fr": "fr-BE", "nl": "nl-BE", "de": "de-BE", "en": "en-GB"}[language],
        viewport=viewport or PHONE,
        extra_http_headers={"Accept-Language": f"{language}-BE,{language};q=0.9"},
    )
    page = await context.new_page()
    origin = urlsplit(base_url).netloc
    watch = PageWatch(origin)

    def on_request(request) -> None:
        host = urlsplit(request.url).netloc
        if request.url.startswith(("http://", "https://")) and host != origin:
            watch.foreign_requests.append(request.url)

    def on_response(response) -> None:
        # A page answered 4xx is a test's business (a refused sign-in); a broken asset is not.
        if response.status >= 400 and response.request.resource_type != "document":
            watch.errors.append(f"{response.status} for {response.url}")

    def on_console(message) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            watch.errors.append(message.text)

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    page.on("console", on_console)
    page.watch = watch  # type: ignore[attr-defined]
    return page


async def sign_in(page, username: str, password: str) -> None:
    await page.goto("/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_load_state()
