"""The statistics page: analysts and coordinators see the unmet-need figures as charts with
the same numbers in tables, and links to the anonymised CSV tables."""

from __future__ import annotations

from tests.support.pages import main_text, sign_in
from tests.test_unmet_need import script_quarter


async def test_analyst_starts_on_the_statistics_page_and_reads_the_figures(client, world):
    await script_quarter(client, world)
    await sign_in(client, "analyst")
    home = await client.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/statistics"
    response = await client.get("/statistics?from=2025-01&to=2025-03")
    assert response.status_code == 200, response.text
    html = response.text
    text = main_text(html)
    assert "Urgent requests that found no suitable bed" in text
    # January 6 and February 5 unmatched; February's 2 fallback placements shown as under 5.
    assert "2025-01 6" in text and "2025-02 5" in text
    assert "under 5" in text
    # Our own SVG charts, described in words, and a CSV download of the statistics API.
    assert html.count("<svg") >= 4 and 'role="img"' in html
    assert "/api/statistics?measure=placements&amp;from=2025-01&amp;to=2025-03" in html
    assert "format=csv" in html
    assert 'href="/statistics" aria-current="page"' in html


async def test_coordinator_has_it_in_the_menu(client, world):
    await sign_in(client, "coordinator")
    response = await client.get("/statistics")
    assert response.status_code == 200
    assert 'href="/statistics"' in response.text


async def test_a_bad_month_is_shown_beside_its_field(client, world):
    await sign_in(client, "analyst")
    response = await client.get("/statistics?from=2025-04&to=2025-03")
    assert response.status_code == 400
    assert 'id="period-from-error"' in response.text
    assert 'aria-invalid="true"' in response.text


async def test_other_roles_are_refused_and_visitors_sent_to_sign_in(client, world):
    for actor in ("officer", "staff_a", "admin"):
        await sign_in(client, actor)
        assert (await client.get("/statistics")).status_code == 403, actor
    client.cookies.clear()
    response = await client.get("/statistics")
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]
