"""Row locks for the write path. Always lock tickets before their work orders, each in pk order,
so that two actions never wait on each other in opposite orders."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Subquery

from callcenter.models import Ticket
from dispatch.emergency.models import Unit
from dispatch.errors import NotFound
from dispatch.models import WorkOrder


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


def lock_work_order(work_order_id: int) -> tuple[Ticket, WorkOrder]:
    # The ticket is found and locked in one statement, before its work order (the lock order above).
    owner = WorkOrder.objects.filter(pk=work_order_id).values("ticket_id")[:1]
    ticket = Ticket.objects.select_for_update().filter(pk=Subquery(owner)).select_related("subject").first()
    if ticket is None:
        raise NotFound("No such work order.")
    work_order = WorkOrder.objects.select_for_update().select_related("agency").get(pk=work_order_id)
    return ticket, work_order


def lock_units(unit_ids: Iterable[int]) -> dict[int, Unit]:
    """Units in pk order (emergency linkage). Lock an incident before the units assigned to it."""
    ids = sorted(set(unit_ids))
    units = {u.pk: u for u in Unit.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    if len(units) != len(ids):
        raise NotFound("No such unit.")
    return units
