"""Where alerts come from and whom they reach: each kind raised once by what happens in
placement and capacity, the rule table's recipients, the in-app inbox, and auto-resolution
when the minor returns. In-process, with a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend import events
from backend.identity import Role
from capacity import service as capacity
from notifications import outbox
from notifications import service as alerts
from notifications.tables import Alert, Delivery
from placement import runaways
from placement import service as placement
from tests.support.alerts import (
    SECRET,
    external_webhook,
    on_call,
    personal_webhook,
    placed_minor,
    received,
    report_runaway,
)
from tests.support.placement import (
    add_user,
    answer,
    create_request,
    held,
    open_case,
    set_bed_status,
)
from tests.support.receiver import WebhookReceiver
from tests.support.world import World


async def alerts_of(client, world: World, actor: str, **params) -> list[dict]:
    response = await client.get("/api/alerts", params=params, headers=world.auth(actor))
    assert response.status_code == 200, response.text
    return response.json()


async def inbox(client, world: World, actor: str, **params) -> list[dict]:
    response = await client.get("/api/inbox", params=params, headers=world.auth(actor))
    assert response.status_code == 200, response.text
    return response.json()


async def recipients_of(alert_id: int) -> set[tuple[str, str]]:
    rows = await Delivery.select(Delivery.user.username, Delivery.channel, Delivery.purpose).where(
        Delivery.alert == alert_id
    )
    return {(row["user.username"], row["channel"], row["purpose"]) for row in rows}


async def test_a_runaway_reaches_on_call_the_referring_service_and_subscribers(
    client, world: World
):
    colleague = await add_user(world, "colleague", Role.PLACEMENT_OFFICER, service="SAJ Namur")
    await add_user(world, "elsewhere", Role.PLACEMENT_OFFICER, service="SAJ Liège")
    with WebhookReceiver(SECRET) as police, WebhookReceiver(SECRET) as unrelated:
        await external_webhook(client, world, police.url, ["runaway"], regions=["BE-WLG"])
        await external_webhook(client, world, unrelated.url, ["runaway"], regions=["BE-VAN"])
        await on_call(client, world, "coordinator")
        stay = await placed_minor(client, world)
        await report_runaway(client, world, stay["id"])

        [hook] = await received(police, 1, kind="runaway")
        assert hook.signature_valid and hook.body["purpose"] == "notice"
        [alert] = await alerts_of(client, world, "coordinator", kind="runaway")
        assert (alert["status"], alert["level"], alert["region"]) == ("open", 1, "BE-WLG")
        assert await recipients_of(alert["id"]) >= {
            ("coordinator", "in_app", "page"),
            ("officer", "in_app", "notice"),
            ("colleague", "in_app", "notice"),
        }
        assert "elsewhere" not in {user for user, _, _ in await recipients_of(alert["id"])}
        assert colleague.user_id  # the case's service, not only the officer who asked
        await outbox.drain()
        assert unrelated.accepted() == []  # another region


async def test_the_inbox_lists_unread_alerts_until_read(client, world: World):
    await on_call(client, world, "coordinator")
    stay = await placed_minor(client, world)
    await report_runaway(client, world, stay["id"])

    [item] = await inbox(client, world, "officer")
    assert item["alert"]["kind"] == "runaway" and item["read"] is False
    assert item["alert"]["case_code"] == stay["case_code"]
    response = await client.post(
        "/api/inbox/read", json={"ids": [item["id"]]}, headers=world.auth("officer")
    )
    assert response.json() == {"marked": 1}
    assert await inbox(client, world, "officer") == []
    [again] = await inbox(client, world, "officer", all="true")
    assert again["read"] is True
    # Someone else's inbox item cannot be marked.
    response = await client.post(
        "/api/inbox/read", json={"ids": [item["id"]]}, headers=world.auth("coordinator")
    )
    assert response.json() == {"marked": 0}


async def test_with_nobody_on_call_every_coordinator_is_paged(client, world: World):
    await add_user(world, "night_coordinator", Role.COORDINATOR)
    stay = await placed_minor(client, world)
    await report_runaway(client, world, stay["id"])
    [alert] = await alerts_of(client, world, "coordinator", kind="runaway")
    assert alert["level"] == 0
    paged = {user for user, _, purpose in await recipients_of(alert["id"]) if purpose == "page"}
    assert paged == {"coordinator", "night_coordinator"}


async def test_the_return_resolves_the_runaway_alerts_and_stops_paging(client, world: World):
    await on_call(client, world, "coordinator")
    await on_call(client, world, "admin", level=2)
    stay = await placed_minor(client, world)
    episode = await report_runaway(client, world, stay["id"])
    response = await client.post(
        f"/api/runaways/{episode['id']}/return", json={}, headers=world.auth("staff_a")
    )
    assert response.status_code == 200, response.text

    [alert] = await alerts_of(client, world, "coordinator", kind="runaway")
    assert alert["status"] == "resolved" and alert["resolution_note"] == "the minor returned"
    assert await alerts.escalate_due(datetime.now(UTC) + timedelta(hours=2)) == 0
    response = await client.post(
        f"/api/alerts/{alert['id']}/acknowledge", headers=world.auth("coordinator")
    )
    assert response.status_code == 409


async def test_still_missing_after_hours_raises_a_second_alert_once(client, world: World):
    await on_call(client, world, "coordinator")
    stay = await placed_minor(client, world)
    episode = await report_runaway(client, world, stay["id"])
    later = datetime.now(UTC) + timedelta(hours=25)
    assert await runaways.record_unresolved(later) == 1
    assert await runaways.record_unresolved(later) == 0
    await events.handle_pending()
    [alert] = await alerts_of(client, world, "coordinator", kind="runaway_unresolved")
    assert alert["facts"]["episode_id"] == episode["id"]
    assert alert["severity"] == "critical"


async def test_a_discharge_tells_the_officer_of_the_waiting_request_it_fits(client, world: World):
    with WebhookReceiver(SECRET) as pager:
        await personal_webhook(client, world, "officer", pager.url)
        for label in ("B1", "B2"):
            await set_bed_status(
                client, world, world.bed(world.centre_a, label), "out_of_service", "staff_a"
            )
        boy = await open_case(client, world, gender="boy")
        waiting = (await create_request(client, world, boy["case_code"]))["request"]
        assert waiting["status"] == "waiting"
        await set_bed_status(client, world, world.bed(world.centre_a, "B1"), "available", "staff_a")

        [hook] = await received(pager, 1, kind="vacancy_for_waiting_request")
        facts = hook.body["alert"]["facts"]
        assert facts["request_id"] == waiting["id"] and facts["bed_label"] == "B1"
        assert hook.body["alert"]["case_code"] == boy["case_code"]
        kinds = [item["alert"]["kind"] for item in await inbox(client, world, "officer")]
        assert kinds == ["urgent_request_unmatched", "vacancy_for_waiting_request"]


async def test_a_freed_specialised_place_is_announced_to_coordinators(client, world: World):
    case = await open_case(client, world)
    request = await create_request(client, world, case["case_code"])
    hold = await held(client, world, request["request"]["id"], world.bed(world.centre_b, "E1"))
    await answer(client, world, hold["id"], "refuse", "staff_b", {"reason": "safety"})

    [alert] = await alerts_of(client, world, "coordinator", kind="specialised_bed_freed")
    assert alert["facts"]["centre_name"] == "Esperanto (test)"
    assert alert["centre_id"] == world.centre_b["id"]
    assert await alerts_of(client, world, "officer", kind="specialised_bed_freed") == []
    # A general place freeing up is no such news.
    await set_bed_status(
        client, world, world.bed(world.centre_a, "A1"), "out_of_service", "staff_a"
    )
    await set_bed_status(client, world, world.bed(world.centre_a, "A1"), "available", "staff_a")
    assert len(await alerts_of(client, world, "coordinator", kind="specialised_bed_freed")) == 1


async def test_an_urgent_request_no_bed_fits_pages_the_country_on_call(client, world: World):
    await on_call(client, world, "coordinator", region="BE")
    boy = await open_case(client, world, gender="boy")
    for label in ("B1", "B2"):
        await set_bed_status(
            client, world, world.bed(world.centre_a, label), "out_of_service", "staff_a"
        )
    waiting = (await create_request(client, world, boy["case_code"]))["request"]
    [alert] = await alerts_of(client, world, "coordinator", kind="urgent_request_unmatched")
    assert alert["facts"]["request_id"] == waiting["id"]
    assert alert["level"] == 1 and alert["severity"] == "high"
    assert ("officer", "in_app", "notice") in await recipients_of(alert["id"])


async def test_holds_not_answered_or_about_to_expire_alert_the_centre_and_officer(
    client, world: World
):
    case = await open_case(client, world)
    request = await create_request(client, world, case["case_code"])
    hold = await held(client, world, request["request"]["id"], world.bed(world.centre_a, "A1"))
    now = datetime.now(UTC)
    await placement.record_overdue_responses(now + timedelta(minutes=31))
    await placement.record_expiring_holds(now + timedelta(minutes=100))
    await events.handle_pending()

    for kind in ("hold_response_overdue", "hold_expiring"):
        [alert] = await alerts_of(client, world, "staff_a", kind=kind)
        assert alert["facts"]["hold_id"] == hold["id"]
        assert [a["id"] for a in await alerts_of(client, world, "officer", kind=kind)] == [
            alert["id"]
        ]
        assert await alerts_of(client, world, "staff_b", kind=kind) == []


async def test_a_centre_that_confirms_nothing_for_a_day_is_reminded(client, world: World):
    later = datetime.now(UTC) + timedelta(hours=25)
    assert await capacity.record_stale_centres(later) >= 1
    await events.handle_pending()
    stale = await alerts_of(client, world, "staff_a", kind="occupancy_stale")
    assert [a["centre_id"] for a in stale] == [world.centre_a["id"]]
    assert stale[0]["severity"] == "low"


async def test_the_daily_digest_goes_once_to_subscribers_of_its_region(client, world: World):
    with WebhookReceiver(SECRET) as service_inbox:
        await external_webhook(
            client, world, service_inbox.url, ["vacancy_digest"], regions=["BE-WLG"]
        )
        assert await alerts.send_vacancy_digests() == 1
        assert await alerts.send_vacancy_digests() == 0  # same day: once
        [digest] = await received(service_inbox, 1, kind="vacancy_digest")
        facts = digest.body["alert"]["facts"]
        assert facts["region"] == "BE-WLG"
        assert [c["name"] for c in facts["centres"]] == ["Maison des Tilleuls"]
        assert facts["total_free_now"] == 5
        assert "address" not in str(facts).lower()
        [row] = await Alert.select(Alert.status).where(Alert.kind == "vacancy_digest")
        assert row["status"] == "resolved"  # informational: nobody must act on it


async def test_acknowledge_and_resolve_are_one_action_each(client, world: World):
    await on_call(client, world, "coordinator")
    stay = await placed_minor(client, world)
    await report_runaway(client, world, stay["id"])
    [alert] = await alerts_of(client, world, "coordinator", kind="runaway")
    url = f"/api/alerts/{alert['id']}"

    analyst = await client.post(f"{url}/acknowledge", headers=world.auth("analyst"))
    assert analyst.status_code == 403
    stranger = await client.post(f"{url}/acknowledge", headers=world.auth("staff_b"))
    assert stranger.status_code == 403
    first = await client.post(f"{url}/acknowledge", headers=world.auth("coordinator"))
    assert first.status_code == 200
    assert first.json()["acknowledged_by"] == "coordinator"
    again = await client.post(f"{url}/acknowledge", headers=world.auth("admin"))
    assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]
    # The officer is informed of the runaway but does not answer for the on-call service.
    informed = await client.post(f"{url}/resolve", json={}, headers=world.auth("officer"))
    assert informed.status_code == 403
    done = await client.post(
        f"{url}/resolve", json={"note": "found"}, headers=world.auth("coordinator")
    )
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["resolved_by"]) == ("resolved", "coordinator")
    assert done.json()["resolution_note"] == "found"
    twice = await client.post(f"{url}/resolve", json={}, headers=world.auth("coordinator"))
    assert twice.status_code == 409
    missing = await client.post("/api/alerts/999999/acknowledge", headers=world.auth("admin"))
    assert missing.status_code == 404
    assert await alerts.remind_due(datetime.now(UTC) + timedelta(days=1)) == 0
