"""The ticket page's buttons, generated from the workflow table's own rows (``workflow.table()``), not from the
function the page asks (``available_actions``): for every state of both machines, every centre role and every
agency user (its own agency's work orders, a co-handling agency's), and every action of the table:

- a row whose sources hold the state, whose roles hold one of the user's and whose agency rule lets the user act
  (and whose guards do not fail in that state by definition) has a button, labelled with the row's label;
- any other action has none, and the workflow's one gate (``workflow.authorise``) refuses it;
- a button whose row the gate passes but whose guard fails now is marked (aria-disabled) with the guard's message,
  and every other button passes the gate.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from callcenter.models import Ticket, TicketState
from core import clock
from core.errors import Conflict, NotAllowed
from dispatch import workflow
from dispatch.models import WorkOrder, WorkOrderState
from dispatch.workflow import Machine
from organisation.models import User
from tests.conftest import CENTRE_USERS, World
from tests.dispatch.test_ticket_page import parse
from tests.dispatch.test_workflow_table import Builder
from tests.second_factor import verified_login

AGENCY_USERS = ["handler_a", "agencyadmin_a", "handler_b"]  # A holds the lead's work order; B co-handles


def table_says(machine: Machine, state: str, user: User, agency_id: int | None) -> dict[str, workflow.Transition]:
    """The actions the table's rows offer this user in this state, read off the rows themselves."""
    offered: dict[str, workflow.Transition] = {}
    for row in workflow.table():
        if row.machine != machine or state not in row.sources or row.is_system:
            continue
        if not set(user.roles) & set(row.roles) or any(state in guard.fails_in for guard in row.guards):
            continue
        if row.own_agency_only and user.agency_id != agency_id and not (row.centre_may_act and user.is_centre_staff):
            continue
        offered[row.action] = row
    return offered


def gate(machine: Machine, user: User, obj: Any, action: str, agency_id: int | None) -> str:
    """What workflow.authorise says: "ok", "guard:<code>", "refused" (no row, or the role or agency may not)."""
    try:
        workflow.authorise(
            machine, obj.state, action, actor=user, obj=obj, agency_id=agency_id, context={"now": clock.now()}
        )
    except NotAllowed:
        return "refused"
    except Conflict as error:
        return "refused" if error.code == "transition_not_allowed" else f"guard:{error.code}"
    return "ok"


def buttons(scope: Any, machine: Machine) -> dict[str, Any]:
    return {b.get("data-action"): b for b in scope.xpath(f'.//button[@data-machine="{machine.value}"]')}


def check(machine: Machine, user: User, obj: Any, shown: dict[str, Any], agency_id: int | None) -> None:
    offered = table_says(machine, obj.state, user, agency_id)
    assert set(shown) == set(offered), (user.username, machine, obj.state)
    for action in workflow.actions(machine):
        said = gate(machine, user, obj, action, agency_id)
        if action not in shown:
            fails_here = action in offered or any(
                obj.state in g.fails_in for r in workflow.table() if r.action == action for g in r.guards
            )
            assert said == "refused" or fails_here, (user.username, machine, obj.state, action, said)
            continue
        button = shown[action]
        assert button.text_content().strip() == str(offered[action].label)
        if said.startswith("guard:"):
            assert button.get("aria-disabled") == "true", (user.username, action, said)
            guard = next(g for g in offered[action].guards if g.code == said.removeprefix("guard:"))
            assert button.get("data-blocked") == str(guard.message)
        else:
            assert said == "ok", (user.username, machine, obj.state, action, said)
            assert button.get("aria-disabled") != "true"


def assert_page(world: World, ticket: Ticket) -> None:
    for who in [*CENTRE_USERS, *AGENCY_USERS]:
        user = world.users[who]
        response = verified_login(Client(), user).get(f"/tickets/{ticket.number}/")
        orders = ticket.work_orders.order_by("id")
        mine = [wo for wo in orders if user.is_centre_staff or wo.agency_id == user.agency_id]
        if not mine and not user.is_centre_staff:
            assert response.status_code == 404, who
            continue
        tree = parse(response)
        check(Machine.TICKET, user, ticket, buttons(tree.get_element_by_id("ticket-actions"), Machine.TICKET), None)
        cards = {int(c.get("data-work-order-card")): c for c in tree.xpath("//article[@data-work-order-card]")}
        assert set(cards) == {wo.pk for wo in mine}, who
        for wo in mine:
            check(Machine.WORK_ORDER, user, wo, buttons(cards[wo.pk], Machine.WORK_ORDER), wo.agency_id)
            # Each card names its agency (as the API names it, in the page's language).
            assert cards[wo.pk].xpath('.//*[@data-part="agency"]')[0].text_content() == wo.agency.display_name


@pytest.mark.parametrize("state", [str(s) for s in TicketState])
def test_ticket_buttons_in_every_ticket_state_are_the_tables_rows(world: World, state: str) -> None:
    ticket_id, _wo = Builder(world).ticket(state)
    ticket = Ticket.objects.get(pk=ticket_id)
    assert ticket.state == state
    assert_page(world, ticket)


@pytest.mark.parametrize("state", [str(s) for s in WorkOrderState])
def test_work_order_buttons_in_every_work_order_state_are_the_tables_rows(world: World, state: str) -> None:
    ticket_id, wo_id = Builder(world).work_order(state)
    assert WorkOrder.objects.get(pk=wo_id).state == state
    assert_page(world, Ticket.objects.get(pk=ticket_id))


def test_a_co_handling_agency_gets_the_buttons_of_its_own_work_order_only(world: World) -> None:
    builder = Builder(world)
    ticket_id = builder.post("operator", "/api/tickets/", _payload())["id"]
    builder.post(
        "dispatcher",
        f"/api/tickets/{ticket_id}/dispatch/",
        {"lead_agency_id": world.agency_a.pk, "co_agency_ids": [world.agency_b.pk]},
    )
    ticket = Ticket.objects.get(pk=ticket_id)
    co = ticket.work_orders.get(agency=world.agency_b)
    assert_page(world, ticket)
    builder.post("handler_b", f"/api/work-orders/{co.pk}/sign/")
    builder.post("handler_b", f"/api/work-orders/{co.pk}/return/", {"reason": "不属本单位", "legal_basis": "三定方案"})
    assert_page(world, Ticket.objects.get(pk=ticket_id))


def _payload() -> dict[str, Any]:
    from tests.conftest import ticket_payload

    return ticket_payload()
