"""Row locks for the write path. Always lock tickets before their work orders, each in pk order,
so that two actions never wait on each other in opposite orders."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Subquery

from callcenter.models import Ticket
from dispatch.access import EVERY_AGENCY, work_order_scope, work_orders_of_agency
from dispatch.emergency.models import Unit
from dispatch.errors import NotFound
from dispatch.models import User, WorkOrder
from dispatch.prepared import PreparedQuery


def lock_ticket(ticket_id: int) -> Ticket:
    ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).select_related("subject").first()
    if ticket is None:
        raise NotFound("No such ticket.")
    return ticket


def lock_tickets(ticket_ids: Iterable[int]) -> dict[int, Ticket]:
    ids = sorted(set(ticket_ids))
    tickets = {t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    if len(tickets) != len(ids):
        raise NotFound("No such ticket.")
    return tickets


def lock_work_orders_of_ticket(ticket: Ticket) -> list[WorkOrder]:
    return list(WorkOrder.objects.select_for_update().filter(ticket=ticket).select_related("agency").order_by("pk"))


# Every work-order action starts with these statements: compiled once per connection (dispatch/prepared.py).
# No select_related: the few actions that need the ticket's subject or the work order's agency load it then.
_TICKET_OF_WORK_ORDER: PreparedQuery[Ticket] = PreparedQuery(
    Ticket,
    lambda work_order_id: Ticket.objects.select_for_update().filter(
        pk=Subquery(WorkOrder.objects.filter(pk=work_order_id).values("ticket_id")[:1])
    ),
    arity=1,
)
_TICKET_OF_AGENCY_WORK_ORDER: PreparedQuery[Ticket] = PreparedQuery(
    Ticket,
    lambda work_order_id, agency_id: Ticket.objects.select_for_update().filter(
        pk=Subquery(work_orders_of_agency(agency_id).filter(pk=work_order_id).values("ticket_id")[:1])
    ),
    arity=2,
)
_WORK_ORDER: PreparedQuery[WorkOrder] = PreparedQuery(
    WorkOrder, lambda work_order_id: WorkOrder.objects.select_for_update().filter(pk=work_order_id), arity=1
)


def lock_work_order(work_order_id: int, *, visible_to: User | None = None) -> tuple[Ticket, WorkOrder]:
    """The work order and its ticket, locked; with ``visible_to``, NotFound unless that user may see it
    (dispatch/access.py), checked in the same statement that locks the ticket."""
    work_order_id = int(work_order_id)  # as a queryset filter would: "7" is 7, anything else a ValueError
    scope = EVERY_AGENCY if visible_to is None else work_order_scope(visible_to)
    # The ticket is found and locked in one statement, before its work order (the lock order above).
    if scope == EVERY_AGENCY:
        tickets = _TICKET_OF_WORK_ORDER.instances(work_order_id)
    elif isinstance(scope, int):
        tickets = _TICKET_OF_AGENCY_WORK_ORDER.instances(work_order_id, scope)
    else:
        tickets = []
    if not tickets:
        raise NotFound("No such work order.")
    work_orders = _WORK_ORDER.instances(work_order_id)
    if not work_orders:
        raise NotFound("No such work order.")
    return tickets[0], work_orders[0]


def lock_units(unit_ids: Iterable[int]) -> dict[int, Unit]:
    """Units in pk order (emergency linkage). Lock an incident before the units assigned to it."""
    ids = sorted(set(unit_ids))
    units = {u.pk: u for u in Unit.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    if len(units) != len(ids):
        raise NotFound("No such unit.")
    return units
