"""Placement officers' pages: a new request in the order an officer asks on the phone, the
request with its ranked beds and one-click hold, the officer's requests and the waiting list.

Coordinators use them too (they manage every case). Like the JSON API, each handler calls
the placement service with the signed-in user; nothing here reads a table.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import msgspec
from babel import Locale
from babel.dates import get_month_names
from litestar import Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath
from litestar.response import Template

from backend.errors import Conflict, DomainError, Forbidden, NotFound
from backend.identity import Principal, Role
from backend.settings import get_settings
from backend.timeutil import local_today, utcnow
from capacity.geography import PROVINCES, province_codes
from capacity.vocabulary import MAX_AGE, Capability, Country, MinorGender
from frontend import i18n
from frontend.i18n import _, ngettext
from frontend.labels import label
from frontend.web import PageRequest, done, form_errors, page, roles
from placement import matching
from placement import service as placement
from placement.schemas import (
    CandidateOut,
    CaseCreate,
    FlagCreate,
    HoldCreate,
    MatchOut,
    RequestCreate,
    RequestDetail,
    RequestEventOut,
)
from placement.vocabulary import (
    ExploitationType,
    MigrationStatus,
    NationalityGroup,
    RequestStatus,
    Urgency,
)

MANAGERS = roles(Role.PLACEMENT_OFFICER, Role.COORDINATOR)

SEARCHABLE = (RequestStatus.OPEN, RequestStatus.WAITING)
IN_PROGRESS = (*SEARCHABLE, RequestStatus.HELD, RequestStatus.ACCEPTED)
CLOSED_SHOWN = 20  # on "my requests", the most recent closed ones only

FORM_LANGUAGES = ("fr", "nl", "de", "en")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
MAX_LANGUAGES = 10

NEW_REQUEST_FIELDS = (
    "urgency",
    "needed_on",
    "case_code",
    "age",
    "birth_year",
    "birth_month",
    "gender",
    "languages",
    "languages_other",
    "nationality_group",
    "migration_status",
    "exploitation_type",
    "required_capabilities",
    "preferred_capabilities",
    "excluded_provinces",
    "cross_border_allowed",
    "judge_ordered_public_institution",
    "notes",
    "requesting_service",
)
# Service fields that this form asks under another name.
FIELD_ALIASES = {
    "care_needs": "required_capabilities",
    "discovered_on": "exploitation_type",
    "source_service": "requesting_service",
    "home_country": "cross_border_allowed",
}


def _in_sentence(word: str) -> str:
    """A label inside a sentence: lower case, except in German (nouns keep their capital)."""
    return word if i18n.current() == "de" else word.lower()


def _today() -> date:
    return local_today(get_settings().display_timezone)


def _text(form: FormMultiDict, name: str) -> str:
    return str(form.get(name) or "").strip()


def _all(form: FormMultiDict, name: str) -> list[str]:
    return [str(value).strip() for value in form.getall(name, []) if str(value).strip()]


def _remapped(errors: dict[str, str]) -> dict[str, str]:
    return {FIELD_ALIASES.get(field, field): message for field, message in errors.items()}


def _domain_errors(error: DomainError, fields: tuple[str, ...]) -> dict[str, str]:
    """A service refusal beside its field, in the user's words where we know the case."""
    if error.field == "case_code" and isinstance(error, NotFound):
        return {
            "case_code": _("No case has this code. Check it, or leave it empty for a new minor.")
        }
    if error.field == "case_code" and isinstance(error, Forbidden):
        return {
            "case_code": _(
                "This case belongs to another service: only its officers and coordinators use it."
            )
        }
    return _remapped(form_errors(error, (*fields, *FIELD_ALIASES)))


def _validation_field(error: msgspec.ValidationError) -> str | None:
    found = re.search(r"at `\$\.(\w+)", str(error))
    return found.group(1) if found else None


# ---------------------------------------------------------------------------
# New request


def _birth_for_age(age: int, today: date) -> tuple[int, int]:
    """Birth year and month for a stated age: half a year past that birthday, so the age
    stays right for the months to come."""
    months = today.year * 12 + (today.month - 1) - age * 12 - 6
    return months // 12, months % 12 + 1


def _blank_form(principal: Principal) -> dict[str, Any]:
    return {
        "urgency": Urgency.IMMEDIATE.value,
        "needed_on": "",
        "case_code": "",
        "age": "",
        "birth_year": "",
        "birth_month": "",
        "gender": "",
        "languages": [],
        "languages_other": "",
        "nationality_group": NationalityGroup.UNKNOWN.value,
        "migration_status": MigrationStatus.UNKNOWN.value,
        "exploitation_type": "",
        "required_capabilities": [],
        "preferred_capabilities": [],
        "excluded_provinces": [],
        "cross_border_allowed": False,
        "judge_ordered_public_institution": False,
        "notes": "",
        "requesting_service": principal.service,
    }


def _form_values(form: FormMultiDict) -> dict[str, Any]:
    single = (
        "urgency",
        "needed_on",
        "age",
        "birth_year",
        "birth_month",
        "gender",
        "languages_other",
        "nationality_group",
        "migration_status",
        "exploitation_type",
        "requesting_service",
    )
    values: dict[str, Any] = {name: _text(form, name) for name in single}
    values["case_code"] = _text(form, "case_code").upper()
    values["notes"] = str(form.get("notes") or "").strip()
    for name in ("languages", "required_capabilities", "preferred_capabilities"):
        values[name] = _all(form, name)
    values["excluded_provinces"] = _all(form, "excluded_provinces")
    values["cross_border_allowed"] = bool(form.get("cross_border_allowed"))
    values["judge_ordered_public_institution"] = bool(form.get("judge_ordered_public_institution"))
    return values


def _read_birth(values: dict[str, Any], today: date, errors: dict[str, str]) -> tuple[int, int]:
    first_year, last_year = today.year - MAX_AGE, today.year
    if values["birth_year"] or values["birth_month"]:
        try:
            year = int(values["birth_year"])
        except ValueError:
            year = 0
        if not first_year <= year <= last_year:
            errors["birth_year"] = _(
                "Choose a birth year from %(first)s to %(last)s.", first=first_year, last=last_year
            )
        try:
            month = int(values["birth_month"])
        except ValueError:
            month = 0
        if not 1 <= month <= 12:
            errors["birth_month"] = _("Choose the birth month too.")
        elif (year, month) > (today.year, today.month):
            errors["birth_month"] = _("This birth month is in the future.")
        return year, month
    if values["age"]:
        try:
            age = int(values["age"])
        except ValueError:
            age = -1
        if not 0 <= age <= MAX_AGE:
            errors["age"] = _("Give the age in whole years, from 0 to %(max)s.", max=MAX_AGE)
            return 0, 0
        return _birth_for_age(age, today)
    errors["age"] = _("Give the age, or the birth year and month.")
    return 0, 0


def _read_languages(values: dict[str, Any], errors: dict[str, str]) -> list[str]:
    chosen = [code for code in values["languages"] if code in FORM_LANGUAGES]
    others = [code.lower() for code in re.split(r"[\s,;]+", values["languages_other"]) if code]
    if any(not LANGUAGE_CODE.match(code) for code in others):
        errors["languages_other"] = _(
            "Write language codes of two or three letters, separated by commas (for example "
            "ar, ti)."
        )
    languages = list(dict.fromkeys(chosen + others))
    if len(languages) > MAX_LANGUAGES:
        errors["languages_other"] = _("At most %(n)s languages.", n=MAX_LANGUAGES)
    return languages


def _convert(
    body: dict[str, Any] | None, kind: type, errors: dict[str, str], checked: tuple[str, ...]
) -> Any:
    """`body` as the service's input struct, or None with an error beside the field at fault
    (not tried when the fields checked above already have an error: one message each)."""
    if body is None or any(field in errors for field in checked):
        return None
    try:
        return msgspec.convert(body, kind)
    except msgspec.ValidationError as error:
        field = _validation_field(error) or "_form"
        field = "languages_other" if field == "languages" else FIELD_ALIASES.get(field, field)
        message = _("This value is not accepted: please check it.")
        errors.setdefault(field if field in NEW_REQUEST_FIELDS else "_form", message)
        return None


def _read_new_request(
    values: dict[str, Any], principal: Principal
) -> tuple[CaseCreate | None, FlagCreate | None, RequestCreate | None, dict[str, str]]:
    """Everything the form says, checked before anything is written: a case to open (unless
    a case code is given), a follow-up flag to add, and the request."""
    errors: dict[str, str] = {}
    today = _today()
    if values["urgency"] not in set(Urgency):
        errors["urgency"] = _("Choose how urgent the placement is.")
    needed_on: str | None = None
    if values["urgency"] == Urgency.PLANNED.value:
        try:
            day = date.fromisoformat(values["needed_on"])
        except ValueError:
            errors["needed_on"] = _("A planned request needs the day the bed is needed.")
        else:
            if day < today:
                errors["needed_on"] = _("This day is in the past.")
            needed_on = day.isoformat()

    case_body: dict[str, Any] | None = None
    if not values["case_code"]:
        if values["gender"] not in set(MinorGender):
            errors["gender"] = _("Choose the gender.")
        birth_year, birth_month = _read_birth(values, today, errors)
        case_body = {
            "birth_year": birth_year,
            "birth_month": birth_month,
            "gender": values["gender"],
            "languages": _read_languages(values, errors),
            "nationality_group": values["nationality_group"] or NationalityGroup.UNKNOWN.value,
            "migration_status": values["migration_status"] or MigrationStatus.UNKNOWN.value,
            # What the minor needs belongs to the case too: it weighs in every later search.
            "care_needs": sorted(
                set(values["required_capabilities"]) | set(values["preferred_capabilities"])
            ),
        }

    both = set(values["required_capabilities"]) & set(values["preferred_capabilities"])
    if both:
        errors["preferred_capabilities"] = _(
            "%(needs)s is ticked as both required and preferred: choose one.",
            needs=", ".join(label(need) for need in sorted(both)),
        )
    if any(code not in PROVINCES for code in values["excluded_provinces"]):
        errors["excluded_provinces"] = _("Choose provinces from the list.")
    service = values["requesting_service"] or principal.service
    if not service:
        errors["requesting_service"] = _("Name the requesting service.")

    flag_body: dict[str, Any] | None = None
    if values["exploitation_type"]:
        flag_body = {
            "exploitation_type": values["exploitation_type"],
            "discovered_on": today.isoformat(),
            "source_service": service or "-",
        }
    request_body = {
        "case_code": values["case_code"] or "-",  # the new case's code, once it is opened
        "urgency": values["urgency"],
        "needed_on": needed_on,
        "required_capabilities": values["required_capabilities"],
        "preferred_capabilities": values["preferred_capabilities"],
        "excluded_provinces": values["excluded_provinces"],
        "home_country": Country.BE.value,
        "cross_border_allowed": values["cross_border_allowed"],
        "judge_ordered_public_institution": values["judge_ordered_public_institution"],
        "notes": values["notes"],
        "requesting_service": service or None,
    }

    case = _convert(
        case_body,
        CaseCreate,
        errors,
        ("gender", "age", "birth_year", "birth_month", "languages_other"),
    )
    flag = _convert(flag_body, FlagCreate, errors, ("requesting_service",))
    request_data = _convert(
        request_body,
        RequestCreate,
        errors,
        ("urgency", "needed_on", "preferred_capabilities", "excluded_provinces"),
    )
    return case, flag, request_data, errors


def _new_request_page(
    request: PageRequest, values: dict[str, Any], status_code: int = 200, **context: Any
) -> Template:
    today = _today()
    language = i18n.current()
    locale = Locale.parse(f"{language}_BE")
    months = get_month_names("wide", context="stand-alone", locale=locale)
    return page(
        "officer/new_request.html",
        request,
        status_code,
        form=values,
        field_order=NEW_REQUEST_FIELDS,
        today=today.isoformat(),
        urgencies=list(Urgency),
        genders=list(MinorGender),
        form_languages=[(code, locale.languages.get(code, code)) for code in FORM_LANGUAGES],
        birth_years=list(range(today.year, today.year - MAX_AGE - 1, -1)),
        months=[(number, months[number]) for number in range(1, 13)],
        nationality_groups=list(NationalityGroup),
        migration_statuses=list(MigrationStatus),
        exploitation_types=list(ExploitationType),
        capabilities=list(Capability),
        provinces=sorted(
            ((code, PROVINCES[code].name(language)) for code in province_codes(Country.BE)),
            key=lambda item: item[1],
        ),
        **context,
    )


@get("/requests/new", opt=MANAGERS)
async def new_request(request: PageRequest) -> Template:
    return _new_request_page(request, _blank_form(request.user))


@post("/requests/new", opt=MANAGERS, status_code=303)
async def create_request(request: PageRequest) -> Response:
    principal = request.user
    values = _form_values(await request.form())
    case, flag, request_data, errors = _read_new_request(values, principal)
    if errors or request_data is None:
        return _new_request_page(request, values, 422, errors=errors)
    opened = ""
    flagged = False
    try:
        case_code = values["case_code"]
        if case is not None:
            case_code = opened = (await placement.open_case(principal, case)).case_code
        if flag is not None:
            await placement.add_flag(principal, case_code, flag)
            flagged = True
        created = await placement.create_request(
            principal, msgspec.structs.replace(request_data, case_code=case_code)
        )
    except DomainError as error:
        # What was already written stays: send the form again with the new case's code (and
        # without the flag already recorded), so nothing is written twice.
        if opened:
            values["case_code"] = opened
        if flagged:
            values["exploitation_type"] = ""
        return _new_request_page(
            request,
            values,
            error.status_code,
            errors=_domain_errors(error, NEW_REQUEST_FIELDS),
            opened=opened,
            flagged=flagged,
        )
    return done(f"/requests/{created.request.id}", "created")


# ---------------------------------------------------------------------------
# One request: its beds, its hold, its history


def _excluded_texts(excluded: dict[str, int]) -> list[str]:
    """ "14 beds excluded by age", one line per hard rule that excluded any bed."""
    texts = []
    for reason, n in excluded.items():
        if not n:
            continue
        if reason == "not_available":
            text = ngettext(
                "%(num)s bed excluded: not free in time",
                "%(num)s beds excluded: not free in time",
                n,
            )
        elif reason == "age":
            text = ngettext("%(num)s bed excluded by age", "%(num)s beds excluded by age", n)
        elif reason == "gender":
            text = ngettext(
                "%(num)s bed excluded by gender policy", "%(num)s beds excluded by gender policy", n
            )
        elif reason == "required_capability":
            text = ngettext(
                "%(num)s bed excluded: a required care is missing",
                "%(num)s beds excluded: a required care is missing",
                n,
            )
        elif reason == "public_institution":
            text = ngettext(
                "%(num)s bed excluded by the public institution rule",
                "%(num)s beds excluded by the public institution rule",
                n,
            )
        elif reason == "cross_border":
            text = ngettext(
                "%(num)s bed excluded: in another country",
                "%(num)s beds excluded: in another country",
                n,
            )
        elif reason == "excluded_zone":
            text = ngettext(
                "%(num)s bed excluded by safety zone", "%(num)s beds excluded by safety zone", n
            )
        elif reason == "safety_distance":
            text = ngettext(
                "%(num)s bed excluded: too near the danger point",
                "%(num)s beds excluded: too near the danger point",
                n,
            )
        else:
            text = f"{n} {reason}"
        texts.append(text)
    return texts


def _action_text(action: str) -> str:
    texts = {
        "created": _("Request created"),
        "candidates_shown": _("Candidate beds shown"),
        "no_candidate": _("No suitable bed: on the waiting list"),
        "held": _("Bed held"),
        "accepted": _("Accepted by the centre"),
        "refused": _("Refused by the centre"),
        "hold_cancelled": _("Hold cancelled"),
        "hold_expired": _("Hold expired"),
        "response_overdue": _("The centre did not answer in time"),
        "admitted": _("Admitted"),
        "cancelled": _("Request cancelled"),
        "offered": _("A bed became free: offered to this request"),
    }
    return texts.get(action, action)


# The matcher writes its reasons in English for the API; pages say them again from the
# candidate's own fields, in the reader's language.
_CAPABILITY_BY_REASON = {matching._capability_label(c.value): c for c in Capability}


def _language_names(codes: str) -> str:
    languages = Locale.parse(f"{i18n.current()}_BE").languages
    return ", ".join(languages.get(code.strip(), code.strip()) for code in codes.split(","))


def _part_text(code: str, reason: str, candidate: CandidateOut) -> str:
    if code == "preferred_capability" and reason in _CAPABILITY_BY_REASON:
        return label(_CAPABILITY_BY_REASON[reason])
    if code == "exploitation_care":
        return label(Capability.EXPLOITATION_CARE)
    if code == "language" and reason.startswith("Staff speak "):
        return _("Staff speak %(languages)s", languages=_language_names(reason[12:]))
    if code == "away_from_danger" and candidate.distance_from_danger_km is not None:
        return _(
            "%(km)s km from the danger point",
            km=i18n.format_number(candidate.distance_from_danger_km),
        )
    if code == "near_reference":
        found = re.match(r"([\d.]+) km", reason)
        if found:
            km = i18n.format_number(float(found.group(1)))
            return _("%(km)s km from school or family", km=km)
    if code == "free_now":
        return _("Free now")
    return reason


def _facts(candidate: CandidateOut, detail: RequestDetail) -> list[str]:
    facts = [
        _(
            "Ages %(low)s to %(high)s, %(policy)s",
            low=candidate.min_age,
            high=candidate.max_age,
            policy=_in_sentence(label(candidate.gender_policy)),
        )
    ]
    if not candidate.free_now and candidate.expected_departure is not None:
        facts.append(_("Free from %(day)s", day=i18n.format_day(candidate.expected_departure)))
    if candidate.country != detail.home_country:
        facts.append(_("Cross-border: %(country)s", country=candidate.country))
    if detail.judge_ordered_public_institution:
        facts.append(_("Public youth institution, as ordered by the judge"))
    return facts


def _candidate_view(candidate: CandidateOut, detail: RequestDetail) -> dict[str, Any]:
    return {
        "c": candidate,
        "parts": [
            (_part_text(part.code, part.reason, candidate), part.points) for part in candidate.parts
        ],
        "facts": _facts(candidate, detail),
    }


def _latest_offer(events: list[RequestEventOut]) -> dict[str, Any] | None:
    offers = [event for event in events if event.action == "offered"]
    return {"at": offers[-1].at, **offers[-1].detail} if offers else None


def _request_context(detail: RequestDetail, match: MatchOut | None) -> dict[str, Any]:
    language = i18n.current()
    searchable = detail.status in SEARCHABLE
    offer = _latest_offer(detail.events) if searchable else None
    candidates = [_candidate_view(c, detail) for c in match.candidates] if match else []
    shown = [event for event in detail.events if event.action == "candidates_shown"]
    return {
        "req": detail,
        "match": match,
        "candidates": candidates,
        "all_fallback": bool(candidates) and all(view["c"].fallback for view in candidates),
        "excluded": _excluded_texts(match.excluded) if match else [],
        "offer": offer,
        "offer_still_free": bool(
            offer and match and any(c.bed_id == offer.get("bed_id") for c in match.candidates)
        ),
        "history": [
            (event, _action_text(event.action))
            for event in reversed(detail.events)
            if event.action != "candidates_shown"
        ],
        # The list on this page was recorded after `detail` was read.
        "searches": len(shown) + (1 if match else 0),
        "last_search": utcnow() if match else (shown[-1].at if shown else None),
        "excluded_provinces": [
            PROVINCES[code].name(language) if code in PROVINCES else code
            for code in detail.excluded_provinces
        ],
        "searchable": searchable,
        "cancellable": detail.status in IN_PROGRESS,
    }


async def _request_page(
    request: PageRequest,
    request_id: int,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    principal = request.user
    detail = await placement.get_request(principal, request_id)
    match = None
    if detail.status in SEARCHABLE:
        # Every list shown is recorded in the request's history (DESIGN §4), so only an
        # open or waiting request is searched.
        try:
            match = await placement.match_request(principal, request_id)
        except Conflict:
            match = None
        if match is None or match.request_status is not detail.status:
            detail = await placement.get_request(principal, request_id)
    return page(
        "officer/request.html",
        request,
        status_code,
        errors=errors or {},
        **_request_context(detail, match),
        **context,
    )


@get("/requests/{request_id:int}", opt=MANAGERS)
async def request_detail(request: PageRequest, request_id: FromPath[int]) -> Template:
    return await _request_page(request, request_id)


def _hold_error(error: DomainError) -> str:
    if isinstance(error, Conflict) and error.field == "bed_id":
        if "excluded_by" in error.extra:
            return _("This bed does not suit this request.")
        return _("This bed is no longer free: someone took it just now. Choose another one.")
    if isinstance(error, Conflict) and "current_status" in error.extra:
        return _(
            "This request is now “%(status)s”: beds are searched and held only for an open "
            "or waiting request.",
            status=label(error.extra["current_status"]),
        )
    return str(error)


def _passes(error: DomainError) -> bool:
    """Errors about the request itself, or the user's right to it: the 403/404 pages."""
    return isinstance(error, Forbidden) or (
        isinstance(error, NotFound) and error.field == "request_id"
    )


@post("/requests/{request_id:int}/hold", opt=MANAGERS, status_code=303)
async def hold_bed(request: PageRequest, request_id: FromPath[int]) -> Response:
    form = await request.form()
    try:
        data = HoldCreate(bed_id=int(_text(form, "bed_id")))
    except ValueError:
        errors = {"_form": _("Choose a bed to hold.")}
        return await _request_page(request, request_id, 422, errors)
    try:
        await placement.create_hold(request.user, request_id, data)
    except DomainError as error:
        if _passes(error):
            raise
        return await _request_page(
            request, request_id, error.status_code, {"_form": _hold_error(error)}
        )
    return done(f"/requests/{request_id}", "held")


@post("/requests/{request_id:int}/match", opt=MANAGERS, status_code=303)
async def search_again(request: PageRequest, request_id: FromPath[int]) -> Response:
    try:
        await placement.match_request(request.user, request_id)
    except DomainError as error:
        if _passes(error):
            raise
        return await _request_page(
            request, request_id, error.status_code, {"_form": _hold_error(error)}
        )
    return done(f"/requests/{request_id}", "searched")


@post("/requests/{request_id:int}/cancel", opt=MANAGERS, status_code=303)
async def cancel_request(request: PageRequest, request_id: FromPath[int]) -> Response:
    reason = _text(await request.form(), "reason")
    if not reason:
        errors = {"reason": _("Say why the request is cancelled.")}
        return await _request_page(request, request_id, 422, errors)
    if len(reason) > 500:
        errors = {"reason": _("At most %(n)s characters.", n=500)}
        return await _request_page(request, request_id, 422, errors, reason=reason)
    try:
        await placement.cancel_request(request.user, request_id, reason)
    except DomainError as error:
        if _passes(error):
            raise
        errors = form_errors(error, ("reason",))
        return await _request_page(request, request_id, error.status_code, errors)
    return done(f"/requests/{request_id}", "cancelled")


# ---------------------------------------------------------------------------
# Lists


@get("/requests", opt=MANAGERS)
async def my_requests(request: PageRequest) -> Template:
    requests = await placement.list_requests(request.user)
    return page(
        "officer/requests.html",
        request,
        in_progress=[r for r in requests if r.status in IN_PROGRESS],
        closed=[r for r in requests if r.status not in IN_PROGRESS][:CLOSED_SHOWN],
    )


@get("/waiting", opt=MANAGERS)
async def waiting(request: PageRequest) -> Template:
    return page("officer/waiting.html", request, waiting=await placement.waiting_list(request.user))


HANDLERS = [
    new_request,
    create_request,
    request_detail,
    hold_bed,
    search_again,
    cancel_request,
    my_requests,
    waiting,
]
