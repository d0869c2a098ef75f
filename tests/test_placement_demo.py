"""The placement issue's "done when", on the demo network: an officer in Liège finds a bed for
a 15-year-old girl flagged for exploitation, away from Liège province; the Esperanto centre
comes first, accepts and admits her. When Esperanto is full, the best other bed is offered
as a fallback, still never in the excluded province."""

from __future__ import annotations

from datetime import date

from backend import accounts
from backend.demo import ESPERANTO, load_demo
from backend.tables import User
from capacity.tables import Bed
from tests.support.placement import birth_for_age

EXCLUDED = "BE-WLG"


async def headers_of(username: str) -> dict[str, str]:
    user = await User.select(User.id).where(User.username == username).first()
    assert user is not None, username
    token = (await accounts.create_token(user["id"], "demo scenario")).token
    return {"Authorization": f"Bearer {token}"}


async def flagged_girls_request(client, officer: dict[str, str]) -> dict:
    """officer.liege opens a case for a 15-year-old girl, flags it, asks for a bed now."""
    case = await client.post(
        "/api/cases",
        json={**birth_for_age(15), "gender": "girl", "languages": ["fr", "ro"]},
        headers=officer,
    )
    assert case.status_code == 201, case.text
    code = case.json()["case_code"]
    flagged = await client.post(
        f"/api/cases/{code}/flags",
        json={
            "exploitation_type": "loverboy_grooming",
            "discovered_on": date.today().isoformat(),
            "source_service": "SAJ Liège",
        },
        headers=officer,
    )
    assert flagged.status_code == 201, flagged.text
    assert flagged.json()["exploitation_flagged"] is True
    created = await client.post(
        "/api/requests",
        json={"case_code": code, "urgency": "immediate", "excluded_provinces": [EXCLUDED]},
        headers=officer,
    )
    assert created.status_code == 201, created.text
    return created.json()


def assert_explained(match: dict) -> None:
    """Every candidate says why it ranks where it does; the excluded beds are counted."""
    assert match["candidates"]
    for candidate in match["candidates"]:
        assert candidate["reasons"] and candidate["parts"]
        assert candidate["province"] != EXCLUDED
    assert match["excluded"]["excluded_zone"] > 0
    assert match["excluded"]["gender"] > 0
    assert match["candidate_count"] + sum(match["excluded"].values()) == match["total_beds"]
    assert "by excluded zone" in match["exclusion_summary"]


async def test_an_officer_in_liege_places_a_flagged_girl_at_esperanto(client, db):
    await load_demo()
    officer = await headers_of("officer.liege")
    created = await flagged_girls_request(client, officer)
    match = created["match"]
    assert_explained(match)
    first = match["candidates"][0]
    assert first["centre_name"] == ESPERANTO
    assert first["specialised"] is True and first["fallback"] is False
    # Esperanto's two free girls' beds lead the list.
    assert [c["centre_name"] for c in match["candidates"][:2]] == [ESPERANTO, ESPERANTO]

    request_id = created["request"]["id"]
    hold = await client.post(
        f"/api/requests/{request_id}/holds", json={"bed_id": first["bed_id"]}, headers=officer
    )
    assert hold.status_code == 201, hold.text
    hold = hold.json()
    assert hold["centre_address"] is None  # confidential until Esperanto says yes

    staff = await headers_of("staff.esperanto")
    accepted = await client.post(f"/api/holds/{hold['id']}/accept", headers=staff)
    assert accepted.status_code == 200, accepted.text
    admitted = await client.post(f"/api/holds/{hold['id']}/admit", headers=staff)
    assert admitted.status_code == 201, admitted.text
    stay = admitted.json()
    assert stay["status"] == "active"
    assert stay["centre_name"] == ESPERANTO
    assert stay["fallback"] is False and stay["unmet_needs"] == []

    detail = await client.get(f"/api/requests/{request_id}", headers=officer)
    assert detail.status_code == 200, detail.text
    detail = detail.json()
    assert detail["status"] == "placed"
    assert detail["hold"] is None and detail["stay"]["id"] == stay["id"]
    assert [e["to_status"] for e in detail["events"] if e["to_status"]] == [
        "open",
        "held",
        "accepted",
        "placed",
    ]
    bed = await Bed.select(Bed.status).where(Bed.id == first["bed_id"]).first()
    assert bed["status"] == "occupied"


async def test_when_esperanto_is_full_the_best_bed_is_a_marked_fallback(client, db):
    await load_demo()
    staff = await headers_of("staff.esperanto")
    esperanto = await client.get("/api/centres/", headers=staff)
    assert esperanto.status_code == 200, esperanto.text
    [esperanto_id] = [c["id"] for c in esperanto.json() if c["name"] == ESPERANTO]
    centre = (await client.get(f"/api/centres/{esperanto_id}", headers=staff)).json()
    free = [bed["id"] for unit in centre["units"] for bed in unit["beds"]
            if bed["status"] == "available"]  # fmt: skip
    assert free
    for bed_id in free:
        response = await client.post(
            f"/api/beds/{bed_id}/status",
            json={"status": "out_of_service", "reason": "water damage"},
            headers=staff,
        )
        assert response.status_code == 200, response.text

    officer = await headers_of("officer.liege")
    match = (await flagged_girls_request(client, officer))["match"]
    assert_explained(match)
    first = match["candidates"][0]
    assert first["centre_name"] != ESPERANTO
    assert first["specialised"] is False
    assert first["fallback"] is True
    assert any("fallback" in reason.lower() for reason in first["reasons"])
    assert first["centre_kind"] != "public_youth_institution"
    assert ESPERANTO not in {c["centre_name"] for c in match["candidates"]}
