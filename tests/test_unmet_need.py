"""The unmet-need report (GET /api/statistics/unmet-need) on a scripted quarter whose figures
were worked out by hand, plus the live journey (an urgent request with no bed) and access.

The scripted history is written straight into the tables with the times it would have had
(the API stamps everything with the current time); the figures are read through the API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from backend.timeutil import utcnow
from capacity.tables import OccupancyEvent
from placement.tables import Hold, PlacementRequest, RequestEvent, RunawayEpisode, Stay, YouthCase
from tests.support.placement import create_request, open_case

URL = "/api/statistics/unmet-need"


async def case_id(client, world) -> int:
    case = await open_case(client, world)
    return (await YouthCase.select(YouthCase.id).where(YouthCase.case_code == case["case_code"]))[
        0
    ]["id"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Script:
    """Writes a history: requests and their events, holds, stays, runaways, bed changes."""

    def __init__(self, case_id: int, world) -> None:
        self.case_id = case_id
        self.bed_a = world.bed(world.centre_a, "A1")
        self.bed_e = world.bed(world.centre_b, "E1")
        self.centre_a = world.centre_a["id"]
        self.centre_b = world.centre_b["id"]

    async def request(self, created: datetime, urgency: str = "immediate") -> int:
        row = await PlacementRequest.insert(
            PlacementRequest(
                case=self.case_id,
                status="open",
                urgency=urgency,
                required_capabilities=[],
                preferred_capabilities=[],
                excluded_municipalities=[],
                excluded_provinces=[],
                excluded_countries=[],
                distance_preference="none",
                home_country="BE",
                requesting_service="SAJ Namur",
                created_at=created,
                updated_at=created,
            )
        ).returning(PlacementRequest.id)
        await self.event(row[0]["id"], created, "created", "open")
        return row[0]["id"]

    async def event(self, request_id: int, at: datetime, action: str, to_status: str) -> None:
        await RequestEvent.insert(
            RequestEvent(request=request_id, at=at, action=action, to_status=to_status)
        )

    async def hold(self, request_id: int, at: datetime, specialised: bool = False) -> int:
        row = await Hold.insert(
            Hold(
                request=request_id,
                bed=self.bed_e if specialised else self.bed_a,
                centre=self.centre_b if specialised else self.centre_a,
                status="admitted",
                created_at=at,
                respond_by=at + timedelta(hours=1),
                expires_at=at + timedelta(hours=2),
            )
        ).returning(Hold.id)
        await self.event(request_id, at, "held", "held")
        return row[0]["id"]

    async def stay(
        self,
        request_id: int,
        hold_id: int,
        admitted: datetime,
        *,
        specialised: bool = False,
        fallback: bool = False,
        ended: datetime | None = None,
    ) -> int:
        row = await Stay.insert(
            Stay(
                case=self.case_id,
                request=request_id,
                hold=hold_id,
                bed=self.bed_e if specialised else self.bed_a,
                centre=self.centre_b if specialised else self.centre_a,
                status="ended" if ended else "active",
                fallback=fallback,
                unmet_needs=["exploitation_care"] if fallback else [],
                admitted_at=admitted,
                ended_at=ended,
            )
        ).returning(Stay.id)
        await self.event(request_id, admitted, "admitted", "placed")
        return row[0]["id"]

    async def placed_before(
        self, admitted: datetime, *, specialised=False, fallback=False, ended=None
    ) -> int:
        """A stay whose request dates from before the period (not in the durations)."""
        request_id = await self.request(utc("2024-11-01T09:00:00"))
        hold_id = await self.hold(request_id, utc("2024-11-01T10:00:00"), specialised)
        return await self.stay(
            request_id, hold_id, admitted, specialised=specialised, fallback=fallback, ended=ended
        )

    async def runaway(self, stay_id: int, reported: datetime) -> None:
        await RunawayEpisode.insert(
            RunawayEpisode(
                stay=stay_id,
                case=self.case_id,
                centre=self.centre_a,
                bed=self.bed_a,
                kind="missing",
                risk_level="high",
                last_seen_at=reported - timedelta(hours=1),
                reported_at=reported,
                keep_bed_until=reported + timedelta(hours=72),
                returned_at=reported + timedelta(hours=5),
            )
        )

    async def bed(self, bed_id: int, centre_id: int, at: str, status: str) -> None:
        await OccupancyEvent.insert(
            OccupancyEvent(bed=bed_id, centre=centre_id, at=utc(at), to_status=status)
        )


async def script_quarter(client, world) -> None:
    """January to March 2025 (Brussels time: UTC+1, UTC+2 from 30 March)."""
    s = Script(await case_id(client, world), world)
    hours = timedelta(hours=1)

    # Immediate requests held at centre A (Liège) after 0.5, 1, 2, 3, 4 hours; admitted
    # after 9, 5, 6, 7, 8 hours.
    created = utc("2025-01-05T08:00:00")
    for held_after, admitted_after in [(0.5, 9), (1, 5), (2, 6), (3, 7), (4, 8)]:
        request_id = await s.request(created)
        hold_id = await s.hold(request_id, created + held_after * hours)
        await s.stay(request_id, hold_id, created + admitted_after * hours)
    # Within-24h requests held at centre B (Walloon Brabant, specialised) after 5, 6, 7
    # hours, admitted after 24, 48, 72.
    created = utc("2025-01-06T08:00:00")
    for held_after, admitted_after in [(5, 24), (6, 48), (7, 72)]:
        request_id = await s.request(created, "within_24h")
        hold_id = await s.hold(request_id, created + held_after * hours, specialised=True)
        await s.stay(request_id, hold_id, created + admitted_after * hours, specialised=True)

    # An immediate request: no bed (January), held after 10 hours, refused, no bed again
    # (February): it counts once, in January, and is not waiting at the end of January.
    created = utc("2025-01-10T08:00:00")
    twice = await s.request(created)
    await s.event(twice, created + timedelta(seconds=5), "no_candidate", "waiting")
    await s.hold(twice, created + 10 * hours)
    await s.event(twice, created + 11 * hours, "refused", "open")
    await s.event(twice, utc("2025-02-03T09:00:00"), "no_candidate", "waiting")
    await s.event(twice, utc("2025-03-10T09:00:00"), "cancelled", "cancelled")

    # Five more immediate requests with no bed in January, two within 24 hours (not urgent).
    january = []
    for day in range(11, 16):
        at = utc(f"2025-01-{day}T09:00:00")
        january.append(await s.request(at))
        await s.event(january[-1], at, "no_candidate", "waiting")
    for day in (16, 17):
        at = utc(f"2025-01-{day}T09:00:00")
        january.append(await s.request(at, "within_24h"))
        await s.event(january[-1], at, "no_candidate", "waiting")
    # Five in February, the first at 00:30 on 1 February in Brussels (23:30 UTC on 31 January).
    february = []
    for at in ["2025-01-31T23:30:00", *(f"2025-02-0{d}T09:00:00" for d in (2, 3, 4, 5))]:
        february.append(await s.request(utc(at)))
        await s.event(february[-1], utc(at), "no_candidate", "waiting")
    # Three of January's leave the list in February; eight more leave in March.
    for request_id in january[:3]:
        await s.event(request_id, utc("2025-02-20T09:00:00"), "cancelled", "cancelled")
    for request_id in january[3:] + february[:3]:
        await s.event(request_id, utc("2025-03-20T09:00:00"), "cancelled", "cancelled")

    # Stays from earlier requests: fallback placements at centre A (5 in January, 2 in
    # February, 6 in March) and placements at the specialised centre B (2 in January, 7 in
    # March; with the within-24h ones, 5 in January).
    for admitted, count, specialised, fallback in [
        ("2025-01-20T10:00:00", 5, False, True),
        ("2025-02-20T10:00:00", 2, False, True),
        ("2025-03-20T10:00:00", 6, False, True),
        ("2025-01-21T10:00:00", 2, True, False),
        ("2025-03-21T10:00:00", 7, True, False),
    ]:
        for _ in range(count):
            await s.placed_before(utc(admitted), specialised=specialised, fallback=fallback)
    # Older stays at centre A: one ended before the quarter (not counted), one on 2 January
    # (counted), one still going on (counted).
    await s.placed_before(utc("2024-11-05T10:00:00"), ended=utc("2024-12-20T10:00:00"))
    await s.placed_before(utc("2024-11-05T10:00:00"), ended=utc("2025-01-02T10:00:00"))
    old = await s.placed_before(utc("2024-11-05T10:00:00"))
    # Ten runaways from centre A: five in January, five in March; one in December (outside).
    for at in ["2024-12-30T10:00:00", *(f"2025-01-{d:02d}T10:00:00" for d in (3, 4, 5, 6, 7))]:
        await s.runaway(old, utc(at))
    for day in (3, 4, 5, 6, 7):
        await s.runaway(old, utc(f"2025-03-0{day}T10:00:00"))

    # Bed history. Specialised E1: free from 1 January, occupied from 1 February; E2: free
    # from 1 January, out of service from 15 February. General A1: free from 1 January,
    # occupied from 17 January. (Local midnight is 23:00 UTC the day before.)
    e1, e2, a1 = (
        world.bed(world.centre_b, "E1"),
        world.bed(world.centre_b, "E2"),
        world.bed(world.centre_a, "A1"),
    )
    b, a = world.centre_b["id"], world.centre_a["id"]
    await s.bed(e1, b, "2024-12-31T23:00:00", "available")
    await s.bed(e1, b, "2025-01-31T23:00:00", "occupied")
    await s.bed(e2, b, "2024-12-31T23:00:00", "available")
    await s.bed(e2, b, "2025-02-14T23:00:00", "out_of_service")
    await s.bed(a1, a, "2024-12-31T23:00:00", "available")
    await s.bed(a1, a, "2025-01-16T23:00:00", "occupied")


def by(rows: list[dict], key: str) -> dict:
    return {row[key]: row for row in rows}


async def test_scripted_quarter_equals_the_hand_computed_figures(client, world):
    await script_quarter(client, world)
    response = await client.get(
        URL, params={"from": "2025-01", "to": "2025-03"}, headers=world.auth("analyst")
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["from"] == "2025-01" and report["to"] == "2025-03"
    assert report["months"] == ["2025-01", "2025-02", "2025-03"]

    # Urgent requests with no suitable bed: 6 in January (the one refused later counted once),
    # 5 in February (one at 00:30 on 1 February, Brussels time), none in March.
    assert [m["count"] for m in report["urgent_unmatched"]] == [6, 5, 0]

    # Request to first hold, immediate: 0.5, 1, 2, 3, 4, 10 h -> median 2.5, p90 (6th of 6) 10.
    hold_urgency = by(report["time_to_hold"]["by_urgency"], "group")
    assert hold_urgency["immediate"] == {
        "group": "immediate",
        "requests": 6,
        "median_hours": 2.5,
        "p90_hours": 10.0,
    }
    # Three within-24h requests: a group under 5, no median.
    assert hold_urgency["within_24h"] == {
        "group": "within_24h",
        "requests": "<5",
        "median_hours": None,
        "p90_hours": None,
    }
    assert hold_urgency["planned"]["requests"] == 0
    hold_region = by(report["time_to_hold"]["by_region"], "group")
    assert (hold_region["BE-WLG"]["median_hours"], hold_region["BE-WLG"]["p90_hours"]) == (
        2.5,
        10.0,
    )
    assert hold_region["BE-WBR"]["requests"] == "<5"
    # Request to admission, immediate: 5, 6, 7, 8, 9 h -> median 7, p90 (5th of 5) 9.
    admission = by(report["time_to_admission"]["by_urgency"], "group")
    assert (admission["immediate"]["requests"], admission["immediate"]["median_hours"]) == (5, 7.0)
    assert admission["immediate"]["p90_hours"] == 9.0
    assert admission["within_24h"]["median_hours"] is None
    assert by(report["time_to_admission"]["by_region"], "group")["BE-WLG"]["median_hours"] == 7.0

    # Fallback placements 5, 2, 6: February's 2 is suppressed, and with it the smallest
    # other month (January's 5), so that a published total cannot give February away.
    # Placements in specialised places: 5, 0, 7, all shown.
    fallback = report["fallback_placements"]
    assert [m["fallback_placements"] for m in fallback] == ["<5", "<5", 6]
    assert [m["specialised_placements"] for m in fallback] == [5, 0, 7]

    # Occupancy. Specialised: January 2 places free all month (0 %); February E1 occupied
    # 28 days, E2 in service 14 days: 42 bed-days over 28 days = 1.5 places, 28/42 = 66.7 %;
    # March E1 only, occupied: 1 place, 100 %. General (A1): January occupied 15 of 31 days
    # = 48.4 %; then 100 %.
    occupancy = report["occupancy"]
    assert [(m["specialised_places"], m["specialised_occupied_percent"]) for m in occupancy] == [
        (2.0, 0.0),
        (1.5, 66.7),
        (1.0, 100.0),
    ]
    assert [(m["general_places"], m["general_occupied_percent"]) for m in occupancy] == [
        (1.0, 48.4),
        (1.0, 100.0),
        (1.0, 100.0),
    ]

    # Runaways per 100 stays. Centre A (youth-aid residential): stays during the quarter
    # 5 + 13 fallback + the one ended 2 January + the one still going = 20; runaways 10
    # (December's not counted): 50.0. Centre B (specialised): 3 + 9 = 12 stays, no runaway.
    rates = by(report["runaways_per_100_stays"], "centre_kind")
    assert rates["youth_aid_residential"] == {
        "centre_kind": "youth_aid_residential",
        "stays": 20,
        "runaways": 10,
        "per_100_stays": 50.0,
    }
    assert rates["specialised_exploitation"] == {
        "centre_kind": "specialised_exploitation",
        "stays": 12,
        "runaways": 0,
        "per_100_stays": 0.0,
    }

    # Waiting list at the end of each month: January 5 + 2 = 7; February 7 - 3 + 1 (the
    # refused one back) + 5 = 10; March 10 - 7 - 1 (the refused one, cancelled) = 2 -> "<5".
    assert [m["waiting"] for m in report["waiting_list"]] == [7, 10, "<5"]


async def test_differencing_periods_cannot_isolate_a_small_runaway_count(client, world):
    """A kind with 1 to 4 runaways in any month of the period is suppressed for the whole
    period: January-March minus February-March would otherwise give January's count."""
    s = Script(await case_id(client, world), world)
    stays = [await s.placed_before(utc("2024-12-01T10:00:00")) for _ in range(6)]
    for at in ["2025-01-10T10:00:00", "2025-01-11T10:00:00"]:
        await s.runaway(stays[0], utc(at))
    for day in range(10, 15):
        await s.runaway(stays[0], utc(f"2025-02-{day}T10:00:00"))
    reports = {}
    for first in ("2025-01", "2025-02"):
        response = await client.get(
            URL, params={"from": first, "to": "2025-03"}, headers=world.auth("coordinator")
        )
        assert response.status_code == 200, response.text
        reports[first] = by(response.json()["runaways_per_100_stays"], "centre_kind")
    assert reports["2025-01"]["youth_aid_residential"]["runaways"] == "<5"
    assert reports["2025-01"]["youth_aid_residential"]["per_100_stays"] is None
    assert reports["2025-02"]["youth_aid_residential"]["runaways"] == 5


async def test_an_urgent_request_with_no_bed_counts_this_month(client, world):
    """The live journey: five boys of 11 (no unit takes them) need a bed now."""
    for _ in range(5):
        case = await open_case(client, world, age=11, gender="boy")
        created = await create_request(client, world, case["case_code"])
        assert created["request"]["status"] == "waiting"
    response = await client.get(URL, headers=world.auth("coordinator"))
    assert response.status_code == 200, response.text
    report = response.json()
    this_month = utcnow().astimezone(ZoneInfo("Europe/Brussels")).strftime("%Y-%m")
    assert report["to"] == this_month and len(report["months"]) == 12
    assert report["urgent_unmatched"][-1]["count"] == 5
    assert report["waiting_list"][-1]["waiting"] == 5


async def test_only_analysts_and_coordinators_read_it(client, world):
    for actor in ("admin", "officer", "staff_a", "staff_b"):
        response = await client.get(URL, headers=world.auth(actor))
        assert response.status_code == 403, actor
    assert (await client.get(URL)).status_code == 401
    for actor in ("analyst", "coordinator"):
        assert (await client.get(URL, headers=world.auth(actor))).status_code == 200


async def test_bad_months_are_refused_naming_the_field(client, world):
    for params, field in [
        ({"from": "2025-13"}, "from"),
        ({"to": "25-01"}, "to"),
        ({"from": "2025-04", "to": "2025-03"}, "from"),
        ({"from": "2000-01", "to": "2025-03"}, "from"),
    ]:
        response = await client.get(URL, params=params, headers=world.auth("analyst"))
        assert response.status_code == 400, (params, response.text)
        assert response.json()["errors"][0]["field"] == field
