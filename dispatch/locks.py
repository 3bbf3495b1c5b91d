"""Row locks of tickets and work orders, in the one lock order that core/locks.py writes down:
tickets before their work orders, each in pk order."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Subquery

from callcenter.models import Ticket
from core.errors import NotFound
from core.locks import lock_all, lock_many
from dispatch.access import work_orders_of_agency
from dispatch.models import WorkOrder
from organisation.models import User
from organisation.policy import EVERY_AGENCY, work_order_scope


def lock_ticket(ticket_id: int) -> Ticket:
    # of=("self",): the joined subject is read, not locked - on PostgreSQL a plain FOR UPDATE over the join
    # would lock the Subject row too, and every operator working on that subject would queue behind us.
    ticket = Ticket.objects.select_for_update(of=("self",)).filter(pk=ticket_id).select_related("subject").first()
    if ticket is None:
        raise NotFound("No such ticket.")
    return ticket


def lock_tickets(ticket_ids: Iterable[int]) -> dict[int, Ticket]:
    return lock_many(Ticket.objects.all(), ticket_ids, missing="No such ticket.")


def lock_work_orders_of_ticket(ticket: Ticket) -> list[WorkOrder]:
    # The agencies are read with the work orders, not locked (a lock on an Agency row would tie tickets together).
    return lock_all(WorkOrder.objects.filter(ticket=ticket).select_related("agency"))


def lock_work_order(work_order_id: int, *, visible_to: User | None = None) -> tuple[Ticket, WorkOrder]:
    """The work order and its ticket, locked; with ``visible_to``, NotFound unless that user may see it
    (dispatch/access.py), checked in the same statement that locks the ticket."""
    work_order_id = int(work_order_id)  # as a queryset filter would: "7" is 7, anything else a ValueError
    scope = EVERY_AGENCY if visible_to is None else work_order_scope(visible_to)
    if scope == EVERY_AGENCY:
        work_orders = WorkOrder.objects.filter(pk=work_order_id)
    elif isinstance(scope, int):
        work_orders = work_orders_of_agency(scope).filter(pk=work_order_id)
    else:
        raise NotFound("No such work order.")
    # The ticket is found and locked in one statement, before its work order (the lock order above).
    ticket = (
        Ticket.objects.select_for_update(of=("self",)).filter(pk=Subquery(work_orders.values("ticket_id")[:1])).first()
    )
    if ticket is None:
        raise NotFound("No such work order.")
    work_order = WorkOrder.objects.select_for_update(of=("self",)).filter(pk=work_order_id).first()
    if work_order is None:
        raise NotFound("No such work order.")
    return ticket, work_order
