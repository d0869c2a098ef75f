"""Admin pages: centres with their units and beds, users, the on-call rota and escalation
policies, webhook targets, mail subscriptions and the mail server.

Thin like the API's controllers: read the form, call the service the JSON API calls, then
redirect (post/redirect/get) or show the form again with each refusal beside its field.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
from babel import Locale
from litestar import Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from backend import accounts
from backend.errors import DomainError, Forbidden, NotFound
from backend.identity import Role
from backend.schemas import UserCreate, UserOut, UserUpdate
from backend.settings import get_settings
from capacity import service as capacity
from capacity.geography import PROVINCES
from capacity.schemas import (
    BedsCreate,
    CentreCreate,
    CentreOut,
    CentreUpdate,
    UnitCreate,
    UnitUpdate,
)
from capacity.vocabulary import Capability, CentreKind, Community, Country, GenderPolicy
from frontend import i18n
from frontend.i18n import _
from frontend.labels import label
from frontend.web import PageRequest, done, page, roles
from notifications import admin as alerts_admin
from notifications import rota
from notifications.schemas import (
    PolicyIn,
    ShiftCreate,
    SmtpIn,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionUpdate,
)
from notifications.vocabulary import AlertKind, Channel

ADMIN = roles(Role.ADMIN)
Submitted = dict[str, list[str]]
Options = list[tuple[str, str]]


# ---------------------------------------------------------------------------
# Forms: what was sent, what is wrong with it, and how a template shows both


@dataclass
class FormState:
    """One form of a page: its submitted values and errors when it is the one that failed,
    else the defaults the template passes."""

    key: str
    errors: dict[str, str] = field(default_factory=dict)
    submitted: Submitted | None = None

    def id(self, name: str) -> str:
        return f"{self.key}-{name}"

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    def value(self, name: str, default: object = "") -> str:
        if self.submitted is None:
            return "" if default is None else str(default)
        values = self.submitted.get(name)
        return values[-1] if values else ""

    def chosen(self, name: str, defaults: Iterable[object] = ()) -> set[str]:
        if self.submitted is None:
            return {str(value) for value in defaults}
        return set(self.submitted.get(name, []))

    def checked(self, name: str, default: bool = False) -> bool:
        return default if self.submitted is None else name in self.submitted


def _forms(
    failed: str | None, submitted: Submitted | None, errors: dict[str, str]
) -> Callable[[str], FormState]:
    def form(key: str) -> FormState:
        if key == failed:
            return FormState(key, errors, submitted)
        return FormState(key)

    return form


async def _read(request: PageRequest) -> Submitted:
    form = await request.form()
    data: Submitted = {}
    for key, value in form.multi_items():
        if key != "_csrf_token" and isinstance(value, str):
            data.setdefault(key, []).append(value)
    return data


class Fields:
    """Reads typed values out of a submitted form; what is missing or malformed becomes a
    message in the reader's language beside that field."""

    def __init__(self, data: Submitted) -> None:
        self.data = data
        self.errors: dict[str, str] = {}

    def text(self, name: str, *, strip: bool = True, required: bool = False) -> str:
        values = self.data.get(name)
        value = values[-1] if values else ""
        value = value.strip() if strip else value
        if required and not value.strip():
            self.errors[name] = _("Required.")
        return value

    def flag(self, name: str) -> bool:
        return name in self.data

    def all(self, name: str) -> list[str]:
        return [value for value in self.data.get(name, []) if value]

    def items(self, name: str) -> list[str]:
        """A comma (or line) separated list: "A1, A2, A3"."""
        return [part.strip() for part in re.split(r"[,\n]", self.text(name)) if part.strip()]

    def integer(self, name: str, *, required: bool = True) -> int | None:
        raw = self.text(name)
        if not raw:
            if required:
                self.errors[name] = _("Required.")
            return None
        try:
            return int(raw)
        except ValueError:
            self.errors[name] = _("Enter a whole number.")
            return None

    def decimal(self, name: str) -> float | None:
        raw = self.text(name).replace(",", ".")  # 50,47 as well as 50.47
        if not raw:
            self.errors[name] = _("Required.")
            return None
        try:
            return float(raw)
        except ValueError:
            self.errors[name] = _("Enter a number, for example 50.47.")
            return None

    def integers(self, name: str) -> list[int]:
        found = []
        for raw in self.all(name):
            try:
                found.append(int(raw))
            except ValueError:
                self.errors[name] = _("This value is not valid.")
        return found

    def local_time(self, name: str) -> datetime | None:
        raw = self.text(name)
        if not raw:
            self.errors[name] = _("Required.")
            return None
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            self.errors[name] = _("Enter a date and time, for example 2027-03-27 20:00.")
            return None
        return moment.replace(tzinfo=None, second=0, microsecond=0)


_AT = re.compile(r" - at `\$\.?([^`]*)`$")
_MISSING = re.compile(r"Object missing required field `([^`]+)`")


def _explain(message: str) -> str:
    """msgspec's reason, said to a person in their language."""
    if _MISSING.match(message):
        return _("Required.")
    if found := re.search(r"Expected `str` of length >= (\d+)", message):
        n = int(found.group(1))
        return _("Required.") if n == 1 else _("At least %(n)s characters.", n=n)
    if found := re.search(r"Expected `str` of length <= (\d+)", message):
        return _("At most %(n)s characters.", n=int(found.group(1)))
    if found := re.search(r"Expected `array` of length >= (\d+)", message):
        return _("Give at least %(n)s.", n=int(found.group(1)))
    if found := re.search(r"Expected `array` of length <= (\d+)", message):
        return _("At most %(n)s values.", n=int(found.group(1)))
    if found := re.search(r"Expected `(?:int|float)` >= (-?[\d.]+)", message):
        return _("At least %(n)s.", n=i18n.format_number(float(found.group(1))))
    if found := re.search(r"Expected `(?:int|float)` <= (-?[\d.]+)", message):
        return _("At most %(n)s.", n=i18n.format_number(float(found.group(1))))
    if "matching regex" in message:
        return _("This value has the wrong format.")
    if message.startswith("Invalid enum value"):
        return _("Choose one of the values offered.")
    return _("This value is not valid.")


def _invalid(
    error: msgspec.ValidationError, fields: Iterable[str], aliases: dict[str, str] | None = None
) -> dict[str, str]:
    """A msgspec refusal beside the form field it is about (`$.units[0].name` → unit_name)."""
    message = str(error)
    path = ""
    if at := _AT.search(message):
        path, message = at.group(1), message[: at.start()]
    if missing := _MISSING.match(message):
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    return _beside(path, _explain(message), fields, aliases)


def _beside(
    path: str | None, message: str, fields: Iterable[str], aliases: dict[str, str] | None
) -> dict[str, str]:
    name = re.sub(r"\[\d+\]$", "", path or "")  # one label of a list: the list's field
    name = (aliases or {}).get(name, name)
    return {name if name in set(fields) else "_form": message}


def _refused(
    error: DomainError, fields: Iterable[str], aliases: dict[str, str] | None = None
) -> tuple[dict[str, str], int]:
    """A service's refusal beside its field. A refused role, or a missing record the page's
    address names (not one the form chose), is the 403/404 page instead."""
    fields = set(fields)
    name = (aliases or {}).get(error.field or "", error.field)
    if isinstance(error, Forbidden) or (isinstance(error, NotFound) and name not in fields):
        raise error
    status = 422 if isinstance(error, NotFound) else error.status_code
    return _beside(error.field, str(error), fields, aliases), status


# ---------------------------------------------------------------------------
# Choices the forms offer, in the reader's language


def _country_name(code: str) -> str:
    return Locale.parse(i18n.current()).territories.get(code, code)


def _language_name(code: str) -> str:
    return Locale.parse(i18n.current()).languages.get(code, code)


def _countries() -> Options:
    return [(country.value, _country_name(country.value)) for country in Country]


def _communities() -> Options:
    return [("", _("None (outside Belgium)"))] + [(c.value, label(c)) for c in Community]


def _province_groups(with_countries: bool = False) -> list[tuple[str, Options]]:
    language = i18n.current()
    groups = []
    for country in Country:
        name = _country_name(country.value)
        options = [(country.value, name)] if with_countries else []
        options += [
            (code, f"{province.name(language)} ({code})")
            for code, province in PROVINCES.items()
            if province.country is country
        ]
        groups.append((name, options))
    return groups


def _region_name(region: str) -> str:
    province = PROVINCES.get(region)
    return province.name(i18n.current()) if province else _country_name(region)


def _choices() -> dict[str, Any]:
    return {
        "countries": _countries(),
        "communities": _communities(),
        "provinces": _province_groups(),
        "regions": _province_groups(with_countries=True),
        "kinds": [(kind.value, label(kind)) for kind in CentreKind],
        "capabilities": [(c.value, label(c)) for c in Capability],
        "gender_policies": [(policy.value, label(policy)) for policy in GenderPolicy],
        "user_roles": [(role.value, label(role)) for role in Role],
        "user_languages": [(code, i18n.LANGUAGE_NAMES[code]) for code in i18n.LANGUAGES],
        "region_name": _region_name,
        "country_name": _country_name,
        "language_name": _language_name,
    }


# ---------------------------------------------------------------------------
# Centres


CENTRE_FIELDS = (
    "name",
    "operator",
    "country",
    "community",
    "province",
    "municipality",
    "latitude",
    "longitude",
    "kind",
    "capabilities",
    "languages",
    "address",
    "address_confidential",
)
UNIT_FIELDS = ("name", "min_age", "max_age", "gender_policy", "bed_labels")
NEW_UNIT_FIELDS = tuple(f"unit_{name}" for name in UNIT_FIELDS)
# The service names the first unit's fields units[0].<field>; the form, unit_<field>.
NEW_UNIT_ALIASES = {f"units[0].{name}": f"unit_{name}" for name in UNIT_FIELDS}


def _centre_body(fields: Fields) -> dict[str, Any]:
    return {
        "name": fields.text("name", required=True),
        "operator": fields.text("operator"),
        "country": fields.text("country", required=True),
        "community": fields.text("community") or None,
        "province": fields.text("province", required=True),
        "municipality": fields.text("municipality", required=True),
        "latitude": fields.decimal("latitude"),
        "longitude": fields.decimal("longitude"),
        "kind": fields.text("kind", required=True),
        "capabilities": fields.all("capabilities"),
        "languages": [code.lower() for code in fields.items("languages")],
        "address": fields.text("address"),
        "address_confidential": fields.flag("address_confidential"),
    }


def _unit_body(fields: Fields, prefix: str = "") -> dict[str, Any]:
    return {
        "name": fields.text(f"{prefix}name", required=True),
        "min_age": fields.integer(f"{prefix}min_age"),
        "max_age": fields.integer(f"{prefix}max_age"),
        "gender_policy": fields.text(f"{prefix}gender_policy"),
        "bed_labels": fields.items(f"{prefix}bed_labels"),
    }


async def _bed_counts(request: PageRequest, centres: Sequence[CentreOut]) -> dict[int, int]:
    # The list of centres carries no units: each centre is read for its active beds.
    counts = {}
    for centre in centres:
        full = await capacity.get_centre(request.user, centre.id)
        counts[centre.id] = sum(
            1 for unit in full.units if unit.active for bed in unit.beds if bed.active
        )
    return counts


@get("/admin", opt=ADMIN)
async def centres(request: PageRequest) -> Template:
    listed = await capacity.list_centres(request.user, include_inactive=True)
    return page(
        "admin/centres.html",
        request,
        centres=listed,
        beds=await _bed_counts(request, listed),
        region_name=_region_name,
    )


def _new_centre_page(
    request: PageRequest,
    submitted: Submitted | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    errors = errors or {}
    return page(
        "admin/centre_new.html",
        request,
        status,
        errors=errors,
        form=_forms("centre", submitted, errors),
        **_choices(),
    )


@get("/admin/centres/new", opt=ADMIN)
async def new_centre(request: PageRequest) -> Template:
    return _new_centre_page(request)


@post("/admin/centres/new", opt=ADMIN, status_code=303)
async def create_centre(request: PageRequest) -> Response:
    submitted = await _read(request)
    fields = Fields(submitted)
    body = _centre_body(fields)
    # The first unit is optional: only when the form names it or lists its beds.
    if fields.text("unit_name") or fields.text("unit_bed_labels"):
        body["units"] = [_unit_body(fields, "unit_")]
    all_fields = (*CENTRE_FIELDS, *NEW_UNIT_FIELDS)
    if fields.errors:
        return _new_centre_page(request, submitted, fields.errors, 422)
    try:
        created = await capacity.create_centre(request.user, msgspec.convert(body, CentreCreate))
    except msgspec.ValidationError as error:
        return _new_centre_page(
            request, submitted, _invalid(error, all_fields, NEW_UNIT_ALIASES), 422
        )
    except DomainError as error:
        errors, status = _refused(error, all_fields, NEW_UNIT_ALIASES)
        return _new_centre_page(request, submitted, errors, status)
    return done(f"/admin/centres/{created.id}")


async def _centre_page(
    request: PageRequest,
    centre_id: int,
    failed: str | None = None,
    submitted: Submitted | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    errors = errors or {}
    centre = await capacity.get_centre(request.user, centre_id)
    return page(
        "admin/centre.html",
        request,
        status,
        centre=centre,
        errors=errors,
        form=_forms(failed, submitted, errors),
        **_choices(),
    )


@get("/admin/centres/{centre_id:int}", opt=ADMIN)
async def centre_detail(request: PageRequest, centre_id: FromPath[int]) -> Template:
    return await _centre_page(request, centre_id)


async def _centre_action(
    request: PageRequest,
    centre_id: int,
    form_key: str,
    form_fields: Iterable[str],
    build: Callable[[Fields], Any],
    act: Callable[[Any], Awaitable[Any]],
    notice: str = "saved",
) -> Response:
    """One form of the centre page: parse, act, then back to the page (or the page again
    with the refusal beside its field)."""
    submitted = await _read(request)
    fields = Fields(submitted)
    try:
        data = build(fields)
        if fields.errors:
            return await _centre_page(request, centre_id, form_key, submitted, fields.errors, 422)
        outcome = await act(data)
    except msgspec.ValidationError as error:
        return await _centre_page(
            request, centre_id, form_key, submitted, _invalid(error, form_fields), 422
        )
    except DomainError as error:
        errors, status = _refused(error, form_fields)
        return await _centre_page(request, centre_id, form_key, submitted, errors, status)
    return done(f"/admin/centres/{centre_id}", outcome if isinstance(outcome, str) else notice)


@post("/admin/centres/{centre_id:int}", opt=ADMIN, status_code=303)
async def update_centre(request: PageRequest, centre_id: FromPath[int]) -> Response:
    def build(fields: Fields) -> Any:
        body = _centre_body(fields) | {"active": fields.flag("active")}
        return None if fields.errors else msgspec.convert(body, CentreUpdate)

    async def act(data: CentreUpdate) -> None:
        await capacity.update_centre(request.user, centre_id, data)

    return await _centre_action(
        request, centre_id, "centre", (*CENTRE_FIELDS, "active"), build, act
    )


@post("/admin/centres/{centre_id:int}/units", opt=ADMIN, status_code=303)
async def create_unit(request: PageRequest, centre_id: FromPath[int]) -> Response:
    def build(fields: Fields) -> Any:
        body = _unit_body(fields)
        return None if fields.errors else msgspec.convert(body, UnitCreate)

    async def act(data: UnitCreate) -> None:
        await capacity.create_unit(request.user, centre_id, data)

    return await _centre_action(request, centre_id, "unit-new", UNIT_FIELDS, build, act)


async def _check_unit_of(request: PageRequest, centre_id: int, unit_id: int) -> None:
    """The address names a unit of that centre (else 404)."""
    centre = await capacity.get_centre(request.user, centre_id)
    if not any(unit.id == unit_id for unit in centre.units):
        raise NotFound(f"Unit {unit_id} is not a unit of centre {centre_id}.", field="unit_id")


@post("/admin/centres/{centre_id:int}/units/{unit_id:int}", opt=ADMIN, status_code=303)
async def update_unit(
    request: PageRequest, centre_id: FromPath[int], unit_id: FromPath[int]
) -> Response:
    await _check_unit_of(request, centre_id, unit_id)

    def build(fields: Fields) -> Any:
        body = _unit_body(fields)
        del body["bed_labels"]
        body["active"] = fields.flag("active")
        return None if fields.errors else msgspec.convert(body, UnitUpdate)

    async def act(data: UnitUpdate) -> None:
        await capacity.update_unit(unit_id, data)

    fields = (*UNIT_FIELDS, "active")
    return await _centre_action(request, centre_id, f"unit-{unit_id}", fields, build, act)


@post("/admin/centres/{centre_id:int}/units/{unit_id:int}/beds", opt=ADMIN, status_code=303)
async def create_beds(
    request: PageRequest, centre_id: FromPath[int], unit_id: FromPath[int]
) -> Response:
    await _check_unit_of(request, centre_id, unit_id)

    def build(fields: Fields) -> Any:
        return msgspec.convert({"labels": fields.items("labels")}, BedsCreate)

    async def act(data: BedsCreate) -> None:
        await capacity.create_beds(request.user, unit_id, data.labels)

    return await _centre_action(request, centre_id, f"beds-{unit_id}", ("labels",), build, act)


async def _check_bed_of(request: PageRequest, centre_id: int, bed_id: int) -> None:
    """The address names a bed of that centre (else 404)."""
    centre = await capacity.get_centre(request.user, centre_id)
    if not any(bed.id == bed_id for unit in centre.units for bed in unit.beds):
        raise NotFound(f"Bed {bed_id} is not a bed of centre {centre_id}.", field="bed_id")


@post("/admin/centres/{centre_id:int}/beds/{bed_id:int}/active", opt=ADMIN, status_code=303)
async def switch_bed(
    request: PageRequest, centre_id: FromPath[int], bed_id: FromPath[int]
) -> Response:
    await _check_bed_of(request, centre_id, bed_id)

    def build(fields: Fields) -> bool:
        return fields.text("active") == "1"

    async def act(active: bool) -> None:
        await capacity.update_bed(bed_id, label=None, active=active)

    return await _centre_action(request, centre_id, f"bed-{bed_id}", (), build, act)


@post("/admin/centres/{centre_id:int}/beds/{bed_id:int}/delete", opt=ADMIN, status_code=303)
async def delete_bed(
    request: PageRequest, centre_id: FromPath[int], bed_id: FromPath[int]
) -> Response:
    await _check_bed_of(request, centre_id, bed_id)

    async def act(_nothing: None) -> str:
        outcome = await capacity.delete_bed(bed_id)
        # A bed with a history stays, deactivated: the page says so.
        return "deleted" if outcome.deleted else "kept"

    return await _centre_action(request, centre_id, f"bed-{bed_id}", (), lambda fields: None, act)


# ---------------------------------------------------------------------------
# Users


USER_FIELDS = (
    "username",
    "display_name",
    "role",
    "password",
    "language",
    "service",
    "email",
    "active",
    "centre_ids",
)


async def _users_page(
    request: PageRequest,
    submitted: Submitted | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    errors = errors or {}
    listed = await capacity.list_centres(request.user, include_inactive=True)
    return page(
        "admin/users.html",
        request,
        status,
        users=await accounts.list_users(),
        centre_options=_centre_options(listed),
        centre_names={centre.id: centre.name for centre in listed},
        errors=errors,
        form=_forms("user-new", submitted, errors),
        **_choices(),
    )


def _centre_options(centres: Sequence[CentreOut]) -> Options:
    return [(str(c.id), c.name if c.active else f"{c.name} ({_('inactive')})") for c in centres]


def _centre_ids(fields: Fields) -> list[int]:
    # Centres are for centre staff only: boxes left ticked under another role are ignored.
    return fields.integers("centre_ids") if fields.text("role") == Role.CENTRE_STAFF else []


@get("/admin/users", opt=ADMIN)
async def users(request: PageRequest) -> Template:
    return await _users_page(request)


@post("/admin/users", opt=ADMIN, status_code=303)
async def create_user(request: PageRequest) -> Response:
    submitted = await _read(request)
    fields = Fields(submitted)
    body = {
        "username": fields.text("username", required=True),
        "display_name": fields.text("display_name", required=True),
        "role": fields.text("role"),
        "password": fields.text("password", strip=False, required=True),
        "language": fields.text("language") or "fr",
        "service": fields.text("service"),
        "email": fields.text("email"),
        "centre_ids": _centre_ids(fields),
    }
    if fields.errors:
        return await _users_page(request, submitted, fields.errors, 422)
    try:
        created = await accounts.create_user(msgspec.convert(body, UserCreate))
    except msgspec.ValidationError as error:
        return await _users_page(request, submitted, _invalid(error, USER_FIELDS), 422)
    except DomainError as error:
        errors, status = _refused(error, USER_FIELDS)
        return await _users_page(request, submitted, errors, status)
    return done(f"/admin/users/{created.id}")


async def _user_page(
    request: PageRequest,
    user_id: int,
    submitted: Submitted | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    errors = errors or {}
    user: UserOut = await accounts.get_user(user_id)
    return page(
        "admin/user.html",
        request,
        status,
        person=user,
        centre_options=_centre_options(
            await capacity.list_centres(request.user, include_inactive=True)
        ),
        errors=errors,
        form=_forms("user", submitted, errors),
        **_choices(),
    )


@get("/admin/users/{user_id:int}", opt=ADMIN)
async def user_detail(request: PageRequest, user_id: FromPath[int]) -> Template:
    return await _user_page(request, user_id)


@post("/admin/users/{user_id:int}", opt=ADMIN, status_code=303)
async def update_user(request: PageRequest, user_id: FromPath[int]) -> Response:
    submitted = await _read(request)
    fields = Fields(submitted)
    password = fields.text("password", strip=False)
    body: dict[str, Any] = {
        "display_name": fields.text("display_name"),
        "role": fields.text("role"),
        "language": fields.text("language"),
        "service": fields.text("service"),
        "email": fields.text("email"),
        "active": fields.flag("active"),
        "centre_ids": _centre_ids(fields),
    }
    if password:  # empty: the password stays as it is
        body["password"] = password
    if fields.errors:
        return await _user_page(request, user_id, submitted, fields.errors, 422)
    try:
        await accounts.update_user(user_id, msgspec.convert(body, UserUpdate))
    except msgspec.ValidationError as error:
        return await _user_page(request, user_id, submitted, _invalid(error, USER_FIELDS), 422)
    except DomainError as error:
        errors, status = _refused(error, USER_FIELDS)
        return await _user_page(request, user_id, submitted, errors, status)
    return done(f"/admin/users/{user_id}")


# ---------------------------------------------------------------------------
# On-call rota and escalation policies


SHIFT_FIELDS = ("region", "level", "user_id", "starts_local", "ends_local", "repeat_weeks", "note")
POLICY_FIELDS = ("region", "level_1", "level_2", "level_3", "reminder_minutes")


async def _rota_page(
    request: PageRequest,
    failed: str | None = None,
    submitted: Submitted | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    errors = errors or {}
    settings = get_settings()
    people = await accounts.list_users()
    return page(
        "admin/rota.html",
        request,
        status,
        shifts=await alerts_admin.list_shifts(None, None, None),
        policies=await alerts_admin.list_policies(),
        on_call_people=[
            (str(person.id), f"{person.display_name} ({person.username})")
            for person in people
            if person.active and person.role in (Role.COORDINATOR, Role.ADMIN)
        ],
        levels=[(str(level), label(rota.LEVEL_NAMES[level])) for level in rota.LEVELS],
        level_names=rota.LEVEL_NAMES,
        default_minutes=round(settings.escalation_minutes),
        default_reminder=round(settings.reminder_minutes),
        timezone=settings.display_timezone.key,
        errors=errors,
        form=_forms(failed, submitted, errors),
        **_choices(),
    )


@get("/admin/rota", opt=ADMIN)
async def rota_page(request: PageRequest) -> Template:
    return await _rota_page(request)


@post("/admin/rota/shifts", opt=ADMIN, status_code=303)
async def create_shifts(request: PageRequest) -> Response:
    submitted = await _read(request)
    fields = Fields(submitted)
    weeks = fields.integer("repeat_weeks", required=False)
    body = {
        "region": fields.text("region"),
        "level": fields.integer("level"),
        "user_id": fields.integer("user_id"),
        "starts_local": fields.local_time("starts_local"),
        "ends_local": fields.local_time("ends_local"),
        "repeat_weeks": 1 if weeks is None else weeks,
        "note": fields.text("note"),
    }
    if fields.errors:
        return await _rota_page(request, "shift", submitted, fields.errors, 422)
    try:
        await alerts_admin.create_shifts(request.user, msgspec.convert(body, ShiftCreate))
    except msgspec.ValidationError as error:
        errors = _invalid(error, SHIFT_FIELDS)
        return await _rota_page(request, "shift", submitted, errors, 422)
    except DomainError as error:
        errors, status = _refused(error, SHIFT_FIELDS)
        return await _rota_page(request, "shift", submitted, errors, status)
    return done("/admin/rota")


@post("/admin/rota/shifts/{shift_id:int}/delete", opt=ADMIN, status_code=303)
async def delete_shift(request: PageRequest, shift_id: FromPath[int]) -> Response:
    await alerts_admin.delete_shift(shift_id)
    return done("/admin/rota", "deleted")


@post("/admin/rota/policies", opt=ADMIN, status_code=303)
async def set_policy(request: PageRequest) -> Response:
    submitted = await _read(request)
    fields = Fields(submitted)
    region = fields.text("region")
    form_key = f"policy-{region}" if fields.flag("existing") else "policy-new"
    body = {
        "level_minutes": [fields.integer(f"level_{level}") for level in rota.LEVELS],
        "reminder_minutes": fields.integer("reminder_minutes"),
    }
    if fields.errors:
        return await _rota_page(request, form_key, submitted, fields.errors, 422)
    try:
        await alerts_admin.set_policy(region, msgspec.convert(body, PolicyIn))
    except msgspec.ValidationError as error:
        errors = _invalid(error, POLICY_FIELDS)
        if at := re.search(r"level_minutes\[(\d)\]", str(error)):  # [1] is level 2's field
            errors = {f"level_{int(at.group(1)) + 1}": next(iter(errors.values()))}
        return await _rota_page(request, form_key, submitted, errors, 422)
    except DomainError as error:
        errors, status = _refused(error, POLICY_FIELDS)
        return await _rota_page(request, form_key, submitted, errors, status)
    return done("/admin/rota")


# ---------------------------------------------------------------------------
# Webhook targets, mail subscriptions and the mail server


SUBSCRIPTION_FIELDS = ("name", "channel", "url", "secret", "email", "language", "kinds", "regions")
SMTP_FIELDS = ("host", "port", "security", "username", "password", "sender")


def _shown_url(url: str | None) -> str:
    """A webhook's address without its query, which may carry a token."""
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


async def _integrations_page(
    request: PageRequest,
    failed: str | None = None,
    submitted: Submitted | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    errors = errors or {}
    subscriptions: list[SubscriptionOut] = await alerts_admin.list_subscriptions()
    return page(
        "admin/integrations.html",
        request,
        status,
        subscriptions=subscriptions,
        smtp=await alerts_admin.get_smtp(),
        shown_url=_shown_url,
        channels=[(c.value, label(c)) for c in (Channel.WEBHOOK, Channel.EMAIL)],
        alert_kinds=[(kind.value, label(kind)) for kind in AlertKind],
        securities=[
            ("starttls", "STARTTLS"),
            ("tls", "TLS"),
            ("none", _("None (unencrypted)")),
        ],
        errors=errors,
        form=_forms(failed, submitted, errors),
        **_choices(),
    )


@get("/admin/integrations", opt=ADMIN)
async def integrations(request: PageRequest) -> Template:
    return await _integrations_page(request)


@post("/admin/integrations/subscriptions", opt=ADMIN, status_code=303)
async def create_subscription(request: PageRequest) -> Response:
    submitted = await _read(request)
    fields = Fields(submitted)
    body = {
        "name": fields.text("name"),
        "channel": fields.text("channel"),
        # Only what the channel uses: the service refuses a webhook with an e-mail address.
        "url": fields.text("url") or None,
        "secret": fields.text("secret", strip=False) or None,
        "email": fields.text("email") or None,
        "language": fields.text("language") or "fr",
        "kinds": fields.all("kinds"),
        "regions": fields.all("regions"),
    }
    try:
        await alerts_admin.create_subscription(msgspec.convert(body, SubscriptionCreate))
    except msgspec.ValidationError as error:
        errors = _invalid(error, SUBSCRIPTION_FIELDS)
        return await _integrations_page(request, "subscription", submitted, errors, 422)
    except DomainError as error:
        errors, status = _refused(error, SUBSCRIPTION_FIELDS)
        return await _integrations_page(request, "subscription", submitted, errors, status)
    return done("/admin/integrations")


@post(
    "/admin/integrations/subscriptions/{subscription_id:int}/active",
    opt=ADMIN,
    status_code=303,
)
async def switch_subscription(request: PageRequest, subscription_id: FromPath[int]) -> Response:
    fields = Fields(await _read(request))
    change = SubscriptionUpdate(active=fields.text("active") == "1")
    try:
        await alerts_admin.update_subscription(subscription_id, change)
    except DomainError as error:
        errors, status = _refused(error, ())
        return await _integrations_page(request, None, None, errors, status)
    return done("/admin/integrations")


@post(
    "/admin/integrations/subscriptions/{subscription_id:int}/delete",
    opt=ADMIN,
    status_code=303,
)
async def delete_subscription(request: PageRequest, subscription_id: FromPath[int]) -> Response:
    await alerts_admin.delete_subscription(subscription_id)
    return done("/admin/integrations", "deleted")


@post("/admin/integrations/smtp", opt=ADMIN, status_code=303)
async def set_smtp(request: PageRequest) -> Response:
    submitted = await _read(request)
    fields = Fields(submitted)
    password = fields.text("password", strip=False)
    body: dict[str, Any] = {
        "host": fields.text("host", required=True),
        "port": fields.integer("port"),
        "security": fields.text("security"),
        "username": fields.text("username"),
        "sender": fields.text("sender", required=True),
    }
    if password:  # write-only: empty keeps the stored one
        body["password"] = password
    if fields.errors:
        return await _integrations_page(request, "smtp", submitted, fields.errors, 422)
    try:
        await alerts_admin.set_smtp(msgspec.convert(body, SmtpIn))
    except msgspec.ValidationError as error:
        errors = _invalid(error, SMTP_FIELDS)
        return await _integrations_page(request, "smtp", submitted, errors, 422)
    except DomainError as error:
        errors, status = _refused(error, SMTP_FIELDS)
        return await _integrations_page(request, "smtp", submitted, errors, status)
    return done("/admin/integrations")


@post("/admin/integrations/smtp/delete", opt=ADMIN, status_code=303)
async def clear_smtp(request: PageRequest) -> Response:
    await alerts_admin.clear_smtp()
    return done("/admin/integrations", "deleted")


HANDLERS = [
    centres,
    new_centre,
    create_centre,
    centre_detail,
    update_centre,
    create_unit,
    update_unit,
    create_beds,
    switch_bed,
    delete_bed,
    users,
    create_user,
    user_detail,
    update_user,
    rota_page,
    create_shifts,
    delete_shift,
    set_policy,
    integrations,
    create_subscription,
    switch_subscription,
    delete_subscription,
    set_smtp,
    clear_smtp,
]
