"""Dispatch's parts of a live screen's snapshot (realtime/queries.py): the open tickets and work orders the
audience may see, registered at ready()."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, OuterRef, Q, QuerySet, Subquery, Value, When

from callcenter.models import TERMINAL_TICKET_STATES, Ticket
from dispatch.models import INACTIVE_WORK_ORDER_STATES, Escalation, WorkOrder, WorkOrderState
from organisation.models import in_city
from realtime.audience import Audience

SNAPSHOT_LIMIT = 2000


def _open_work_orders(audience: Audience) -> QuerySet[WorkOrder]:
    work_orders = WorkOrder.objects.exclude(state__in=[*INACTIVE_WORK_ORDER_STATES, WorkOrderState.CLOSED])
    if not audience.centre:
        work_orders = work_orders.filter(agency_id=audience.agency_id or 0)
    elif audience.city_id is not None:
        work_orders = work_orders.filter(in_city(audience.city_id, field="ticket__city"))
    return work_orders


def _escalation_level() -> Subquery:
    """The highest escalation (serious > overdue > warning) of a work order's running stage clocks, or null."""
    rank = Case(When(level="serious", then=Value(3)), When(level="overdue", then=Value(2)), default=Value(1))
    running = Escalation.objects.filter(work_order=OuterRef("pk"), clock__stopped_at__isnull=True)
    return Subquery(running.annotate(rank=rank).order_by("-rank").values("level")[:1])


def open_tickets(audience: Audience) -> list[dict[str, Any]]:
    tickets = Ticket.objects.exclude(state__in=TERMINAL_TICKET_STATES)
    if not audience.centre:
        tickets = tickets.filter(Q(pk__in=_open_work_orders(audience).values("ticket_id")))
    elif audience.city_id is not None:
        # The city's centre: its city's tickets, as its socket receives their events (realtime/audience.py).
        tickets = tickets.filter(in_city(audience.city_id))
    fields = ("id", "number", "state", "urgency", "subject_id", "latitude", "longitude", "created_at")
    return list(tickets.order_by("-id").values(*fields)[:SNAPSHOT_LIMIT])


def open_work_orders(audience: Audience) -> list[dict[str, Any]]:
    fields = ("id", "number", "ticket_id", "agency_id", "responsibility", "state", "escalation_level")
    rows = _open_work_orders(audience).annotate(escalation_level=_escalation_level()).order_by("-id")
    return list(rows.values(*fields)[:SNAPSHOT_LIMIT])
