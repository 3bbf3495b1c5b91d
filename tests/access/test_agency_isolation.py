"""An agency never reads another agency's tickets or work orders, not even on a ticket both work on."""

from __future__ import annotations

import json

from dispatch import actions as dispatching
from dispatch.actions import tickets as ticket_actions
from dispatch.models import WorkOrder
from tests.access.scene import PHONE_NATIONAL, build_scene, new_ticket
from tests.conftest import World


def test_agency_cannot_find_a_foreign_ticket_by_number(world: World) -> None:
    scene = build_scene(world, "pending_sign")
    foreign = scene.tickets["b"].number
    rows = world.client("handler_a").get(f"/api/tickets/?number={foreign}").json()
    assert rows["count"] == 0 and foreign not in json.dumps(rows)
    rows = world.client("handler_a").get(f"/api/work-orders/?ticket={foreign}").json()
    assert rows["count"] == 0
    assert world.client("dispatcher").get(f"/api/tickets/?number={foreign}").json()["count"] == 1


def test_co_handling_agency_sees_the_shared_ticket_but_only_its_own_work_order(world: World) -> None:
    ticket = new_ticket(world, "a")
    dispatching.do_dispatch_ticket(
        ticket.pk, actor=world.users["dispatcher"], lead_agency_id=world.agency_a.pk, co_agency_ids=[world.agency_b.pk]
    )
    lead = WorkOrder.objects.get(ticket=ticket, agency=world.agency_a)
    co = WorkOrder.objects.get(ticket=ticket, agency=world.agency_b)
    client = world.client("handler_b")
    detail = client.get(f"/api/tickets/{ticket.pk}/").json()
    assert [wo["number"] for wo in detail["work_orders"]] == [co.number]
    for url in (
        f"/api/tickets/{ticket.pk}/",
        f"/api/tickets/{ticket.pk}/timeline/",
        "/api/work-orders/",
        f"/api/work-orders/{co.pk}/",
        f"/api/work-orders/{co.pk}/timeline/",
        "/api/tickets/",
    ):
        text = client.get(url).content.decode()
        assert lead.number not in text and PHONE_NATIONAL not in text, url
    assert client.get(f"/api/work-orders/{lead.pk}/").status_code == 404
    assert client.post(f"/api/work-orders/{lead.pk}/sign/", {}, format="json").status_code == 404
    assert WorkOrder.objects.get(pk=lead.pk).state == "pending_sign"


def test_redo_of_a_co_handled_ticket_does_not_show_the_other_agencys_work_order(world: World) -> None:
    """The ticket-level 'redo' row is shown to every agency on the ticket: it must not list work-order
    numbers (it once did, so the lead agency read the co-handler's number and vice versa)."""
    users = world.users
    ticket = new_ticket(world, "a")
    dispatching.do_dispatch_ticket(
        ticket.pk, actor=users["dispatcher"], lead_agency_id=world.agency_a.pk, co_agency_ids=[world.agency_b.pk]
    )
    lead = WorkOrder.objects.get(ticket=ticket, agency=world.agency_a)
    co = WorkOrder.objects.get(ticket=ticket, agency=world.agency_b)
    for wo, handler in ((lead, "handler_a"), (co, "handler_b")):
        dispatching.do_sign_work_order(wo.pk, actor=users[handler])
        dispatching.do_reply_work_order(wo.pk, actor=users[handler], reply="已处理", outcome="resolved")
        dispatching.do_approve_work_order(wo.pk, actor=users["dispatcher"])
    ticket_actions.do_revisit_ticket(ticket.pk, actor=users["operator"], satisfaction="unsatisfied", resolved=False)
    redo = world.client("dispatcher").post(
        f"/api/tickets/{ticket.pk}/redo/", {"note": "市民不满意", "work_order_ids": [lead.pk, co.pk]}, format="json"
    )
    assert redo.status_code == 200, redo.content
    for who, own, foreign in (("handler_a", lead, co), ("handler_b", co, lead)):
        text = world.client(who).get(f"/api/tickets/{ticket.pk}/timeline/").content.decode()
        assert own.number in text
        assert foreign.number not in text, f"{who} reads {foreign.number}"
