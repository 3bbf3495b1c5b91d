"""Merging duplicate incidents (合并)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core import clock
from core.errors import Conflict, InvalidInput
from core.parsing import require_text
from dispatch import workflow
from dispatch.workflow import Machine
from emergency.actions.incidents import (
    _bump_alert,
    _link_call,
    emit_incident_event,
    is_row_id,
    transition_incident,
)
from emergency.locks import lock_agency_links, lock_incidents
from emergency.models import Incident, IncidentAgency, IncidentCall, IncidentTicket
from emergency.states import TERMINAL_INCIDENT_STATES, AgencyTaskStatus
from organisation.models import User


def do_merge_incident(incident_id: int, *, actor: User, into_id: Any, note: str = "") -> Incident:
    """合并: duplicate reports of one event. The survivor keeps every ticket, call and caller, and the
    earliest times; the merged incident ends in state merged, pointing at the survivor."""
    require_text({"note": note}, optional=["note"])
    if not is_row_id(into_id) or into_id == incident_id:
        raise InvalidInput(_("Choose another incident to merge into."), fields={"into_id": [_("Invalid incident.")]})
    with transaction.atomic(durable=True):
        at = clock.now()
        incidents = lock_incidents([incident_id, into_id])
        duplicate, survivor = incidents[incident_id], incidents[into_id]
        # Authorise both sides before writing anything.
        workflow.authorise(Machine.INCIDENT, duplicate.state, "merge", actor=actor, obj=duplicate)
        if survivor.state in TERMINAL_INCIDENT_STATES:
            raise Conflict(_("The incident to merge into is already finished."), code="survivor_finished")
        moved_tickets = _carry_reports(duplicate, survivor, at)
        moved_links = _carry_agency_links(duplicate, survivor, actor, at)
        earliest = _earliest_times(duplicate, survivor)
        transition_incident(
            duplicate,
            "merge",
            actor=actor,
            at=at,
            note=note,
            data={"into": survivor.number, "into_id": survivor.pk},
            changes={"merged_into": survivor},
        )
        if duplicate.public_alert:
            _bump_alert(duplicate, at)
        transition_incident(
            survivor,
            "absorb",
            actor=actor,
            at=at,
            note=note,
            data={
                "merged": duplicate.number,
                "merged_id": duplicate.pk,
                "tickets_added": moved_tickets,
                "agencies_added": moved_links,
            },
            changes=earliest,
            event="",
        )
        emit_incident_event(survivor, "incident.merged", merged_id=duplicate.pk, merged_number=duplicate.number)
    return survivor


def _carry_reports(duplicate: Incident, survivor: Incident, at: dt.datetime) -> int:
    known_tickets = set(IncidentTicket.objects.filter(incident=survivor).values_list("ticket_id", flat=True))
    added = 0
    for row in IncidentTicket.objects.filter(incident=duplicate).order_by("id"):
        if row.ticket_id in known_tickets:
            continue
        IncidentTicket.objects.create(
            incident=survivor,
            ticket_id=row.ticket_id,
            caller_id=row.caller_id,
            caller_name=row.caller_name,
            confidential=row.confidential,
            reported_at=row.reported_at,
            via_incident_id=row.via_incident_id,
            added_at=at,
        )
        added += 1
    for call_row in IncidentCall.objects.filter(incident=duplicate).select_related("call").order_by("id"):
        _link_call(survivor, call_row.call, at, via=call_row.via_incident)
    return added


def _carry_agency_links(duplicate: Incident, survivor: Incident, actor: User, at: dt.datetime) -> int:
    """Agencies working on the duplicate go on working on the survivor, with their task and status."""
    known = set(IncidentAgency.objects.filter(incident=survivor).values_list("agency_id", flat=True))
    added = 0
    for link in lock_agency_links(duplicate):
        if link.agency_id in known or link.status not in (
            AgencyTaskStatus.NOTIFIED,
            AgencyTaskStatus.ACKNOWLEDGED,
            AgencyTaskStatus.WORKING,
        ):
            continue
        IncidentAgency.objects.create(
            incident=survivor,
            agency_id=link.agency_id,
            task=link.task,
            status=link.status,
            people_count=link.people_count,
            contact_name=link.contact_name,
            contact_phone=link.contact_phone,
            note=link.note,
            linked_by=actor,
            notified_at=link.notified_at,
            acknowledged_at=link.acknowledged_at,
            working_at=link.working_at,
            updated_at=at,
        )
        added += 1
    return added


def _earliest_times(duplicate: Incident, survivor: Incident) -> dict[str, Any]:
    changes: dict[str, Any] = {"reported_at": min(duplicate.reported_at, survivor.reported_at)}
    # A stage time moves earlier only where the survivor has reached that stage itself.
    for name in ("confirmed_at", "dispatched_at", "on_scene_at", "controlled_at"):
        ours, theirs = getattr(survivor, name), getattr(duplicate, name)
        if ours is not None and theirs is not None and theirs < ours:
            changes[name] = theirs
    return changes
