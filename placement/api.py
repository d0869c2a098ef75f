"""Placement controllers: thin; parse, call the service, return its answer."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from backend import idempotency
from backend.identity import Principal, Role
from placement import runaways, service
from placement.privacy_api import SubjectAccessController
from placement.schemas import (
    AllocationConfirm,
    AllocationOut,
    CaseCreate,
    CaseOut,
    CaseSummary,
    CaseUpdate,
    ChecklistUpdate,
    DischargeIn,
    FlagCreate,
    HoldCreate,
    HoldOut,
    MatchOut,
    ReasonIn,
    RefusalIn,
    RequestCreate,
    RequestCreated,
    RequestDetail,
    RequestOut,
    ReturnIn,
    RunawayCreate,
    RunawayOut,
    StayOut,
)
from placement.stats_api import StatisticsController
from placement.unmet_api import UnmetNeedController
from placement.vocabulary import RequestStatus

AuthRequest = Request[Principal, str, object]

CASE_MANAGERS = frozenset({Role.PLACEMENT_OFFICER, Role.COORDINATOR})
CASE_READERS = frozenset({Role.ADMIN, Role.PLACEMENT_OFFICER, Role.COORDINATOR, Role.CENTRE_STAFF})
FLAG_AUTHORS = frozenset({Role.PLACEMENT_OFFICER, Role.COORDINATOR, Role.CENTRE_STAFF})
CENTRE_ACTORS = frozenset({Role.ADMIN, Role.CENTRE_STAFF})
HOLD_READERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.CENTRE_STAFF})
COORDINATORS = frozenset({Role.COORDINATOR})
# Runaways: centre staff report them; whoever follows the case reads them and ticks the
# checklist (the service checks which episodes); the centre or a coordinator records a return.
RUNAWAY_FOLLOWERS = CASE_READERS
RUNAWAY_RETURNERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.CENTRE_STAFF})

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=idempotency.HEADER,
        description="Retrying with the same key returns the first answer and creates nothing.",
        max_length=idempotency.MAX_KEY_LENGTH,
    ),
]


def _created(outcome: idempotency.Outcome) -> Response:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return Response(
        content=outcome.body, status_code=201, media_type="application/json", headers=headers
    )


class CaseController(Controller):
    path = "/cases"
    tags = ["placement"]

    @post("/", opt={"roles": CASE_MANAGERS}, summary="Open a pseudonymous youth case")
    async def open_case(self, request: AuthRequest, data: JSONBody[CaseCreate]) -> CaseOut:
        return await service.open_case(request.user, data)

    @get("/", opt={"roles": CASE_READERS}, summary="The cases you may see")
    async def list_cases(self, request: AuthRequest) -> list[CaseSummary]:
        return await service.list_cases(request.user)

    @get("/{case_code:str}", opt={"roles": CASE_READERS}, summary="A case and its flag history")
    async def get_case(self, request: AuthRequest, case_code: FromPath[str]) -> CaseOut:
        return await service.get_case(request.user, case_code)

    @patch("/{case_code:str}", opt={"roles": CASE_MANAGERS}, summary="Change a case's needs")
    async def update_case(
        self, request: AuthRequest, case_code: FromPath[str], data: JSONBody[CaseUpdate]
    ) -> CaseOut:
        return await service.update_case(request.user, case_code, data)

    @post(
        "/{case_code:str}/close",
        opt={"roles": CASE_MANAGERS},
        status_code=200,
        summary="Close a case whose follow-up ended (retention starts counting)",
    )
    async def close_case(self, request: AuthRequest, case_code: FromPath[str]) -> CaseOut:
        return await service.close_case(request.user, case_code)

    @post(
        "/{case_code:str}/flags",
        opt={"roles": FLAG_AUTHORS},
        summary="Add a follow-up flag (never overwritten; a later flag may supersede it)",
    )
    async def add_flag(
        self, request: AuthRequest, case_code: FromPath[str], data: JSONBody[FlagCreate]
    ) -> CaseOut:
        return await service.add_flag(request.user, case_code, data)


class PlacementRequestController(Controller):
    path = "/requests"
    tags = ["placement"]

    @post(
        "/",
        opt={"roles": CASE_MANAGERS},
        summary="Create a placement request and get its ranked candidates",
    )
    async def create_request(
        self,
        request: AuthRequest,
        data: JSONBody[RequestCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RequestCreated]:
        outcome = await idempotency.run_once(
            request.user,
            idempotency_key,
            "POST /api/requests",
            data,
            lambda: service.create_request(request.user, data),
        )
        return _created(outcome)

    @get("/", opt={"roles": CASE_READERS}, summary="The requests you may see, newest first")
    async def list_requests(
        self, request: AuthRequest, status: FromQuery[RequestStatus | None] = None
    ) -> list[RequestOut]:
        return await service.list_requests(request.user, status)

    @get("/waiting", opt={"roles": CASE_READERS}, summary="The waiting list, in priority order")
    async def waiting_list(self, request: AuthRequest) -> list[RequestOut]:
        return await service.waiting_list(request.user)

    @get(
        "/{request_id:int}",
        opt={"roles": CASE_READERS},
        summary="A request with its holds and full history",
    )
    async def get_request(self, request: AuthRequest, request_id: FromPath[int]) -> RequestDetail:
        return await service.get_request(request.user, request_id)

    @post(
        "/{request_id:int}/match",
        opt={"roles": CASE_MANAGERS},
        status_code=200,
        summary="Search the suitable beds again, ranked, with reasons and exclusion counts",
    )
    async def match(
        self,
        request: AuthRequest,
        request_id: FromPath[int],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> MatchOut:
        return await service.match_request(request.user, request_id, limit)

    @post(
        "/{request_id:int}/holds",
        opt={"roles": CASE_MANAGERS},
        summary="Hold a candidate bed for this request (409 if someone else took it)",
    )
    async def hold(
        self,
        request: AuthRequest,
        request_id: FromPath[int],
        data: JSONBody[HoldCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[HoldOut]:
        outcome = await idempotency.run_once(
            request.user,
            idempotency_key,
            f"POST /api/requests/{request_id}/holds",
            data,
            lambda: service.create_hold(request.user, request_id, data),
        )
        return _created(outcome)

    @post(
        "/{request_id:int}/cancel",
        opt={"roles": CASE_MANAGERS},
        status_code=200,
        summary="Cancel a request (and release its hold)",
    )
    async def cancel(
        self, request: AuthRequest, request_id: FromPath[int], data: JSONBody[ReasonIn]
    ) -> RequestOut:
        return await service.cancel_request(request.user, request_id, data.reason)


class HoldController(Controller):
    path = "/holds"
    tags = ["placement"]

    @get("/", opt={"roles": HOLD_READERS}, summary="Holds waiting for a centre or for admission")
    async def list_holds(
        self, request: AuthRequest, centre_id: FromQuery[int | None] = None
    ) -> list[HoldOut]:
        return await service.list_holds(request.user, centre_id)

    @post(
        "/{hold_id:int}/accept",
        opt={"roles": CENTRE_ACTORS},
        status_code=200,
        summary="The centre accepts the minor",
    )
    async def accept(self, request: AuthRequest, hold_id: FromPath[int]) -> HoldOut:
        return await service.accept_hold(request.user, hold_id)

    @post(
        "/{hold_id:int}/refuse",
        opt={"roles": CENTRE_ACTORS},
        status_code=200,
        summary="The centre refuses, with a reason; the bed is free again",
    )
    async def refuse(
        self, request: AuthRequest, hold_id: FromPath[int], data: JSONBody[RefusalIn]
    ) -> HoldOut:
        return await service.refuse_hold(request.user, hold_id, data)

    @post(
        "/{hold_id:int}/cancel",
        opt={"roles": CASE_MANAGERS},
        status_code=200,
        summary="The officer lets the bed go",
    )
    async def cancel(
        self, request: AuthRequest, hold_id: FromPath[int], data: JSONBody[ReasonIn]
    ) -> HoldOut:
        return await service.cancel_hold(request.user, hold_id, data.reason)

    @post(
        "/{hold_id:int}/admit",
        opt={"roles": CENTRE_ACTORS},
        summary="The minor arrived: the hold becomes a stay",
    )
    async def admit(self, request: AuthRequest, hold_id: FromPath[int]) -> StayOut:
        return await service.admit(request.user, hold_id)


class StayController(Controller):
    path = "/stays"
    tags = ["placement"]

    @get("/", opt={"roles": HOLD_READERS}, summary="Current stays")
    async def list_stays(
        self, request: AuthRequest, centre_id: FromQuery[int | None] = None
    ) -> list[StayOut]:
        return await service.list_stays(request.user, centre_id)

    @post(
        "/{stay_id:int}/end",
        opt={"roles": CENTRE_ACTORS},
        status_code=200,
        summary="Discharge or transfer: the stay ends and the bed is free",
    )
    async def end(
        self, request: AuthRequest, stay_id: FromPath[int], data: JSONBody[DischargeIn]
    ) -> StayOut:
        return await service.discharge(request.user, stay_id, data)


class AllocationController(Controller):
    path = "/allocations"
    tags = ["placement"]

    @post(
        "/proposals",
        opt={"roles": COORDINATORS},
        status_code=200,
        summary="Best assignment of waiting requests to free beds (nothing is held yet)",
    )
    async def propose(self, request: AuthRequest) -> AllocationOut:
        return await service.propose_allocation(request.user)

    @post(
        "/confirm",
        opt={"roles": COORDINATORS},
        summary="Hold every proposed bed at once: all, or none if one was taken meanwhile",
    )
    async def confirm(
        self, request: AuthRequest, data: JSONBody[AllocationConfirm]
    ) -> list[HoldOut]:
        return await service.confirm_allocation(request.user, data)


class RunawayController(Controller):
    path = "/"
    tags = ["placement"]

    @post(
        "/stays/{stay_id:int}/runaways",
        opt={"roles": CENTRE_ACTORS},
        summary="Report a runaway: the stay is on_runaway and the bed kept for KEEP_BED_HOURS",
    )
    async def report(
        self, request: AuthRequest, stay_id: FromPath[int], data: JSONBody[RunawayCreate]
    ) -> RunawayOut:
        return await runaways.report_runaway(request.user, stay_id, data)

    @get(
        "/runaways",
        opt={"roles": RUNAWAY_FOLLOWERS},
        summary="The runaway episodes you follow, newest first",
    )
    async def list_runaways(
        self,
        request: AuthRequest,
        open: Annotated[
            bool | None,
            QueryParameter(description="true: not returned yet; false: closed by a return"),
        ] = None,
        centre_id: FromQuery[int | None] = None,
    ) -> list[RunawayOut]:
        return await runaways.list_runaways(request.user, open, centre_id)

    @get(
        "/runaways/{episode_id:int}",
        opt={"roles": RUNAWAY_FOLLOWERS},
        summary="A runaway episode and its checklist",
    )
    async def get_runaway(self, request: AuthRequest, episode_id: FromPath[int]) -> RunawayOut:
        return await runaways.get_runaway(request.user, episode_id)

    @patch(
        "/runaways/{episode_id:int}/checklist",
        opt={"roles": RUNAWAY_FOLLOWERS},
        summary="Tick checklist items: police, hotline, referring service, return interview",
    )
    async def update_checklist(
        self, request: AuthRequest, episode_id: FromPath[int], data: JSONBody[ChecklistUpdate]
    ) -> RunawayOut:
        return await runaways.update_checklist(request.user, episode_id, data)

    @post(
        "/runaways/{episode_id:int}/return",
        opt={"roles": RUNAWAY_RETURNERS},
        status_code=200,
        summary="The minor is back: the episode closes and the stay is active again",
    )
    async def record_return(
        self,
        request: AuthRequest,
        episode_id: FromPath[int],
        data: JSONBody[ReturnIn | None] = None,
    ) -> RunawayOut:
        return await runaways.record_return(request.user, episode_id, data or ReturnIn())


PLACEMENT_CONTROLLERS = [
    CaseController,
    PlacementRequestController,
    HoldController,
    StayController,
    AllocationController,
    RunawayController,
    SubjectAccessController,
    UnmetNeedController,
    StatisticsController,
]
