"""Input the tables cannot store is refused up front, as a 4xx naming the field.

Found by the OpenAPI fuzzing (tests/test_openapi_fuzz.py): texts longer than their column,
the NUL character (PostgreSQL text cannot hold it) and ids beyond the id columns' range
answered 500 on one engine or both. The first test checks every body field against its
column once and for all; the others replay what the fuzzer sent.
"""

from __future__ import annotations

import re
from enum import Enum

import msgspec
import pytest
from piccolo.columns import Array, Column, Varchar
from piccolo.table import Table

from backend.schemas import TokenCreate, UserCreate, UserUpdate
from backend.tables import ApiToken, User
from capacity.schemas import (
    BedsCreate,
    BedUpdate,
    CentreCreate,
    CentreUpdate,
    UnitCreate,
    UnitUpdate,
)
from capacity.tables import Bed, Centre, Unit
from tests.support.capacity import assert_problem
from tests.support.world import centre_body

# Request bodies and the table their fields are stored in (same name, or as given).
STORED_IN: list[tuple[type[msgspec.Struct], type[Table], dict[str, Column]]] = [
    (CentreCreate, Centre, {}),
    (CentreUpdate, Centre, {}),
    (UnitCreate, Unit, {"bed_labels": Bed.label}),
    (UnitUpdate, Unit, {}),
    (BedsCreate, Bed, {"labels": Bed.label}),
    (BedUpdate, Bed, {}),
    (UserCreate, User, {}),
    (UserUpdate, User, {}),
    (TokenCreate, ApiToken, {}),
]


def longest(kind: msgspec.inspect.Type) -> int | None:
    """The longest string the decoded type admits; None when unbounded."""
    if isinstance(kind, msgspec.inspect.UnionType):
        bounds = [
            longest(member)
            for member in kind.types
            if not isinstance(member, msgspec.inspect.NoneType)
        ]
        return None if None in bounds else max(bounds)
    if isinstance(kind, msgspec.inspect.EnumType):
        enum: type[Enum] = kind.cls
        return max(len(str(member.value)) for member in enum)
    if isinstance(kind, msgspec.inspect.LiteralType):
        return max(len(str(value)) for value in kind.values)
    if isinstance(kind, msgspec.inspect.StrType):
        bounds = [kind.max_length]
        if kind.pattern:
            widest = re._parser.parse(kind.pattern).getwidth()[1]
            bounds.append(widest if widest < re._constants.MAXREPEAT else None)
        known = [bound for bound in bounds if bound is not None]
        return min(known) if known else None
    raise TypeError(f"not a string type: {kind}")


def varchar_fields(body: type[msgspec.Struct], table: type[Table], extra: dict[str, Column]):
    for field in msgspec.inspect.type_info(body).fields:
        column = extra.get(field.name) or next(
            (c for c in table._meta.columns if c._meta.name == field.name), None
        )
        kind = field.type
        if isinstance(column, Array):
            column, kind = column.base_column, getattr(kind, "item_type", kind)
        elif isinstance(kind, msgspec.inspect.ListType):
            kind = kind.item_type
        if isinstance(column, Varchar):
            yield field.name, kind, column


@pytest.mark.pure
@pytest.mark.parametrize(
    ("body", "table", "extra"), STORED_IN, ids=[body.__name__ for body, _, _ in STORED_IN]
)
def test_every_text_field_fits_its_column(body, table, extra) -> None:
    too_long = []
    for name, kind, column in varchar_fields(body, table, extra):
        bound = longest(kind)
        if bound is None or bound > column.length:
            too_long.append(
                f"{name}: up to {bound or 'any'} characters, column holds {column.length}"
            )
    assert not too_long, f"{body.__name__} accepts more than {table.__name__} stores: {too_long}"


@pytest.mark.pure
def test_the_bound_of_a_string_type() -> None:
    assert longest(msgspec.inspect.type_info(CentreCreate).fields[0].type) == 160
    province = {f.name: f.type for f in msgspec.inspect.type_info(CentreCreate).fields}["province"]
    assert longest(province) == 6  # ^[A-Z]{2}-[A-Z]{2,3}$
    assert longest(msgspec.inspect.StrType(pattern="^a*$")) is None


# ---------------------------------------------------------------------------
# What the fuzzer sent

CENTRE = centre_body()


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("POST", "/api/centres", {**CENTRE, "name": "Le\x00Relais"}, "name"),
        ("POST", "/api/centres", {**CENTRE, "address": "Rue\x00 1"}, "address"),
        ("POST", "/api/centres", {**CENTRE, "municipality": "N" * 121}, "municipality"),
        ("PATCH", "/api/centres/{centre}", {"operator": "\x00"}, "operator"),
        ("PATCH", "/api/centres/{centre}", {"municipality": "N" * 121}, "municipality"),
        (
            "POST",
            "/api/centres/{centre}/units",
            {"name": "U" * 121, "min_age": 12, "max_age": 17, "gender_policy": "mixed"},
            "name",
        ),
        ("PATCH", "/api/units/{unit}", {"name": "U" * 121}, "name"),
        ("POST", "/api/units/{unit}/beds", {"labels": ["Z\x001"]}, "labels[0]"),
        (
            "POST",
            "/api/beds/{bed}/status",
            {"status": "out_of_service", "reason": "\x00"},
            "reason",
        ),
        ("POST", "/api/me/tokens", {"name": "t" * 81}, "name"),
        ("POST", "/api/me/tokens", {"name": "tok\x00en"}, "name"),
        (
            "POST",
            "/api/users",
            {
                "username": "new.user",
                "display_name": "New\x00",
                "role": "analyst",
                "password": "long-enough-password",
            },
            "display_name",
        ),
    ],
)
async def test_text_the_tables_cannot_store_is_a_400_naming_the_field(
    client, world, method, url, body, field
):
    unit = world.centre_a["units"][0]
    url = url.format(centre=world.centre_a["id"], unit=unit["id"], bed=unit["beds"][0]["id"])
    response = await client.request(method, url, headers=world.auth("admin"), json=body)
    problem = assert_problem(response, 400, field)
    if any("\x00" in text for text in _texts(body)):
        assert "NUL character" in problem["detail"], problem


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


async def test_the_longest_accepted_texts_are_stored(client, world):
    admin = world.auth("admin")
    response = await client.post("/api/me/tokens", headers=admin, json={"name": "t" * 80})
    assert response.status_code == 201, response.text
    response = await client.patch(
        f"/api/centres/{world.centre_a['id']}",
        headers=admin,
        json={"municipality": "N" * 120, "operator": "O" * 160, "name": "C" * 160},
    )
    assert response.status_code == 200, response.text
    assert response.json()["municipality"] == "N" * 120


async def test_a_nul_in_a_sign_in_name_is_a_400(client, world):
    response = await client.post(
        "/api/auth/login", json={"username": "admin\x00", "password": "whatever-it-is"}
    )
    problem = assert_problem(response, 400, "username")
    assert problem["detail"] == "username: Text may not contain the NUL character (\\u0000)."


@pytest.mark.parametrize("missing", [2**31, 10**20])
@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("GET", "/api/users/{id}", None, "user_id"),
        ("PATCH", "/api/users/{id}", {"active": True}, "user_id"),
        ("DELETE", "/api/me/tokens/{id}", None, "token_id"),
    ],
)
async def test_an_id_beyond_the_id_columns_is_404(client, world, method, url, body, field, missing):
    response = await client.request(
        method, url.format(id=missing), headers=world.auth("admin"), json=body
    )
    assert_problem(response, 404, field)


async def test_the_openapi_says_request_bodies_refuse_unknown_fields(client, world):
    schema = (await client.get("/schema/openapi.json")).json()

    def refs(body: dict) -> list[str]:
        # A body may be optional: oneOf [its schema, null].
        options = body.get("oneOf", [body])
        return [option["$ref"].split("/")[-1] for option in options if "$ref" in option]

    bodies = {
        name
        for path in schema["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict) and "requestBody" in operation
        for name in refs(operation["requestBody"]["content"]["application/json"]["schema"])
    }
    assert {"CentreCreate", "UserUpdate", "BedStatusChange"} <= bodies
    components = schema["components"]["schemas"]
    open_bodies = sorted(
        name for name in bodies if components[name].get("additionalProperties") is not False
    )
    assert not open_bodies, f"request bodies documented as accepting unknown fields: {open_bodies}"
