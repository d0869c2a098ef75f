"""Schemathesis against the OpenAPI of a real server process: no request may get a 5xx.

The app runs under uvicorn on the test database, seeded with the small test world, and is
called with an API token of the role being fuzzed. Per operation the role may call:
- schemathesis' coverage cases: boundary and just-out-of-bounds values, missing and wrongly
  typed fields, unexpected methods (deterministic);
- Hypothesis-generated valid requests, and invalid ones (from fixed seeds: CI sends the
  same requests on every run).
Ids in paths are mostly unknown to the database when generated freely, so most cases get
their ids "pinned" to rows of the test world: valid bodies then reach the service and the
tables, where length, encoding and range mismatches hide. Freely generated ids are fuzzed
too (unknown, zero, negative and huge numbers).

Request validation does not depend on the role, so only the admin run sends invalid
requests; the centre staff run sends valid requests on its own and another centre's rows.

A failure lists each operation that answered 5xx with curl commands reproducing the first
requests (the token is filtered out: use your own) and the errors the server logged.
More examples locally: SAFEBED_FUZZ_EXAMPLES=200 pytest tests/test_openapi_fuzz.py
"""

from __future__ import annotations

import http.cookiejar
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from litestar import Litestar
from litestar.routes import HTTPRoute
from schemathesis import Case, GenerationMode
from schemathesis.schemas import APIOperation, BaseSchema

from backend.identity import Role
from capacity.geography import province_codes
from capacity.vocabulary import Community, Country
from tests.support.server import AppServer
from tests.support.world import World

EXAMPLES = int(os.environ.get("SAFEBED_FUZZ_EXAMPLES", "10"))
REQUEST_TIMEOUT = 30
SHOWN_PER_OPERATION = 3
ENDLESS_STREAMS = {"GET /api/inbox/stream"}


@dataclass(frozen=True)
class Plan:
    role: Role
    coverage: bool
    """schemathesis' coverage cases, ids pinned"""
    valid_free_ids: int
    """valid requests with freely generated ids: examples per operation"""
    valid_pinned_ids: int
    """valid requests on rows of the test world"""
    invalid: int
    """invalid requests"""
    public_operations: bool
    """also the routes open without signing in (the same for every role)"""


PLANS = {
    "admin": Plan(
        role=Role.ADMIN,
        coverage=True,
        valid_free_ids=EXAMPLES,
        valid_pinned_ids=EXAMPLES,
        invalid=EXAMPLES // 2,  # the coverage cases already go through every field's type
        public_operations=True,
    ),
    "staff_a": Plan(
        role=Role.CENTRE_STAFF,
        coverage=False,
        valid_free_ids=0,
        valid_pinned_ids=2 * EXAMPLES,
        invalid=0,
        public_operations=False,
    ),
}

# A valid request hashes a password, slow by design: invalid requests (refused before any
# hashing) get the full treatment, valid ones a few examples.
HASHES_PASSWORDS = {"POST /api/auth/login", "POST /api/users", "PATCH /api/users/{user_id}"}
VALID_EXAMPLES_WHEN_HASHING = 3


# ---------------------------------------------------------------------------
# Which operations a role may call: from the routes' own access rules


def _label(method: str, path: str) -> str:
    """'GET /api/centres/{centre_id:int}' as the OpenAPI says: 'GET /api/centres/{centre_id}'."""
    return f"{method} " + re.sub(r"{(\w+):[^}]+}", r"{\1}", path)


def operations_open_to(app: Litestar, role: Role, *, public: bool) -> set[str]:
    labels = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/"):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            opt = handler.opt
            if (public and opt.get("exclude_from_auth")) or role in opt.get("roles", ()):
                labels.update(_label(method, route.path) for method in handler.http_methods)
    return labels


# ---------------------------------------------------------------------------
# Who fuzzes, and on which rows


@dataclass
class Identity:
    name: str
    token: str
    user_id: int
    token_ids: set[int]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def known_ids(world: World, identity: Identity) -> dict[str, list[int]]:
    """Path parameter -> ids of rows in the test world. Tokens are left out (only the
    fuzzer's own could be found, and revoking it ends the run)."""
    centres = [world.centre_a, world.centre_b]
    units = [unit for centre in centres for unit in centre["units"]]
    return {
        "centre_id": [centre["id"] for centre in centres],
        "unit_id": [unit["id"] for unit in units],
        "bed_id": [bed["id"] for unit in units for bed in unit["beds"]],
        "user_id": sorted(
            user.user_id for user in world.users.values() if user.user_id != identity.user_id
        ),
    }


METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}


def destructive_last(operation: APIOperation) -> tuple[int, str]:
    """Reads first, deletions last: a deleted bed of the world would only answer 404 after."""
    return METHOD_ORDER.get(operation.method.upper(), 5), operation.path


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def _pick(choices: list, seed: object) -> object:
    return choices[(_as_int(seed) if _as_int(seed) is not None else len(str(seed))) % len(choices)]


def pin_to_world(case: Case, known: dict[str, list[int]]) -> None:
    """Make a generated request name rows of the test world, so it reaches the service:
    integer ids in the path and in `centre_ids`, and a centre's place (a province of its
    country, a community for a Belgian centre only). Each choice follows the generated
    value, so the requests stay deterministic and varied."""
    params = case.path_parameters or {}
    for name, value in params.items():
        if known.get(name) and _as_int(value) is not None:
            params[name] = _pick(known[name], value)
    body = case.body
    if not isinstance(body, dict):
        return
    ids = body.get("centre_ids")
    if isinstance(ids, list) and all(_as_int(i) is not None for i in ids):
        body["centre_ids"] = [_pick(known["centre_id"], i) for i in ids]
    if "province" in body or "country" in body:
        country = _member(Country, body.get("country")) or Country.BE
        if "province" in body:
            body["province"] = _pick(province_codes(country), body["province"])
        if country is Country.BE and _member(Community, body.get("community")) is None:
            body["community"] = _pick(list(Community), body.get("community")).value
        elif country is not Country.BE and "country" in body:
            body["community"] = None


def _member(enum: type[StrEnum], value: object) -> StrEnum | None:
    return next((member for member in enum if member.value == value), None)


def harms_the_fuzzer(case: Case, identity: Identity) -> bool:
    """Requests that would take the fuzzing identity's own access away (revoking its token,
    deactivating or demoting itself): legitimate, but every later request would get 401."""
    label = case.operation.label
    params = case.path_parameters or {}
    if label == "DELETE /api/me/tokens/{token_id}":
        return _as_int(params.get("token_id")) in identity.token_ids
    if label == "PATCH /api/users/{user_id}":
        return _as_int(params.get("user_id")) == identity.user_id
    return False


# ---------------------------------------------------------------------------
# Sending


@dataclass
class Failure:
    source: str
    status: int
    detail: str
    curl: str


@dataclass
class OperationReport:
    label: str
    sent: int = 0
    skipped: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def coverage_cases(schema: BaseSchema, operation: APIOperation) -> Iterator[Case]:
    yield from schema.iter_coverage_cases(
        operation,
        generation_modes=list(GenerationMode),
        generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
    )


def generate_cases(
    operation: APIOperation,
    mode: GenerationMode,
    max_examples: int,
    seed: int,
    send: Callable[[Case], None],
) -> None:
    """Hypothesis examples from a fixed seed: the same requests on every run, and different
    ones for each seed (the runs of one operation would otherwise repeat each other)."""
    if max_examples <= 0:
        return

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        verbosity=hypothesis.Verbosity.quiet,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case) -> None:
        send(case)

    run()


class Fuzzer:
    def __init__(
        self,
        schema: BaseSchema,
        identity: Identity,
        known: dict[str, list[int]],
        plan: Plan,
    ) -> None:
        self.schema = schema
        self.identity = identity
        self.known = known
        self.plan = plan
        self.session = requests.Session()
        # Token only: never let a cookie from one answer authenticate the next request.
        self.session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))

    def fuzz(self, operation: APIOperation) -> OperationReport:
        report = OperationReport(operation.label)
        plan = self.plan
        hashing = operation.label in HASHES_PASSWORDS

        def valid_examples(count: int) -> int:
            return min(count, VALID_EXAMPLES_WHEN_HASHING) if hashing else count

        def sender(source: str, pinned: bool) -> Callable[[Case], None]:
            def send(case: Case) -> None:
                if pinned:
                    pin_to_world(case, self.known)
                self.send(case, source, report)

            return send

        positive, negative = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
        if plan.coverage:
            send = sender("coverage", pinned=True)
            for case in coverage_cases(self.schema, operation):
                valid = case.meta is not None and case.meta.generation.mode is positive
                if not (hashing and valid):
                    send(case)
        pinned, free = valid_examples(plan.valid_pinned_ids), valid_examples(plan.valid_free_ids)
        generate_cases(operation, positive, pinned, 1, sender("valid", pinned=True))
        generate_cases(operation, positive, free, 2, sender("valid, free ids", pinned=False))
        generate_cases(operation, negative, plan.invalid, 3, sender("invalid", pinned=False))
        return report

    def open_stream(self, case: Case) -> tuple[int, str]:
        """An event stream never ends (schemathesis would read it forever): its status only."""
        kwargs = case.as_transport_kwargs(headers=self.identity.headers)
        with self.session.request(**kwargs, stream=True, timeout=REQUEST_TIMEOUT) as response:
            ok = response.status_code == 200
            return response.status_code, "(event stream)" if ok else response.text

    def send(self, case: Case, source: str, report: OperationReport) -> None:
        if harms_the_fuzzer(case, self.identity):
            report.skipped += 1
            return
        report.sent += 1
        try:
            if case.operation.label in ENDLESS_STREAMS:
                status, detail = self.open_stream(case)
            else:
                response = case.call(
                    session=self.session, headers=self.identity.headers, timeout=REQUEST_TIMEOUT
                )
                status, detail = response.status_code, response.text
        except requests.RequestException as error:
            status, detail = 0, f"no answer: {type(error).__name__}: {error}"
        report.statuses[status] += 1
        if status >= 500 or status == 0:
            curl = case.as_curl_command(headers=self.identity.headers)
            report.failures.append(Failure(source, status, _short(detail), curl))


def describe(name: str, reports: Iterable[OperationReport], server_log: str) -> str:
    failing = [r for r in reports if r.failures]
    lines = [f"{len(failing)} operation(s) answered 5xx when fuzzed as {name}:", ""]
    for report in failing:
        lines.append(
            f"{report.label}: {len(report.failures)} of {report.sent} requests failed "
            f"(statuses {dict(sorted(report.statuses.items()))})"
        )
        for failure in report.failures[:SHOWN_PER_OPERATION]:
            lines.append(f"  [{failure.source}] {failure.status}: {failure.detail}")
            lines.append(f"    {failure.curl}")
        lines.append("")
    errors = [line for line in server_log.splitlines() if "ERROR" in line or "Error" in line]
    if errors:
        lines.append("Server log (errors):")
        lines += [f"  {line}" for line in errors[:40]]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Fixtures and the test


@pytest.fixture(scope="module")
def server(migrated: None) -> Iterator[AppServer]:
    with AppServer() as running:
        yield running


@pytest.fixture(scope="module")
def openapi(server: AppServer) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")


def identity_of(server: AppServer, world: World, name: str) -> Identity:
    headers = world.auth(name)
    tokens = requests.get(f"{server.url}/api/me/tokens", headers=headers, timeout=10)
    assert tokens.status_code == 200, tokens.text
    return Identity(
        name=name,
        token=world.tokens[name],
        user_id=world.users[name].user_id,
        token_ids={token["id"] for token in tokens.json()},
    )


def still_signed_in(server: AppServer, identity: Identity, role: Role) -> bool:
    response = requests.get(f"{server.url}/api/me", headers=identity.headers, timeout=10)
    return response.status_code == 200 and response.json()["role"] == role


@pytest.mark.parametrize("name", sorted(PLANS))
def test_no_request_gets_a_server_error(
    server: AppServer, openapi: BaseSchema, app: Litestar, world: World, name: str
) -> None:
    plan = PLANS[name]
    allowed = operations_open_to(app, plan.role, public=plan.public_operations)
    operations = sorted(
        (result.ok() for result in openapi.get_all_operations()), key=destructive_last
    )
    assert allowed <= {op.label for op in operations}, "the OpenAPI lacks routes of the app"
    identity = identity_of(server, world, name)
    fuzzer = Fuzzer(openapi, identity, known_ids(world, identity), plan)
    log_start = len(server.logs())

    reports = []
    for operation in operations:
        if operation.label not in allowed:
            continue
        reports.append(fuzzer.fuzz(operation))
        assert still_signed_in(server, identity, plan.role), (
            f"Fuzzing {operation.label} took {name}'s access away: extend harms_the_fuzzer."
        )

    assert len(reports) == len(allowed)
    assert not any(report.failures for report in reports), describe(
        name, reports, server.logs()[log_start:]
    )
