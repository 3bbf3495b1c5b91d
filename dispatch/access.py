"""Who may see what. Every read path for tickets and work orders starts from these querysets, so an
object outside a user's scope simply does not exist for them (404), never 403 with a hint."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from callcenter.models import Ticket
from dispatch.models import CENTRE_ROLES, Role, TimelineEntry, User, WorkOrder


def is_centre(user: User) -> bool:
    return user.is_authenticated and user.has_role(*CENTRE_ROLES)


def is_agency(user: User) -> bool:
    return user.is_authenticated and user.is_agency_staff


def visible_tickets(user: User) -> QuerySet[Ticket]:
    if is_centre(user):
        return Ticket.objects.all()
    if is_agency(user):
        return Ticket.objects.filter(pk__in=work_orders_of_agency(user.agency_id or 0).values("ticket_id"))
    return Ticket.objects.none()


#: work_order_scope() of centre staff: every work order.
EVERY_AGENCY = "every agency"


def work_order_scope(user: User) -> str | int | None:
    """Whose work orders the user sees: EVERY_AGENCY (centre), one agency's id (agency staff), or None (none)."""
    if is_centre(user):
        return EVERY_AGENCY
    if is_agency(user):
        return user.agency_id or 0
    return None


def visible_work_orders(user: User) -> QuerySet[WorkOrder]:
    scope = work_order_scope(user)
    if scope == EVERY_AGENCY:
        return WorkOrder.objects.all()
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


def sees_caller_details(user: User) -> bool:
    """Centre staff see callers' numbers and names; agencies see them masked unless revealed."""
    return is_centre(user)


def may_read_caller_history(user: User) -> bool:
    return user.has_role(Role.OPERATOR, Role.DISPATCHER, Role.COMMANDER, Role.SUPERVISOR, Role.ADMIN)


def may_edit_knowledge(user: User) -> bool:
    return user.has_role(Role.DISPATCHER, Role.ADMIN)


def may_read_audit(user: User) -> bool:
    return user.has_role(Role.AUDITOR, Role.SUPERVISOR, Role.ADMIN)


def current_user(request: Request) -> User:
    """The authenticated user of an API request (every endpoint requires authentication)."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user
