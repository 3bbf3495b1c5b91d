"""Read paths of the intake side."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from callcenter.models import Ticket, TicketCaller


def caller_history(phone_e164: str, tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Every ticket the caller is on, their own or merged into, newest first."""
    on_list = TicketCaller.objects.filter(caller__phone=phone_e164).values("ticket_id")
    return (
        tickets.filter(Q(caller__phone=phone_e164) | Q(pk__in=on_list))
        .select_related("subject", "appeal_type")
        .order_by("-created_at", "-id")
    )
