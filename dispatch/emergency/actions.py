"""All writes of incidents: report, escalate a ticket, the command transitions, merge, linked agencies'
tasks, public alerts, and the timeline function other modules call inside their own transaction.

Public ``do_*`` functions are outermost actions: a durable transaction, rows locked in the documented
order (dispatch/emergency/locks.py), the workflow table asked through ``workflow.authorise``, the change,
its command-timeline row and its event rows together. ``check_*`` functions validate input and raise
InvalidInput naming each bad field, before anything is locked.

For the units helper (assignments): inside your own transaction, after locking the incident with
``locks.lock_incident``, call ``record_incident_step(incident, actor=..., action=..., ...)`` to add a
timeline row and an ``incident.changed`` event, and ``transition_incident`` to move the incident itself
(e.g. to dispatched on the first assignment).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.models import Call, Ticket, TicketCaller
from dispatch import clock, workflow
from dispatch.actions import MAX_TEXT, require_text, transition_ticket
from dispatch.calendar import local_zone
from dispatch.emergency.areas import AffectedArea, Location, check_area, check_location, coordinate_system
from dispatch.emergency.locks import lock_agency_link, lock_agency_links, lock_incident, lock_incidents
from dispatch.emergency.models import (
    Incident,
    IncidentAgency,
    IncidentCall,
    IncidentLevel,
    IncidentTicket,
    IncidentTimelineEntry,
    IncidentType,
    TransferRule,
)
from dispatch.emergency.states import TERMINAL_INCIDENT_STATES, AgencyTaskStatus, IncidentState
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.locks import lock_ticket
from dispatch.models import Agency, User
from dispatch.workflow import Machine
from gis.routing import place
from realtime.events import append_event

#: Timestamps an incident takes when it first enters a state.
_STAMP_ON_ENTRY = {
    IncidentState.CONFIRMED: "confirmed_at",
    IncidentState.DISPATCHED: "dispatched_at",
    IncidentState.ON_SCENE: "on_scene_at",
    IncidentState.CONTROLLED: "controlled_at",
    IncidentState.CLOSED: "closed_at",
    IncidentState.CANCELLED: "closed_at",
    IncidentState.MERGED: "closed_at",
}
_TASK_STAMP_ON_ENTRY = {
    AgencyTaskStatus.ACKNOWLEDGED: "acknowledged_at",
    AgencyTaskStatus.WORKING: "working_at",
    AgencyTaskStatus.DONE: "finished_at",
    AgencyTaskStatus.DECLINED: "finished_at",
    AgencyTaskStatus.WITHDRAWN: "finished_at",
}
MAX_PEOPLE = 10_000


def is_row_id(value: Any) -> bool:
    """A value that can be a primary key: an int (not a bool) the databases can store."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


# --- summaries and events ----------------------------------------------------------------------------


#: What events and the live snapshot say of an incident (realtime/schemas.py ``IncidentSummary``). They reach
#: linked agencies' screens: classification and place only, no caller data.
INCIDENT_SUMMARY_FIELDS = (
    "id",
    "number",
    "type",
    "level",
    "state",
    "title",
    "latitude",
    "longitude",
    "district_code",
    "area_kind",
    "public_alert",
)


def incident_summary(incident: Incident) -> dict[str, Any]:
    return {name: getattr(incident, name) for name in INCIDENT_SUMMARY_FIELDS}


def task_summary(link: IncidentAgency) -> dict[str, Any]:
    return {
        "id": link.pk,
        "incident_id": link.incident_id,
        "agency_id": link.agency_id,
        "status": link.status,
        "people_count": link.people_count,
    }


def linked_agency_ids(incident: Incident) -> list[int]:
    """The audience of an incident's events besides the centre: every agency ever linked to it."""
    return list(IncidentAgency.objects.filter(incident=incident).values_list("agency_id", flat=True))


def emit_incident_event(incident: Incident, event_type: str, **details: Any) -> None:
    append_event(
        event_type, {"incident": incident_summary(incident), **details}, agency_ids=linked_agency_ids(incident)
    )


# --- the command timeline ----------------------------------------------------------------------------


def write_incident_timeline(
    incident: Incident,
    *,
    machine: str,
    action: str,
    actor: User | None,
    at: dt.datetime,
    from_state: str = "",
    to_state: str = "",
    agency_link: IncidentAgency | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> IncidentTimelineEntry:
    return IncidentTimelineEntry.objects.create(
        incident=incident,
        machine=machine,
        action=action,
        from_state=from_state,
        to_state=to_state,
        agency_link=agency_link,
        actor=actor,
        actor_agency_id=actor.agency_id if actor else None,
        note=note,
        data=data or {},
        created_at=at,
    )


def record_incident_step(
    incident: Incident,
    *,
    actor: User | None,
    action: str,
    note: str = "",
    data: dict[str, Any] | None = None,
    machine: str = Machine.UNIT.value,
    at: dt.datetime | None = None,
    emit: bool = True,
) -> IncidentTimelineEntry:
    """A step on the incident's command timeline caused by something else (e.g. a unit assignment).

    Call it inside your own transaction with the incident locked (``locks.lock_incident``). The
    incident's state does not change (use ``transition_incident`` for that); the row keeps from/to equal
    to the current state so the timeline reads in order. With ``emit`` an ``incident.changed`` event
    (from_state == to_state) tells live screens to reload the timeline.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_incident_step runs inside the caller's transaction")
    at = at or clock.now()
    entry = write_incident_timeline(
        incident,
        machine=machine,
        action=action,
        actor=actor,
        at=at,
        from_state=incident.state,
        to_state=incident.state,
        note=note,
        data=data,
    )
    if emit:
        emit_incident_event(
            incident, "incident.changed", action=action, from_state=incident.state, to_state=incident.state
        )
    return entry


def transition_incident(
    incident: Incident,
    action: str,
    *,
    actor: User,
    at: dt.datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
    cascaded: bool = False,
    event: str = "incident.changed",
) -> workflow.Transition:
    """Move one (locked) incident through the workflow table, with its timeline row and event."""
    row = workflow.authorise(
        Machine.INCIDENT, incident.state, action, actor=actor, obj=incident, context={"now": at}, cascaded=cascaded
    )
    from_state, to_state = incident.state, row.next_state(incident.state)
    for name, value in (changes or {}).items():
        setattr(incident, name, value)
    incident.state = to_state
    incident.updated_at = at
    stamp = _STAMP_ON_ENTRY.get(IncidentState(to_state)) if to_state != from_state else None
    if stamp and getattr(incident, stamp) is None:
        setattr(incident, stamp, at)
    incident.save()
    write_incident_timeline(
        incident,
        machine=Machine.INCIDENT.value,
        action=action,
        actor=actor,
        at=at,
        from_state=from_state,
        to_state=to_state,
        note=note,
        data=data,
    )
    if event == "incident.changed":
        emit_incident_event(incident, event, action=action, from_state=from_state, to_state=to_state)
    return row


def _transition_task(
    incident: Incident,
    link: IncidentAgency,
    action: str,
    *,
    actor: User,
    at: dt.datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    row = workflow.authorise(
        Machine.INCIDENT_TASK,
        link.status,
        action,
        actor=actor,
        obj=link,
        agency_id=link.agency_id,
        context={"now": at},
    )
    _refuse_when_finished(incident)
    from_state, to_state = link.status, row.next_state(link.status)
    for name, value in (changes or {}).items():
        setattr(link, name, value)
    link.status = to_state
    link.updated_at = at
    stamp = _TASK_STAMP_ON_ENTRY.get(AgencyTaskStatus(to_state)) if to_state != from_state else None
    if stamp:
        setattr(link, stamp, at)
    link.save()
    write_incident_timeline(
        incident,
        machine=Machine.INCIDENT_TASK.value,
        action=action,
        actor=actor,
        at=at,
        from_state=from_state,
        to_state=to_state,
        agency_link=link,
        note=note,
        data={"agency": link.agency.code, **(data or {})},
    )
    emit_incident_event(
        incident,
        "incident.agency_changed",
        task=task_summary(link),
        action=action,
        from_state=from_state,
        to_state=to_state,
    )


def _refuse_when_finished(incident: Incident) -> None:
    if incident.state in TERMINAL_INCIDENT_STATES:
        raise Conflict(
            _("The incident is finished (%(state)s).") % {"state": incident.get_state_display()},
            code="incident_finished",
        )


# --- report and escalate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentInput:
    type: str
    level: str
    title: str
    description: str
    address: str
    location: Location | None
    area: AffectedArea
    commander: User | None
    call_ids: list[int]


def _text(data: dict[str, Any], name: str, errors: dict[str, list[str]], *, max_length: int = MAX_TEXT) -> str:
    value = data.get(name) or ""
    if not isinstance(value, str):
        errors[name] = [_("This field must be text.")]
        return ""
    value = value.strip()
    if len(value) > max_length:
        errors[name] = [_("At most %(n)d characters.") % {"n": max_length}]
    return value


def _commander(value: Any, errors: dict[str, list[str]]) -> User | None:
    if value is None:
        return None
    commander = User.objects.filter(pk=value, is_active=True).first() if is_row_id(value) else None
    if commander is None or not commander.has_role(*workflow.COMMAND):
        errors["commander_id"] = [_("A user of the command desk (commander, dispatcher).")]
        return None
    return commander


def check_report_incident(data: Any, *, location_required: bool = True) -> IncidentInput:
    """Validate an incident form; every problem is reported against its field at once."""
    if not isinstance(data, dict):
        raise InvalidInput(_("The request body must be a JSON object."), fields={"body": [_("Expected an object.")]})
    errors: dict[str, list[str]] = {}
    incident_type = data.get("type")
    if incident_type not in IncidentType.values:
        errors["type"] = [_("One of: %(v)s") % {"v": ", ".join(IncidentType.values)}]
    level = data.get("level") or IncidentLevel.GENERAL
    if level not in IncidentLevel.values:
        errors["level"] = [_("One of: %(v)s") % {"v": ", ".join(IncidentLevel.values)}]
    title = _text(data, "title", errors, max_length=120)
    description = _text(data, "description", errors)
    address = _text(data, "address", errors, max_length=200)
    system = coordinate_system(data, errors)
    location: Location | None = None
    if location_required or data.get("latitude") is not None or data.get("longitude") is not None:
        location = check_location(data, system, errors)
    area = check_area(data, system, errors)
    commander = _commander(data.get("commander_id"), errors)
    call_ids = data.get("call_ids") or []
    if not isinstance(call_ids, list) or not all(is_row_id(i) for i in call_ids):
        errors["call_ids"] = [_("A list of call ids.")]
        call_ids = []
    elif len(set(call_ids)) != Call.objects.filter(pk__in=call_ids).count():
        errors["call_ids"] = [_("Unknown call.")]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    return IncidentInput(
        type=str(incident_type),
        level=str(level),
        title=title,
        description=description,
        address=address,
        location=location,
        area=area,
        commander=commander,
        call_ids=sorted(set(call_ids)),
    )


def _district(location: Location) -> tuple[str, str]:
    district = place(location.longitude, location.latitude).places.get("district")
    return (district.code, district.name) if district else ("", "")


def _number_for(incident_id: int, at: dt.datetime) -> str:
    return f"YJ-{at.astimezone(local_zone()):%Y%m%d}-{incident_id:06d}"


def create_incident(
    form: IncidentInput, action: str, *, actor: User, at: dt.datetime, reported_at: dt.datetime, title: str
) -> Incident:
    workflow.authorise(Machine.INCIDENT, workflow.START, action, actor=actor, obj=None)
    assert form.location is not None
    district_code, district_name = _district(form.location)
    incident = Incident.objects.create(
        number=f"new-{uuid.uuid4().hex[:28]}",  # replaced below; fits the 32 characters
        type=form.type,
        level=form.level,
        state=IncidentState.REPORTED,
        title=title,
        description=form.description,
        address=form.address,
        latitude=form.location.latitude,
        longitude=form.location.longitude,
        district_code=district_code,
        district_name=district_name,
        area_kind=form.area.kind,
        area_radius_m=form.area.radius_m,
        area_geojson=form.area.geojson,
        commander=form.commander,
        reported_at=reported_at,
        created_by=actor,
        created_at=at,
        updated_at=at,
    )
    # The number carries the row id, so concurrent reports never race for a daily counter.
    incident.number = _number_for(incident.pk, at)
    Incident.objects.filter(pk=incident.pk).update(number=incident.number)
    for call in Call.objects.filter(pk__in=form.call_ids).order_by("pk"):
        _link_call(incident, call, at)
    return incident


def _link_call(incident: Incident, call: Call, at: dt.datetime, *, via: Incident | None = None) -> bool:
    if IncidentCall.objects.filter(incident=incident, call=call).exists():
        return False
    IncidentCall.objects.create(
        incident=incident,
        call=call,
        reported_at=call.answered_at or call.ringing_at or at,
        via_incident=via or incident,
        added_at=at,
    )
    return True


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


def do_report_incident(data: Any, *, actor: User) -> Incident:
    """接报: a new incident from the command desk or an operator (optionally with the calls behind it)."""
    form = check_report_incident(data)
    if not form.title:
        raise InvalidInput(_("Some fields are not valid."), fields={"title": [_("This field is required.")]})
    with transaction.atomic(durable=True):
        at = clock.now()
        incident = create_incident(form, "report", actor=actor, at=at, reported_at=at, title=form.title)
        write_incident_timeline(
            incident,
            machine=Machine.INCIDENT.value,
            action="report",
            actor=actor,
            at=at,
            to_state=incident.state,
            note=form.description,
            data={"calls": len(form.call_ids)},
        )
        emit_incident_event(incident, "incident.created")
    return incident


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


# --- the command transitions -------------------------------------------------------------------------

#: Actions that need nothing but an optional note; cancel needs a reason.
SIMPLE_ACTIONS = ("confirm", "dispatch", "arrive", "control", "close", "note")


def do_transition_incident(incident_id: int, action: str, *, actor: User, note: str = "") -> Incident:
    if action not in (*SIMPLE_ACTIONS, "cancel"):
        raise NotFound(_("No such action."))
    required = ["note"] if action in ("note", "cancel") else []
    require_text({"note": note}, required=required, optional=[] if required else ["note"])
    with transaction.atomic(durable=True):
        at = clock.now()
        incident = lock_incident(incident_id)
        row = transition_incident(incident, action, actor=actor, at=at, note=note)
        # A public alert says the state (certainty, or Cancel once finished): each change is a new message.
        if incident.public_alert and row.target is not None:
            _bump_alert(incident, at)
    return incident


def _bump_alert(incident: Incident, at: dt.datetime) -> None:
    """A change the public alert carries: a new CAP revision (Update, or Cancel once finished)."""
    incident.alert_revision += 1
    incident.alert_sent_at = at
    incident.save(update_fields=["alert_revision", "alert_sent_at"])


def check_update_incident(incident: Incident, data: Any) -> dict[str, Any]:
    """The fields that change, validated like a report. Coordinates given (point or polygon) are in
    ``coordinate_system``; the stored ones are WGS84 and are never converted again."""
    if not isinstance(data, dict):
        raise InvalidInput(_("The request body must be a JSON object."), fields={"body": [_("Expected an object.")]})
    errors: dict[str, list[str]] = {}
    system = coordinate_system(data, errors)
    current: dict[str, Any] = {
        "type": incident.type,
        "level": incident.level,
        "title": incident.title,
        "description": incident.description,
        "address": incident.address,
        "commander_id": incident.commander_id,
        "latitude": incident.latitude,
        "longitude": incident.longitude,
        "area_kind": incident.area_kind,
        "area_radius_m": incident.area_radius_m,
        "area_geojson": incident.area_geojson,
    }
    plain = {
        key: data[key] for key in ("type", "level", "title", "description", "address", "commander_id") if key in data
    }
    merged = {**current, **plain, "latitude": incident.latitude, "longitude": incident.longitude, "area_kind": "point"}
    try:
        form = check_report_incident(merged)
    except InvalidInput as error:
        errors.update(error.fields)
        form = None
    if not (form.title if form else True):
        errors["title"] = [_("This field is required.")]
    location = Location(longitude=incident.longitude, latitude=incident.latitude)
    if "latitude" in data or "longitude" in data:
        location = check_location(data, system, errors) or location
    area_given = {key: data[key] for key in ("area_kind", "area_radius_m", "area_geojson") if key in data}
    area = AffectedArea(incident.area_kind, incident.area_radius_m, incident.area_geojson)
    if area_given:
        area_data = {
            "area_kind": incident.area_kind,
            "area_radius_m": incident.area_radius_m,
            "area_geojson": incident.area_geojson,
            **area_given,
        }
        area = check_area(area_data, system if "area_geojson" in area_given else "wgs84", errors)
    if errors or form is None:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    new_values: dict[str, Any] = {
        "type": form.type,
        "level": form.level,
        "title": form.title,
        "description": form.description,
        "address": form.address,
        "commander_id": form.commander.pk if form.commander else None,
        "latitude": location.latitude,
        "longitude": location.longitude,
        "area_kind": area.kind,
        "area_radius_m": area.radius_m,
        "area_geojson": area.geojson,
    }
    changed = {key: value for key, value in new_values.items() if value != current[key]}
    if not changed:
        raise InvalidInput(_("Nothing to change."), fields={"body": [_("No field differs from the incident.")]})
    if "latitude" in changed or "longitude" in changed:
        changed["district_code"], changed["district_name"] = _district(location)
    return changed


def do_update_incident(incident_id: int, data: Any, *, actor: User) -> Incident:
    """Change an incident's classification, level, text, place, affected area or commander."""
    with transaction.atomic(durable=True):
        at = clock.now()
        incident = lock_incident(incident_id)
        workflow.authorise(Machine.INCIDENT, incident.state, "update", actor=actor, obj=incident)
        changed = check_update_incident(incident, data)
        summary = {key: value for key, value in changed.items() if key not in ("description", "area_geojson")}
        transition_incident(incident, "update", actor=actor, at=at, data={"changed": summary}, changes=changed)
        if incident.public_alert:
            _bump_alert(incident, at)
    return incident


# --- merge -------------------------------------------------------------------------------------------


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


# --- linked agencies ---------------------------------------------------------------------------------


def check_link_agency(data: Any) -> tuple[Agency, str]:
    if not isinstance(data, dict):
        raise InvalidInput(_("The request body must be a JSON object."), fields={"body": [_("Expected an object.")]})
    errors: dict[str, list[str]] = {}
    agency_id: Any = data.get("agency_id")
    agency = Agency.objects.filter(pk=agency_id, active=True).first() if is_row_id(agency_id) else None
    if agency is None:
        errors["agency_id"] = [_("Unknown or inactive agency.")]
    task = data.get("task")
    if not isinstance(task, str) or not task.strip():
        errors["task"] = [_("This field is required.")]
    elif len(task) > MAX_TEXT:
        errors["task"] = [_("At most %(n)d characters.") % {"n": MAX_TEXT}]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    assert agency is not None and isinstance(task, str)
    return agency, task.strip()


def do_link_agency(incident_id: int, data: Any, *, actor: User) -> IncidentAgency:
    """联动: give an agency its own task on the incident (or give it again after it ended)."""
    agency, task = check_link_agency(data)
    with transaction.atomic(durable=True):
        at = clock.now()
        incident = lock_incident(incident_id)
        links = {link.agency_id: link for link in lock_agency_links(incident)}
        _refuse_when_finished(incident)
        existing = links.get(agency.pk)
        if existing is None:
            workflow.authorise(Machine.INCIDENT_TASK, workflow.START, "link", actor=actor, obj=incident)
            link = IncidentAgency.objects.create(
                incident=incident, agency=agency, task=task, linked_by=actor, notified_at=at, updated_at=at
            )
            write_incident_timeline(
                incident,
                machine=Machine.INCIDENT_TASK.value,
                action="link",
                actor=actor,
                at=at,
                to_state=link.status,
                agency_link=link,
                note=task,
                data={"agency": agency.code},
            )
            emit_incident_event(incident, "incident.linked", task=task_summary(link))
            return link
        _transition_task(
            incident,
            existing,
            "relink",
            actor=actor,
            at=at,
            note=task,
            changes={
                "task": task,
                "linked_by": actor,
                "notified_at": at,
                "acknowledged_at": None,
                "working_at": None,
                "finished_at": None,
                "decline_reason": "",
            },
        )
        emit_incident_event(incident, "incident.linked", task=task_summary(existing))
        return existing


TASK_ACTIONS = ("acknowledge", "start_work", "finish", "decline", "report", "withdraw")


def check_task_report(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    if "people_count" in data:
        people = data["people_count"]
        if not isinstance(people, int) or isinstance(people, bool) or not 0 <= people <= MAX_PEOPLE:
            errors["people_count"] = [_("A whole number from 0 to %(n)d.") % {"n": MAX_PEOPLE}]
        else:
            changes["people_count"] = people
    for name, limit in (("contact_name", 60), ("contact_phone", 20)):
        if name in data:
            value = data[name]
            if not isinstance(value, str) or len(value) > limit:
                errors[name] = [_("At most %(n)d characters of text.") % {"n": limit}]
            else:
                changes[name] = value.strip()
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    return changes


def do_act_on_task(link_id: int, action: str, data: Any, *, actor: User) -> IncidentAgency:
    """A linked agency moves its own task (acknowledge, start, finish, decline, report); the command
    desk may withdraw it. People count and on-site contact may come with any of these."""
    if action not in TASK_ACTIONS:
        raise NotFound(_("No such action."))
    if not isinstance(data, dict):
        raise InvalidInput(_("The request body must be a JSON object."), fields={"body": [_("Expected an object.")]})
    note = data.get("note") or ""
    required = ["note"] if action in ("decline", "withdraw") else []
    require_text({"note": note}, required=required, optional=[] if required else ["note"])
    changes = check_task_report(data)
    if action == "report" and not changes and not note.strip():
        raise InvalidInput(
            _("Report something: people, contact or a note."), fields={"note": [_("Nothing to report.")]}
        )
    if note:
        changes["note"] = note
    if action == "decline":
        changes["decline_reason"] = note
    with transaction.atomic(durable=True):
        at = clock.now()
        incident, link = lock_agency_link(link_id)
        report = {key: value for key, value in changes.items() if key in ("people_count",)}
        _transition_task(incident, link, action, actor=actor, at=at, note=note, data=report, changes=changes)
    return link


# --- public alert ------------------------------------------------------------------------------------


def do_set_public_alert(incident_id: int, *, actor: User, publish: bool, note: str = "") -> Incident:
    """The commander decides that the incident is public information: it enters the CAP alert feed."""
    require_text({"note": note}, optional=["note"])
    with transaction.atomic(durable=True):
        at = clock.now()
        incident = lock_incident(incident_id)
        action = "publish_alert" if publish else "withdraw_alert"
        workflow.authorise(Machine.INCIDENT, incident.state, action, actor=actor, obj=incident)
        if incident.public_alert == publish:
            raise Conflict(
                _("The public alert is already published.") if publish else _("There is no public alert to withdraw."),
                code="alert_unchanged",
            )
        changes: dict[str, Any] = {
            "public_alert": publish,
            "alert_revision": incident.alert_revision + 1,
            "alert_sent_at": at,
        }
        if publish and incident.public_alert_at is None:
            changes["public_alert_at"] = at
        transition_incident(
            incident,
            action,
            actor=actor,
            at=at,
            note=note,
            data={"revision": incident.alert_revision + 1},
            changes=changes,
        )
    return incident
