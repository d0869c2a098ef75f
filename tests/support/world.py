"""A small invented network for API tests: two centres, beds, and one user of each role."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import msgspec

from backend import accounts
from backend.identity import Principal, Role
from backend.passwords import hash_password
from backend.tables import User
from backend.timeutil import utcnow
from capacity import service as capacity
from capacity.schemas import CentreCreate

PASSWORD = "correct-horse-battery"


@lru_cache(maxsize=1)
def password_hash() -> str:
    return hash_password(PASSWORD)


async def make_user(
    username: str, role: Role, centre_ids: list[int] | None = None, service: str = ""
) -> Principal:
    """A user inserted directly (hashing once per run keeps the suite fast)."""
    row = (
        await User.insert(
            User(
                username=username,
                display_name=username.title(),
                role=role.value,
                language="en",
                service=service,
                password_hash=password_hash(),
                active=True,
                created_at=utcnow(),
            )
        ).returning(User.id)
    )[0]
    if centre_ids:
        await capacity.set_staff_centres(row["id"], centre_ids)
    principal = await accounts.principal_for_user(row["id"])
    assert principal is not None
    return principal


def centre_body(**fields) -> dict:
    """A valid POST /api/centres body (an emergency shelter in Namur), with `fields` on top."""
    return {
        "name": "Le Relais",
        "operator": "ASBL Exemple",
        "country": "BE",
        "community": "french",
        "province": "BE-WNA",
        "municipality": "Namur",
        "latitude": 50.47,
        "longitude": 4.87,
        "kind": "emergency_shelter",
        **fields,
    }


async def make_centre(principal: Principal, **fields) -> dict:
    body = {
        "name": "Centre",
        "operator": "ASBL Exemple",
        "country": "BE",
        "community": "french",
        "province": "BE-WLG",
        "municipality": "Liège",
        "latitude": 50.63,
        "longitude": 5.57,
        "kind": "youth_aid_residential",
        "capabilities": [],
        "languages": ["fr"],
        "address": "Rue Inventée 1, 4000 Liège",
        "address_confidential": False,
        "units": [],
    }
    body.update(fields)
    centre = await capacity.create_centre(principal, msgspec.convert(body, CentreCreate))
    return msgspec.to_builtins(centre)


@dataclass
class World:
    users: dict[str, Principal]
    tokens: dict[str, str]
    centre_a: dict
    centre_b: dict
    extra: dict = field(default_factory=dict)

    def bed(self, centre: dict, label: str) -> int:
        for unit in centre["units"]:
            for bed in unit["beds"]:
                if bed["label"] == label:
                    return bed["id"]
        raise KeyError(label)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


async def build_world() -> World:
    admin = await make_user("admin", Role.ADMIN)
    centre_a = await make_centre(
        admin,
        name="Maison des Tilleuls",
        capabilities=["trauma"],
        units=[
            {
                "name": "Filles",
                "min_age": 12,
                "max_age": 17,
                "gender_policy": "girls",
                "bed_labels": ["A1", "A2", "A3"],
            },
            {
                "name": "Garçons",
                "min_age": 12,
                "max_age": 17,
                "gender_policy": "boys",
                "bed_labels": ["B1", "B2"],
            },
        ],
    )
    centre_b = await make_centre(
        admin,
        name="Esperanto (test)",
        kind="specialised_exploitation",
        province="BE-WBR",
        municipality="Wavre",
        latitude=50.72,
        longitude=4.61,
        capabilities=["trauma", "secure"],
        address="Adresse confidentielle 7",
        address_confidential=True,
        units=[
            {
                "name": "Unité",
                "min_age": 12,
                "max_age": 18,
                "gender_policy": "girls",
                "bed_labels": ["E1", "E2"],
            },
        ],
    )
    users = {
        "admin": admin,
        "officer": await make_user("officer", Role.PLACEMENT_OFFICER, service="SAJ Namur"),
        "coordinator": await make_user("coordinator", Role.COORDINATOR, service="Coordination"),
        "analyst": await make_user("analyst", Role.ANALYST),
        "staff_a": await make_user("staff_a", Role.CENTRE_STAFF, [centre_a["id"]]),
        "staff_b": await make_user("staff_b", Role.CENTRE_STAFF, [centre_b["id"]]),
    }
    tokens = {
        name: (await accounts.create_token(principal.user_id, "tests")).token
        for name, principal in users.items()
    }
    return World(users=users, tokens=tokens, centre_a=centre_a, centre_b=centre_b)
