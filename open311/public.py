"""GET requests and GET requests/{id}: tickets as public Open311 service requests.

What is public (the choice, also in the README): every ticket except those whose caller asked for confidentiality
and those of the appeal types in ``HOTLINE["OPEN311_PRIVATE_APPEAL_TYPES"]`` (default: reports, 举报, whose
reporters are protected). Of a public ticket the world sees the subject, the description and the agency's
approved reply with phone and ID-card numbers masked (core/redaction.py), the address and the WGS84 position,
the times and the responsible agency; never a caller's number, name or anything else about the caller, never
internal notes, never who in the centre did what. Attachments are not public (they are served only to the
roles that see the ticket); ``media_url`` is the link to a photo the sender gave with the request (stored, never
fetched), or empty, also when the address itself holds a phone or ID-card number.

Status: closed, cancelled and merged tickets are ``closed``; every other state is ``open``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from callcenter.external import shareable_media_url
from callcenter.models import TERMINAL_TICKET_STATES, Ticket, TicketState
from core import clock
from core.clock import local_zone
from core.redaction import mask_personal_numbers
from dispatch.models import Responsibility, Stage, StageClock, TimelineEntry, WorkOrder, WorkOrderState
from open311.formats import Open311Error
from open311.jurisdictions import city_of, resolve_jurisdiction
from organisation.models import in_city

DEFAULT_PRIVATE_APPEAL_TYPES = ("report",)
MAX_SPAN = dt.timedelta(days=90)
MAX_RESULTS = 1000
MAX_IDS = 200
OPEN, CLOSED = "open", "closed"
REPLY_STATES = (WorkOrderState.APPROVED, WorkOrderState.CLOSED)


def private_appeal_types() -> list[str]:
    return list(settings.HOTLINE.get("OPEN311_PRIVATE_APPEAL_TYPES", DEFAULT_PRIVATE_APPEAL_TYPES))


def public_tickets(params: Any = None) -> QuerySet[Ticket]:
    """The public tickets of the jurisdiction ``params["jurisdiction_id"]`` names: one city's, or every city's."""
    tickets = Ticket.objects.filter(caller_confidential=False).exclude(appeal_type__code__in=private_appeal_types())
    city = city_of(resolve_jurisdiction(params.get("jurisdiction_id"))) if params is not None else None
    return tickets.filter(in_city(city.pk)) if city is not None else tickets


def status_of(ticket: Ticket) -> str:
    return CLOSED if ticket.state in TERMINAL_TICKET_STATES else OPEN


def iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 with the city's offset (2026-12-07T19:02:00+08:00), as the spec wants."""
    if moment is None:
        return None
    return moment.astimezone(local_zone()).isoformat(timespec="seconds")


# --- filters ---------------------------------------------------------------------------------------------------


def _moment(name: str, raw: str) -> dt.datetime:
    text = raw.strip()
    try:
        parsed = parse_datetime(text)
    except ValueError:
        parsed = None
    if parsed is None:
        try:
            day = parse_date(text)
        except ValueError:
            day = None
        if day is not None:
            return dt.datetime.combine(day, dt.time(), tzinfo=local_zone())
        raise Open311Error(
            400, _("%(name)s: a date and time in W3C format, e.g. 2026-01-01T00:00:00Z.") % {"name": name}
        )
    if parsed.tzinfo is None:
        raise Open311Error(400, _("%(name)s: give the time zone, e.g. 2026-01-01T00:00:00+08:00.") % {"name": name})
    return parsed


def _list(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _positive(name: str, raw: str | None, *, default: int, maximum: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise Open311Error(400, _("%(name)s: a whole number from 1.") % {"name": name})
    return min(int(text), maximum)


@dataclass(frozen=True)
class Query:
    tickets: QuerySet[Ticket]
    extensions: bool


def requests_query(params: Any) -> Query:
    """The tickets a GET requests asks for, with every filter of the spec and the paging and update-time
    extensions; a bad parameter is a 400 naming it."""
    tickets = public_tickets(params)
    extensions = (params.get("extensions") or "").strip().lower() in ("true", "1")
    ids = _list(params.get("service_request_id"))
    if ids:
        # The spec: a list of ids overrides every other parameter.
        if len(ids) > MAX_IDS:
            raise Open311Error(400, _("service_request_id: at most %(n)d ids.") % {"n": MAX_IDS})
        return Query(tickets.filter(number__in=ids).order_by("-created_at", "-id"), extensions)
    codes = _list(params.get("service_code"))
    if codes:
        tickets = tickets.filter(subject__code__in=codes)
    statuses = _list(params.get("status"))
    unknown = [s for s in statuses if s.lower() not in (OPEN, CLOSED)]
    if unknown:
        raise Open311Error(400, _("status: open or closed (comma-separated)."))
    wanted = {s.lower() for s in statuses}
    if wanted == {OPEN}:
        tickets = tickets.exclude(state__in=TERMINAL_TICKET_STATES)
    elif wanted == {CLOSED}:
        tickets = tickets.filter(state__in=TERMINAL_TICKET_STATES)
    start_raw, end_raw = params.get("start_date"), params.get("end_date")
    start = _moment("start_date", start_raw) if start_raw else None
    end = _moment("end_date", end_raw) if end_raw else None
    if start is None and end is None:
        end = clock.now()
    if start is None:
        assert end is not None
        start = end - MAX_SPAN
    if end is None:
        end = start + MAX_SPAN
    if end < start:
        raise Open311Error(400, _("end_date must not be before start_date."))
    if end - start > MAX_SPAN:
        raise Open311Error(400, _("start_date to end_date may span at most 90 days."))
    tickets = tickets.filter(created_at__gte=start, created_at__lte=end)
    for name, lookup in (("updated_after", "updated_at__gte"), ("updated_before", "updated_at__lte")):
        raw = params.get(name)
        if raw:
            tickets = tickets.filter(**{lookup: _moment(name, raw)})
    page_size = _positive("page_size", params.get("page_size"), default=MAX_RESULTS, maximum=MAX_RESULTS)
    page = _positive("page", params.get("page"), default=1, maximum=10**6)
    first = (page - 1) * page_size
    tickets = tickets.order_by("-created_at", "-id")[first : first + page_size]
    return Query(tickets, extensions)


# --- the documents ---------------------------------------------------------------------------------------------


def with_details(tickets: QuerySet[Ticket], *, extensions: bool) -> list[Ticket]:
    prefetches: list[Any] = [
        Prefetch(
            "work_orders",
            queryset=WorkOrder.objects.select_related("agency").order_by("id"),
            to_attr="open311_work_orders",
        ),
        Prefetch(
            "stage_clocks",
            queryset=StageClock.objects.filter(stage=Stage.HANDLE, stopped_at__isnull=True, due_at__isnull=False),
            to_attr="open311_running_handle_clocks",
        ),
    ]
    if extensions:
        prefetches.append(
            Prefetch(
                "timeline",
                queryset=TimelineEntry.objects.filter(
                    Q(machine="ticket") & ~Q(to_state="") & ~Q(to_state=F("from_state"))
                    | Q(machine="work_order", action="approve")
                ).order_by("id"),
                to_attr="open311_timeline",
            )
        )
    return list(tickets.select_related("subject", "appeal_type", "master__appeal_type").prefetch_related(*prefetches))


def _lead(ticket: Ticket) -> WorkOrder | None:
    rows: list[WorkOrder] = getattr(ticket, "open311_work_orders", [])
    active = [row for row in rows if row.responsibility == Responsibility.LEAD and row.is_active]
    return active[-1] if active else None


def _latest_reply(ticket: Ticket) -> str:
    rows: list[WorkOrder] = getattr(ticket, "open311_work_orders", [])
    replied = [row for row in rows if row.state in REPLY_STATES and row.reply_text and row.approved_at]
    if replied:
        return max(replied, key=lambda row: (row.approved_at, row.pk)).reply_text
    return ticket.resolution_note or ""


def is_public(ticket: Ticket) -> bool:
    return not ticket.caller_confidential and ticket.appeal_type.code not in private_appeal_types()


def _public_master(ticket: Ticket) -> str:
    """The number of the request a merged one went into, if that one is public too."""
    master = ticket.master if ticket.state == TicketState.MERGED else None
    return master.number if master is not None and is_public(master) else ""


def _status_notes(ticket: Ticket) -> str:
    if ticket.state == TicketState.MERGED:
        master = _public_master(ticket)
        if master:
            return _("Merged with request %(number)s about the same matter.") % {"number": master}
        return _("Merged with another request about the same matter.")
    if ticket.state == TicketState.CANCELLED:
        return _("Cancelled.")
    return mask_personal_numbers(_latest_reply(ticket))


def _expected(ticket: Ticket) -> dt.datetime | None:
    clocks: list[StageClock] = getattr(ticket, "open311_running_handle_clocks", [])
    dues = [row.due_at for row in clocks if row.due_at is not None]
    return max(dues) if dues and ticket.state not in TERMINAL_TICKET_STATES else None


def _notes(ticket: Ticket) -> list[dict[str, Any]]:
    labels = dict(TicketState.choices)
    replies = {row.pk: row for row in getattr(ticket, "open311_work_orders", [])}
    notes = []
    for entry in getattr(ticket, "open311_timeline", []):
        if entry.machine == "ticket":
            notes.append(
                {
                    "datetime": iso(entry.created_at),
                    "type": "status",
                    "summary": str(labels.get(entry.to_state, entry.to_state)),
                    "description": "",
                }
            )
        else:
            order = replies.get(entry.work_order_id or 0)
            notes.append(
                {
                    "datetime": iso(entry.created_at),
                    "type": "reply",
                    "summary": _("Reply of %(agency)s") % {"agency": order.agency.display_name if order else ""},
                    "description": mask_personal_numbers(order.reply_text) if order else "",
                }
            )
    return notes


def request_row(ticket: Ticket, *, extensions: bool = False) -> dict[str, Any]:
    lead = _lead(ticket)
    row: dict[str, Any] = {
        "service_request_id": ticket.number,
        "status": status_of(ticket),
        "status_notes": _status_notes(ticket),
        "service_name": ticket.subject.display_name,
        "service_code": ticket.subject.code,
        "description": mask_personal_numbers(ticket.description),
        "agency_responsible": lead.agency.display_name if lead else "",
        "service_notice": "",
        "requested_datetime": iso(ticket.created_at),
        "updated_datetime": iso(ticket.updated_at),
        "expected_datetime": iso(_expected(ticket)),
        "address": ticket.address,
        "address_id": "",
        "zipcode": "",
        # Stored in WGS84 whatever the sender used (callcenter converts GCJ-02 and BD-09 at intake).
        "lat": None if ticket.latitude is None else round(ticket.latitude, 6),
        "long": None if ticket.longitude is None else round(ticket.longitude, 6),
        "media_url": shareable_media_url(ticket.media_url),
    }
    if extensions:
        row["extended_attributes"] = {
            "channel": ticket.channel,
            "urgency": ticket.urgency,
            "title": mask_personal_numbers(ticket.title),
            "closed_datetime": iso(ticket.closed_at),
            "merged_into": _public_master(ticket),
            "notes": _notes(ticket),
        }
    return row
