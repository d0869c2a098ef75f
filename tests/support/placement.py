"""Placement helpers for API tests: open a case, create a request, hold, answer, admit."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.support.world import World


def birth_for_age(age: int, today: date | None = None) -> dict[str, int]:
    """Birth year and month of a minor who is `age` today (born last month, that many years ago)."""
    today = today or date.today()
    year, month = today.year - age, today.month - 1
    if month == 0:
        year, month = year - 1, 12
    return {"birth_year": year, "birth_month": month}


async def open_case(client, world: World, actor: str = "officer", age: int = 15, **fields) -> dict:
    body = {**birth_for_age(age), "gender": "girl", "languages": ["fr"], **fields}
    response = await client.post("/api/cases", json=body, headers=world.auth(actor))
    assert response.status_code == 201, response.text
    return response.json()


async def flag_case(client, world: World, case_code: str, actor: str = "officer", **fields) -> dict:
    body = {
        "exploitation_type": "loverboy_grooming",
        "discovered_on": date.today().isoformat(),
        "source_service": "SAJ Namur",
        **fields,
    }
    response = await client.post(
        f"/api/cases/{case_code}/flags", json=body, headers=world.auth(actor)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def create_request(
    client, world: World, case_code: str, actor: str = "officer", headers=None, **fields
) -> dict[str, Any]:
    body = {"case_code": case_code, "urgency": "immediate", **fields}
    response = await client.post(
        "/api/requests", json=body, headers={**world.auth(actor), **(headers or {})}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def hold(client, world: World, request_id: int, bed_id: int, actor: str = "officer"):
    return await client.post(
        f"/api/requests/{request_id}/holds", json={"bed_id": bed_id}, headers=world.auth(actor)
    )


async def held(client, world: World, request_id: int, bed_id: int, actor: str = "officer") -> dict:
    response = await hold(client, world, request_id, bed_id, actor)
    assert response.status_code == 201, response.text
    return response.json()


async def answer(client, world: World, hold_id: int, action: str, actor: str, body=None) -> dict:
    response = await client.post(
        f"/api/holds/{hold_id}/{action}", json=body, headers=world.auth(actor)
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


async def request_detail(client, world: World, request_id: int, actor: str = "officer") -> dict:
    response = await client.get(f"/api/requests/{request_id}", headers=world.auth(actor))
    assert response.status_code == 200, response.text
    return response.json()
