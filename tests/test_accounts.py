"""User administration: an admin creates and changes accounts of every role."""

from __future__ import annotations

import pytest

from backend.identity import Role
from backend.tables import User
from capacity.tables import CentreStaff
from tests.support.signin import sign_in

NEW_PASSWORD = "a-long-enough-password"


def new_user(username: str, role: str, **fields) -> dict:
    return {
        "username": username,
        "display_name": username.title(),
        "role": role,
        "password": NEW_PASSWORD,
        **fields,
    }


def assert_problem(response, status: int, field: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert field in [error["field"] for error in body.get("errors", [])], body
    return body


async def usernames(client, world) -> set[str]:
    response = await client.get("/api/users", headers=world.auth("admin"))
    assert response.status_code == 200
    return {user["username"] for user in response.json()}


@pytest.mark.parametrize("role", [role.value for role in Role])
async def test_admin_creates_a_user_of_every_role_who_can_sign_in(client, world, role):
    centre_ids = [world.centre_a["id"]] if role == "centre_staff" else []
    response = await client.post(
        "/api/users",
        headers=world.auth("admin"),
        json=new_user("newcomer", role, centre_ids=centre_ids, language="nl"),
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["username"] == "newcomer"
    assert created["role"] == role
    assert created["centre_ids"] == centre_ids
    assert created["language"] == "nl"
    assert created["active"] is True
    assert "password" not in response.text and NEW_PASSWORD not in response.text

    fetched = await client.get(f"/api/users/{created['id']}", headers=world.auth("admin"))
    assert fetched.json() == created

    signed_in = await sign_in(client, "newcomer", NEW_PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    me = await client.get("/api/me")
    assert me.json()["role"] == role
    assert me.json()["centre_ids"] == centre_ids


async def test_passwords_are_stored_as_argon2id_hashes(client, world):
    response = await client.post(
        "/api/users", headers=world.auth("admin"), json=new_user("hashed", "analyst")
    )
    assert response.status_code == 201, response.text
    row = await User.select(User.password_hash).where(User.username == "hashed").first()
    assert row["password_hash"].startswith("$argon2id$")
    assert NEW_PASSWORD not in row["password_hash"]


async def test_centre_staff_need_at_least_one_centre(client, world):
    response = await client.post(
        "/api/users", headers=world.auth("admin"), json=new_user("lonely", "centre_staff")
    )
    body = assert_problem(response, 422, "centre_ids")
    assert "at least one centre" in body["detail"]
    assert "lonely" not in await usernames(client, world)


@pytest.mark.parametrize("role", ["admin", "placement_officer", "coordinator", "analyst"])
async def test_only_centre_staff_are_bound_to_centres(client, world, role):
    response = await client.post(
        "/api/users",
        headers=world.auth("admin"),
        json=new_user("bound", role, centre_ids=[world.centre_a["id"]]),
    )
    assert_problem(response, 422, "centre_ids")
    assert "bound" not in await usernames(client, world)


async def test_an_unknown_centre_is_404_naming_it_and_nothing_is_created(client, world):
    response = await client.post(
        "/api/users",
        headers=world.auth("admin"),
        json=new_user("ghost", "centre_staff", centre_ids=[world.centre_a["id"], 987654]),
    )
    body = assert_problem(response, 404, "centre_ids")
    assert "987654" in body["detail"]
    assert body["missing"] == [987654]
    # The user row was written before the centres were checked: it must be gone with them.
    assert "ghost" not in await usernames(client, world)
    assert await User.count().where(User.username == "ghost") == 0
    assert await CentreStaff.count().where(CentreStaff.centre == world.centre_a["id"]) == 1


async def test_a_taken_username_is_409(client, world):
    response = await client.post(
        "/api/users", headers=world.auth("admin"), json=new_user("officer", "analyst")
    )
    body = assert_problem(response, 409, "username")
    assert "officer" in body["detail"]
    officer = await client.get(
        f"/api/users/{world.users['officer'].user_id}", headers=world.auth("admin")
    )
    assert officer.json()["role"] == "placement_officer"


async def test_a_short_password_is_400_naming_password(client, world):
    response = await client.post(
        "/api/users",
        headers=world.auth("admin"),
        json=new_user("shorty", "analyst", password="too-short"),
    )
    assert_problem(response, 400, "password")
    assert "shorty" not in await usernames(client, world)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"username": "Has Spaces"}, "username"),
        ({"username": "ab"}, "username"),
        ({"role": "superuser"}, "role"),
        ({"language": "es"}, "language"),
        ({"display_name": ""}, "display_name"),
        ({"is_admin": True}, "is_admin"),
    ],
)
async def test_bad_user_fields_are_400_naming_the_field(client, world, change, field):
    body = {**new_user("checked", "analyst"), **change}
    response = await client.post("/api/users", headers=world.auth("admin"), json=body)
    assert_problem(response, 400, field)


async def test_unknown_user_is_404(client, world):
    response = await client.get("/api/users/987654", headers=world.auth("admin"))
    assert_problem(response, 404, "user_id")
    response = await client.patch(
        "/api/users/987654", headers=world.auth("admin"), json={"active": False}
    )
    assert_problem(response, 404, "user_id")


# ---------------------------------------------------------------------------
# Changing a user


async def patch_user(client, world, name: str, change: dict):
    return await client.patch(
        f"/api/users/{world.users[name].user_id}", headers=world.auth("admin"), json=change
    )


async def test_a_role_change_applies_at_once(client, world):
    """The officer becomes centre staff of centre A: their existing token now acts as such."""
    bed = world.bed(world.centre_a, "A1")
    before = await client.post(
        f"/api/beds/{bed}/status", headers=world.auth("officer"), json={"status": "occupied"}
    )
    assert before.status_code == 403

    response = await patch_user(
        client, world, "officer", {"role": "centre_staff", "centre_ids": [world.centre_a["id"]]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "centre_staff"
    assert response.json()["centre_ids"] == [world.centre_a["id"]]

    after = await client.post(
        f"/api/beds/{bed}/status", headers=world.auth("officer"), json={"status": "occupied"}
    )
    assert after.status_code == 200, after.text


async def test_moving_staff_between_centres(client, world):
    a, b = world.centre_a["id"], world.centre_b["id"]
    response = await patch_user(client, world, "staff_a", {"centre_ids": [b]})
    assert response.json()["centre_ids"] == [b]
    confirm_a = await client.post(f"/api/centres/{a}/confirm", headers=world.auth("staff_a"))
    assert confirm_a.status_code == 403
    confirm_b = await client.post(f"/api/centres/{b}/confirm", headers=world.auth("staff_a"))
    assert confirm_b.status_code == 200

    response = await patch_user(client, world, "staff_a", {"centre_ids": [a, b]})
    assert response.json()["centre_ids"] == sorted([a, b])


async def test_staff_cannot_be_left_without_a_centre(client, world):
    response = await patch_user(client, world, "staff_a", {"centre_ids": []})
    assert_problem(response, 422, "centre_ids")
    response = await patch_user(client, world, "staff_a", {"centre_ids": [987654]})
    assert_problem(response, 404, "centre_ids")
    unchanged = await client.get(
        f"/api/users/{world.users['staff_a'].user_id}", headers=world.auth("admin")
    )
    assert unchanged.json()["centre_ids"] == [world.centre_a["id"]]


async def test_leaving_centre_staff_unbinds_the_centres(client, world):
    response = await patch_user(client, world, "staff_a", {"role": "coordinator"})
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "coordinator"
    assert response.json()["centre_ids"] == []
    user_id = world.users["staff_a"].user_id
    assert await CentreStaff.count().where(CentreStaff.user == user_id) == 0


async def test_becoming_centre_staff_needs_a_centre(client, world):
    response = await patch_user(client, world, "analyst", {"role": "centre_staff"})
    assert_problem(response, 422, "centre_ids")
    response = await patch_user(
        client, world, "analyst", {"role": "admin", "centre_ids": [world.centre_a["id"]]}
    )
    assert_problem(response, 422, "centre_ids")
    unchanged = await client.get(
        f"/api/users/{world.users['analyst'].user_id}", headers=world.auth("admin")
    )
    assert unchanged.json()["role"] == "analyst"


async def test_deactivate_and_reactivate(client, world):
    response = await patch_user(client, world, "analyst", {"active": False})
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert (await client.get("/api/me", headers=world.auth("analyst"))).status_code == 401
    assert (await sign_in(client, "analyst")).status_code == 401

    response = await patch_user(client, world, "analyst", {"active": True})
    assert response.json()["active"] is True
    assert (await client.get("/api/me", headers=world.auth("analyst"))).status_code == 200
    assert (await sign_in(client, "analyst")).status_code == 200


async def test_password_and_profile_change(client, world):
    response = await patch_user(
        client,
        world,
        "coordinator",
        {"password": "another-long-password", "display_name": "Nuit", "language": "fr"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "Nuit"
    assert response.json()["language"] == "fr"
    assert response.json()["role"] == "coordinator"
    row = await User.select(User.password_hash).where(User.username == "coordinator").first()
    assert row["password_hash"].startswith("$argon2id$")
    assert (await sign_in(client, "coordinator")).status_code == 401
    assert (await sign_in(client, "coordinator", "another-long-password")).status_code == 200

    response = await patch_user(client, world, "coordinator", {"password": "short"})
    assert_problem(response, 400, "password")
