"""Who sees which tickets, work orders and timeline steps: the organisation's policy (organisation/policy.py)
applied to the dispatch side's querysets. Every read path starts from these."""

from __future__ import annotations

from django.db.models import QuerySet

from callcenter.models import Ticket
from callcenter.queries import centre_tickets
from dispatch.models import TimelineEntry, WorkOrder
from organisation.models import User, in_city
from organisation.policy import EVERY_AGENCY, city_scope, is_agency, is_centre, work_order_scope


def visible_tickets(user: User) -> QuerySet[Ticket]:
    if is_centre(user):
        return centre_tickets(user)
    if is_agency(user):
        return Ticket.objects.filter(pk__in=work_orders_of_agency(user.agency_id or 0).values("ticket_id"))
    return Ticket.objects.none()


def visible_work_orders(user: User) -> QuerySet[WorkOrder]:
    scope = work_order_scope(user)
    if scope == EVERY_AGENCY:
        city = city_scope(user)
        return (
            WorkOrder.objects.filter(in_city(city, field="ticket__city"))
            if city is not None
            else WorkOrder.objects.all()
        )
    if isinstance(scope, int):
        return work_orders_of_agency(scope)
    return WorkOrder.objects.none()


def work_orders_of_agency(agency_id: int) -> QuerySet[WorkOrder]:
    return WorkOrder.objects.filter(agency_id=agency_id)


def may_see_work_order(user: User, work_order_id: int) -> bool:
    return visible_work_orders(user).filter(pk=work_order_id).exists()


def visible_timeline(user: User, ticket: Ticket) -> QuerySet[TimelineEntry]:
    """Agencies read the ticket's own steps and their own work orders' steps, not other agencies'."""
    rows = TimelineEntry.objects.filter(ticket=ticket)
    if is_centre(user):
        return rows
    return rows.filter(work_order__isnull=True) | rows.filter(work_order__agency_id=user.agency_id or 0)
