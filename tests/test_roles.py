"""Who may do what: every API route, for every role and for no one signed in.

The matrix below is the access policy, written down once. A route added without an access
rule, or without a line here, fails the suite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute

from backend.database import write_transaction
from backend.tables import ApiToken
from backend.timeutil import utcnow
from capacity import service as capacity
from capacity.schemas import BedStatusChange
from capacity.tables import Bed, Centre, OccupancyEvent
from capacity.vocabulary import BedStatus
from notifications import admin
from notifications.recipients import AlertContext
from notifications.schemas import ShiftCreate, SubscriptionCreate
from notifications.service import raise_alert
from notifications.vocabulary import AlertKind, Channel
from tests.support.placement import answer, birth_for_age, create_request, held, open_case
from tests.support.server import AppServer
from tests.support.world import PASSWORD, World, centre_body

ANONYMOUS = "anonymous"
STAFF_ROLES = ("admin", "officer", "coordinator", "analyst", "staff_a", "staff_b")
EVERY_ACTOR = (ANONYMOUS, *STAFF_ROLES)

EVERYONE = frozenset(STAFF_ROLES)
ADMIN = frozenset({"admin"})
# The routes below act on centre A: staff_a works there, staff_b at centre B.
CENTRE_A_ACTORS = frozenset({"admin", "staff_a"})
CENTRE_A_HISTORY = frozenset({"admin", "coordinator", "staff_a"})
# Placement: case managers open cases and requests and hold beds; centre staff see only the
# cases held for or placed in their centre (the test case is held at centre A).
CASE_MANAGERS = frozenset({"officer", "coordinator"})
CASE_LISTERS = frozenset({"admin", "officer", "coordinator", "staff_a", "staff_b"})
CENTRE_A_CASE_READERS = frozenset({"admin", "officer", "coordinator", "staff_a"})
CENTRE_A_FLAG_AUTHORS = frozenset({"officer", "coordinator", "staff_a"})
HOLD_READERS = frozenset({"admin", "coordinator", "staff_a", "staff_b"})
COORDINATOR = frozenset({"coordinator"})
# Runaways at centre A: its staff report them; whoever follows the case reads them and ticks
# the checklist; the centre or a coordinator records the return.
CENTRE_A_RUNAWAY_FOLLOWERS = frozenset({"admin", "officer", "coordinator", "staff_a"})
CENTRE_A_RETURNERS = frozenset({"admin", "coordinator", "staff_a"})
FREE_BEDS = {"officer": "A1", "coordinator": "A3"}
# Alerts: everyone but analysts has an inbox; an alert about centre A's hold reaches its
# staff and the request's officer, and coordinators and admins act on every alert.
ALERT_USERS = EVERYONE - {"analyst"}
CENTRE_A_ALERT_RECEIVERS = frozenset({"admin", "coordinator", "officer", "staff_a"})
ROTA_READERS = frozenset({"admin", "coordinator"})
# Anonymised statistics: analysts and coordinators, never a case-level route for analysts.
STATISTICS_READERS = frozenset({"analyst", "coordinator"})

NEW_CENTRE = centre_body(
    units=[
        {
            "name": "Mixte",
            "min_age": 12,
            "max_age": 17,
            "gender_policy": "mixed",
            "bed_labels": ["R1"],
        },
    ],
)


@dataclass(frozen=True)
class Id:
    """In a rule's body: the caller's id of that name (see _ids)."""

    name: str


@dataclass(frozen=True)
class Rule:
    method: str
    path: str
    """As the app declares it, e.g. /api/beds/{bed_id:int}/status."""
    allowed: frozenset[str]
    ok: int
    """The status an allowed caller gets for the request below."""
    body: Any = None
    ids: dict[str, str] = field(default_factory=dict)
    """Path parameter → which id of the test network to use (default: the parameter's name)."""
    public: bool = False
    """Open without signing in (only sign-in itself)."""
    stream: bool = False
    """An endless event stream: only its status is read."""


RULES = [
    # Sign-in is the one route open to everyone; its own tests are in test_auth.py.
    Rule(
        "POST",
        "/api/auth/login",
        EVERYONE,
        200,
        body={"username": "officer", "password": PASSWORD},
        public=True,
    ),
    Rule("POST", "/api/auth/logout", EVERYONE, 204),
    Rule("GET", "/api/me", EVERYONE, 200),
    Rule("GET", "/api/me/tokens", EVERYONE, 200),
    Rule("POST", "/api/me/tokens", EVERYONE, 201, body={"name": "laptop"}),
    Rule("DELETE", "/api/me/tokens/{token_id:int}", EVERYONE, 200, ids={"token_id": "own_token"}),
    Rule("GET", "/api/users", ADMIN, 200),
    Rule(
        "POST",
        "/api/users",
        ADMIN,
        201,
        body={
            "username": "newcomer",
            "display_name": "Newcomer",
            "role": "analyst",
            "password": "a-long-enough-password",
        },
    ),
    Rule("GET", "/api/users/{user_id:int}", ADMIN, 200),
    Rule("PATCH", "/api/users/{user_id:int}", ADMIN, 200, body={"display_name": "Renamed"}),
    Rule("GET", "/api/centres", EVERYONE, 200),
    Rule("POST", "/api/centres", ADMIN, 201, body=NEW_CENTRE),
    Rule("GET", "/api/centres/{centre_id:int}", EVERYONE, 200),
    Rule("PATCH", "/api/centres/{centre_id:int}", ADMIN, 200, body={"operator": "Autre ASBL"}),
    Rule("POST", "/api/centres/{centre_id:int}/confirm", CENTRE_A_ACTORS, 200),
    Rule(
        "POST",
        "/api/centres/{centre_id:int}/units",
        ADMIN,
        201,
        body={
            "name": "Mixte",
            "min_age": 12,
            "max_age": 17,
            "gender_policy": "mixed",
            "bed_labels": ["M1"],
        },
    ),
    Rule("PATCH", "/api/units/{unit_id:int}", ADMIN, 200, body={"name": "Filles (haut)"}),
    Rule("POST", "/api/units/{unit_id:int}/beds", ADMIN, 201, body={"labels": ["A9"]}),
    Rule("PATCH", "/api/beds/{bed_id:int}", ADMIN, 200, body={"label": "A1bis"}),
    Rule("DELETE", "/api/beds/{bed_id:int}", ADMIN, 200),
    Rule(
        "POST",
        "/api/beds/{bed_id:int}/status",
        CENTRE_A_ACTORS,
        200,
        body={"status": "occupied", "reason": "admitted tonight"},
    ),
    Rule(
        "PUT",
        "/api/beds/{bed_id:int}/expected-departure",
        CENTRE_A_ACTORS,
        200,
        body={"expected_departure": "NEXT_WEEK"},
        ids={"bed_id": "occupied_bed"},
    ),
    Rule("GET", "/api/beds/{bed_id:int}/history", CENTRE_A_HISTORY, 200),
    Rule("GET", "/api/vacancies", EVERYONE, 200),
    Rule("GET", "/api/geography/provinces", EVERYONE, 200),
    Rule("GET", "/api/audit", ADMIN, 200),
    Rule("GET", "/api/statistics", STATISTICS_READERS, 200),
    Rule("GET", "/api/statistics/dimensions", STATISTICS_READERS, 200),
    Rule("GET", "/api/statistics/unmet-need", STATISTICS_READERS, 200),
    # Placement (rows from build_placement). Analysts see no case: every route below is
    # refused to them.
    Rule(
        "POST",
        "/api/cases",
        CASE_MANAGERS,
        201,
        body={**birth_for_age(15), "gender": "girl", "languages": ["fr"]},
    ),
    Rule("GET", "/api/cases", CASE_LISTERS, 200),
    Rule("GET", "/api/cases/{case_code:str}", CENTRE_A_CASE_READERS, 200),
    Rule("PATCH", "/api/cases/{case_code:str}", CASE_MANAGERS, 200, body={"languages": ["fr"]}),
    Rule("GET", "/api/cases/{case_code:str}/export", ADMIN, 200),
    # Each case manager closes a case of its own with nothing in progress.
    Rule(
        "POST",
        "/api/cases/{case_code:str}/close",
        CASE_MANAGERS,
        200,
        ids={"case_code": "fresh_case"},
    ),
    Rule(
        "POST",
        "/api/cases/{case_code:str}/flags",
        CENTRE_A_FLAG_AUTHORS,
        201,
        body={
            "exploitation_type": "loverboy_grooming",
            "discovered_on": "2025-06-01",
            "source_service": "SAJ Namur",
        },
    ),
    Rule(
        "POST",
        "/api/requests",
        CASE_MANAGERS,
        201,
        body={"case_code": Id("fresh_case"), "urgency": "immediate"},
    ),
    Rule("GET", "/api/requests", CASE_LISTERS, 200),
    Rule("GET", "/api/requests/waiting", CASE_LISTERS, 200),
    Rule("GET", "/api/requests/{request_id:int}", CENTRE_A_CASE_READERS, 200),
    Rule(
        "POST",
        "/api/requests/{request_id:int}/match",
        CASE_MANAGERS,
        200,
        ids={"request_id": "open_request"},
    ),
    Rule(
        "POST",
        "/api/requests/{request_id:int}/holds",
        CASE_MANAGERS,
        201,
        body={"bed_id": Id("free_bed")},
        ids={"request_id": "open_request"},
    ),
    Rule(
        "POST",
        "/api/requests/{request_id:int}/cancel",
        CASE_MANAGERS,
        200,
        body={"reason": "the family took her in"},
        ids={"request_id": "open_request"},
    ),
    Rule("GET", "/api/holds", HOLD_READERS, 200),
    Rule("POST", "/api/holds/{hold_id:int}/accept", CENTRE_A_ACTORS, 200),
    Rule(
        "POST",
        "/api/holds/{hold_id:int}/refuse",
        CENTRE_A_ACTORS,
        200,
        body={"reason": "unsuitable_group"},
    ),
    Rule(
        "POST",
        "/api/holds/{hold_id:int}/cancel",
        CASE_MANAGERS,
        200,
        body={"reason": "a better place came up"},
    ),
    Rule("POST", "/api/holds/{hold_id:int}/admit", CENTRE_A_ACTORS, 201),
    Rule("GET", "/api/stays", HOLD_READERS, 200),
    Rule(
        "POST", "/api/stays/{stay_id:int}/end", CENTRE_A_ACTORS, 200, body={"reason": "discharge"}
    ),
    Rule(
        "POST",
        "/api/stays/{stay_id:int}/runaways",
        CENTRE_A_ACTORS,
        201,
        body={"last_seen_at": "JUST_NOW"},
    ),
    Rule("GET", "/api/runaways", CASE_LISTERS, 200),
    Rule("GET", "/api/runaways/{episode_id:int}", CENTRE_A_RUNAWAY_FOLLOWERS, 200),
    Rule(
        "PATCH",
        "/api/runaways/{episode_id:int}/checklist",
        CENTRE_A_RUNAWAY_FOLLOWERS,
        200,
        body={"hotline_informed": True},
    ),
    Rule("POST", "/api/runaways/{episode_id:int}/return", CENTRE_A_RETURNERS, 200, body={}),
    Rule("GET", "/api/alerts", ALERT_USERS, 200),
    Rule("GET", "/api/alerts/{alert_id:int}", CENTRE_A_ALERT_RECEIVERS, 200),
    Rule("POST", "/api/alerts/{alert_id:int}/acknowledge", CENTRE_A_ALERT_RECEIVERS, 200),
    Rule(
        "POST",
        "/api/alerts/{alert_id:int}/resolve",
        CENTRE_A_ALERT_RECEIVERS,
        200,
        body={"note": "seen to"},
    ),
    Rule("GET", "/api/inbox", ALERT_USERS, 200),
    Rule("POST", "/api/inbox/read", ALERT_USERS, 200, body={}),
    Rule("GET", "/api/inbox/stream", ALERT_USERS, 200, stream=True),
    Rule("GET", "/api/subscriptions", ADMIN, 200),
    Rule(
        "POST",
        "/api/subscriptions",
        ADMIN,
        201,
        body={
            "name": "Hotline",
            "channel": "webhook",
            "url": "http://127.0.0.1:9/hook",
            "secret": "s" * 20,
            "kinds": ["runaway"],
        },
    ),
    Rule("GET", "/api/subscriptions/{subscription_id:int}", ADMIN, 200),
    Rule("PATCH", "/api/subscriptions/{subscription_id:int}", ADMIN, 200, body={"active": False}),
    Rule("DELETE", "/api/subscriptions/{subscription_id:int}", ADMIN, 204),
    Rule("GET", "/api/settings/smtp", ADMIN, 200),
    Rule(
        "PUT",
        "/api/settings/smtp",
        ADMIN,
        200,
        body={"host": "127.0.0.1", "port": 2525, "security": "none", "sender": "a@b.test"},
    ),
    Rule("DELETE", "/api/settings/smtp", ADMIN, 204),
    Rule("GET", "/api/oncall/shifts", ROTA_READERS, 200),
    Rule(
        "POST",
        "/api/oncall/shifts",
        ADMIN,
        201,
        body={
            "region": "BE",
            "level": 1,
            "user_id": Id("user_id"),
            "starts_local": "2030-01-07T20:00:00",
            "ends_local": "2030-01-08T08:00:00",
        },
    ),
    Rule("DELETE", "/api/oncall/shifts/{shift_id:int}", ADMIN, 204),
    Rule("GET", "/api/oncall/now/{region:str}", ROTA_READERS, 200),
    Rule("GET", "/api/oncall/policies", ROTA_READERS, 200),
    Rule("GET", "/api/oncall/policies/{region:str}", ROTA_READERS, 200),
    Rule(
        "PUT",
        "/api/oncall/policies/{region:str}",
        ADMIN,
        200,
        body={"level_minutes": [10, 10, 15], "reminder_minutes": 30},
    ),
    Rule("POST", "/api/allocations/proposals", COORDINATOR, 200),
    Rule(
        "POST",
        "/api/allocations/confirm",
        COORDINATOR,
        201,
        body={"assignments": [{"request_id": Id("waiting_request"), "bed_id": Id("freed_bed")}]},
    ),
]
PLACEMENT_PATHS = (
    "/api/cases",
    "/api/requests",
    "/api/holds",
    "/api/stays",
    "/api/allocations",
    "/api/runaways",
)

NOTIFICATION_PATHS = ("/api/alerts", "/api/subscriptions", "/api/oncall")

RULES_BY_ROUTE = {(rule.method, rule.path): rule for rule in RULES}
_PARAMETER = re.compile(r"\{(\w+):\w+\}")


def api_routes(app) -> list[tuple[str, str, Any]]:
    """(method, path, handler) of every API route the app serves (automatic OPTIONS aside)."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api"):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods):
                if method not in ("OPTIONS", "HEAD"):
                    found.append((method, route.path, handler))
    return found


def test_every_api_route_declares_roles(app):
    unguarded = [
        f"{method} {path}"
        for method, path, handler in api_routes(app)
        if not handler.opt.get("roles") and (method, path) != ("POST", "/api/auth/login")
    ]
    assert not unguarded, f"API routes without opt['roles']: {unguarded}"
    public = [
        f"{method} {path}"
        for method, path, handler in api_routes(app)
        if handler.opt.get("exclude_from_auth")
    ]
    assert public == ["POST /api/auth/login"]


def test_every_api_route_is_in_the_matrix(app):
    served = {(method, path) for method, path, _ in api_routes(app)}
    missing = sorted(served - set(RULES_BY_ROUTE))
    assert not missing, f"API routes with no line in the access matrix: {missing}"
    stale = sorted(set(RULES_BY_ROUTE) - served)
    assert not stale, f"Matrix lines for routes the app does not serve: {stale}"
    assert len(RULES_BY_ROUTE) == len(RULES), "a route is listed twice in the matrix"


async def _ids(world: World, actor: str) -> dict[str, Any]:
    """The ids a route acts on: centre A, its first unit, a free bed, an occupied bed, the
    officer's account, a token of the caller's own, and the placement rows."""
    owner = world.users["officer" if actor == ANONYMOUS else actor].user_id
    token = await ApiToken.select(ApiToken.id).where(ApiToken.user == owner).first()
    return {
        "centre_id": world.centre_a["id"],
        "unit_id": world.centre_a["units"][0]["id"],
        # Each caller allowed to change a bed's status gets a free bed of its own.
        "bed_id": world.bed(world.centre_a, "A3" if actor == "staff_a" else "A1"),
        "occupied_bed": world.bed(world.centre_a, "A2"),
        "user_id": world.users["officer"].user_id,
        "own_token": token["id"],
        "region": "BE",
        **_placement_ids(world, actor),
    }


async def build_placement(client, world: World, rule: Rule) -> None:
    """The placement rows a rule's route acts on, kept in world.extra as id name →
    {caller: id}. A hold is answered once and a stay ends once: each caller the rule allows
    gets rows of its own; the others (None) get one of those, at centre A, so that their
    refusal is about who may act, never about a missing row.
    - always: a case held at centre A (staff_a may read it, staff_b may not);
    - hold_id: a pending hold at centre A;
    - stay_id: a stay at centre A;
    - fresh_case: a case with no request yet;
    - open_request, free_bed: an open request and a free bed for it;
    - waiting_request, freed_bed: a boy's request that waits (no boys' bed was free) and
      the boys' bed freed since;
    - episode_id: a runaway reported on a stay at centre A.
    """
    needed, owners = _id_names(rule), sorted(rule.allowed)
    admin = world.users["admin"]
    girls_unit = world.centre_a["units"][0]["id"]
    new_beds = await capacity.create_beds(admin, girls_unit, [f"A{n}" for n in range(4, 11)])
    beds_to_hold = iter(bed.id for bed in new_beds)

    async def hold_at_centre_a(manager: str) -> dict:
        case = await open_case(client, world, manager)
        request = await create_request(client, world, case["case_code"], manager)
        return await held(client, world, request["request"]["id"], next(beds_to_hold), manager)

    extra = world.extra
    read = await hold_at_centre_a("officer")
    extra["case_code"] = {None: read["case_code"]}
    extra["request_id"] = {None: read["request_id"]}
    if "hold_id" in needed:
        holds = {
            actor: (await hold_at_centre_a(actor if actor in CASE_MANAGERS else "officer"))["id"]
            for actor in owners
        }
        extra["hold_id"] = {**holds, None: holds[owners[0]]}
    if "stay_id" in needed:
        stays = {}
        for actor in owners:
            hold = await hold_at_centre_a("officer")
            stays[actor] = (await answer(client, world, hold["id"], "admit", actor))["id"]
        extra["stay_id"] = {**stays, None: stays[owners[0]]}
    if "episode_id" in needed:
        episodes = {}
        for actor in owners:
            hold = await hold_at_centre_a("officer")
            stay = await answer(client, world, hold["id"], "admit", "staff_a")
            response = await client.post(
                f"/api/stays/{stay['id']}/runaways",
                json={"last_seen_at": utcnow().isoformat()},
                headers=world.auth("staff_a"),
            )
            assert response.status_code == 201, response.text
            episodes[actor] = response.json()["id"]
        extra["episode_id"] = {**episodes, None: episodes[owners[0]]}
    if "fresh_case" in needed:
        fresh = {actor: (await open_case(client, world, actor))["case_code"] for actor in owners}
        extra["fresh_case"] = {**fresh, None: fresh[owners[0]]}
    if needed & {"open_request", "free_bed"}:
        requests = {}
        for actor in owners:
            case = await open_case(client, world, actor)
            created = await create_request(client, world, case["case_code"], actor)
            assert created["request"]["status"] == "open"
            requests[actor] = created["request"]["id"]
        extra["open_request"] = {**requests, None: requests[owners[0]]}
        free = {actor: world.bed(world.centre_a, FREE_BEDS[actor]) for actor in owners}
        extra["free_bed"] = {**free, None: free[owners[0]]}
    if needed & {"waiting_request", "freed_bed"}:
        boys_beds = [world.bed(world.centre_a, label) for label in ("B1", "B2")]
        for bed in boys_beds:
            await capacity.change_bed_status(
                admin, bed, BedStatusChange(status=BedStatus.OUT_OF_SERVICE, reason="repairs")
            )
        boy = await open_case(client, world, gender="boy")
        waiting = (await create_request(client, world, boy["case_code"]))["request"]
        assert waiting["status"] == "waiting"
        await capacity.change_bed_status(
            admin, boys_beds[0], BedStatusChange(status=BedStatus.AVAILABLE, reason="repaired")
        )
        extra["waiting_request"] = {None: waiting["id"]}
        extra["freed_bed"] = {None: boys_beds[0]}


async def build_notifications(world: World, rule: Rule) -> None:
    """Rows the notification routes act on: an alert about a hold at centre A per allowed
    caller (acknowledged or resolved once each), a subscription, a shift."""
    owners = sorted(rule.allowed)
    alerts = {}
    for number, actor in enumerate(owners):
        async with write_transaction():
            alerts[actor] = await raise_alert(
                AlertKind.HOLD_RESPONSE_OVERDUE,
                f"roles-test:{number}",
                AlertContext(
                    region="BE-WLG",
                    centre_id=world.centre_a["id"],
                    officer_id=world.users["officer"].user_id,
                ),
                {"hold_id": 1, "request_id": 1, "centre_name": world.centre_a["name"]},
            )
    world.extra["alert_id"] = {**alerts, None: alerts[owners[0]]}
    subscription = await admin.create_subscription(
        SubscriptionCreate(
            name="Police", channel=Channel.WEBHOOK, url="http://127.0.0.1:9/x", secret="s" * 20
        )
    )
    world.extra["subscription_id"] = {None: subscription.id}
    shift = await admin.create_shifts(
        world.users["admin"],
        ShiftCreate(
            region="BE",
            level=1,
            user_id=world.users["coordinator"].user_id,
            starts_local=datetime(2030, 1, 1, 8),
            ends_local=datetime(2030, 1, 1, 20),
        ),
    )
    world.extra["shift_id"] = {None: shift[0].id}


def _placement_ids(world: World, actor: str) -> dict[str, Any]:
    return {name: by_actor.get(actor, by_actor[None]) for name, by_actor in world.extra.items()}


def _id_names(rule: Rule) -> set[str]:
    """The id names a rule's path and body use."""
    names = {rule.ids.get(name, name) for name in _PARAMETER.findall(rule.path)}

    def walk(value: Any) -> None:
        if isinstance(value, Id):
            names.add(value.name)
        elif isinstance(value, dict | list):
            for item in value.values() if isinstance(value, dict) else value:
                walk(item)

    walk(rule.body)
    return names


def _url(rule: Rule, ids: dict[str, Any]) -> str:
    return _PARAMETER.sub(lambda match: str(ids[rule.ids.get(match[1], match[1])]), rule.path)


def _body(rule: Rule, ids: dict[str, Any]) -> Any:
    next_week = (utcnow() + timedelta(days=7)).date().isoformat()

    def resolve(value: Any) -> Any:
        if isinstance(value, Id):
            return ids[value.name]
        if isinstance(value, dict):
            return {key: resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [resolve(item) for item in value]
        if value == "JUST_NOW":
            return utcnow().isoformat()
        return next_week if value == "NEXT_WEEK" else value

    return resolve(rule.body)


def _expected(rule: Rule, actor: str) -> int:
    if actor == ANONYMOUS:
        return rule.ok if rule.public else 401
    return rule.ok if actor in rule.allowed else 403


async def _open_stream(rule: Rule, url: str, headers: dict[str, str]) -> httpx.Response:
    """The in-process test client reads a whole body before answering, which an endless
    stream never ends: open it on a real server and read only the status."""
    with AppServer() as server:
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=10) as http,
            http.stream(rule.method, url, headers=headers) as response,
        ):
            return response


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: f"{rule.method} {rule.path}")
async def test_access(client, world, rule: Rule):
    """Every caller in turn on one network: the refused first (a refusal changes nothing),
    then the allowed, each expecting the route's success status."""
    await capacity.change_bed_status(
        world.users["admin"],
        world.bed(world.centre_a, "A2"),
        BedStatusChange(status=BedStatus.OCCUPIED, reason="admitted"),
    )
    if rule.path.startswith(PLACEMENT_PATHS):
        await build_placement(client, world, rule)
    if rule.path.startswith(NOTIFICATION_PATHS):
        await build_notifications(world, rule)
    actors = sorted(EVERY_ACTOR, key=lambda actor: _expected(rule, actor) == rule.ok)
    wrong = []
    for actor in actors:
        client.cookies.clear()
        headers = {} if actor == ANONYMOUS else world.auth(actor)
        ids = await _ids(world, actor)
        if rule.stream and _expected(rule, actor) == rule.ok:
            response = await _open_stream(rule, _url(rule, ids), headers)
        else:
            response = await client.request(
                rule.method, _url(rule, ids), headers=headers, json=_body(rule, ids)
            )
        expected = _expected(rule, actor)
        if response.status_code != expected:
            wrong.append(f"{actor}: {response.status_code}, expected {expected}: {response.text}")
        elif expected in (401, 403) and (
            not response.headers["content-type"].startswith("application/problem+json")
            or response.json()["status"] != expected
        ):
            wrong.append(f"{actor}: refusal is not problem details: {response.text}")
    assert not wrong, "\n".join(wrong)


# ---------------------------------------------------------------------------
# Centre staff change only their own centres' beds.

CENTRE_ACTIONS = {
    "bed status": ("POST", "/api/beds/{bed}/status", {"status": "out_of_service", "reason": "x"}),
    "expected departure": (
        "PUT",
        "/api/beds/{bed}/expected-departure",
        {"expected_departure": None},
    ),
    "confirm": ("POST", "/api/centres/{centre}/confirm", None),
    "bed history": ("GET", "/api/beds/{bed}/history", None),
}


@pytest.mark.parametrize("action", sorted(CENTRE_ACTIONS))
async def test_centre_staff_act_only_on_their_own_centre(client, world, action: str):
    method, path, body = CENTRE_ACTIONS[action]
    wrong = []
    # The refusals first: they must leave the way clear for the owners after them.
    for actor, centre, expected in [
        ("staff_b", world.centre_a, 403),
        ("staff_a", world.centre_b, 403),
        ("staff_a", world.centre_a, 200),
        ("staff_b", world.centre_b, 200),
    ]:
        bed = centre["units"][0]["beds"][0]["id"]
        response = await client.request(
            method, path.format(bed=bed, centre=centre["id"]), headers=world.auth(actor), json=body
        )
        if response.status_code != expected:
            wrong.append(f"{actor} on {centre['name']}: {response.status_code}: {response.text}")
        elif expected == 403:
            problem = response.json()
            assert problem["status"] == 403
            # The refusal names the rule: not staff of that centre.
            assert f"centre {centre['id']}" in problem["detail"]
            assert problem["errors"][0]["field"] == "centre_id"
    assert not wrong, "\n".join(wrong)


async def test_refused_staff_change_leaves_the_bed_and_its_history_untouched(client, world):
    bed = world.bed(world.centre_a, "A1")
    before = await OccupancyEvent.count().where(OccupancyEvent.bed == bed)
    response = await client.post(
        f"/api/beds/{bed}/status",
        headers=world.auth("staff_b"),
        json={"status": "occupied", "reason": "wrong centre"},
    )
    assert response.status_code == 403
    row = await Bed.select(Bed.status).where(Bed.id == bed).first()
    assert row["status"] == "available"
    assert await OccupancyEvent.count().where(OccupancyEvent.bed == bed) == before

    response = await client.post(
        f"/api/centres/{world.centre_a['id']}/confirm", headers=world.auth("staff_b")
    )
    assert response.status_code == 403
    centre = (
        await Centre.select(Centre.last_confirmed_at)
        .where(Centre.id == world.centre_a["id"])
        .first()
    )
    assert centre["last_confirmed_at"] is None


async def test_staff_bound_to_two_centres_act_on_both(client, world):
    response = await client.patch(
        f"/api/users/{world.users['staff_a'].user_id}",
        headers=world.auth("admin"),
        json={"centre_ids": [world.centre_a["id"], world.centre_b["id"]]},
    )
    assert response.status_code == 200, response.text
    for centre in (world.centre_a, world.centre_b):
        response = await client.post(
            f"/api/centres/{centre['id']}/confirm", headers=world.auth("staff_a")
        )
        assert response.status_code == 200, response.text


# ---------------------------------------------------------------------------
# A confidential address is shown only to admins and that centre's staff.


@pytest.mark.parametrize("actor", STAFF_ROLES)
async def test_confidential_address_only_for_admins_and_own_staff(client, world, actor: str):
    sees = actor in ("admin", "staff_b")
    centre_b = world.centre_b["id"]
    one = await client.get(f"/api/centres/{centre_b}", headers=world.auth(actor))
    assert one.status_code == 200
    listed = await client.get("/api/centres", headers=world.auth(actor))
    [in_list] = [c for c in listed.json() if c["id"] == centre_b]
    for shown in (one.json(), in_list):
        assert shown["address_confidential"] is True
        assert (shown["address"] == "Adresse confidentielle 7") is sees
        if not sees:
            assert shown["address"] is None
    assert "Adresse confidentielle" not in one.text or sees
