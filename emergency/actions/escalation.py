"""Escalating a ticket into an incident (升级), as a new incident or one more report of a live one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.models import Call, Ticket, TicketCaller
from core import clock
from core.errors import Conflict, InvalidInput
from core.parsing import require_text
from dispatch import workflow
from dispatch.actions import transition_ticket
from dispatch.locks import lock_ticket
from dispatch.workflow import Machine
from emergency.actions.incidents import (
    IncidentInput,
    _link_call,
    check_report_incident,
    create_incident,
    emit_incident_event,
    is_row_id,
    transition_incident,
    write_incident_timeline,
)
from emergency.areas import Location
from emergency.locks import lock_incident
from emergency.models import Incident, IncidentTicket, TransferRule
from emergency.states import TERMINAL_INCIDENT_STATES
from organisation.models import User


def link_ticket(incident: Incident, ticket: Ticket, at: dt.datetime) -> None:
    IncidentTicket.objects.create(
        incident=incident,
        ticket=ticket,
        caller=ticket.caller,
        caller_name=ticket.caller_name,
        confidential=ticket.caller_confidential,
        reported_at=ticket.created_at,
        via_incident=incident,
        added_at=at,
    )
    # Callers merged into the ticket earlier reported the incident too.
    for row in TicketCaller.objects.filter(ticket=ticket).exclude(caller_id=ticket.caller_id or 0).order_by("id"):
        IncidentTicket.objects.get_or_create(
            incident=incident,
            ticket=row.via_ticket,
            defaults={
                "caller_id": row.caller_id,
                "caller_name": row.caller_name,
                "confidential": row.confidential,
                "reported_at": row.via_ticket.created_at,
                "via_incident": incident,
                "added_at": at,
            },
        )
    for call in Call.objects.filter(ticket=ticket).order_by("pk"):
        _link_call(incident, call, at)


def do_escalate_ticket(ticket_id: int, data: Any, *, actor: User) -> Incident:
    """升级: a ticket becomes (or joins) an incident; both timelines record it and the ticket keeps a link.

    With ``incident_id`` the ticket joins that live incident as one more report (duplicate calls);
    otherwise a new incident is created from the ticket, taking its place and text unless given.
    """
    if not isinstance(data, dict):
        raise InvalidInput(_("The request body must be a JSON object."), fields={"body": [_("Expected an object.")]})
    note = data.get("note") or ""
    require_text({"note": note}, optional=["note"])
    target_id = data.get("incident_id")
    if target_id is not None and not is_row_id(target_id):
        raise InvalidInput(_("Some fields are not valid."), fields={"incident_id": [_("An incident id.")]})
    if target_id is None and not data.get("type"):
        # The transfer list says what kind of incident a listed subject is.
        listed = (
            TransferRule.objects.filter(
                subject__in=Ticket.objects.filter(pk=ticket_id).values("subject_id"), active=True
            )
            .exclude(incident_type="")
            .values_list("incident_type", flat=True)
            .first()
        )
        if listed:
            data = {**data, "type": listed}
    form = None if target_id is not None else check_report_incident(data, location_required=False)
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket = lock_ticket(ticket_id)
        workflow.authorise(Machine.TICKET, ticket.state, "escalate", actor=actor, obj=ticket, context={"now": at})
        if IncidentTicket.objects.filter(ticket=ticket).exclude(incident__state__in=TERMINAL_INCIDENT_STATES).exists():
            raise Conflict(_("This ticket already reports a live incident."), code="already_escalated")
        if target_id is not None:
            incident = lock_incident(target_id)
            transition_incident(
                incident,
                "attach_ticket",
                actor=actor,
                at=at,
                note=note,
                data={"ticket": ticket.number, "ticket_id": ticket.pk},
                changes={"reported_at": min(incident.reported_at, ticket.created_at)},
            )
            link_ticket(incident, ticket, at)
        else:
            assert form is not None
            incident = create_incident_from_ticket(
                ticket, _with_address(form, form.address or ticket.address), actor=actor, at=at, note=note
            )
        transition_ticket(
            ticket,
            "escalate",
            actor=actor,
            at=at,
            note=note,
            data={"incident": incident.number, "incident_id": incident.pk},
        )
    return incident


def create_incident_from_ticket(
    ticket: Ticket,
    form: IncidentInput,
    *,
    actor: User,
    at: dt.datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
    nested_under: str | None = None,
) -> Incident:
    """A new incident escalated from a (locked) ticket: at the ticket's place unless the form gives one, titled
    like the ticket unless the form names it, linked to the ticket, on the command timeline and announced.

    ``nested_under`` is the request field the incident form came in (its missing location is reported there).
    """
    if form.location is None:
        if ticket.latitude is None or ticket.longitude is None:
            fields = (
                {nested_under: [_("latitude and longitude are required.")]}
                if nested_under
                else {"latitude": [_("This field is required.")], "longitude": [_("This field is required.")]}
            )
            raise InvalidInput(
                _("The ticket has no location: give the incident's latitude and longitude."), fields=fields
            )
        form = _with_location(form, Location(longitude=ticket.longitude, latitude=ticket.latitude))
    incident = create_incident(
        form,
        "escalate",
        actor=actor,
        at=at,
        reported_at=ticket.created_at,
        title=form.title or ticket.title or ticket.description[:120],
        ticket=ticket,
    )
    link_ticket(incident, ticket, at)
    write_incident_timeline(
        incident,
        machine=Machine.INCIDENT.value,
        action="escalate",
        actor=actor,
        at=at,
        to_state=incident.state,
        note=note,
        data={"ticket": ticket.number, "ticket_id": ticket.pk, **(data or {})},
    )
    emit_incident_event(incident, "incident.created")
    return incident


def _with_location(form: IncidentInput, location: Location) -> IncidentInput:
    return IncidentInput(**{**form.__dict__, "location": location})


def _with_address(form: IncidentInput, address: str) -> IncidentInput:
    return IncidentInput(**{**form.__dict__, "address": address})
