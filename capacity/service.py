"""Capacity operations. Each public function is one transaction and checks who may act."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Max

from backend import events
from backend.database import is_storable_id, write_transaction
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.identity import Principal, Role
from backend.schemas import sent_fields
from backend.settings import get_settings
from backend.timeutil import as_utc, local_today, utcnow
from capacity import bed_states
from capacity.freshness import freshness, last_update
from capacity.geography import PROVINCES, province_codes
from capacity.schemas import (
    BedDeleted,
    BedOut,
    BedStatusChange,
    CentreCreate,
    CentreOut,
    CentreUpdate,
    CentreVacancies,
    OccupancyEventOut,
    UnitCreate,
    UnitOut,
    UnitUpdate,
    VacancySearchOut,
    VacantBed,
)
from capacity.tables import Bed, CapacityVersion, Centre, CentreStaff, OccupancyEvent, Unit
from capacity.vocabulary import (
    BedStatus,
    Capability,
    CentreKind,
    Community,
    Country,
    GenderPolicy,
    MinorGender,
    policy_admits,
)

BED_FREED = "bed_freed"
"""Domain event recorded whenever a bed becomes available (payload: bed_id, centre_id)."""
OCCUPANCY_STALE = "occupancy_stale"
"""Domain event: a centre's bed statuses went unconfirmed for STALE_AFTER_HOURS (once per
stale period)."""

# Checks another domain adds before a manual status change (placement refuses a change to a
# bed that a hold or a stay owns). Capacity does not know those domains, only this hook.
ManualChangeGuard = Callable[[int, BedStatus, BedStatus], Awaitable[None]]
_manual_change_guards: list[ManualChangeGuard] = []


def add_manual_change_guard(guard: ManualChangeGuard) -> None:
    if guard not in _manual_change_guards:
        _manual_change_guards.append(guard)


# ---------------------------------------------------------------------------
# Who may act


def _require_centre_actor(principal: Principal, centre_id: int) -> None:
    """Admins act on every centre; centre staff only on the centres they work for."""
    if principal.is_admin or principal.works_at(centre_id):
        return
    raise Forbidden(
        f"You are not staff of centre {centre_id}: only its own staff or an admin may change it.",
        field="centre_id",
    )


def _require_history_reader(principal: Principal, centre_id: int) -> None:
    if principal.role in (Role.ADMIN, Role.COORDINATOR) or principal.works_at(centre_id):
        return
    raise Forbidden(
        f"Only admins, coordinators and staff of centre {centre_id} may read its bed history.",
        field="centre_id",
    )


def may_see_address(principal: Principal, centre_id: int, confidential: bool) -> bool:
    return not confidential or principal.is_admin or principal.works_at(centre_id)


# ---------------------------------------------------------------------------
# Staff bindings (used by the accounts service)


async def staff_centre_ids(user_id: int) -> set[int]:
    rows = await CentreStaff.select(CentreStaff.centre).where(CentreStaff.user == user_id)
    return {row["centre"] for row in rows}


async def set_staff_centres(user_id: int, centre_ids: Iterable[int]) -> None:
    """Replace the user's centres. Runs inside the caller's transaction."""
    wanted = set(centre_ids)
    if wanted:
        storable = [centre_id for centre_id in wanted if is_storable_id(centre_id)]
        existing = (
            {row["id"] for row in await Centre.select(Centre.id).where(Centre.id.is_in(storable))}
            if storable
            else set()
        )
        missing = sorted(wanted - existing)
        if missing:
            raise NotFound(
                f"Centre {missing[0]} does not exist.", field="centre_ids", missing=missing
            )
    current = await staff_centre_ids(user_id)
    if current - wanted:
        await CentreStaff.delete().where(
            (CentreStaff.user == user_id) & CentreStaff.centre.is_in(list(current - wanted))
        )
    for centre_id in sorted(wanted - current):
        await CentreStaff.insert(CentreStaff(user=user_id, centre=centre_id))


# ---------------------------------------------------------------------------
# Reading rows


async def _centre_row(centre_id: int) -> dict[str, Any]:
    row = (
        await Centre.select().where(Centre.id == centre_id).first()
        if is_storable_id(centre_id)
        else None
    )
    if row is None:
        raise NotFound(f"Centre {centre_id} does not exist.", field="centre_id")
    return row


async def _unit_row(unit_id: int) -> dict[str, Any]:
    row = await Unit.select().where(Unit.id == unit_id).first() if is_storable_id(unit_id) else None
    if row is None:
        raise NotFound(f"Unit {unit_id} does not exist.", field="unit_id")
    return row


async def _bed_row(bed_id: int) -> dict[str, Any]:
    if not is_storable_id(bed_id):
        raise NotFound(f"Bed {bed_id} does not exist.", field="bed_id")
    row = (
        await Bed.select(*Bed.all_columns(), Bed.unit.centre.as_alias("centre_id"))
        .where(Bed.id == bed_id)
        .first()
    )
    if row is None:
        raise NotFound(f"Bed {bed_id} does not exist.", field="bed_id")
    return row


def _bed_out(row: dict[str, Any]) -> BedOut:
    return BedOut(
        id=row["id"],
        unit_id=row["unit"],
        label=row["label"],
        status=BedStatus(row["status"]),
        expected_departure=row["expected_departure"],
        active=row["active"],
    )


def _unit_out(row: dict[str, Any], beds: list[BedOut] | None = None) -> UnitOut:
    return UnitOut(
        id=row["id"],
        centre_id=row["centre"],
        name=row["name"],
        min_age=row["min_age"],
        max_age=row["max_age"],
        gender_policy=GenderPolicy(row["gender_policy"]),
        active=row["active"],
        beds=beds or [],
    )


async def _last_event_times(centre_ids: list[int]) -> dict[int, datetime]:
    if not centre_ids:
        return {}
    rows = (
        await OccupancyEvent.select(OccupancyEvent.centre, Max(OccupancyEvent.at, alias="last_at"))
        .where(OccupancyEvent.centre.is_in(centre_ids))
        .group_by(OccupancyEvent.centre)
    )
    return {row["centre"]: as_utc(row["last_at"]) for row in rows if row["last_at"] is not None}


def _freshness_of(row: dict[str, Any], last_event_at: datetime | None, now: datetime):
    confirmed = row["last_confirmed_at"]
    return freshness(
        last_update(as_utc(confirmed) if confirmed else None, last_event_at),
        now,
        timedelta(hours=get_settings().stale_after_hours),
    )


def _centre_out(
    principal: Principal,
    row: dict[str, Any],
    last_event_at: datetime | None,
    units: list[UnitOut] | None = None,
) -> CentreOut:
    return CentreOut(
        id=row["id"],
        name=row["name"],
        operator=row["operator"],
        country=Country(row["country"]),
        community=Community(row["community"]) if row["community"] else None,
        province=row["province"],
        municipality=row["municipality"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        kind=CentreKind(row["kind"]),
        capabilities=[Capability(c) for c in row["capabilities"]],
        languages=list(row["languages"]),
        address_confidential=row["address_confidential"],
        address=row["address"]
        if may_see_address(principal, row["id"], row["address_confidential"])
        else None,
        active=row["active"],
        freshness=_freshness_of(row, last_event_at, utcnow()),
        units=units or [],
    )


async def record_stale_centres(now: datetime | None = None) -> int:
    """Record once per stale period each active centre with active beds whose last change
    (occupancy event or "everything is current") is older than STALE_AFTER_HOURS."""
    now = now or utcnow()
    stale_after = timedelta(hours=get_settings().stale_after_hours)
    recorded = 0
    async with write_transaction():
        centres = (
            await Bed.select(
                Bed.unit.centre.id.as_alias("id"),
                Bed.unit.centre.name.as_alias("name"),
                Bed.unit.centre.province.as_alias("province"),
                Bed.unit.centre.last_confirmed_at.as_alias("last_confirmed_at"),
            )
            .where(
                (Bed.active == True)  # noqa: E712
                & (Bed.unit.active == True)  # noqa: E712
                & (Bed.unit.centre.active == True)  # noqa: E712
            )
            .distinct()
        )
        last_events = await _last_event_times([row["id"] for row in centres])
        for row in sorted(centres, key=lambda r: r["id"]):
            confirmed = row["last_confirmed_at"]
            changed = last_update(
                as_utc(confirmed) if confirmed else None, last_events.get(row["id"])
            )
            if changed is None or now - changed <= stale_after:
                continue
            fresh = await events.record(
                OCCUPANCY_STALE,
                f"{OCCUPANCY_STALE}:{row['id']}:{changed.isoformat()}",
                {
                    "centre_id": row["id"],
                    "centre_name": row["name"],
                    "province": row["province"],
                    "last_change_at": changed.isoformat(),
                },
            )
            if fresh:
                recorded += 1
    return recorded


# ---------------------------------------------------------------------------
# Centres


def _check_place(country: Country, province: str, community: Community | None) -> None:
    if province not in PROVINCES:
        raise InvalidInput(
            f"Unknown province {province!r}; use an ISO 3166-2 code such as BE-WLG.",
            field="province",
        )
    if PROVINCES[province].country is not country:
        raise InvalidInput(
            f"Province {province} is not in {country}; expected one of "
            f"{', '.join(province_codes(country))}.",
            field="province",
        )
    if country is Country.BE and community is None:
        raise InvalidInput("A Belgian centre belongs to a community.", field="community")
    if country is not Country.BE and community is not None:
        raise InvalidInput("Only Belgian centres belong to a community.", field="community")


def _check_age_range(min_age: int, max_age: int, field: str) -> None:
    if min_age > max_age:
        raise InvalidInput(f"min_age ({min_age}) is greater than max_age ({max_age}).", field=field)


async def _record_event(
    *,
    bed_id: int,
    centre_id: int,
    actor_id: int | None,
    from_status: BedStatus | None,
    to_status: BedStatus,
    reason: str,
    at: datetime | None = None,
) -> None:
    await OccupancyEvent.insert(
        OccupancyEvent(
            bed=bed_id,
            centre=centre_id,
            actor=actor_id,
            at=at or utcnow(),
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            reason=reason,
        )
    )


async def _add_beds(
    unit_id: int, centre_id: int, labels: list[str], actor_id: int | None
) -> list[BedOut]:
    beds = []
    for label in labels:
        # Checked bed by bed inside the transaction: a clash rolls back the beds before it too.
        if await Bed.exists().where((Bed.unit == unit_id) & (Bed.label == label)):
            raise Conflict(f"Unit {unit_id} already has a bed labelled {label!r}.", field="labels")
        row = (
            await Bed.insert(
                Bed(
                    unit=unit_id, label=label, status=BedStatus.AVAILABLE.value, created_at=utcnow()
                )
            ).returning(*Bed.all_columns())
        )[0]
        await _record_event(
            bed_id=row["id"],
            centre_id=centre_id,
            actor_id=actor_id,
            from_status=None,
            to_status=BedStatus.AVAILABLE,
            reason="bed created",
        )
        beds.append(_bed_out(row))
    return beds


def _check_unique_labels(labels: list[str], field: str) -> None:
    # Also caught bed by bed when inserting; said first, naming the request's own fault.
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise InvalidInput(f"Labels repeated in the request: {', '.join(duplicates)}.", field=field)


async def _add_unit(centre_id: int, data: UnitCreate, actor_id: int | None, prefix: str) -> UnitOut:
    _check_age_range(data.min_age, data.max_age, f"{prefix}min_age")
    _check_unique_labels(data.bed_labels, f"{prefix}bed_labels")
    row = (
        await Unit.insert(
            Unit(
                centre=centre_id,
                name=data.name,
                min_age=data.min_age,
                max_age=data.max_age,
                gender_policy=data.gender_policy.value,
            )
        ).returning(*Unit.all_columns())
    )[0]
    beds = await _add_beds(row["id"], centre_id, data.bed_labels, actor_id)
    return _unit_out(row, beds)


async def create_centre(principal: Principal, data: CentreCreate) -> CentreOut:
    _check_place(data.country, data.province, data.community)
    now = utcnow()
    async with write_transaction():
        row = (
            await Centre.insert(
                Centre(
                    name=data.name,
                    operator=data.operator,
                    country=data.country.value,
                    community=data.community.value if data.community else None,
                    province=data.province,
                    municipality=data.municipality,
                    latitude=data.latitude,
                    longitude=data.longitude,
                    kind=data.kind.value,
                    capabilities=sorted({c.value for c in data.capabilities}),
                    languages=sorted(set(data.languages)),
                    address=data.address,
                    address_confidential=data.address_confidential,
                    created_at=now,
                    updated_at=now,
                )
            ).returning(*Centre.all_columns())
        )[0]
        units = [
            await _add_unit(row["id"], unit, principal.user_id, f"units[{index}].")
            for index, unit in enumerate(data.units)
        ]
        last = (await _last_event_times([row["id"]])).get(row["id"])
        return _centre_out(principal, row, last, units)


async def _check_no_one_placed(beds_where, what: str) -> None:
    """A unit or centre leaves the registry only once none of its beds is held or occupied."""
    busy = await Bed.count().where(
        beds_where
        & (Bed.active == True)  # noqa: E712
        & Bed.status.is_in([BedStatus.HELD.value, BedStatus.OCCUPIED.value])
    )
    if busy:
        raise Conflict(
            f"{what} still has {busy} held or occupied bed(s): free them before deactivating.",
            field="active",
            busy_beds=busy,
        )


async def update_centre(principal: Principal, centre_id: int, data: CentreUpdate) -> CentreOut:
    async with write_transaction():
        row = await _centre_row(centre_id)
        changes = sent_fields(data)
        if changes.get("active") is False:
            await _check_no_one_placed(Bed.unit.centre == centre_id, f"Centre {row['name']}")
        merged = {**row, **changes}
        _check_place(
            Country(merged["country"]),
            merged["province"],
            Community(merged["community"]) if merged["community"] else None,
        )
        for key in ("capabilities", "languages"):
            if key in changes:
                changes[key] = sorted({str(v) for v in changes[key]})
        values = {
            Centre._meta.get_column_by_name(key): (str(value) if hasattr(value, "value") else value)
            for key, value in changes.items()
        }
        values[Centre.updated_at] = utcnow()
        await Centre.update(values).where(Centre.id == centre_id)
        return await get_centre(principal, centre_id)


async def get_centre(principal: Principal, centre_id: int) -> CentreOut:
    row = await _centre_row(centre_id)
    unit_rows = await Unit.select().where(Unit.centre == centre_id).order_by(Unit.id)
    bed_rows = (
        await Bed.select().where(Bed.unit.centre == centre_id).order_by(Bed.label)
        if unit_rows
        else []
    )
    beds_by_unit: dict[int, list[BedOut]] = {}
    for bed in bed_rows:
        beds_by_unit.setdefault(bed["unit"], []).append(_bed_out(bed))
    units = [_unit_out(unit, beds_by_unit.get(unit["id"], [])) for unit in unit_rows]
    last = (await _last_event_times([centre_id])).get(centre_id)
    return _centre_out(principal, row, last, units)


async def list_centres(
    principal: Principal,
    *,
    country: Country | None = None,
    province: str | None = None,
    kind: CentreKind | None = None,
    include_inactive: bool = False,
) -> list[CentreOut]:
    if province is not None and province not in PROVINCES:
        raise InvalidInput(f"Unknown province {province!r}.", field="province")
    query = Centre.select().order_by(Centre.name)
    if not include_inactive:
        query = query.where(Centre.active == True)  # noqa: E712
    if country:
        query = query.where(Centre.country == country.value)
    if province:
        query = query.where(Centre.province == province)
    if kind:
        query = query.where(Centre.kind == kind.value)
    rows = await query
    last = await _last_event_times([row["id"] for row in rows])
    return [_centre_out(principal, row, last.get(row["id"])) for row in rows]


async def confirm_current(principal: Principal, centre_id: int) -> CentreOut:
    """Centre staff say: every bed's status is true as shown."""
    async with write_transaction():
        await _centre_row(centre_id)
        _require_centre_actor(principal, centre_id)
        await Centre.update({Centre.last_confirmed_at: utcnow()}).where(Centre.id == centre_id)
    return await get_centre(principal, centre_id)


# ---------------------------------------------------------------------------
# Units and beds


async def create_unit(principal: Principal, centre_id: int, data: UnitCreate) -> UnitOut:
    async with write_transaction():
        await _centre_row(centre_id)
        return await _add_unit(centre_id, data, principal.user_id, "")


async def update_unit(unit_id: int, data: UnitUpdate) -> UnitOut:
    async with write_transaction():
        row = await _unit_row(unit_id)
        changes = sent_fields(data)
        merged = {**row, **changes}
        _check_age_range(merged["min_age"], merged["max_age"], "min_age")
        if changes.get("active") is False:
            await _check_no_one_placed(Bed.unit == unit_id, f"Unit {row['name']}")
        if changes:
            await Unit.update(
                {
                    Unit._meta.get_column_by_name(key): (
                        value.value if isinstance(value, GenderPolicy) else value
                    )
                    for key, value in changes.items()
                }
            ).where(Unit.id == unit_id)
        beds = await Bed.select().where(Bed.unit == unit_id).order_by(Bed.label)
        return _unit_out(await _unit_row(unit_id), [_bed_out(b) for b in beds])


async def create_beds(principal: Principal, unit_id: int, labels: list[str]) -> list[BedOut]:
    _check_unique_labels(labels, "labels")
    async with write_transaction():
        unit = await _unit_row(unit_id)
        return await _add_beds(unit_id, unit["centre"], labels, principal.user_id)


async def update_bed(bed_id: int, label: str | None, active: bool | None) -> BedOut:
    async with write_transaction():
        row = await _bed_row(bed_id)
        values: dict = {}
        if label is not None and label != row["label"]:
            if await Bed.exists().where((Bed.unit == row["unit"]) & (Bed.label == label)):
                raise Conflict(
                    f"Unit {row['unit']} already has a bed labelled {label!r}.", field="label"
                )
            values[Bed.label] = label
        if active is not None and active != row["active"]:
            if not active:
                _check_can_deactivate(row)
            values[Bed.active] = active
        if values:
            await Bed.update(values).where(Bed.id == bed_id)
        return _bed_out(await _bed_row(bed_id))


def _check_can_deactivate(row: dict[str, Any]) -> None:
    if row["status"] in (BedStatus.HELD, BedStatus.OCCUPIED):
        raise Conflict(
            f"Bed {row['label']} is {row['status']}: free it before taking it out of the registry.",
            field="active",
            current_status=row["status"],
        )


async def delete_bed(bed_id: int) -> BedDeleted:
    """Remove a bed never used; a bed with history is deactivated instead, history kept."""
    async with write_transaction():
        await _bed_row(bed_id)
        # A no-op update takes the bed's row lock (PostgreSQL), so no status change can add
        # an event between the count below and the delete; then read what is locked.
        await Bed.update({Bed.active: Bed.active}).where(Bed.id == bed_id)
        row = await _bed_row(bed_id)
        _check_can_deactivate(row)
        event_count = await OccupancyEvent.count().where(OccupancyEvent.bed == bed_id)
        if event_count <= 1:
            await OccupancyEvent.delete().where(OccupancyEvent.bed == bed_id)
            await Bed.delete().where(Bed.id == bed_id)
            return BedDeleted(id=bed_id, deleted=True, bed=None)
        await Bed.update({Bed.active: False}).where(Bed.id == bed_id)
        return BedDeleted(id=bed_id, deleted=False, bed=_bed_out(await _bed_row(bed_id)))


async def transition_bed(
    bed_id: int,
    target: BedStatus,
    *,
    actor_id: int | None,
    reason: str,
    expected_current: BedStatus | None = None,
) -> BedOut:
    """Move a bed to `target`, inside the caller's transaction.

    One conditional update: if another request changed the bed since it was read, nothing
    is written and Conflict is raised. This is what makes double booking impossible.
    """
    row = await _bed_row(bed_id)
    current = BedStatus(row["status"])
    if not row["active"]:
        raise Conflict(f"Bed {row['label']} is deactivated.", field="bed_id")
    if expected_current is not None and current is not expected_current:
        raise Conflict(
            f"Bed {row['label']} is {current}, not {expected_current}.",
            field="status",
            current_status=current,
        )
    if not bed_states.can_transition(current, target):
        allowed = bed_states.allowed_targets(current)
        raise Conflict(
            f"Bed {row['label']} cannot go from {current} to {target}; "
            f"allowed from {current}: {', '.join(allowed)}.",
            field="status",
            current_status=current,
            allowed=allowed,
        )
    values: dict = {Bed.status: target.value}
    if target in (BedStatus.AVAILABLE, BedStatus.OUT_OF_SERVICE):
        values[Bed.expected_departure] = None
    won = (
        await Bed.update(values)
        .where((Bed.id == bed_id) & (Bed.status == current.value))
        .returning(Bed.id)
    )
    if not won:
        raise Conflict(
            f"Bed {row['label']} was changed by someone else just now; reload and try again.",
            field="status",
        )
    await _record_event(
        bed_id=bed_id,
        centre_id=row["centre_id"],
        actor_id=actor_id,
        from_status=current,
        to_status=target,
        reason=reason,
    )
    if target is BedStatus.AVAILABLE:
        await _record_bed_freed(bed_id, row["centre_id"])
    return _bed_out(await _bed_row(bed_id))


async def _record_bed_freed(bed_id: int, centre_id: int) -> None:
    latest = (
        await OccupancyEvent.select(OccupancyEvent.id)
        .where(OccupancyEvent.bed == bed_id)
        .order_by(OccupancyEvent.id, ascending=False)
        .first()
    )
    await events.record(
        BED_FREED,
        f"{BED_FREED}:{latest['id']}",
        {"bed_id": bed_id, "centre_id": centre_id, "occupancy_event_id": latest["id"]},
    )


async def change_bed_status(principal: Principal, bed_id: int, change: BedStatusChange) -> BedOut:
    if change.status not in bed_states.MANUAL_TARGETS:
        raise InvalidInput(
            f"A bed becomes {change.status} only through a placement request; "
            f"set one of: {', '.join(sorted(bed_states.MANUAL_TARGETS))}.",
            field="status",
        )
    async with write_transaction():
        row = await _bed_row(bed_id)
        _require_centre_actor(principal, row["centre_id"])
        for guard in _manual_change_guards:
            await guard(bed_id, BedStatus(row["status"]), change.status)
        changed = await transition_bed(
            bed_id,
            change.status,
            actor_id=principal.user_id,
            reason=change.reason,
            expected_current=change.expected_status,
        )
    return changed


async def set_expected_departure(
    principal: Principal, bed_id: int, expected_departure: date | None
) -> BedOut:
    async with write_transaction():
        row = await _bed_row(bed_id)
        _require_centre_actor(principal, row["centre_id"])
        if expected_departure is not None:
            if row["status"] not in (BedStatus.OCCUPIED, BedStatus.HELD):
                raise Conflict(
                    f"Bed {row['label']} is {row['status']}: an expected departure applies only "
                    "to an occupied or held bed.",
                    field="expected_departure",
                )
            if expected_departure < local_today(get_settings().display_timezone):
                raise InvalidInput(
                    "The expected departure is in the past.", field="expected_departure"
                )
        await Bed.update({Bed.expected_departure: expected_departure}).where(Bed.id == bed_id)
        return _bed_out(await _bed_row(bed_id))


async def bed_history(principal: Principal, bed_id: int) -> list[OccupancyEventOut]:
    row = await _bed_row(bed_id)
    _require_history_reader(principal, row["centre_id"])
    events = (
        await OccupancyEvent.select(
            *OccupancyEvent.all_columns(), OccupancyEvent.actor.username.as_alias("actor_name")
        )
        .where(OccupancyEvent.bed == bed_id)
        .order_by(OccupancyEvent.at)
        .order_by(OccupancyEvent.id)
    )
    return [
        OccupancyEventOut(
            id=event["id"],
            bed_id=bed_id,
            at=as_utc(event["at"]),
            actor=event["actor_name"],
            from_status=BedStatus(event["from_status"]) if event["from_status"] else None,
            to_status=BedStatus(event["to_status"]),
            reason=event["reason"],
        )
        for event in events
    ]


# ---------------------------------------------------------------------------
# Vacancies


async def search_vacancies(
    principal: Principal,
    *,
    country: Country | None = None,
    province: str | None = None,
    kind: CentreKind | None = None,
    capabilities: list[Capability] | None = None,
    age: int | None = None,
    gender: MinorGender | None = None,
    free_by: date | None = None,
) -> VacancySearchOut:
    """Centres with a bed that fits, free now or (with free_by) expected free by that date."""
    if province is not None and province not in PROVINCES:
        raise InvalidInput(f"Unknown province {province!r}.", field="province")
    if free_by is not None and free_by < local_today(get_settings().display_timezone):
        raise InvalidInput("free_by is in the past.", field="free_by")

    free_condition = Bed.status == BedStatus.AVAILABLE.value
    if free_by is not None:
        free_condition = free_condition | (
            (Bed.status == BedStatus.OCCUPIED.value) & (Bed.expected_departure <= free_by)
        )
    centre = Bed.unit.centre
    query = Bed.select(
        Bed.id,
        Bed.label,
        Bed.status,
        Bed.expected_departure,
        Bed.unit.id.as_alias("unit_id"),
        Bed.unit.name.as_alias("unit_name"),
        Bed.unit.min_age.as_alias("min_age"),
        Bed.unit.max_age.as_alias("max_age"),
        Bed.unit.gender_policy.as_alias("gender_policy"),
        centre.id.as_alias("centre_id"),
    ).where(
        (Bed.active == True)  # noqa: E712
        & (Bed.unit.active == True)  # noqa: E712
        & (centre.active == True)  # noqa: E712
        & free_condition
    )
    if country:
        query = query.where(centre.country == country.value)
    if province:
        query = query.where(centre.province == province)
    if kind:
        query = query.where(centre.kind == kind.value)
    if age is not None:
        query = query.where((Bed.unit.min_age <= age) & (Bed.unit.max_age >= age))
    if gender is not None:
        policies = [p.value for p in GenderPolicy if policy_admits(p, gender)]
        query = query.where(Bed.unit.gender_policy.is_in(policies))
    bed_rows = await query.order_by(Bed.label)

    centre_ids = sorted({row["centre_id"] for row in bed_rows})
    centre_rows = (
        {row["id"]: row for row in await Centre.select().where(Centre.id.is_in(centre_ids))}
        if centre_ids
        else {}
    )
    wanted = {c.value for c in capabilities or []}
    if wanted:
        centre_rows = {
            cid: row for cid, row in centre_rows.items() if wanted <= set(row["capabilities"])
        }
    last = await _last_event_times(list(centre_rows))
    now = utcnow()

    beds_by_centre: dict[int, list[VacantBed]] = {}
    for row in bed_rows:
        if row["centre_id"] not in centre_rows:
            continue
        beds_by_centre.setdefault(row["centre_id"], []).append(
            VacantBed(
                id=row["id"],
                label=row["label"],
                unit_id=row["unit_id"],
                unit_name=row["unit_name"],
                min_age=row["min_age"],
                max_age=row["max_age"],
                gender_policy=GenderPolicy(row["gender_policy"]),
                status=BedStatus(row["status"]),
                expected_departure=row["expected_departure"],
                free_now=row["status"] == BedStatus.AVAILABLE.value,
            )
        )
    results = []
    for centre_id, beds in beds_by_centre.items():
        row = centre_rows[centre_id]
        free_now = sum(1 for bed in beds if bed.free_now)
        results.append(
            CentreVacancies(
                centre_id=centre_id,
                name=row["name"],
                kind=CentreKind(row["kind"]),
                country=Country(row["country"]),
                province=row["province"],
                municipality=row["municipality"],
                capabilities=[Capability(c) for c in row["capabilities"]],
                languages=list(row["languages"]),
                address=row["address"]
                if may_see_address(principal, centre_id, row["address_confidential"])
                else None,
                address_confidential=row["address_confidential"],
                free_now=free_now,
                free_by_date=len(beds) if free_by is not None else None,
                beds=beds,
                freshness=_freshness_of(row, last.get(centre_id), now),
            )
        )
    results.sort(key=lambda c: (-c.free_now, -(c.free_by_date or 0), c.freshness.stale, c.name))
    return VacancySearchOut(centres=results, total_free_now=sum(c.free_now for c in results))


# ---------------------------------------------------------------------------
# Beds for the placement domain's matching


async def capacity_stamp() -> int | None:
    """Changes (database triggers) whenever any centre, unit or bed changes; None before the
    first change. Data derived from the registry is current while the stamp is the same."""
    row = await CapacityVersion.select(CapacityVersion.stamp).first()
    return row["stamp"] if row else None


async def count_active_beds() -> int:
    return await Bed.count().where(
        (Bed.active == True)  # noqa: E712
        & (Bed.unit.active == True)  # noqa: E712
        & (Bed.unit.centre.active == True)  # noqa: E712
    )


async def beds_for_matching(
    *, free_by: date | None = None, bed_ids: list[int] | None = None
) -> list[dict[str, Any]]:
    """Active beds free now (or, with free_by, expected free by then), with their unit's and
    centre's attributes; or exactly the beds `bed_ids`, whatever their status."""
    if bed_ids is not None:
        condition = Bed.id.is_in([bed_id for bed_id in bed_ids if is_storable_id(bed_id)] or [0])
    else:
        condition = Bed.status == BedStatus.AVAILABLE.value
        if free_by is not None:
            condition = condition | (
                (Bed.status == BedStatus.OCCUPIED.value) & (Bed.expected_departure <= free_by)
            )
        condition = (
            condition
            & (Bed.active == True)  # noqa: E712
            & (Bed.unit.active == True)  # noqa: E712
            & (Bed.unit.centre.active == True)  # noqa: E712
        )
    beds = await Bed.select(
        Bed.id,
        Bed.label,
        Bed.status,
        Bed.active,
        Bed.expected_departure,
        Bed.unit.id.as_alias("unit_id"),
        Bed.unit.name.as_alias("unit_name"),
        Bed.unit.min_age.as_alias("min_age"),
        Bed.unit.max_age.as_alias("max_age"),
        Bed.unit.gender_policy.as_alias("gender_policy"),
        Bed.unit.centre.id.as_alias("centre_id"),
    ).where(condition)
    centre_ids = sorted({bed["centre_id"] for bed in beds})
    centres = {
        row["id"]: row
        for row in (
            await Centre.select(
                Centre.id,
                Centre.name,
                Centre.kind,
                Centre.capabilities,
                Centre.languages,
                Centre.country,
                Centre.province,
                Centre.municipality,
                Centre.latitude,
                Centre.longitude,
                Centre.address,
                Centre.address_confidential,
            ).where(Centre.id.is_in(centre_ids))
            if centre_ids
            else []
        )
    }
    for bed in beds:
        bed["centre"] = centres[bed["centre_id"]]
    return beds


# ---------------------------------------------------------------------------
# Facts the notifications domain needs about centres


async def centre_facts(centre_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Name, place, kind and whether a centre offers specialised exploitation care."""
    ids = sorted(set(centre_ids))
    if not ids:
        return {}
    rows = await Centre.select(
        Centre.id,
        Centre.name,
        Centre.country,
        Centre.province,
        Centre.kind,
        Centre.capabilities,
    ).where(Centre.id.is_in(ids))
    return {
        row["id"]: {
            "name": row["name"],
            "country": row["country"],
            "province": row["province"],
            "kind": row["kind"],
            "specialised": row["kind"] == CentreKind.SPECIALISED_EXPLOITATION.value
            or Capability.EXPLOITATION_CARE.value in row["capabilities"],
        }
        for row in rows
    }


async def staff_user_ids(centre_id: int) -> list[int]:
    rows = await CentreStaff.select(CentreStaff.user).where(CentreStaff.centre == centre_id)
    return sorted(row["user"] for row in rows)


async def bed_histories(before: datetime) -> dict[int, tuple[int, list[tuple[datetime, str]]]]:
    """For each bed in use now (active, in an active unit and centre): its centre and its
    status changes before `before`, oldest first (for occupancy over time)."""
    in_use = await Bed.select(Bed.id, Bed.unit.centre.id.as_alias("centre_id")).where(
        (Bed.active == True)  # noqa: E712
        & (Bed.unit.active == True)  # noqa: E712
        & (Bed.unit.centre.active == True)  # noqa: E712
    )
    histories = {row["id"]: (row["centre_id"], []) for row in in_use}
    events = (
        await OccupancyEvent.select(OccupancyEvent.bed, OccupancyEvent.at, OccupancyEvent.to_status)
        .where(OccupancyEvent.at < before)
        .order_by(OccupancyEvent.at)
        .order_by(OccupancyEvent.id)
    )
    for event in events:
        if event["bed"] in histories:
            histories[event["bed"]][1].append((as_utc(event["at"]), event["to_status"]))
    return histories
