"""Read paths of the intake side."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from callcenter.models import Ticket, TicketCaller
from organisation.models import User, in_city
from organisation.policy import city_scope


def centre_tickets(user: User) -> QuerySet[Ticket]:
    """The tickets centre staff see: their city's, and those they accepted themselves (a call about a place in
    another city's service area belongs to that city); staff named to no city see every city's. The caller is
    known to be centre staff (dispatch/access.py ``visible_tickets`` decides for everyone)."""
    city = city_scope(user)
    return Ticket.objects.filter(in_city(city) | Q(created_by=user)) if city is not None else Ticket.objects.all()


def caller_history(phone_e164: str, tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Every ticket the caller is on, their own or merged into, newest first."""
    on_list = TicketCaller.objects.filter(caller__phone=phone_e164).values("ticket_id")
    return (
        tickets.filter(Q(caller__phone=phone_e164) | Q(pk__in=on_list))
        .select_related("subject", "appeal_type")
        .order_by("-created_at", "-id")
    )
