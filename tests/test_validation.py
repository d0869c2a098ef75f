"""Bad input answers a 4xx RFC 9457 problem naming the field; never a 500, never a partial write."""

from __future__ import annotations

import copy

import pytest

from capacity.tables import Centre
from tests.support.capacity import assert_problem, row_counts
from tests.support.world import centre_body

CENTRE = centre_body(
    capabilities=["trauma"],
    languages=["fr"],
    units=[
        {
            "name": "Filles",
            "min_age": 12,
            "max_age": 17,
            "gender_policy": "girls",
            "bed_labels": ["R1", "R2"],
        },
    ],
)
UNIT = {
    "name": "Mixte",
    "min_age": 12,
    "max_age": 17,
    "gender_policy": "mixed",
    "bed_labels": ["M1"],
}


def centre(**changes) -> dict:
    body = copy.deepcopy(CENTRE)
    body.update(changes)
    return body


def set_path(body: dict, path: str, value) -> dict:
    """A copy of body with one (dotted, [index]) field set; value ... deletes it."""
    body = copy.deepcopy(body)
    target = body
    parts = path.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is ...:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return body


# ---------------------------------------------------------------------------
# Request bodies


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        # unknown fields
        ("colour", "blue", "colour"),
        ("units[0].colour", "blue", "units[0].colour"),
        # wrong types
        ("name", 42, "name"),
        ("latitude", "north", "latitude"),
        ("capabilities", "trauma", "capabilities"),
        ("address_confidential", "yes", "address_confidential"),
        ("units", {"name": "x"}, "units"),
        ("units[0].min_age", "twelve", "units[0].min_age"),
        ("units[0].bed_labels", "R1", "units[0].bed_labels"),
        # closed vocabularies
        ("country", "FR", "country"),
        ("kind", "hotel", "kind"),
        ("capabilities", ["trauma", "flying"], "capabilities"),
        ("community", "walloon", "community"),
        ("units[0].gender_policy", "women", "units[0].gender_policy"),
        # ranges and shapes
        ("units[0].min_age", -1, "units[0].min_age"),
        ("units[0].max_age", 26, "units[0].max_age"),
        ("latitude", 91, "latitude"),
        ("longitude", -181, "longitude"),
        ("name", "", "name"),
        ("languages", ["French"], "languages"),
        ("units[0].bed_labels", ["x" * 41], "units[0].bed_labels"),
        # missing required fields
        ("name", ..., "name"),
        ("units[0].max_age", ..., "units[0].max_age"),
    ],
)
async def test_bad_centre_body_names_the_field(client, world, path, value, field):
    counts = await row_counts()
    response = await client.post(
        "/api/centres", headers=world.auth("admin"), json=set_path(CENTRE, path, value)
    )
    problem = assert_problem(response)
    fields = [error["field"] or "" for error in problem["errors"]]
    assert any(f == field or f.startswith(field) for f in fields), problem
    assert await row_counts() == counts


@pytest.mark.parametrize(
    ("province", "country", "community"),
    [
        ("BE-XXX", "BE", "french"),  # no such province
        ("NL-UT", "BE", "french"),  # a Dutch province for a Belgian centre
        ("BE-WLG", "NL", None),  # a Belgian province for a Dutch centre
        ("BE-WLX", "LU", None),  # the Belgian province of Luxembourg is not the country
    ],
)
async def test_unknown_province_or_one_of_another_country(
    client, world, province, country, community
):
    counts = await row_counts()
    response = await client.post(
        "/api/centres",
        headers=world.auth("admin"),
        json=centre(province=province, country=country, community=community),
    )
    problem = assert_problem(response, 422, field="province")
    assert province in problem["detail"]
    assert await row_counts() == counts


@pytest.mark.parametrize(
    ("country", "province", "community", "ok"),
    [
        ("BE", "BE-VAN", "flemish", True),
        ("BE", "BE-WLG", "german_speaking", True),
        ("BE", "BE-WLG", None, False),  # a Belgian centre belongs to a community
        ("NL", "NL-LI", None, True),
        ("NL", "NL-LI", "flemish", False),  # only Belgian centres have one
        ("LU", "LU-ES", None, True),
        ("LU", "LU-ES", "french", False),
    ],
)
async def test_community_rules(client, world, country, province, community, ok):
    counts = await row_counts()
    body = centre(country=country, province=province, community=community)
    response = await client.post("/api/centres", headers=world.auth("admin"), json=body)
    if ok:
        assert response.status_code == 201, response.text
        assert response.json()["community"] == community
    else:
        assert_problem(response, 422, field="community")
        assert await row_counts() == counts


async def test_a_patch_is_checked_against_the_stored_centre(client, world):
    url = f"/api/centres/{world.centre_a['id']}"
    admin = world.auth("admin")
    # Moving to the Netherlands alone leaves a Belgian province and a community behind.
    assert_problem(await client.patch(url, headers=admin, json={"country": "NL"}), 422)
    assert_problem(
        await client.patch(url, headers=admin, json={"province": "NL-UT"}), 422, field="province"
    )
    assert_problem(
        await client.patch(url, headers=admin, json={"community": None}), 422, field="community"
    )
    # Nothing of a refused patch is kept, not even its valid fields.
    assert_problem(
        await client.patch(url, headers=admin, json={"name": "Renamed", "province": "NL-UT"}), 422
    )
    row = (
        await Centre.select(Centre.name, Centre.province, Centre.country)
        .where(Centre.id == world.centre_a["id"])
        .first()
    )
    assert row == {"name": "Maison des Tilleuls", "province": "BE-WLG", "country": "BE"}
    # All three together are a valid move.
    moved = await client.patch(
        url, headers=admin, json={"country": "NL", "province": "NL-LI", "community": None}
    )
    assert moved.status_code == 200, moved.text


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("POST", "/api/beds/{bed}/status", {"status": "occupied", "who": "me"}, "who"),
        ("POST", "/api/beds/{bed}/status", {"status": 5}, "status"),
        ("POST", "/api/beds/{bed}/status", {"status": "broken"}, "status"),
        ("POST", "/api/beds/{bed}/status", {"reason": "no status"}, "status"),
        ("POST", "/api/beds/{bed}/status", {"status": "occupied", "reason": "x" * 501}, "reason"),
        (
            "PUT",
            "/api/beds/{bed}/expected-departure",
            {"expected_departure": "next week"},
            "expected_departure",
        ),
        ("PUT", "/api/beds/{bed}/expected-departure", {}, "expected_departure"),
        (
            "PUT",
            "/api/beds/{bed}/expected-departure",
            {"expected_departure": None, "note": "x"},
            "note",
        ),
        ("PATCH", "/api/beds/{bed}", {"active": "no"}, "active"),
        ("PATCH", "/api/beds/{bed}", {"label": ""}, "label"),
        ("PATCH", "/api/beds/{bed}", {"status": "occupied"}, "status"),
        ("PATCH", "/api/units/{unit}", {"min_age": 26}, "min_age"),
        ("PATCH", "/api/units/{unit}", {"max_age": -3}, "max_age"),
        ("PATCH", "/api/units/{unit}", {"beds": []}, "beds"),
        ("PATCH", "/api/units/{unit}", {"gender_policy": "any"}, "gender_policy"),
        ("POST", "/api/units/{unit}/beds", {"labels": "A9"}, "labels"),
        ("POST", "/api/units/{unit}/beds", {"labels": []}, "labels"),
        ("POST", "/api/units/{unit}/beds", {"labels": ["A9"], "status": "occupied"}, "status"),
        ("POST", "/api/centres/{centre}/units", {**UNIT, "min_age": 30}, "min_age"),
        ("POST", "/api/centres/{centre}/units", {**UNIT, "beds": 3}, "beds"),
        ("PATCH", "/api/centres/{centre}", {"latitude": "50,6"}, "latitude"),
        ("PATCH", "/api/centres/{centre}", {"units": []}, "units"),
    ],
)
async def test_bad_body_names_the_field(client, world, method, url, body, field):
    who = "staff_a" if "/beds/{bed}/" in url else "admin"
    ids = {
        "bed": world.bed(world.centre_a, "A1"),
        "unit": world.centre_a["units"][0]["id"],
        "centre": world.centre_a["id"],
    }
    counts = await row_counts()
    response = await client.request(method, url.format(**ids), headers=world.auth(who), json=body)
    assert_problem(response, field=field)
    assert await row_counts() == counts


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("POST", "/api/centres/{centre}/units", {**UNIT, "min_age": 16, "max_age": 14}, "min_age"),
        ("PATCH", "/api/units/{unit}", {"min_age": 18}, "min_age"),  # stored max_age is 17
        ("PATCH", "/api/units/{unit}", {"max_age": 11}, "min_age"),  # stored min_age is 12
        ("PATCH", "/api/units/{unit}", {"min_age": 15, "max_age": 13}, "min_age"),
    ],
)
async def test_min_age_above_max_age_is_refused(client, world, method, url, body, field):
    ids = {"unit": world.centre_a["units"][0]["id"], "centre": world.centre_a["id"]}
    counts = await row_counts()
    response = await client.request(
        method, url.format(**ids), headers=world.auth("admin"), json=body
    )
    problem = assert_problem(response, 422, field=field)
    assert "max_age" in problem["detail"]
    assert await row_counts() == counts
    unit = (
        await client.get(f"/api/centres/{world.centre_a['id']}", headers=world.auth("admin"))
    ).json()["units"][0]
    assert (unit["min_age"], unit["max_age"]) == (12, 17)


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"status": "occupied"', b"", b"\xff\xfe", b"[1, 2]", b"null", b'"occupied"'],
)
async def test_malformed_json_is_a_problem_not_a_crash(client, world, raw):
    bed = world.bed(world.centre_a, "A1")
    response = await client.post(
        f"/api/beds/{bed}/status",
        headers={**world.auth("staff_a"), "content-type": "application/json"},
        content=raw,
    )
    problem = assert_problem(response, 400)
    assert problem["detail"] != "'data'"
    assert (await client.get(f"/api/beds/{bed}/history", headers=world.auth("admin"))).json()[-1][
        "to_status"
    ] == "available"


# ---------------------------------------------------------------------------
# Query parameters


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"age": -1}, "age"),
        ({"age": 26}, "age"),
        ({"age": "fifteen"}, "age"),
        ({"age": "1e9"}, "age"),
        ({"age": "99999999999999999999999"}, "age"),
        ({"gender": "female"}, "gender"),
        ({"country": "FR"}, "country"),
        ({"kind": "hotel"}, "kind"),
        ({"capability": ["trauma", "flying"]}, "capability"),
        ({"province": "BE-XXX"}, "province"),
        ({"province": "x" * 300}, "province"),
        ({"free_by": "tomorrow"}, "free_by"),
        ({"free_by": "2001-01-01"}, "free_by"),
    ],
)
async def test_bad_vacancy_query_names_the_parameter(client, world, params, field):
    response = await client.get("/api/vacancies", headers=world.auth("officer"), params=params)
    assert_problem(response, field=field)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"country": "DE"}, "country"),
        ({"kind": "castle"}, "kind"),
        ({"province": "BE-XXX"}, "province"),
        ({"include_inactive": "maybe"}, "include_inactive"),
    ],
)
async def test_bad_centre_list_query_names_the_parameter(client, world, params, field):
    response = await client.get("/api/centres", headers=world.auth("officer"), params=params)
    assert_problem(response, field=field)


# ---------------------------------------------------------------------------
# Unknown ids


@pytest.mark.parametrize("missing", [987654, 2**31, 10**20])
@pytest.mark.parametrize(
    ("method", "url", "body", "resource"),
    [
        ("GET", "/api/centres/{id}", None, "Centre"),
        ("PATCH", "/api/centres/{id}", {"name": "x"}, "Centre"),
        ("POST", "/api/centres/{id}/confirm", None, "Centre"),
        ("POST", "/api/centres/{id}/units", UNIT, "Centre"),
        ("PATCH", "/api/units/{id}", {"name": "x"}, "Unit"),
        ("POST", "/api/units/{id}/beds", {"labels": ["Z1"]}, "Unit"),
        ("PATCH", "/api/beds/{id}", {"label": "Z1"}, "Bed"),
        ("DELETE", "/api/beds/{id}", None, "Bed"),
        ("POST", "/api/beds/{id}/status", {"status": "occupied"}, "Bed"),
        ("PUT", "/api/beds/{id}/expected-departure", {"expected_departure": None}, "Bed"),
        ("GET", "/api/beds/{id}/history", None, "Bed"),
    ],
)
async def test_unknown_id_is_404_naming_the_resource(
    client, world, method, url, body, resource, missing
):
    counts = await row_counts()
    response = await client.request(
        method, url.format(id=missing), headers=world.auth("admin"), json=body
    )
    problem = assert_problem(response, 404, field=f"{resource.lower()}_id")
    assert problem["detail"] == f"{resource} {missing} does not exist."
    assert await row_counts() == counts


async def test_unknown_centre_for_a_staff_member_is_404(client, world):
    response = await client.patch(
        f"/api/users/{world.users['staff_a'].user_id}",
        headers=world.auth("admin"),
        json={"centre_ids": [world.centre_a["id"], 10**20]},
    )
    problem = assert_problem(response, 404, field="centre_ids")
    assert str(10**20) in problem["detail"]


# ---------------------------------------------------------------------------
# Never a partial write


async def test_centre_with_a_bad_later_unit_leaves_nothing_behind(client, world):
    body = centre(
        units=[
            {
                "name": "Filles",
                "min_age": 12,
                "max_age": 17,
                "gender_policy": "girls",
                "bed_labels": ["R1", "R2", "R3"],
            },
            {
                "name": "Garçons",
                "min_age": 12,
                "max_age": 17,
                "gender_policy": "boys",
                "bed_labels": ["G1"],
            },
            {
                "name": "Inversée",
                "min_age": 17,
                "max_age": 12,
                "gender_policy": "mixed",
                "bed_labels": ["X1"],
            },
        ]
    )
    counts = await row_counts()

    response = await client.post("/api/centres", headers=world.auth("admin"), json=body)

    problem = assert_problem(response, 422, field="units[2].min_age")
    assert "17" in problem["detail"] and "12" in problem["detail"]
    assert await row_counts() == counts
    listed = await client.get(
        "/api/centres", headers=world.auth("admin"), params={"include_inactive": True}
    )
    assert "Le Relais" not in [c["name"] for c in listed.json()]


async def test_centre_with_repeated_labels_in_a_later_unit_leaves_nothing_behind(client, world):
    body = centre(
        units=[
            {
                "name": "Filles",
                "min_age": 12,
                "max_age": 17,
                "gender_policy": "girls",
                "bed_labels": ["R1", "R2"],
            },
            {
                "name": "Mixte",
                "min_age": 12,
                "max_age": 17,
                "gender_policy": "mixed",
                "bed_labels": ["M1", "M2", "M1"],
            },
        ]
    )
    counts = await row_counts()
    response = await client.post("/api/centres", headers=world.auth("admin"), json=body)
    problem = assert_problem(response, 422, field="units[1].bed_labels")
    assert "M1" in problem["detail"]
    assert await row_counts() == counts


async def test_beds_with_a_clashing_later_label_leave_nothing_behind(client, world):
    unit = world.centre_a["units"][0]["id"]
    counts = await row_counts()

    response = await client.post(
        f"/api/units/{unit}/beds", headers=world.auth("admin"), json={"labels": ["A4", "A5", "A2"]}
    )

    problem = assert_problem(response, 409, field="labels")
    assert "A2" in problem["detail"]
    assert await row_counts() == counts
    shown = await client.get(f"/api/centres/{world.centre_a['id']}", headers=world.auth("admin"))
    assert [b["label"] for b in shown.json()["units"][0]["beds"]] == ["A1", "A2", "A3"]


async def test_beds_repeated_within_the_request_leave_nothing_behind(client, world):
    unit = world.centre_a["units"][0]["id"]
    counts = await row_counts()
    response = await client.post(
        f"/api/units/{unit}/beds", headers=world.auth("admin"), json={"labels": ["A7", "A8", "A7"]}
    )
    problem = assert_problem(response, 422, field="labels")
    assert "A7" in problem["detail"]
    assert await row_counts() == counts


async def test_unit_with_clashing_bed_labels_leaves_nothing_behind(client, world):
    counts = await row_counts()
    response = await client.post(
        f"/api/centres/{world.centre_a['id']}/units",
        headers=world.auth("admin"),
        json={**UNIT, "bed_labels": ["M1", "M2", "M2"]},
    )
    assert_problem(response, 422, field="bed_labels")
    assert await row_counts() == counts


async def test_a_good_multi_row_request_writes_every_row(client, world):
    counts = await row_counts()
    response = await client.post(
        f"/api/units/{world.centre_a['units'][0]['id']}/beds",
        headers=world.auth("admin"),
        json={"labels": ["A4", "A5", "A6"]},
    )
    assert response.status_code == 201, response.text
    assert [b["label"] for b in response.json()] == ["A4", "A5", "A6"]
    after = await row_counts()
    assert after["bed"] == counts["bed"] + 3
    assert after["event"] == counts["event"] + 3
