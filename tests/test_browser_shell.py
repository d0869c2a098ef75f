"""The page shell in a real browser: sign-in, the language of the browser and the switch,
the security headers, nothing loaded from another host, usable at 360 px."""

from __future__ import annotations

import pytest

from tests.support.browser import DESKTOP, PHONE, new_page, sign_in
from tests.support.server import AppServer
from tests.support.world import PASSWORD, World


@pytest.fixture(scope="module")
def site():
    with AppServer(env={"SCHEDULER_ENABLED": "0"}) as server:
        yield server


SIGN_IN = {"fr": "Se connecter", "nl": "Aanmelden", "de": "Anmelden", "en": "Sign in"}


@pytest.mark.parametrize("language", ["fr", "nl", "de", "en"])
async def test_the_sign_in_page_speaks_the_browsers_language(browser, site, world, language):
    page = await new_page(browser, site.url, language)
    response = await page.goto("/login")
    assert response.status == 200
    assert await page.get_attribute("html", "lang") == language
    assert (await page.inner_text("h1")).strip() == SIGN_IN[language]
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src" not in csp.replace("default-src", "")
    # Nothing sticks out at 360 px.
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.watch.assert_clean()
    await page.context.close()


async def test_signing_in_and_out_and_switching_language(browser, site, world: World):
    page = await new_page(browser, site.url, "en", DESKTOP)
    await page.goto("/account")
    assert page.url.endswith("/login?next=/account")
    await sign_in(page, "officer", "wrong password")
    assert await page.is_visible("#password-error")
    assert await page.get_attribute("#password", "aria-invalid") == "true"
    await sign_in(page, "officer", PASSWORD)
    assert "/login" not in page.url
    await page.goto("/account")
    await page.select_option("#language-choice", "de")
    await page.click("form.language button")
    await page.wait_for_load_state()
    assert await page.get_attribute("html", "lang") == "de"
    # The choice is the user's: a new browser signing in as them gets German too.
    other = await new_page(browser, site.url, "fr", DESKTOP)
    await sign_in(other, "officer", PASSWORD)
    await other.goto("/account")
    assert await other.get_attribute("html", "lang") == "de"
    await page.click("text=officer")  # the sign-out button names the user
    await page.wait_for_load_state()
    assert page.url.endswith("/login")
    page.watch.assert_clean()
    other.watch.assert_clean()
    await page.context.close()
    await other.context.close()
