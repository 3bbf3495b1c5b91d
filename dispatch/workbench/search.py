"""Ticket search for the workbench: the filters (checked as query parameters), the scoped queryset and its
rows. Every search starts from dispatch.access.visible_tickets, so an agency finds only tickets behind its
own work orders, and its filters look only at its own work orders and clocks.

Text is a substring match (``icontains``) over title, description and address: Chinese has no spaces to
split words on, and a LIKE over the stored text behaves the same on SQLite and PostgreSQL. Several words
separated by spaces must all occur (each in any of the three fields).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils.translation import gettext as _
from rest_framework import serializers

from callcenter.models import Channel, Ticket, TicketCaller, TicketState, Urgency
from callcenter.phones import InvalidPhone, normalise_phone
from core import clock
from core.errors import NotAllowed
from core.parsing import AwareDateTimeField
from dispatch.access import visible_tickets, visible_work_orders
from dispatch.workbench.queues import running_clocks
from dispatch.workbench.rows import UrgeCheck, clocks_by_id, ticket_brief, work_order_brief
from organisation.models import Agency, Subject, User
from organisation.policy import is_centre, sees_caller_details

MAX_TEXT = 100
#: "T09:00:00+08:00" arrives as "T09:00:00 08:00" when a client forgot to encode the plus sign of a query string.
_SPACED_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


class QueryDateTimeField(AwareDateTimeField):
    """An ISO 8601 time with its offset, as a query parameter."""

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            value = _SPACED_OFFSET.sub(r"\1+\2", value.strip())
        return super().to_internal_value(value)


class SearchQuery(serializers.Serializer):
    """The search filters; every one optional, all of them combined (AND)."""

    number = serializers.CharField(required=False, max_length=40, help_text="Exact ticket number")
    phone = serializers.CharField(required=False, max_length=40, help_text="Caller's number (centre only)")
    text = serializers.CharField(required=False, max_length=MAX_TEXT, help_text="Words in title/description/address")
    subject = serializers.CharField(required=False, max_length=40, help_text="Subject code, with its descendants")
    agency = serializers.CharField(required=False, max_length=40, help_text="Agency code: a work order of it")
    district = serializers.CharField(required=False, max_length=20, help_text="District code of the placement")
    state = serializers.ChoiceField(choices=TicketState.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    created_since = QueryDateTimeField(required=False, help_text="Accepted at or after (ISO 8601 with offset)")
    created_until = QueryDateTimeField(required=False, help_text="Accepted at or before (ISO 8601 with offset)")
    overdue = serializers.BooleanField(required=False, allow_null=True, help_text="A running clock past due")

    def validate_phone(self, value: str) -> str:
        if not is_centre(self.context["user"]):
            raise NotAllowed(
                _("Only the centre may search by the caller's phone number."),
                fields={"phone": [_("Only the centre may search by the caller's phone number.")]},
            )
        try:
            return normalise_phone(value)
        except InvalidPhone as exc:
            raise serializers.ValidationError(_("Not a valid phone number.")) from exc

    def validate_subject(self, value: str) -> list[int]:
        subject = Subject.objects.filter(code=value).first()
        if subject is None:
            raise serializers.ValidationError(_("Unknown subject."))
        return subject_and_descendants(subject.pk)

    def validate_agency(self, value: str) -> int:
        agency_id = Agency.objects.filter(code=value).values_list("pk", flat=True).first()
        if agency_id is None:
            raise serializers.ValidationError(_("Unknown agency."))
        return int(agency_id)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("created_since"), attrs.get("created_until")
        if since and until and since > until:
            raise serializers.ValidationError({"created_until": [_("Must not be earlier than 'since'.")]})
        return attrs


def parse_query(params: Any, user: User) -> dict[str, Any]:
    """The filters from a request's query parameters; an empty parameter is no filter (400 with field errors
    for a bad one, 403 for a filter the viewer may not use)."""
    data = {key: value for key, value in params.items() if isinstance(value, str) and value.strip()}
    serializer = SearchQuery(data=data, context={"user": user})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def subject_and_descendants(subject_id: int) -> list[int]:
    """The subject and every subject below it in the tree (the tree is small: one query)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Subject.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found, todo = [], [subject_id]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def search_tickets(user: User, query: dict[str, Any]) -> QuerySet[Ticket]:
    """The viewer's tickets matching every given filter, newest first."""
    tickets = visible_tickets(user)
    if query.get("number"):
        tickets = tickets.filter(number=query["number"].strip())
    if query.get("phone"):
        phone = query["phone"]
        merged_in = TicketCaller.objects.filter(caller__phone=phone).values("ticket_id")
        tickets = tickets.filter(Q(caller__phone=phone) | Q(pk__in=merged_in))
    for word in (query.get("text") or "").split():
        tickets = tickets.filter(Q(title__icontains=word) | Q(description__icontains=word) | Q(address__icontains=word))
    if query.get("subject"):
        tickets = tickets.filter(subject_id__in=query["subject"])
    if query.get("agency"):
        # Only work orders the viewer sees: an agency learns nothing about other agencies' work.
        tickets = tickets.filter(pk__in=visible_work_orders(user).filter(agency_id=query["agency"]).values("ticket_id"))
    if query.get("district"):
        tickets = tickets.filter(placement__district_code=query["district"])
    for name in ("state", "urgency", "channel"):
        if query.get(name):
            tickets = tickets.filter(**{name: query[name]})
    if query.get("created_since"):
        tickets = tickets.filter(created_at__gte=query["created_since"])
    if query.get("created_until"):
        tickets = tickets.filter(created_at__lte=query["created_until"])
    if query.get("overdue") is not None:
        late = Exists(running_clocks(user).filter(ticket=OuterRef("pk"), due_at__lt=clock.now()))
        tickets = tickets.filter(late if query["overdue"] else ~late)
    return tickets.order_by("-created_at", "-id")


def with_row_data(user: User, tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """What a result row shows joined or prefetched: subject, caller, placement, the viewer's work orders with
    their agencies, and the id of the ticket's running clock due first (in the viewer's scope)."""
    first = running_clocks(user).filter(ticket=OuterRef("pk")).order_by(F("due_at").asc(nulls_last=True), "id")
    return (
        tickets.select_related("subject", "caller", "placement")
        .annotate(row_clock_id=Subquery(first.values("id")[:1]))
        .prefetch_related(
            Prefetch(
                "work_orders",
                queryset=visible_work_orders(user).select_related("agency").order_by("id"),
                to_attr="viewer_work_orders",
            )
        )
    )


def district_of(ticket: Ticket) -> dict[str, str] | None:
    placement = getattr(ticket, "placement", None)
    if placement is None or not placement.district_code:
        return None
    return {"code": placement.district_code, "name": placement.district_name}


def present(user: User, tickets: Sequence[Ticket]) -> list[dict[str, Any]]:
    """A page of results (from ``with_row_data``): two more queries for the clocks and their cards."""
    full = sees_caller_details(user)
    may_urge = UrgeCheck(user)
    clocks = clocks_by_id([getattr(t, "row_clock_id", None) for t in tickets])
    return [
        {
            "key": f"ticket-{ticket.pk}",
            "kind": "ticket",
            "ticket": ticket_brief(ticket, full=full),
            "district": district_of(ticket),
            "work_orders": [work_order_brief(wo, may_urge) for wo in getattr(ticket, "viewer_work_orders", [])],
            "clock": clocks.get(getattr(ticket, "row_clock_id", None) or 0),
        }
        for ticket in tickets
    ]
