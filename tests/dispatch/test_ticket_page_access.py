"""The ticket page: who may open it, what each side sees (masked callers, own work orders only), and the
details it shows (labels not codes, provisional deadlines, yellow and red cards, open supervision cases)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import lxml.html
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from callcenter.models import Ticket
from core import clock
from dispatch import workflow
from dispatch.deadlines.escalations import fire_due_until
from dispatch.models import WorkOrder
from tests.conftest import World, ticket_payload
from tests.dispatch.test_workflow_table import Builder
from tests.pinned_time import WORKDAY_MORNING
from tests.second_factor import verified_login

CST = ZoneInfo("Asia/Shanghai")
FULL_PHONE = "13812341234"  # ticket_payload's caller


def client_of(world: World, who: str | None) -> Client:
    client = Client()
    if who:
        verified_login(client, world.users[who])
    return client


def dispatched(world: World) -> tuple[Ticket, WorkOrder]:
    ticket_id, wo_id = Builder(world).ticket("dispatched")
    assert wo_id is not None
    return Ticket.objects.get(pk=ticket_id), WorkOrder.objects.get(pk=wo_id)


def visible_text(html: str) -> str:
    tree = lxml.html.fromstring(html)
    for node in tree.xpath("//script | //template | //style"):
        node.getparent().remove(node)
    return tree.text_content()


def test_anonymous_users_are_sent_to_the_login_page(world: World) -> None:
    ticket, _wo = dispatched(world)
    for url in (
        f"/tickets/{ticket.number}/",
        f"/tickets/{ticket.number}/?part=main",
        f"/tickets/id/{ticket.pk}/",
        "/tickets/",
    ):
        response = client_of(world, None).get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_another_agencys_ticket_is_not_found_and_says_no_more_than_a_missing_one(world: World) -> None:
    ticket, _wo = dispatched(world)  # agency A's
    other = client_of(world, "handler_b")
    for url in (f"/tickets/{ticket.number}/", f"/tickets/{ticket.number}/?part=main", f"/tickets/id/{ticket.pk}/"):
        assert other.get(url).status_code == 404, url
    foreign = other.get("/tickets/", {"number": ticket.number})
    missing = other.get("/tickets/", {"number": "12345-20000101-000001"})
    assert foreign.status_code == missing.status_code == 404
    assert visible_text(foreign.content.decode()) == visible_text(missing.content.decode()).replace(
        "12345-20000101-000001", ticket.number
    )
    assert client_of(world, "handler_a").get(f"/tickets/{ticket.number}/").status_code == 200


def test_a_user_without_a_role_may_not_open_the_page(world: World) -> None:
    ticket, _wo = dispatched(world)
    assert client_of(world, "nobody").get(f"/tickets/{ticket.number}/").status_code == 403
    assert client_of(world, "nobody").get("/tickets/").status_code == 403


def test_every_centre_role_opens_the_page_and_finds_tickets_by_number_or_id(world: World) -> None:
    ticket, _wo = dispatched(world)
    for who in ("operator", "dispatcher", "commander", "supervisor", "auditor", "admin", "handler_a", "agencyadmin_a"):
        client = client_of(world, who)
        assert client.get(f"/tickets/{ticket.number}/").status_code == 200, who
        by_id = client.get(f"/tickets/id/{ticket.pk}/")
        assert by_id.status_code == 302 and by_id["Location"] == f"/tickets/{ticket.number}/"
        opened = client.get("/tickets/", {"number": f"  {ticket.number} "})
        assert opened.status_code == 302 and opened["Location"] == f"/tickets/{ticket.number}/"
    empty = client_of(world, "operator").get("/tickets/")
    assert empty.status_code == 200 and 'id="open-number"' in empty.content.decode()
    assert client_of(world, "operator").get("/tickets/12345-20000101-000009/").status_code == 404


def test_agencies_see_the_caller_masked_with_a_reveal_button_and_the_centre_in_full(world: World) -> None:
    ticket, _wo = dispatched(world)
    agency = client_of(world, "handler_a").get(f"/tickets/{ticket.number}/").content.decode()
    assert FULL_PHONE not in agency  # nowhere: not in the text, not in the page's JSON
    assert re.search(r"138\*+1234", agency)
    assert 'id="reveal-button"' in agency
    centre = client_of(world, "operator").get(f"/tickets/{ticket.number}/").content.decode()
    assert FULL_PHONE in centre and 'id="reveal-button"' not in centre


def test_the_page_shows_labels_not_codes(world: World) -> None:
    ticket_id, _wo = Builder(world).ticket("replied")
    number = Ticket.objects.get(pk=ticket_id).number
    text = visible_text(client_of(world, "dispatcher").get(f"/tickets/{number}/?part=main").content.decode())
    assert "已回复，待审核" in text and "审核通过" in text and "垃圾清运" in text
    for code in ("replied", "pending_sign", "handling", "approve", "send_back", "complaint", "phone", "normal", "lead"):
        assert not re.search(rf"\b{code}\b", text), code


def test_a_work_order_shows_its_cards_supervision_case_and_reply(world: World) -> None:
    with clock.pinned_at(WORKDAY_MORNING):
        ticket_id, wo_id = Builder(world).ticket("in_progress", supervised=False)
    # Nobody replies: warning, yellow card, then the red card (which opens a supervision case).
    fire_due_until(WORKDAY_MORNING + dt.timedelta(days=60))
    number = Ticket.objects.get(pk=ticket_id).number
    for who in ("dispatcher", "handler_a"):
        tree = lxml.html.fromstring(client_of(world, who).get(f"/tickets/{number}/").content.decode())
        card = tree.xpath(f'//article[@data-work-order-card="{wo_id}"]')[0]
        assert "esc-serious" in card.get("class")
        assert card.xpath('.//header//span[contains(@class, "card-serious")]')
        assert len(card.xpath('.//ul[contains(@class, "cards")]/li')) == 3
        assert card.xpath('.//*[@data-part="supervision"]'), who
    api = world.client("dispatcher").get(f"/api/tickets/{ticket_id}/").json()
    wo = api["work_orders"][0]
    assert wo["escalation_level"] == "serious" and wo["open_supervision"] is not None
    assert [step["level"] for step in wo["escalations"]] == ["warning", "overdue", "serious"]


def test_a_deadline_on_the_provisional_calendar_is_marked(world: World) -> None:
    # Five working days from 2026-12-28 end in 2027, whose holiday schedule is not published: provisional.
    with clock.pinned_at(dt.datetime(2026, 12, 28, 10, 0, tzinfo=CST)):
        ticket_id, wo_id = Builder(world).ticket("in_progress", supervised=False)
    wo = world.client("handler_a").get(f"/api/tickets/{ticket_id}/").json()["work_orders"][0]
    handle = next(c for c in wo["clocks"] if c["stage"] == "handle")
    assert handle["due_provisional"] is True
    number = Ticket.objects.get(pk=ticket_id).number
    tree = lxml.html.fromstring(client_of(world, "handler_a").get(f"/tickets/{number}/").content.decode())
    card = tree.xpath(f'//article[@data-work-order-card="{wo_id}"]')[0]
    assert card.xpath(".//*[@data-provisional]")
    assert card.xpath(f'.//span[@data-due="{handle["due_at"]}"]')


def test_the_page_costs_the_same_queries_however_many_work_orders(world: World) -> None:
    builder = Builder(world)
    counts = []
    for co in ([], [world.agency_b.pk, world.agency_c.pk]):
        ticket_id = builder.post("operator", "/api/tickets/", ticket_payload())["id"]
        body = {"lead_agency_id": world.agency_a.pk, "co_agency_ids": co}
        builder.post("dispatcher", f"/api/tickets/{ticket_id}/dispatch/", body)
        number = Ticket.objects.get(pk=ticket_id).number
        client = client_of(world, "dispatcher")
        client.get(f"/tickets/{number}/")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/tickets/{number}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_an_action_whose_guard_fails_now_is_offered_but_marked_with_the_guards_message(world: World) -> None:
    ticket_id, wo_id = Builder(world).ticket("in_progress", supervised=False)
    number = Ticket.objects.get(pk=ticket_id).number

    def button(who: str, action: str) -> Any:
        tree = lxml.html.fromstring(client_of(world, who).get(f"/tickets/{number}/").content.decode())
        found = tree.xpath(f'//article[@data-work-order-card="{wo_id}"]//button[@data-action="{action}"]')
        assert len(found) == 1, (who, action)
        return found[0]

    # No supervision case is open: the agency may answer one only once there is one.
    answer = button("handler_a", "answer_supervision")
    assert answer.get("aria-disabled") == "true"
    assert answer.get("data-blocked") == str(workflow.HAS_OPEN_SUPERVISION.message)
    assert button("supervisor", "supervise").get("aria-disabled") is None
    Builder(world).post("supervisor", f"/api/work-orders/{wo_id}/supervise/", {"instruction": "请说明进展"})
    assert button("handler_a", "answer_supervision").get("aria-disabled") is None
    assert button("supervisor", "supervise").get("data-blocked") == str(workflow.NO_OPEN_SUPERVISION.message)


def test_odd_addresses_are_not_found_never_a_server_error(world: World) -> None:
    client = client_of(world, "operator")
    for url in ("/tickets/%00/", "/tickets/12345-%E2%80%AE/", f"/tickets/{'9' * 40}/", "/tickets/id/" + "9" * 30 + "/"):
        assert client.get(url).status_code == 404, url
    for number in ("\x00", "x" * 500, "12345-20260101-000001' OR 1=1"):
        assert client.get("/tickets/", {"number": number}).status_code == 404, number
