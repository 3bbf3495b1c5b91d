"""Phone and ID-card numbers typed into free text (titles, descriptions, instructions, notes, replies, incident
titles and task notes) reach agencies masked, as the caller's number field does, in every way they read it; the
centre reads them in full; the ticket's reveal shows them with an audit entry; a reveal needs a real reason."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client

from callcenter import actions as intake
from callcenter.models import Ticket
from core.redaction import is_id_card_number, mask_personal_numbers
from dispatch import actions as dispatching
from dispatch.models import WorkOrder
from organisation.models import AuditEntry
from tests.conftest import World, ticket_payload
from tests.second_factor import verified_login

MOBILE, MOBILE_MASKED = "139-1234-5678", "139****5678"
LANDLINE, LANDLINE_MASKED = "(0772)2801234", "077****1234"
ID_CARD, ID_CARD_MASKED = "11010519491231002X", "110***********002X"
TITLE = f"市民{MOBILE}反映垃圾未清运"
DESCRIPTION = f"联系电话 +86 139 1234 5678 或 {LANDLINE}，身份证号{ID_CARD}。"
INSTRUCTIONS = "请致电13912345678核实"
REPLY = "已电话联系0772-2801234，问题已处理"
SECRETS = ("13912345678", "139-1234-5678", "139 1234 5678", "2801234", ID_CARD)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("13812345678", "138****5678"),
        ("电话138-1234-5678。", "电话138****5678。"),
        ("138 1234 5678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("+8613812345678", "138****5678"),
        ("座机0772-1234567", "座机077****4567"),
        ("(0772)1234567", "077****4567"),
        ("tel13812345678", "tel138****5678"),
        (f"证件{ID_CARD}号", f"证件{ID_CARD_MASKED}号"),
    ],
)
def test_every_common_written_form_is_masked(text: str, masked: str) -> None:
    assert mask_personal_numbers(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "工单12345-20261207-000001已办结",  # a ticket number
        "2026-12-07T10:00:00+08:00",
        "坐标 24.312600, 109.411200",
        "110105194912310021",  # 18 digits whose check digit does not fit: not an ID card
        "金额12345678元",
        "",
    ],
)
def test_what_is_not_a_phone_or_id_number_is_left_alone(text: str) -> None:
    assert mask_personal_numbers(text) == text


def test_the_id_card_check_digit_is_gb_11643() -> None:
    assert is_id_card_number("11010519491231002X") and is_id_card_number("11010519491231002x")
    assert not is_id_card_number("110105194912310021") and not is_id_card_number("1101051949123100")


def _ticket_with_numbers(world: World) -> tuple[Ticket, WorkOrder]:
    users = world.users
    ticket, _created = intake.do_create_ticket(
        ticket_payload(title=TITLE, description=DESCRIPTION), actor=users["operator"]
    )
    dispatching.do_dispatch_ticket(
        ticket.pk, actor=users["dispatcher"], lead_agency_id=world.agency_a.pk, instructions=INSTRUCTIONS
    )
    work_order = WorkOrder.objects.get(ticket=ticket)
    dispatching.do_sign_work_order(work_order.pk, actor=users["handler_a"], note=f"已签收，联系人{MOBILE}")
    dispatching.do_reply_work_order(work_order.pk, actor=users["handler_a"], reply=REPLY, outcome="resolved")
    return ticket, work_order


def _assert_masked(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


def test_the_api_masks_typed_numbers_for_agencies_and_not_for_the_centre(world: World) -> None:
    ticket, work_order = _ticket_with_numbers(world)
    agency = world.client("handler_a")
    detail = agency.get(f"/api/tickets/{ticket.pk}/").json()
    assert detail["title"] == f"市民{MOBILE_MASKED}反映垃圾未清运"
    assert detail["description"] == f"联系电话 {MOBILE_MASKED} 或 {LANDLINE_MASKED}，身份证号{ID_CARD_MASKED}。"
    (own,) = detail["work_orders"]
    assert (own["instructions"], own["reply_text"]) == ("请致电139****5678核实", "已电话联系077****1234，问题已处理")
    for url in (
        f"/api/tickets/{ticket.pk}/",
        f"/api/tickets/{ticket.pk}/timeline/",
        "/api/tickets/",
        f"/api/work-orders/{work_order.pk}/",
        "/api/work-orders/",
        "/api/search/tickets/",
    ):
        response = agency.get(url)
        assert response.status_code == 200, (url, response.content)
        _assert_masked(response.content.decode())
    notes = [row["note"] for row in agency.get(f"/api/tickets/{ticket.pk}/timeline/").json()]
    assert f"已签收，联系人{MOBILE_MASKED}" in notes
    centre = world.client("dispatcher").get(f"/api/tickets/{ticket.pk}/").json()
    assert (centre["title"], centre["description"]) == (TITLE, DESCRIPTION)
    assert centre["work_orders"][0]["reply_text"] == REPLY


def _page(world: World, who: str, url: str) -> str:
    client = Client()
    verified_login(client, world.users[who])
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_ticket_page_masks_typed_numbers_for_agencies(world: World) -> None:
    ticket, _work_order = _ticket_with_numbers(world)
    html = _page(world, "handler_a", f"/tickets/{ticket.number}/")
    _assert_masked(html)
    assert MOBILE_MASKED in html and ID_CARD_MASKED in html
    centre = _page(world, "dispatcher", f"/tickets/{ticket.number}/")
    assert MOBILE in centre and ID_CARD in centre and "0772-2801234" in centre


def test_the_workbench_export_masks_typed_numbers_for_agencies(world: World) -> None:
    _ticket_with_numbers(world)
    agency = world.client("handler_a").get("/api/search/tickets/export.csv")
    assert agency.status_code == 200
    rows = list(csv.reader(io.StringIO(agency.content.decode("utf-8-sig"))))
    text = "\n".join(",".join(row) for row in rows[1:])
    _assert_masked(text)
    assert ID_CARD_MASKED in text and MOBILE_MASKED in text
    centre = world.client("dispatcher").get("/api/search/tickets/export.csv").content.decode("utf-8-sig")
    assert ID_CARD in centre and MOBILE in centre


def test_incident_task_notes_and_titles_are_masked_for_the_linked_agency(world: World) -> None:
    from emergency import actions as emergency

    users = world.users
    body = {"type": "fire", "title": f"火情 报警人{MOBILE}", "latitude": 24.3126, "longitude": 109.4112}
    incident = emergency.do_report_incident(body, actor=users["commander"])
    link = emergency.do_link_agency(
        incident.pk, {"agency_id": world.agency_a.pk, "task": f"疏散，现场联系{LANDLINE}"}, actor=users["commander"]
    )
    emergency.do_act_on_task(link.pk, "acknowledge", {"note": f"已出发，带队{MOBILE}"}, actor=users["handler_a"])
    response = world.client("handler_a").get(f"/api/incidents/{incident.pk}/")
    assert response.status_code == 200, response.content
    _assert_masked(response.content.decode())
    assert MOBILE_MASKED in response.content.decode()
    centre = world.client("commander").get(f"/api/incidents/{incident.pk}/").content.decode()
    assert MOBILE in centre and LANDLINE in centre


def test_the_reveal_shows_the_typed_numbers_and_writes_an_audit_entry(world: World) -> None:
    ticket, work_order = _ticket_with_numbers(world)
    response = world.client("handler_a").post(
        f"/api/tickets/{ticket.pk}/reveal/", {"reason": "需电话联系市民确认位置"}, format="json"
    )
    assert response.status_code == 200, response.content
    texts = response.json()["texts"]
    assert texts["ticket"] == {"title": TITLE, "description": DESCRIPTION}
    assert texts["work_orders"][str(work_order.pk)] == {"instructions": INSTRUCTIONS, "reply_text": REPLY}
    assert f"已签收，联系人{MOBILE}" in [row.get("note") for row in texts["timeline"].values()]
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target_id, entry.reason) == (
        world.users["handler_a"],
        "reveal_caller",
        ticket.pk,
        "需电话联系市民确认位置",
    )
    assert "free_text" in entry.fields
    # The ordinary reads stay masked after a reveal.
    _assert_masked(world.client("handler_a").get(f"/api/tickets/{ticket.pk}/").content.decode())


@pytest.mark.parametrize(
    "reason", [".", "\u200b", "。。。", " \u200b\u200d\ufeff ", "a b", "!?-_"], ids=lambda r: repr(r)
)
def test_a_reveal_needs_a_reason_in_words(world: World, reason: str) -> None:
    ticket, _work_order = _ticket_with_numbers(world)
    response = world.client("handler_a").post(f"/api/tickets/{ticket.pk}/reveal/", {"reason": reason}, format="json")
    assert response.status_code == 400, response.content
    body: dict[str, Any] = response.json()
    assert body["code"] == "invalid_input" and "reason" in body["fields"]
    assert AuditEntry.objects.count() == 0


def test_a_short_reason_in_words_is_enough(world: World) -> None:
    ticket, _work_order = _ticket_with_numbers(world)
    response = world.client("handler_a").post(
        f"/api/tickets/{ticket.pk}/reveal/", {"reason": "核实地址"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert AuditEntry.objects.count() == 1
