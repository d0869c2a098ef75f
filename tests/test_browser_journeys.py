"""The issue's journeys in headless Chromium, in each of the four languages, against the app
in a real server process:

- an officer finds and holds a bed for an urgent request in under ten interactions, on a
  phone-sized screen;
- the centre's board shows the hold without a reload; staff accept, admit and report a
  runaway; the runaway appears on the coordinator's open alerts page without a reload, and
  the coordinator acknowledges it.

Selectors name form actions and element ids, never words, so the same journey runs in every
language; each page's <html lang> and a translated heading prove the language.
With SAFEBED_SCREENSHOTS=<folder>, the main pages are saved there as PNG (see README).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.tables import User
from frontend import i18n
from tests.support.browser import DESKTOP, PHONE, new_page, sign_in
from tests.support.placement import create_request, open_case
from tests.support.server import AppServer
from tests.support.world import PASSWORD, World

LANGUAGES = ["fr", "nl", "de", "en"]
SCREENSHOTS = os.environ.get("SAFEBED_SCREENSHOTS")
if SCREENSHOTS:
    Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
# Elements that stick out of a 360 px screen.
TOO_WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 5)
  .map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').trim().slice(0, 50))"""
# Form controls a screen reader could not name.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && e.type !== 'submit')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.outerHTML.slice(0, 80))"""
DUPLICATE_IDS = """() => { const seen = {}; return [...document.querySelectorAll('[id]')]
  .map(e => e.id).filter(id => (seen[id] = (seen[id] || 0) + 1) === 2); }"""
LIVE_SECONDS = 10_000  # ms: a change must show within seconds, without a reload


@pytest.fixture(scope="module")
def site():
    with AppServer(env={"SCHEDULER_ENABLED": "0"}) as server:
        yield server


async def speak(world: World, language: str) -> None:
    """Every user of the test network works in `language`."""
    await User.update({User.language: language}).where(User.id.is_not_null())


def translated(language: str, message: str) -> str:
    i18n.use(language)
    return i18n.gettext(message)


async def snapshot(page, name: str, language: str) -> None:
    if SCREENSHOTS and language == "fr":
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


async def mark_loaded(page) -> None:
    """A marker that a reload would erase: proves a later change came in live."""
    await page.evaluate("window.__sameDocument = true")


async def still_same_document(page) -> bool:
    return await page.evaluate("window.__sameDocument === true")


class Clicks:
    """Counts what a person does: each click, choice or typed field is one interaction."""

    def __init__(self, page) -> None:
        self.page = page
        self.count = 0

    async def click(self, selector: str) -> None:
        self.count += 1
        await self.page.click(selector)

    async def fill(self, selector: str, value: str) -> None:
        self.count += 1
        await self.page.fill(selector, value)

    async def check(self, selector: str) -> None:
        self.count += 1
        await self.page.check(selector)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_an_officer_holds_a_bed_for_an_urgent_request_in_a_few_interactions(
    browser, site, world: World, language: str
):
    await speak(world, language)
    page = await new_page(browser, site.url, language, PHONE)
    await sign_in(page, "officer", PASSWORD)
    person = Clicks(page)

    await person.click("nav a[href='/requests/new']")
    assert await page.get_attribute("html", "lang") == language
    await snapshot(page, "officer-new-request", language)
    assert not await page.evaluate(TOO_WIDE)
    # Urgency "tonight" is the default; the minor: a 15-year-old girl.
    await person.check("#gender-girl")
    await person.fill("#age", "15")
    await person.click("form[action='/requests/new'] button[type=submit]")
    await page.wait_for_url("**/requests/*")
    assert "/requests/new" not in page.url
    await snapshot(page, "officer-request-candidates", language)
    await person.click("form[action$='/hold'] button[type=submit]")
    await page.wait_for_load_state()

    held_word = translated(language, "Held")
    assert held_word in await page.inner_text("h1")
    assert person.count < 10, f"{person.count} interactions"
    wide = await page.evaluate(TOO_WIDE)
    assert not wide, f"wider than the phone: {wide}"
    page.watch.assert_clean()
    await page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_board_and_the_alerts_page_follow_a_placement_and_a_runaway_live(
    browser, site, world: World, language: str, client
):
    await speak(world, language)
    centre = world.centre_a["id"]
    bed = world.bed(world.centre_a, "A1")

    board = await new_page(browser, site.url, language, PHONE)
    await sign_in(board, "staff_a", PASSWORD)
    await board.goto(f"/board/{centre}")
    assert await board.get_attribute("html", "lang") == language
    await mark_loaded(board)

    coordinator = await new_page(browser, site.url, language, DESKTOP)
    await sign_in(coordinator, "coordinator", PASSWORD)
    await coordinator.goto("/alerts")
    await mark_loaded(coordinator)

    # An officer holds bed A1 (through the API, as another device would).
    case = await open_case(client, world, age=14)
    await client.post(
        f"/api/cases/{case['case_code']}/flags",
        json={
            "exploitation_type": "prostitution",
            "discovered_on": "2026-11-01",
            "source_service": "SAJ Namur",
        },
        headers=world.auth("officer"),
    )
    request = await create_request(client, world, case["case_code"])
    response = await client.post(
        f"/api/requests/{request['request']['id']}/holds",
        json={"bed_id": bed},
        headers=world.auth("officer"),
    )
    assert response.status_code == 201, response.text

    tile = f"#bed-{bed}"
    await board.wait_for_selector(f"{tile}.status-held", timeout=LIVE_SECONDS)
    assert await still_same_document(board), "the board reloaded instead of updating live"
    await snapshot(board, "centre-board", language)
    assert not await board.evaluate(TOO_WIDE)

    await board.click(f"{tile} form[action$='/accept'] button")
    await board.wait_for_selector(f"{tile} form[action$='/admit'] button")
    await board.click(f"{tile} form[action$='/admit'] button")
    await board.wait_for_selector(f"{tile}.status-occupied")
    await board.click(f"{tile} details:has(form[action$='/runaway']) summary")
    await board.click(f"{tile} form[action$='/runaway'] button[type=submit]")
    await board.wait_for_selector(f"{tile}.status-on_runaway")

    # The coordinator's open page shows the runaway without a reload, and acknowledges it.
    runaway = translated(language, "Runaway")
    card = coordinator.locator("li.alert-card", has_text=runaway).first
    await card.wait_for(timeout=LIVE_SECONDS)
    assert await still_same_document(coordinator), "the alerts page reloaded"
    await snapshot(coordinator, "coordinator-alerts", language)
    await card.locator("form[action$='/acknowledge'] button").click()
    await coordinator.wait_for_load_state()
    acknowledged = coordinator.locator("li.alert-card", has_text=runaway).first
    assert await acknowledged.locator("form[action$='/acknowledge']").count() == 0
    alerts = (await client.get("/api/alerts", headers=world.auth("coordinator"))).json()
    [alert] = [a for a in alerts if a["kind"] == "runaway"]
    assert (alert["status"], alert["acknowledged_by"]) == ("acknowledged", "coordinator")

    for page in (board, coordinator):
        page.watch.assert_clean()
        await page.context.close()


async def test_the_other_main_pages_render_without_errors(browser, site, world: World):
    """Screenshots of the remaining main pages (when asked), and no broken asset or script
    error on any of them, in French."""
    pages = {
        "coordinator": ["/network", "/rota", "/allocation", "/waiting", "/statistics"],
        "admin": ["/admin", "/admin/users", "/admin/rota", "/admin/integrations", "/admin/audit"],
        "analyst": ["/statistics"],
        "officer": ["/requests/new", "/requests", "/waiting", "/account"],
        "staff_a": [f"/board/{world.centre_a['id']}"],
    }
    await speak(world, "fr")
    for user, paths in pages.items():
        page = await new_page(browser, site.url, "fr", DESKTOP)
        await sign_in(page, user, PASSWORD)
        for path in paths:
            response = await page.goto(path)
            assert response.status == 200, path
            assert await page.get_attribute("html", "lang") == "fr"
            assert await page.evaluate(UNLABELLED) == [], path
            assert await page.evaluate(DUPLICATE_IDS) == [], path
            assert await page.locator("h1").count() == 1, path
            name = f"{user}-{path.strip('/').replace('/', '-')}"
            await snapshot(page, name, "fr")
        page.watch.assert_clean()
        await page.context.close()
