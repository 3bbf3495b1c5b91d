"""What a ticket's reveal shows beside the caller's number: the free texts the viewer may read (the ticket, its
own work orders, their timeline rows) in which a typed phone or ID-card number is masked for them, in full."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from dispatch.access import visible_timeline
from dispatch.serializers import TicketDetailSerializer, TimelineEntrySerializer
from dispatch.ticket_screen.data import ticket_queryset
from organisation.policy import current_user
from organisation.privacy import hidden_texts


def revealed_texts(request: Request, ticket_id: int) -> dict[str, Any]:
    """{"ticket": {field: text}, "work_orders": {id: {field: text}}, "timeline": {id: {field: text}}}; only
    texts that hold a masked number are listed (dotted keys for nested ones: ``pending_extension.reason``)."""
    user = current_user(request)
    ticket = ticket_queryset(user).get(pk=ticket_id)
    detail = TicketDetailSerializer(ticket, context={"request": request}).data
    rows = visible_timeline(user, ticket).select_related("actor", "actor_agency", "work_order").order_by("id")
    timeline = TimelineEntrySerializer(rows, many=True).data
    own = {key: value for key, value in detail.items() if key != "work_orders"}
    work_orders = {str(row["id"]): hidden_texts(row) for row in detail["work_orders"]}
    notes = {str(row["id"]): hidden_texts(row) for row in timeline}
    return {
        "ticket": hidden_texts(own),
        "work_orders": {key: texts for key, texts in work_orders.items() if texts},
        "timeline": {key: texts for key, texts in notes.items() if texts},
    }
