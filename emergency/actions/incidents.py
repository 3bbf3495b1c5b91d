"""Incidents themselves: summaries and events, the command timeline (``record_incident_step``,
``transition_incident``), report, the command transitions and update."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.models import Call, Ticket
from core import clock
from core.clock import local_zone
from core.errors import Conflict, InvalidInput, NotFound
from core.parsing import clean_text, require_text
from dispatch import workflow
from dispatch.workflow import Machine
from emergency import cap
from emergency.actions.cities import city_for, city_of_moved
from emergency.areas import AffectedArea, Location, check_area, check_location, coordinate_system
from emergency.locks import lock_incident
from emergency.models import (
    CapMessage,
    Incident,
    IncidentAgency,
    IncidentCall,
    IncidentLevel,
    IncidentTimelineEntry,
    IncidentType,
)
from emergency.states import TERMINAL_INCIDENT_STATES, IncidentState
from gis.routing import place
from organisation import policy
from organisation.models import User, city_or_default
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


def linked_agency_ids(incident: Incident) -> list[int]:
    """The audience of an incident's events besides the centre: every agency ever linked to it."""
    return list(IncidentAgency.objects.filter(incident=incident).values_list("agency_id", flat=True))


def emit_incident_event(incident: Incident, event_type: str, **details: Any) -> None:
    """To the centre of the incident's city and every agency linked to it."""
    append_event(
        event_type,
        {"incident": incident_summary(incident), **details},
        agency_ids=linked_agency_ids(incident),
        city_id=city_or_default(incident.city_id),
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


def _refuse_when_finished(incident: Incident) -> None:
    if incident.state in TERMINAL_INCIDENT_STATES:
        raise Conflict(
            _("The incident is finished (%(state)s).") % {"state": incident.get_state_display()},
            code="incident_finished",
        )


# --- report -------------------------------------------------------------------------------------------


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


def _commander(value: Any, errors: dict[str, list[str]]) -> User | None:
    if value is None:
        return None
    commander = User.objects.filter(pk=value, is_active=True).first() if is_row_id(value) else None
    if commander is None or not commander.has_role(*policy.COMMAND):
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
    title = clean_text(data, "title", errors, max_length=120)
    description = clean_text(data, "description", errors)
    address = clean_text(data, "address", errors, max_length=200)
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
    form: IncidentInput,
    action: str,
    *,
    actor: User,
    at: dt.datetime,
    reported_at: dt.datetime,
    title: str,
    cascaded: bool = False,
    ticket: Ticket | None = None,
) -> Incident:
    """``cascaded``: the caller already decided the actor may (an exchange key's service account). ``ticket``:
    the ticket the incident is escalated from (its city counts when the point is outside every service area)."""
    workflow.authorise(Machine.INCIDENT, workflow.START, action, actor=actor, obj=None, cascaded=cascaded)
    assert form.location is not None
    district_code, district_name = _district(form.location)
    city_id = city_for(
        longitude=form.location.longitude, latitude=form.location.latitude, ticket=ticket, reporter=actor
    )
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
        city_id=city_id,
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
    record_cap_message(incident)


def record_cap_message(incident: Incident) -> CapMessage:
    """Write down the CAP message of the incident's current alert revision (saved, locked), so that later
    Updates and Cancels reference the whole thread."""
    return CapMessage.objects.create(
        incident=incident,
        revision=incident.alert_revision,
        identifier=cap.identifier(incident),
        msg_type=cap.message_type(incident),
        sent_at=cap.sent_at(incident),
    )


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
        city_id = city_of_moved(incident, location.longitude, location.latitude)
        if city_id != incident.city_id:
            changed["city_id"] = city_id
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
