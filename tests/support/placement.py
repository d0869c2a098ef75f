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


async def flagged_case(client, world: World, actor: str = "officer", age: int = 15, **fields):
    """A case with an active exploitation flag: it needs a specialised place."""
    case = await open_case(client, world, actor, age, **fields)
    return await flag_case(client, world, case["case_code"], actor)


async def centre_bed_status(client, world: World, centre_id: int, bed_id: int) -> str:
    """A bed's status as the centre page shows it (GET /api/centres/{id}, as an admin)."""
    response = await client.get(f"/api/centres/{centre_id}", headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    for unit in response.json()["units"]:
        for bed in unit["beds"]:
            if bed["id"] == bed_id:
                return bed["status"]
    raise KeyError(bed_id)


async def bed_history(client, world: World, bed_id: int) -> list[dict[str, Any]]:
    """A bed's status changes, oldest first (GET /api/beds/{id}/history, as an admin)."""
    response = await client.get(f"/api/beds/{bed_id}/history", headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    return response.json()


async def set_bed_status(client, world: World, bed_id: int, status: str, actor: str) -> dict:
    """A centre's staff changes a bed's status by hand."""
    response = await client.post(
        f"/api/beds/{bed_id}/status",
        json={"status": status, "reason": f"set to {status} by hand"},
        headers=world.auth(actor),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def add_user(
    world: World, name: str, role, service: str = "", centre_ids: list[int] | None = None
):
    """Another user for this test, signed in with a token: `world.auth(name)` works."""
    from backend import accounts
    from tests.support.world import make_user

    principal = await make_user(name, role, centre_ids, service=service)
    world.users[name] = principal
    world.tokens[name] = (await accounts.create_token(principal.user_id, "tests")).token
    return principal
