"""The occupancy board of centre staff: every bed of a centre as a tile, with the hold or
the stay (and runaway) that occupies it, and one small form per change.

Each action posts one form and comes back to the board (post/redirect/get); a refusal
re-renders the board with the message beside the field or at the top. Every bed status
change sends the status the tile showed, so two staff cannot overwrite each other.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
from litestar import Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from backend.errors import Conflict, InvalidInput
from backend.identity import Principal, Role
from backend.settings import get_settings
from backend.timeutil import utcnow
from capacity import service as capacity
from capacity.bed_states import MANUAL_TARGETS as BED_MANUAL_TARGETS
from capacity.schemas import BedOut, BedStatusChange, CentreOut, UnitOut
from capacity.vocabulary import BedStatus
from frontend.i18n import _
from frontend.labels import label
from frontend.web import PageRequest, done, form_errors, page, roles
from placement import runaways
from placement import service as placement
from placement.schemas import (
    ChecklistUpdate,
    DischargeIn,
    HoldOut,
    RefusalIn,
    ReturnIn,
    RunawayCreate,
    RunawayOut,
    StayOut,
)
from placement.vocabulary import (
    RefusalReason,
    RiskLevel,
    RunawayKind,
    StayEndReason,
    StayStatus,
)

BOARD_ROLES = roles(Role.CENTRE_STAFF, Role.ADMIN)

# What a tile may show (a bed's status, or "away" when its minor is on a runaway).
ON_RUNAWAY = "on_runaway"
COUNTED = ("available", "held", "occupied", ON_RUNAWAY, "out_of_service")

END_REASONS = (StayEndReason.DISCHARGE, StayEndReason.TRANSFER, StayEndReason.MAJORITY)
MANUAL_TARGETS = {str(status) for status in BED_MANUAL_TARGETS}
CHECKLIST_ITEMS = ("police_informed", "hotline_informed", "referring_service_informed")


# ---------------------------------------------------------------------------
# What the board shows (pure)


@dataclass
class Tile:
    bed: BedOut
    status: str
    hold: HoldOut | None = None
    urgency: str | None = None
    stay: StayOut | None = None
    episode: RunawayOut | None = None


@dataclass
class UnitTiles:
    unit: UnitOut
    tiles: list[Tile]


@dataclass
class Board:
    centre: CentreOut
    units: list[UnitTiles]
    counts: dict[str, int]
    # Open runaways whose stay already ended (keep-bed period over): no tile, still followed.
    loose_episodes: list[RunawayOut] = field(default_factory=list)

    def tile(self, bed_id: int) -> Tile | None:
        for unit in self.units:
            for tile in unit.tiles:
                if tile.bed.id == bed_id:
                    return tile
        return None


def build_board(
    centre: CentreOut,
    holds: list[HoldOut],
    stays: list[StayOut],
    episodes: list[RunawayOut],
    urgencies: Mapping[int, str | None],
) -> Board:
    holds_by_bed = {hold.bed_id: hold for hold in holds}
    stays_by_bed = {stay.bed_id: stay for stay in stays}
    episodes_by_id = {episode.id: episode for episode in episodes}
    shown: set[int] = set()
    counts = dict.fromkeys(COUNTED, 0)
    units = []
    for unit in centre.units:
        if not unit.active:
            continue
        tiles = []
        for bed in unit.beds:
            if not bed.active:
                continue
            tile = Tile(bed=bed, status=bed.status.value)
            if bed.status is BedStatus.HELD and bed.id in holds_by_bed:
                tile.hold = holds_by_bed[bed.id]
                tile.urgency = urgencies.get(tile.hold.request_id)
            if bed.status is BedStatus.OCCUPIED and bed.id in stays_by_bed:
                tile.stay = stays_by_bed[bed.id]
                if tile.stay.status is StayStatus.ON_RUNAWAY:
                    tile.status = ON_RUNAWAY
                if tile.stay.open_runaway_id in episodes_by_id:
                    tile.episode = episodes_by_id[tile.stay.open_runaway_id]
                    shown.add(tile.episode.id)
            counts[tile.status] += 1
            tiles.append(tile)
        units.append(UnitTiles(unit=unit, tiles=tiles))
    loose = [episode for episode in episodes if episode.id not in shown]
    return Board(centre=centre, units=units, counts=counts, loose_episodes=loose)


def local_now_input(now: datetime) -> str:
    """Now, for a datetime-local input in the display time zone: rounded up to the minute,
    so that the default never reads as earlier than an admission made a moment ago (the
    service takes a time a little ahead as now)."""
    local = now.astimezone(get_settings().display_timezone)
    seconds = local.second + local.microsecond / 1e6
    local = local.replace(second=0, microsecond=0) + timedelta(minutes=math.ceil(seconds / 60))
    return local.strftime("%Y-%m-%dT%H:%M")


def parse_local_time(value: str) -> datetime | None:
    """A datetime-local value (display time zone) as an aware moment; None if malformed."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=get_settings().display_timezone)
    return moment


# ---------------------------------------------------------------------------
# Reading the board


async def load_board(principal: Principal, centre_id: int) -> Board:
    # The holds first: for staff of another centre this refuses before anything is read.
    holds = await placement.list_holds(principal, centre_id)
    stays = await placement.list_stays(principal, centre_id)
    episodes = await runaways.list_runaways(principal, open=True, centre_id=centre_id)
    centre = await capacity.get_centre(principal, centre_id)
    urgencies: dict[int, str | None] = {}
    for hold in holds:
        facts = await placement.request_facts(hold.request_id)
        urgencies[hold.request_id] = facts["urgency"] if facts else None
    return build_board(centre, holds, stays, episodes, urgencies)


async def board_page(
    request: PageRequest,
    centre_id: int,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    open_form: str = "",
    board: Board | None = None,
) -> Response:
    board = board or await load_board(request.user, centre_id)
    return page(
        "centre/board.html",
        request,
        status_code,
        board=board,
        centre=board.centre,
        path=f"/board/{centre_id}",
        errors=errors or {},
        values=values or {},
        open_form=open_form,
        now_input=local_now_input(utcnow()),
        refusal_reasons=list(RefusalReason),
        end_reasons=list(END_REASONS),
        runaway_kinds=list(RunawayKind),
        risk_levels=list(RiskLevel),
    )


@get("/board", opt=BOARD_ROLES)
async def boards(request: PageRequest) -> Response:
    principal = request.user
    if principal.role is Role.CENTRE_STAFF and len(principal.centre_ids) == 1:
        (only,) = principal.centre_ids
        return Redirect(path=f"/board/{only}", status_code=303)
    centres = await capacity.list_centres(principal)
    if principal.role is Role.CENTRE_STAFF:
        centres = [centre for centre in centres if centre.id in principal.centre_ids]
    return page("centre/list.html", request, centres=centres)


@get("/board/{centre_id:int}", opt=BOARD_ROLES)
async def board(request: PageRequest, centre_id: FromPath[int]) -> Response:
    return await board_page(request, centre_id)


# ---------------------------------------------------------------------------
# Acting from the board


@dataclass
class Action:
    """One posted form of the board: its id (prefix of its inputs' ids), its fields, the
    values sent, and errors found before calling the service."""

    centre_id: int
    form_id: str
    fields: tuple[str, ...]
    form: dict[str, str]
    subject: str
    bed_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        return self.form.get(name, "").strip()


async def read_action(
    request: PageRequest,
    centre_id: int,
    form_id: str,
    fields: tuple[str, ...],
    subject: str,
    bed_id: int | None = None,
) -> Action:
    form = await request.form()
    sent = {key: str(form.get(key, "")) for key in form if key != "_csrf_token"}
    return Action(centre_id, form_id, fields, sent, subject, bed_id)


def conflict_message(action: Action, board: Board) -> str:
    if action.subject == "bed" and action.bed_id is not None:
        tile = board.tile(action.bed_id)
        if tile is not None:
            return _(
                "Bed %(bed)s changed since you loaded the board: it is now “%(status)s”. "
                "Nothing was saved; check it below and try again if it is still needed.",
                bed=tile.bed.label,
                status=label(tile.status),
            )
    messages = {
        "hold": _(
            "This hold was answered, withdrawn or expired since you loaded the board. "
            "Nothing was saved: the board below is current."
        ),
        "stay": _(
            "This stay changed since you loaded the board (ended, or a runaway reported). "
            "Nothing was saved: the board below is current."
        ),
        "runaway": _(
            "This runaway changed since you loaded the board. Nothing was saved: the board "
            "below is current."
        ),
    }
    return messages.get(
        action.subject,
        _(
            "This changed since you loaded the board. Nothing was saved: the board below is "
            "current."
        ),
    )


_MSGSPEC_FIELD = re.compile(r"at `\$\.(\w+)")


async def perform(
    request: PageRequest, action: Action, call: Callable[[], Awaitable[Any]]
) -> Response:
    """Run the service call (unless the form already has errors), then back to the board;
    a refusal re-renders the board with the message where it belongs."""
    errors = dict(action.errors)
    status_code = 422
    if not errors:
        try:
            await call()
        except msgspec.ValidationError as error:
            found = _MSGSPEC_FIELD.search(str(error))
            name = found.group(1) if found and found.group(1) in action.fields else "_form"
            errors[name] = _("This value is not accepted (too long or malformed).")
        except Conflict:
            board = await load_board(request.user, action.centre_id)
            return await board_page(
                request,
                action.centre_id,
                409,
                errors={"_form": conflict_message(action, board)},
                board=board,
            )
        except InvalidInput as error:
            errors.update(form_errors(error, action.fields))
            if error.field == "last_seen_at":
                errors["last_seen_at"] = _(
                    "The time last seen must be after the admission and not in the future."
                )
            status_code = error.status_code
        else:
            return done(f"/board/{action.centre_id}")
    prefixed = {
        (key if key == "_form" else f"{action.form_id}-{key}"): message
        for key, message in errors.items()
    }
    # The field may be far down the board: say at the top that something needs a look.
    prefixed.setdefault("_form", _("Nothing was saved: see the message beside the field below."))
    values = {f"{action.form_id}-{key}": value for key, value in action.form.items()}
    return await board_page(
        request,
        action.centre_id,
        status_code,
        errors=prefixed,
        values=values,
        open_form=action.form_id,
    )


@post("/board/{centre_id:int}/confirm", opt=BOARD_ROLES, status_code=303)
async def confirm(request: PageRequest, centre_id: FromPath[int]) -> Response:
    action = await read_action(request, centre_id, "confirm", (), "centre")
    return await perform(request, action, lambda: capacity.confirm_current(request.user, centre_id))


@post("/board/{centre_id:int}/holds/{hold_id:int}/accept", opt=BOARD_ROLES, status_code=303)
async def accept(
    request: PageRequest, centre_id: FromPath[int], hold_id: FromPath[int]
) -> Response:
    action = await read_action(request, centre_id, f"accept-{hold_id}", (), "hold")
    return await perform(request, action, lambda: placement.accept_hold(request.user, hold_id))


@post("/board/{centre_id:int}/holds/{hold_id:int}/refuse", opt=BOARD_ROLES, status_code=303)
async def refuse(
    request: PageRequest, centre_id: FromPath[int], hold_id: FromPath[int]
) -> Response:
    action = await read_action(request, centre_id, f"refuse-{hold_id}", ("reason", "text"), "hold")
    reason, text = action.value("reason"), action.value("text")
    if reason not in set(RefusalReason):
        action.errors["reason"] = _("Choose why you refuse.")
    elif reason == RefusalReason.OTHER and not text:
        action.errors["text"] = _("Say why when the reason is “Other”.")

    async def call() -> None:
        data = msgspec.convert({"reason": reason, "text": text}, RefusalIn)
        await placement.refuse_hold(request.user, hold_id, data)

    return await perform(request, action, call)


@post("/board/{centre_id:int}/holds/{hold_id:int}/admit", opt=BOARD_ROLES, status_code=303)
async def admit(request: PageRequest, centre_id: FromPath[int], hold_id: FromPath[int]) -> Response:
    action = await read_action(request, centre_id, f"admit-{hold_id}", (), "hold")
    return await perform(request, action, lambda: placement.admit(request.user, hold_id))


@post("/board/{centre_id:int}/stays/{stay_id:int}/end", opt=BOARD_ROLES, status_code=303)
async def end_stay(
    request: PageRequest, centre_id: FromPath[int], stay_id: FromPath[int]
) -> Response:
    action = await read_action(request, centre_id, f"end-{stay_id}", ("reason",), "stay")
    reason = action.value("reason")
    if reason not in {str(choice) for choice in END_REASONS}:
        action.errors["reason"] = _("Choose why the stay ends.")

    async def call() -> None:
        data = msgspec.convert({"reason": reason}, DischargeIn)
        await placement.discharge(request.user, stay_id, data)

    return await perform(request, action, call)


@post("/board/{centre_id:int}/stays/{stay_id:int}/runaway", opt=BOARD_ROLES, status_code=303)
async def report_runaway(
    request: PageRequest, centre_id: FromPath[int], stay_id: FromPath[int]
) -> Response:
    fields = ("last_seen_at", "kind", "risk_level", "circumstances")
    action = await read_action(request, centre_id, f"runaway-{stay_id}", fields, "stay")
    last_seen = parse_local_time(action.value("last_seen_at"))
    kind, risk = action.value("kind") or RunawayKind.MISSING.value, action.value("risk_level")
    if last_seen is None:
        action.errors["last_seen_at"] = _("Enter the date and time the minor was last seen.")
    if kind not in set(RunawayKind):
        action.errors["kind"] = _("Choose what kind of absence this is.")
    if risk and risk not in set(RiskLevel):
        action.errors["risk_level"] = _("Choose a risk level, or leave it to the system.")

    async def call() -> None:
        body = {
            "last_seen_at": last_seen,
            "kind": kind,
            "risk_level": risk or None,
            "circumstances": action.value("circumstances"),
        }
        await runaways.report_runaway(request.user, stay_id, msgspec.convert(body, RunawayCreate))

    return await perform(request, action, call)


@post("/board/{centre_id:int}/runaways/{episode_id:int}/return", opt=BOARD_ROLES, status_code=303)
async def mark_returned(
    request: PageRequest, centre_id: FromPath[int], episode_id: FromPath[int]
) -> Response:
    action = await read_action(request, centre_id, f"return-{episode_id}", (), "runaway")
    return await perform(
        request, action, lambda: runaways.record_return(request.user, episode_id, ReturnIn())
    )


@post(
    "/board/{centre_id:int}/runaways/{episode_id:int}/checklist",
    opt=BOARD_ROLES,
    status_code=303,
)
async def tick_checklist(
    request: PageRequest, centre_id: FromPath[int], episode_id: FromPath[int]
) -> Response:
    action = await read_action(
        request, centre_id, f"check-{episode_id}", ("police_reference",), "runaway"
    )
    item = action.value("item")
    if item:
        action.form_id = f"check-{episode_id}-{item}"
    body: dict[str, Any] = {}
    reference = action.value("police_reference")
    if item in CHECKLIST_ITEMS:
        body[item] = action.value("value") != "false"
        if item == "police_informed" and body[item] and reference:
            body["police_reference"] = reference
    elif item == "police_reference":
        if not reference:
            action.errors["police_reference"] = _("Enter the police reference.")
        body["police_reference"] = reference
    else:
        action.errors["_form"] = _("This checklist item does not exist.")

    async def call() -> None:
        data = msgspec.convert(body, ChecklistUpdate)
        await runaways.update_checklist(request.user, episode_id, data)

    return await perform(request, action, call)


@post("/board/{centre_id:int}/beds/{bed_id:int}/status", opt=BOARD_ROLES, status_code=303)
async def bed_status(
    request: PageRequest, centre_id: FromPath[int], bed_id: FromPath[int]
) -> Response:
    action = await read_action(
        request, centre_id, f"bed-{bed_id}", ("reason", "status"), "bed", bed_id
    )
    target, expected = action.value("status"), action.value("expected_status")
    reason = action.value("reason")
    if target not in MANUAL_TARGETS:
        action.errors["_form"] = _(
            "A bed's status is set to free, occupied or out of service here."
        )
    elif target == BedStatus.OUT_OF_SERVICE and not reason:
        action.errors["reason"] = _("Say why the bed is out of service.")

    async def call() -> None:
        body = {"status": target, "reason": reason, "expected_status": expected or None}
        await capacity.change_bed_status(
            request.user, bed_id, msgspec.convert(body, BedStatusChange)
        )

    return await perform(request, action, call)


HANDLERS = [
    boards,
    board,
    confirm,
    accept,
    refuse,
    admit,
    end_stay,
    report_runaway,
    mark_returned,
    tick_checklist,
    bed_status,
]
