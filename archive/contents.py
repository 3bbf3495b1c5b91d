"""What a package holds: a closed ticket's (or incident's) record, callers as the archive's rules allow, timeline,
replies, revisits and attachments, as plain data for record.json. Every label comes in Chinese and English
(``both``); times are ISO 8601 in Asia/Shanghai. Read-only: nothing here writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import phonenumbers
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from archive import rules
from callcenter.models import Caller, Revisit, Satisfaction, Ticket, TicketCaller
from core import clock
from core.redaction import mask_digits, mask_personal_numbers, national_digits_of
from dispatch import workflow
from dispatch.attachments.models import Attachment, AttachmentKind
from dispatch.models import ReplyOutcome, Responsibility, TimelineEntry, WorkOrder
from dispatch.workflow import Machine
from emergency.models import Incident, IncidentTimelineEntry
from organisation.models import User
from organisation.privacy import mask_free_text

LANGUAGES = (("zh", "zh-hans"), ("en", "en"))


def both(text: Any) -> dict[str, str]:
    """A translatable text in both languages of the archive."""
    result = {}
    for key, language in LANGUAGES:
        with translation.override(language):
            result[key] = str(text() if callable(text) else text)
    return result


def coded(code: str, label: Any) -> dict[str, Any]:
    return {"code": code, **both(label)}


def when(value: dt.datetime | None) -> str | None:
    return value.astimezone(clock.local_zone()).isoformat() if value else None


class Privacy:
    """The archive's rules for personal data (archive/rules.py ARCHIVE_CALLER_PHONES)."""

    def __init__(self) -> None:
        self.full = rules.full_phones()

    def phone(self, number: str, *, confidential: bool) -> str:
        if not number:
            return ""
        if self.full and not confidential:
            return number
        try:
            return mask_digits(national_digits_of(phonenumbers.parse(number, None)))
        except phonenumbers.NumberParseException:
            return mask_digits(number)

    def name(self, name: str, *, confidential: bool) -> str:
        return "" if confidential else name

    def text(self, value: str) -> str:
        return value if self.full else mask_personal_numbers(value)

    def data(self, value: Any) -> Any:
        return value if self.full else mask_free_text(value)


def person(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.username


def _caller(privacy: Privacy, caller: Caller | None, name: str, confidential: bool, role: Any) -> dict[str, Any]:
    return {
        "role": both(role),
        "phone": privacy.phone(caller.phone if caller else "", confidential=confidential),
        "name": privacy.name(name, confidential=confidential),
        "confidential": confidential,
    }


def ticket_callers(privacy: Privacy, ticket: Ticket) -> list[dict[str, Any]]:
    rows = [_caller(privacy, ticket.caller, ticket.caller_name, ticket.caller_confidential, _("Caller"))]
    extra: Iterable[TicketCaller] = ticket.ticket_callers.select_related("caller", "via_ticket").order_by("id")
    for link in extra:
        row = _caller(privacy, link.caller, link.caller_name, link.confidential, _("Caller of a merged ticket"))
        row["via_ticket"] = link.via_ticket.number
        rows.append(row)
    return rows


def _ticket_record(privacy: Privacy, ticket: Ticket) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "state": coded(ticket.state, lambda: workflow.state_label(Machine.TICKET, ticket.state)),
        "channel": coded(ticket.channel, ticket.get_channel_display),
        "appeal_type": {"code": ticket.appeal_type.code, **both(lambda: ticket.appeal_type.display_name)},
        "subject": {"code": ticket.subject.code, **both(lambda: ticket.subject.display_path)},
        "urgency": coded(ticket.urgency, ticket.get_urgency_display),
        "title": privacy.text(ticket.title),
        "description": privacy.text(ticket.description),
        "address": ticket.address,
        "latitude": ticket.latitude,
        "longitude": ticket.longitude,
        "resolution_note": privacy.text(ticket.resolution_note),
        "accepted_at": when(ticket.created_at),
        "closed_at": when(ticket.closed_at),
        "accepted_by": person(ticket.created_by),
        "source_system": ticket.source_system,
        "external_id": ticket.external_id,
        "reported_at": when(ticket.reported_at),
    }


def _work_orders(privacy: Privacy, ticket: Ticket) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    orders, replies = [], []
    for wo in WorkOrder.objects.filter(ticket=ticket).select_related("agency", "dispatched_by").order_by("id"):
        orders.append(
            {
                "number": wo.number,
                "agency": wo.agency.name,
                "responsibility": coded(wo.responsibility, lambda wo=wo: Responsibility(wo.responsibility).label),
                "state": coded(wo.state, lambda wo=wo: workflow.state_label(Machine.WORK_ORDER, wo.state)),
                "instructions": privacy.text(wo.instructions),
                "dispatched_at": when(wo.created_at),
                "dispatched_by": person(wo.dispatched_by),
                "signed_at": when(wo.signed_at),
                "replied_at": when(wo.replied_at),
                "approved_at": when(wo.approved_at),
                "finished_at": when(wo.finished_at),
                "return_reason": privacy.text(wo.return_reason),
                "redo_count": wo.redo_count,
                "urge_count": wo.urge_count,
            }
        )
        if wo.reply_text:
            replies.append(
                {
                    "work_order": wo.number,
                    "agency": wo.agency.name,
                    "replied_at": when(wo.replied_at),
                    "outcome": (
                        coded(wo.reply_outcome, lambda wo=wo: ReplyOutcome(wo.reply_outcome).label)
                        if wo.reply_outcome
                        else None
                    ),
                    "text": privacy.text(wo.reply_text),
                }
            )
    return orders, replies


def _timeline(privacy: Privacy, entries: Iterable[Any], *, work_orders: bool) -> list[dict[str, Any]]:
    rows = []
    for entry in entries:
        try:
            machine = Machine(entry.machine)
        except ValueError:
            machine = None
        row = {
            "at": when(entry.created_at),
            "action": (
                coded(entry.action, lambda e=entry, m=machine: workflow.action_label(m, e.action))
                if machine
                else {"code": entry.action}
            ),
            "from_state": (
                coded(entry.from_state, lambda e=entry, m=machine: workflow.state_label(m, e.from_state))
                if machine and entry.from_state
                else None
            ),
            "to_state": (
                coded(entry.to_state, lambda e=entry, m=machine: workflow.state_label(m, e.to_state))
                if machine and entry.to_state
                else None
            ),
            "actor": person(entry.actor),
            "actor_agency": entry.actor_agency.name if entry.actor_agency else "",
            "note": privacy.text(entry.note),
            "details": privacy.data(entry.data),
        }
        if work_orders:
            row["work_order"] = entry.work_order.number if entry.work_order else None
        rows.append(row)
    return rows


def _revisits(privacy: Privacy, ticket: Ticket) -> list[dict[str, Any]]:
    rows = []
    for revisit in Revisit.objects.filter(ticket=ticket).select_related("created_by").order_by("id"):
        rows.append(
            {
                "at": when(revisit.created_at),
                "by": person(revisit.created_by),
                "satisfaction": coded(revisit.satisfaction, lambda r=revisit: Satisfaction(r.satisfaction).label),
                "resolved": revisit.resolved,
                "note": privacy.text(revisit.note),
            }
        )
    return rows


def attachment_file_name(attachment: Attachment) -> str:
    """The file's name inside the package: its id and the stored file's extension (never the caller's name)."""
    stored = attachment.file.name or ""
    suffix = stored[stored.rfind(".") :] if "." in stored.rsplit("/", 1)[-1] else ""
    return f"attachments/{attachment.pk}{suffix.lower()}"


def ticket_attachments(ticket: Ticket) -> list[Attachment]:
    return list(
        Attachment.objects.filter(ticket=ticket).select_related("work_order", "uploaded_by", "uploaded_by_agency")
    )


def _attachment_rows(attachments: list[Attachment]) -> list[dict[str, Any]]:
    return [
        {
            "file": attachment_file_name(item),
            "kind": coded(item.kind, lambda item=item: AttachmentKind(item.kind).label),
            "work_order": item.work_order.number if item.work_order else None,
            "original_name": item.original_name,
            "content_type": item.content_type,
            "size": item.size,
            "sha256": item.sha256,
            "uploaded_at": when(item.created_at),
            "uploaded_by": person(item.uploaded_by),
            "uploaded_by_agency": item.uploaded_by_agency.name if item.uploaded_by_agency else "",
        }
        for item in attachments
    ]


def ticket_contents(ticket: Ticket, attachments: list[Attachment]) -> dict[str, Any]:
    privacy = Privacy()
    orders, replies = _work_orders(privacy, ticket)
    entries = (
        TimelineEntry.objects.filter(ticket=ticket).select_related("actor", "actor_agency", "work_order").order_by("id")
    )
    return {
        "ticket": _ticket_record(privacy, ticket),
        "callers": ticket_callers(privacy, ticket),
        "work_orders": orders,
        "replies": replies,
        "timeline": _timeline(privacy, entries, work_orders=True),
        "revisits": _revisits(privacy, ticket),
        "attachments": _attachment_rows(attachments),
    }


def incident_contents(incident: Incident) -> dict[str, Any]:
    privacy = Privacy()
    callers = []
    for link in incident.ticket_links.select_related("ticket", "caller").order_by("id"):
        row = _caller(privacy, link.caller, link.caller_name, link.confidential, _("Caller"))
        row["ticket"] = link.ticket.number
        callers.append(row)
    for call_link in incident.call_links.select_related("call").order_by("id"):
        row = _caller(privacy, None, "", False, _("Call"))
        row["phone"] = privacy.phone(call_link.call.phone, confidential=False)
        row["reported_at"] = when(call_link.reported_at)
        callers.append(row)
    tasks = [
        {
            "agency": link.agency.name,
            "task": privacy.text(link.task),
            "status": coded(link.status, link.get_status_display),
            "note": privacy.text(link.note),
            "notified_at": when(link.notified_at),
            "acknowledged_at": when(link.acknowledged_at),
            "finished_at": when(link.finished_at),
        }
        for link in incident.agency_links.select_related("agency").order_by("id")
    ]
    entries = IncidentTimelineEntry.objects.filter(incident=incident).select_related("actor", "actor_agency")
    return {
        "incident": {
            "number": incident.number,
            "type": coded(incident.type, incident.get_type_display),
            "level": coded(incident.level, incident.get_level_display),
            "state": coded(incident.state, incident.get_state_display),
            "title": privacy.text(incident.title),
            "description": privacy.text(incident.description),
            "address": incident.address,
            "latitude": incident.latitude,
            "longitude": incident.longitude,
            "district": incident.district_name,
            "reported_at": when(incident.reported_at),
            "closed_at": when(incident.closed_at),
            "commander": person(incident.commander),
            "tickets": [link.ticket.number for link in incident.ticket_links.select_related("ticket").order_by("id")],
        },
        "callers": callers,
        "agency_tasks": tasks,
        "timeline": _timeline(privacy, entries.order_by("id"), work_orders=False),
        "attachments": [],
    }
