"""The ticket page (/tickets/<number>/) shows exactly the buttons the workflow table allows each user now.

Generated from the table: tickets and work orders are driven through the real API into every reachable state
(tests/dispatch/test_workflow_table.py's Builder), then every centre role and agency user opens the page. The
buttons on the ticket and on each work order must be ``workflow.available_actions`` for that user, no more and no
fewer, labelled with the table's labels; the ticket API lists the same actions; every action the table knows has
a form on the page.
"""

from __future__ import annotations

from typing import Any

import lxml.html
import pytest
from django.test import Client

from callcenter.models import Ticket, TicketState
from dispatch import workflow
from dispatch.models import WorkOrder, WorkOrderState
from dispatch.workflow import Machine
from organisation.models import User
from organisation.policy import is_centre
from tests.conftest import CENTRE_USERS, World
from tests.dispatch.test_workflow_table import Builder
from tests.second_factor import verified_login

CENTRE = list(CENTRE_USERS)
AGENCY_OWN = ["handler_a", "agencyadmin_a"]  # the work orders are agency A's
VIEWERS = CENTRE + AGENCY_OWN


def page_client(world: World, who: str) -> Client:
    client = Client()
    verified_login(client, world.users[who])
    return client


def parse(response: Any) -> Any:
    return lxml.html.fromstring(response.content.decode())


def ticket_buttons(tree: Any) -> list[str]:
    return tree.xpath('//*[@id="ticket-actions"]//button[@data-machine="ticket"]/@data-action')


def work_order_buttons(tree: Any) -> dict[int, list[str]]:
    cards = tree.xpath("//article[@data-work-order-card]")
    return {
        int(card.get("data-work-order-card")): card.xpath('.//button[@data-machine="work_order"]/@data-action')
        for card in cards
    }


def assert_page_matches_table(world: World, who: str, ticket: Ticket) -> None:
    user: User = world.users[who]
    client = page_client(world, who)
    # The part the page reloads after an action carries the same buttons (checked for one user of each side).
    urls = [f"/tickets/{ticket.number}/"]
    if who in ("dispatcher", "handler_a"):
        urls.append(f"/tickets/{ticket.number}/?part=main")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (who, url, response.status_code)
        tree = parse(response)

        expected_ticket = workflow.available_actions(Machine.TICKET, ticket.state, user)
        assert ticket_buttons(tree) == expected_ticket, (who, ticket.state)
        labels = tree.xpath('//*[@id="ticket-actions"]//button[@data-machine="ticket"]')
        for button, action in zip(labels, expected_ticket, strict=True):
            row = workflow.find(Machine.TICKET, ticket.state, action)
            assert row is not None and button.text_content().strip() == str(row.label)
            assert button.text_content().strip() != action  # a label, never the code

        visible = [wo for wo in ticket.work_orders.order_by("id") if is_centre(user) or wo.agency_id == user.agency_id]
        expected_orders = {
            wo.pk: workflow.available_actions(Machine.WORK_ORDER, wo.state, user, agency_id=wo.agency_id)
            for wo in visible
        }
        assert work_order_buttons(tree) == expected_orders, (who, ticket.state)

    # The API the page's forms post to says the same.
    api = world.client(who).get(f"/api/tickets/{ticket.pk}/").json()
    assert api["available_actions"] == expected_ticket
    assert {wo["id"]: wo["available_actions"] for wo in api["work_orders"]} == expected_orders


TICKET_STATES = [str(state) for state in TicketState]
WORK_ORDER_STATES = [str(state) for state in WorkOrderState]


def test_every_state_of_both_machines_is_walked() -> None:
    assert set(TICKET_STATES) == set(workflow.states(Machine.TICKET))
    assert set(WORK_ORDER_STATES) == set(workflow.states(Machine.WORK_ORDER))


@pytest.mark.parametrize("state", TICKET_STATES)
def test_ticket_page_buttons_are_the_tables_for_every_role_in_every_ticket_state(world: World, state: str) -> None:
    ticket_id, _wo = Builder(world).ticket(state)
    ticket = Ticket.objects.get(pk=ticket_id)
    assert ticket.state == state
    for who in CENTRE:
        assert_page_matches_table(world, who, ticket)
    for who in AGENCY_OWN:
        if ticket.work_orders.filter(agency=world.agency_a).exists():
            assert_page_matches_table(world, who, ticket)
        else:  # not dispatched (yet): no agency sees it
            assert page_client(world, who).get(f"/tickets/{ticket.number}/").status_code == 404


@pytest.mark.parametrize("state", WORK_ORDER_STATES)
def test_ticket_page_buttons_are_the_tables_for_every_role_in_every_work_order_state(world: World, state: str) -> None:
    ticket_id, wo_id = Builder(world).work_order(state)
    assert WorkOrder.objects.get(pk=wo_id).state == state
    ticket = Ticket.objects.get(pk=ticket_id)
    for who in VIEWERS:
        assert_page_matches_table(world, who, ticket)


def test_co_handling_agencies_each_see_only_their_own_work_order_and_its_buttons(world: World) -> None:
    builder = Builder(world)
    ticket_id = builder.post("operator", "/api/tickets/", _payload())["id"]
    builder.post(
        "dispatcher",
        f"/api/tickets/{ticket_id}/dispatch/",
        {"lead_agency_id": world.agency_a.pk, "co_agency_ids": [world.agency_b.pk]},
    )
    ticket = Ticket.objects.get(pk=ticket_id)
    lead = ticket.work_orders.get(agency=world.agency_a)
    co = ticket.work_orders.get(agency=world.agency_b)
    builder.post("handler_b", f"/api/work-orders/{co.pk}/sign/")
    for who, own in (("handler_a", lead), ("handler_b", co)):
        tree = parse(page_client(world, who).get(f"/tickets/{ticket.number}/"))
        assert list(work_order_buttons(tree)) == [own.pk]
        assert_page_matches_table(world, who, ticket)
    tree = parse(page_client(world, "dispatcher").get(f"/tickets/{ticket.number}/"))
    assert list(work_order_buttons(tree)) == [lead.pk, co.pk]
    # handler_c's agency has no work order on the ticket: it does not exist for them.
    assert page_client(world, "handler_c").get(f"/tickets/{ticket.number}/").status_code == 404


def test_every_action_of_the_table_has_a_form_on_the_page(world: World) -> None:
    ticket_id, _wo = Builder(world).ticket("replied")
    number = Ticket.objects.get(pk=ticket_id).number
    for who in ("admin", "handler_a"):
        html = page_client(world, who).get(f"/tickets/{number}/").content.decode()
        for machine in (Machine.TICKET, Machine.WORK_ORDER):
            for action in workflow.actions(machine):
                assert f'id="form-{machine.value}-{action}"' in html, (machine, action)
        assert 'id="form-generic"' in html and 'id="form-reveal"' in html


def _payload() -> dict[str, Any]:
    from tests.conftest import ticket_payload

    return ticket_payload()
