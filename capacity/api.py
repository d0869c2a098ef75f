"""Capacity controllers: thin; parse, call the service, return its answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from backend.identity import ALL_ROLES, Principal, Role
from capacity import service
from capacity.geography import PROVINCES
from capacity.schemas import (
    BedDeleted,
    BedOut,
    BedsCreate,
    BedStatusChange,
    BedUpdate,
    CentreCreate,
    CentreOut,
    CentreUpdate,
    ExpectedDepartureIn,
    OccupancyEventOut,
    ProvinceOut,
    UnitCreate,
    UnitOut,
    UnitUpdate,
    VacancySearchOut,
)
from capacity.vocabulary import MAX_AGE, MIN_AGE, Capability, CentreKind, Country, MinorGender

ADMIN = frozenset({Role.ADMIN})
CENTRE_ACTORS = frozenset({Role.ADMIN, Role.CENTRE_STAFF})
HISTORY_READERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.CENTRE_STAFF})

AuthRequest = Request[Principal, str, object]


class CentreController(Controller):
    path = "/centres"
    tags = ["capacity"]

    @get("/", opt={"roles": ALL_ROLES}, summary="Centres, with data freshness")
    async def list_centres(
        self,
        request: AuthRequest,
        country: FromQuery[Country | None] = None,
        province: FromQuery[str | None] = None,
        kind: FromQuery[CentreKind | None] = None,
        include_inactive: FromQuery[bool] = False,
    ) -> list[CentreOut]:
        return await service.list_centres(
            request.user,
            country=country,
            province=province,
            kind=kind,
            include_inactive=include_inactive,
        )

    @post("/", opt={"roles": ADMIN}, summary="Create a centre, optionally with units and beds")
    async def create_centre(self, request: AuthRequest, data: JSONBody[CentreCreate]) -> CentreOut:
        return await service.create_centre(request.user, data)

    @get("/{centre_id:int}", opt={"roles": ALL_ROLES}, summary="A centre with its units and beds")
    async def get_centre(self, request: AuthRequest, centre_id: FromPath[int]) -> CentreOut:
        return await service.get_centre(request.user, centre_id)

    @patch("/{centre_id:int}", opt={"roles": ADMIN}, summary="Change a centre")
    async def update_centre(
        self, request: AuthRequest, centre_id: FromPath[int], data: JSONBody[CentreUpdate]
    ) -> CentreOut:
        return await service.update_centre(request.user, centre_id, data)

    @post(
        "/{centre_id:int}/confirm",
        opt={"roles": CENTRE_ACTORS},
        status_code=200,
        summary="Confirm that every bed's status is current",
    )
    async def confirm(self, request: AuthRequest, centre_id: FromPath[int]) -> CentreOut:
        return await service.confirm_current(request.user, centre_id)

    @post("/{centre_id:int}/units", opt={"roles": ADMIN}, summary="Add a unit (and its beds)")
    async def create_unit(
        self, request: AuthRequest, centre_id: FromPath[int], data: JSONBody[UnitCreate]
    ) -> UnitOut:
        return await service.create_unit(request.user, centre_id, data)


class UnitController(Controller):
    path = "/units"
    tags = ["capacity"]

    @patch("/{unit_id:int}", opt={"roles": ADMIN}, summary="Change a unit")
    async def update_unit(self, unit_id: FromPath[int], data: JSONBody[UnitUpdate]) -> UnitOut:
        return await service.update_unit(unit_id, data)

    @post(
        "/{unit_id:int}/beds",
        opt={"roles": ADMIN},
        summary="Add beds to a unit: all of them or none",
    )
    async def create_beds(
        self, request: AuthRequest, unit_id: FromPath[int], data: JSONBody[BedsCreate]
    ) -> list[BedOut]:
        return await service.create_beds(request.user, unit_id, data.labels)


class BedController(Controller):
    path = "/beds"
    tags = ["capacity"]

    @patch("/{bed_id:int}", opt={"roles": ADMIN}, summary="Rename, deactivate or reactivate a bed")
    async def update_bed(self, bed_id: FromPath[int], data: JSONBody[BedUpdate]) -> BedOut:
        return await service.update_bed(
            bed_id,
            label=data.label if isinstance(data.label, str) else None,
            active=data.active if isinstance(data.active, bool) else None,
        )

    @delete(
        "/{bed_id:int}",
        opt={"roles": ADMIN},
        status_code=200,
        summary="Remove a never-used bed; a bed with history is deactivated instead",
    )
    async def delete_bed(self, bed_id: FromPath[int]) -> BedDeleted:
        return await service.delete_bed(bed_id)

    @post(
        "/{bed_id:int}/status",
        opt={"roles": CENTRE_ACTORS},
        status_code=200,
        summary="Change a bed's status (409 names the allowed transitions)",
    )
    async def change_status(
        self, request: AuthRequest, bed_id: FromPath[int], data: JSONBody[BedStatusChange]
    ) -> BedOut:
        return await service.change_bed_status(request.user, bed_id, data)

    @put(
        "/{bed_id:int}/expected-departure",
        opt={"roles": CENTRE_ACTORS},
        summary="Set or clear the expected departure date of an occupied bed",
    )
    async def expected_departure(
        self, request: AuthRequest, bed_id: FromPath[int], data: JSONBody[ExpectedDepartureIn]
    ) -> BedOut:
        return await service.set_expected_departure(request.user, bed_id, data.expected_departure)

    @get(
        "/{bed_id:int}/history",
        opt={"roles": HISTORY_READERS},
        summary="Every status change of a bed, oldest first",
    )
    async def history(self, request: AuthRequest, bed_id: FromPath[int]) -> list[OccupancyEventOut]:
        return await service.bed_history(request.user, bed_id)


class VacancyController(Controller):
    path = "/vacancies"
    tags = ["capacity"]

    @get("/", opt={"roles": ALL_ROLES}, summary="Centres with a free bed that fits")
    async def search(
        self,
        request: AuthRequest,
        country: FromQuery[Country | None] = None,
        province: Annotated[
            str | None, QueryParameter(description="ISO 3166-2 code, e.g. BE-WLG for Liège")
        ] = None,
        kind: FromQuery[CentreKind | None] = None,
        capability: Annotated[
            list[Capability] | None,
            QueryParameter(description="Every listed capability is required"),
        ] = None,
        age: Annotated[int | None, QueryParameter(ge=MIN_AGE, le=MAX_AGE)] = None,
        gender: FromQuery[MinorGender | None] = None,
        free_by: Annotated[
            date | None,
            QueryParameter(description="Also count occupied beds expected free by this date"),
        ] = None,
    ) -> VacancySearchOut:
        return await service.search_vacancies(
            request.user,
            country=country,
            province=province,
            kind=kind,
            capabilities=capability,
            age=age,
            gender=gender,
            free_by=free_by,
        )


class GeographyController(Controller):
    path = "/geography"
    tags = ["capacity"]

    @get("/provinces", opt={"roles": ALL_ROLES}, summary="Province codes and their names")
    async def provinces(self, request: AuthRequest) -> list[ProvinceOut]:
        language = request.user.language
        return [
            ProvinceOut(code=p.code, country=p.country, name=p.name(language))
            for p in PROVINCES.values()
        ]
