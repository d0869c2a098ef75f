"""The API is documented at /schema, browsable, with every asset served by the app itself."""

from __future__ import annotations

import re


async def test_api_docs_page_and_its_assets_come_from_this_app(client):
    page = await client.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets, page.text
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by this app"
        response = await client.get(asset)
        assert response.status_code == 200, asset
    spec = (await client.get("/schema/openapi.json")).json()
    assert "/api/vacancies" in spec["paths"]
    assert "/api/beds/{bed_id}/status" in spec["paths"]
