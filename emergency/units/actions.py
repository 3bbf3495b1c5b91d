"""All writes of units: registering units, AVL positions, status transitions and assignments to incidents.

Every public ``do_*`` function is an outermost action (durable transaction, actor keyword-only, rows
locked in pk order, incident before its units, transitions from dispatch/workflow.py, timeline rows and
events in the same transaction). Positions are the high-rate path: they move the unit row and append at
most one coalesced ``unit.moved`` event per unit and interval, never a timeline row (docs/AVL.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core import clock
from core.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound
from dispatch import workflow
from dispatch.workflow import Machine
from emergency.actions import record_incident_step, transition_incident
from emergency.locks import lock_incident, lock_units
from emergency.models import (
    Assignment,
    Incident,
    IncidentAgency,
    Unit,
    UnitStatus,
    UnitTimelineEntry,
    UnitType,
)
from emergency.states import TERMINAL_INCIDENT_STATES, IncidentState
from emergency.units.avl import Fix
from emergency.units.measures import distance_m, hotline_setting, rough_eta_seconds, stale_after
from organisation import policy
from organisation.models import Agency, Role, User, default_city_id
from realtime.events import append_event

#: Roles that may send positions for any unit with their own token (an AVL gateway's account).
AVL_GATEWAY_ROLES = frozenset({Role.ADMIN})
MAX_UNITS_PER_ASSIGNMENT = 20


class DeviceNotAuthenticated(DomainError):
    """No credentials, or a device key that does not match (never says whether the device exists)."""

    status = 401
    code = "not_authenticated"


def is_stale(unit: Unit, now: dt.datetime | None = None) -> bool:
    """No fix, or the latest fix is older than HOTLINE["UNIT_STALE_SECONDS"]."""
    if unit.fix_at is None or unit.longitude is None or unit.latitude is None:
        return True
    return (now or clock.now()) - unit.fix_at > stale_after()


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# --- summaries and audiences --------------------------------------------------------------------------


def unit_summary(unit: Unit, incident_id: int | None) -> dict[str, Any]:
    return {
        "id": unit.pk,
        "call_sign": unit.call_sign,
        "unit_type": unit.unit_type,
        "agency_id": unit.agency_id,
        "status": unit.status,
        "longitude": unit.longitude,
        "latitude": unit.latitude,
        "heading": unit.heading,
        "speed": unit.speed,
        "fix_at": unit.fix_at.isoformat() if unit.fix_at else None,
        "incident_id": incident_id,
    }


def open_incident_of(unit_ids: Iterable[int]) -> dict[int, int]:
    """unit id -> incident id of its open assignment."""
    rows = Assignment.objects.filter(unit_id__in=list(unit_ids), cleared_at__isnull=True)
    return dict(rows.values_list("unit_id", "incident_id"))


def audiences(units: Sequence[Unit], incident_of: dict[int, int]) -> dict[int, list[int]]:
    """unit id -> agencies whose staff receive its events: the owner, and every agency linked to the
    incident the unit is assigned to (so a linked fire brigade watches the ambulance coming)."""
    linked: dict[int, set[int]] = {}
    incident_ids = set(incident_of.values())
    if incident_ids:
        for incident_id, agency_id in IncidentAgency.objects.filter(incident_id__in=incident_ids).values_list(
            "incident_id", "agency_id"
        ):
            linked.setdefault(incident_id, set()).add(agency_id)
    result = {}
    for unit in units:
        result[unit.pk] = sorted({unit.agency_id, *linked.get(incident_of.get(unit.pk, 0), set())})
    return result


def centre_cities(units: Sequence[Unit]) -> dict[int, int | None]:
    """unit id -> the city whose centre receives its events: its agency's (an agency naming none: the default
    city's). Two queries, however many units."""
    agency_city = dict(Agency.objects.filter(pk__in={unit.agency_id for unit in units}).values_list("pk", "city_id"))
    default = default_city_id() if None in agency_city.values() else None
    return {unit.pk: agency_city.get(unit.agency_id) or default for unit in units}


def emit_unit_event(
    unit: Unit,
    event_type: str,
    incident_id: int | None,
    agency_ids: list[int],
    *,
    city_id: int | None,
    **details: Any,
) -> None:
    append_event(
        event_type, {"unit": unit_summary(unit, incident_id), **details}, agency_ids=agency_ids, city_id=city_id
    )


# --- registering units (demo loader, admin) -----------------------------------------------------------


def check_upsert_unit(spec: dict[str, Any]) -> tuple[Agency, dict[str, Any]]:
    errors: dict[str, list[str]] = {}
    call_sign = spec.get("call_sign")
    if not isinstance(call_sign, str) or not call_sign.strip() or len(call_sign) > 40:
        errors["call_sign"] = [_("This field is required (at most 40 characters).")]
    if spec.get("unit_type") not in UnitType.values:
        errors["unit_type"] = [_("One of: %(choices)s.") % {"choices": ", ".join(UnitType.values)}]
    agency = Agency.objects.filter(code=spec.get("agency"), active=True).first()
    if agency is None:
        errors["agency"] = [_("Unknown or inactive agency.")]
    station = spec.get("station") or {}
    name = station.get("name") if isinstance(station, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        errors["station.name"] = [_("This field is required (at most 100 characters).")]
    lon, lat = (station.get("lon"), station.get("lat")) if isinstance(station, dict) else (None, None)
    for key, value, bound in (("station.lon", lon, 180), ("station.lat", lat, 90)):
        if not isinstance(value, int | float) or isinstance(value, bool) or not -bound <= value <= bound:
            errors[key] = [_("Must be between %(low)s and %(high)s.") % {"low": -bound, "high": bound}]
    device_id = spec.get("device_id")
    if device_id is not None and (not isinstance(device_id, str) or not device_id.strip() or len(device_id) > 64):
        errors["device_id"] = [_("At most %(n)d characters.") % {"n": 64}]
    device_key = spec.get("device_key")
    if device_key is not None and (not isinstance(device_key, str) or len(device_key) < 16):
        errors["device_key"] = [_("At least 16 characters.")]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    assert agency is not None and lon is not None and lat is not None
    values = {
        "unit_type": spec["unit_type"],
        "agency": agency,
        "station_name": name,
        "station_longitude": float(lon),
        "station_latitude": float(lat),
        "device_id": device_id,
        "active": bool(spec.get("active", True)),
    }
    if device_key is not None:
        values["device_key_sha256"] = key_digest(device_key)
    return agency, values


def do_upsert_unit(spec: dict[str, Any], *, actor: User | None = None) -> tuple[Unit, bool]:
    """Create or update a unit by call sign (reference data: no workflow step). A new unit starts
    available at its home station, with no fix yet (so it counts as stale until its device reports)."""
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise NotAllowed(_("Only administrators register units."))
    _agency, values = check_upsert_unit(spec)
    with transaction.atomic(durable=True):
        unit = Unit.objects.select_for_update(of=("self",)).filter(call_sign=spec["call_sign"]).first()
        if (
            values["device_id"]
            and Unit.objects.filter(device_id=values["device_id"]).exclude(call_sign=spec["call_sign"]).exists()
        ):
            raise InvalidInput(_("Some fields are not valid."), fields={"device_id": [_("Used by another unit.")]})
        created = unit is None
        if unit is None:
            unit = Unit(call_sign=spec["call_sign"], status=UnitStatus.AVAILABLE, status_changed_at=clock.now())
        for name, value in values.items():
            setattr(unit, name, value)
        unit.save()
    return unit, created


# --- AVL positions ------------------------------------------------------------------------------------


@dataclass
class IngestResult:
    accepted: int = 0
    ignored_out_of_order: int = 0
    events: int = 0
    unit_ids: list[int] = field(default_factory=list)


def check_record_positions(fixes: Sequence[Fix], *, actor: User | None, device_key: str | None) -> dict[str, Unit]:
    """Which unit each fix belongs to, refusing unknown devices and devices the sender may not speak for.

    With a device key every fix must be that key's device (a wrong key answers 401 without saying
    whether the device exists). With a user token: administrators (an AVL gateway account) send for
    any unit, agency staff for their own agency's units; any other device is "unknown" to them.
    """
    device_ids = sorted({fix.device_id for fix in fixes})
    units = {u.device_id: u for u in Unit.objects.filter(device_id__in=device_ids, active=True) if u.device_id}
    if actor is None:
        if not device_key or len(device_ids) != 1:
            raise DeviceNotAuthenticated(_("A device key or a user token is required."))
        unit = units.get(device_ids[0])
        if (
            unit is None
            or not unit.device_key_sha256
            or not hmac.compare_digest(unit.device_key_sha256, key_digest(device_key))
        ):
            raise DeviceNotAuthenticated(_("The device key does not match."))
        return units
    if not actor.has_role(*AVL_GATEWAY_ROLES):
        if not actor.is_agency_staff:
            raise NotAllowed(_("Your role may not send unit positions."))
        units = {device: unit for device, unit in units.items() if unit.agency_id == actor.agency_id}
    unknown = [device for device in device_ids if device not in units]
    if unknown:
        fields = {
            (f"positions.{i}.device_id" if len(fixes) > 1 else "device_id"): [_("Unknown device.")]
            for i, fix in enumerate(fixes)
            if fix.device_id in unknown
        }
        raise InvalidInput(_("Some fields are not valid."), fields=fields)
    return units


def _moved_event_due(unit: Unit, now: dt.datetime) -> bool:
    """Coalescing of `unit.moved`: at most one per UNIT_MOVED_EVENT_MIN_SECONDS per unit, and only when
    the unit moved UNIT_MOVED_EVENT_MIN_METRES since the last one or UNIT_MOVED_EVENT_HEARTBEAT_SECONDS
    passed (so a parked unit's screens still learn that its fix is fresh)."""
    if unit.moved_event_at is None or unit.moved_event_longitude is None or unit.moved_event_latitude is None:
        return True
    elapsed = (now - unit.moved_event_at).total_seconds()
    if elapsed < hotline_setting("UNIT_MOVED_EVENT_MIN_SECONDS", 5):
        return False
    if elapsed >= hotline_setting("UNIT_MOVED_EVENT_HEARTBEAT_SECONDS", 60):
        return True
    assert unit.longitude is not None and unit.latitude is not None
    moved = distance_m(unit.moved_event_longitude, unit.moved_event_latitude, unit.longitude, unit.latitude)
    return moved >= hotline_setting("UNIT_MOVED_EVENT_MIN_METRES", 25)


def do_record_positions(fixes: Sequence[Fix], *, actor: User | None, device_key: str | None = None) -> IngestResult:
    """Apply fixes (already parsed, WGS84). A fix not newer than the stored one is ignored: devices
    resend and networks reorder, and an old fix must never move a unit backwards."""
    by_device = check_record_positions(fixes, actor=actor, device_key=device_key)
    result = IngestResult()
    with transaction.atomic(durable=True):
        now = clock.now()
        units = lock_units(unit.pk for unit in by_device.values())
        newest: dict[int, Fix] = {}
        for fix in fixes:
            unit = units[by_device[fix.device_id].pk]
            stored = newest[unit.pk].fix_at if unit.pk in newest else unit.fix_at
            if stored is not None and fix.fix_at <= stored:
                result.ignored_out_of_order += 1
                continue
            newest[unit.pk] = fix
            result.accepted += 1
        moved: list[Unit] = []
        for unit_id, fix in newest.items():
            unit = units[unit_id]
            unit.longitude, unit.latitude = fix.longitude, fix.latitude
            unit.heading, unit.speed, unit.accuracy = fix.heading, fix.speed, fix.accuracy
            unit.fix_at, unit.received_at = fix.fix_at, now
            update = ["longitude", "latitude", "heading", "speed", "accuracy", "fix_at", "received_at"]
            if _moved_event_due(unit, now):
                unit.moved_event_at, unit.moved_event_longitude, unit.moved_event_latitude = (
                    now,
                    fix.longitude,
                    fix.latitude,
                )
                update += ["moved_event_at", "moved_event_longitude", "moved_event_latitude"]
                moved.append(unit)
            unit.save(update_fields=update)
        if moved:
            incident_of = open_incident_of(u.pk for u in moved)
            scopes = audiences(moved, incident_of)
            cities = centre_cities(moved)
            for unit in moved:
                emit_unit_event(unit, "unit.moved", incident_of.get(unit.pk), scopes[unit.pk], city_id=cities[unit.pk])
        result.events = len(moved)
        result.unit_ids = sorted(newest)
    return result


# --- status transitions and assignments ----------------------------------------------------------------


def _seconds_between(start: dt.datetime | None, end: dt.datetime) -> int | None:
    return None if start is None else max(0, round((end - start).total_seconds()))


def record_unit_step_on_incident(
    incident: Incident,
    *,
    action: str,
    from_state: str,
    to_state: str,
    actor: User,
    at: dt.datetime,
    note: str = "",
    data: dict[str, Any],
) -> None:
    """The unit's step on the incident's command timeline (machine "unit"; the unit's own from/to in data)."""
    record_incident_step(
        incident,
        actor=actor,
        action=action,
        note=note,
        data={**data, "unit_from": from_state, "unit_to": to_state},
        machine=Machine.UNIT.value,
        at=at,
    )


def _transition_unit(
    unit: Unit,
    action: str,
    *,
    actor: User,
    at: dt.datetime,
    incident: Incident | None,
    note: str,
) -> tuple[str, str]:
    workflow.authorise(Machine.UNIT, unit.status, action, actor=actor, obj=unit, agency_id=unit.agency_id)
    from_state = unit.status
    row = workflow.find(Machine.UNIT, from_state, action)
    assert row is not None
    to_state = row.next_state(from_state)
    unit.status = to_state
    unit.status_changed_at = at
    unit.save(update_fields=["status", "status_changed_at"])
    UnitTimelineEntry.objects.create(
        unit=unit,
        action=action,
        from_state=from_state,
        to_state=to_state,
        incident=incident,
        actor=actor,
        actor_agency_id=actor.agency_id,
        note=note,
        created_at=at,
    )
    return from_state, to_state


def check_change_unit_status(action: Any, note: Any) -> tuple[str, str]:
    errors: dict[str, list[str]] = {}
    public = workflow.actions(Machine.UNIT)
    if action == "dispatch":
        errors["action"] = [_("Units are dispatched by assigning them to an incident.")]
    elif not isinstance(action, str) or action not in public:
        errors["action"] = [_("One of: %(choices)s.") % {"choices": ", ".join(a for a in public if a != "dispatch")}]
    if note is not None and (not isinstance(note, str) or len(note) > 5000):
        errors["note"] = [_("At most %(n)d characters of text.") % {"n": 5000}]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    return str(action), note or ""


#: Which assignment time each unit action stamps.
_ASSIGNMENT_STAMPS = {"en_route": "en_route_at", "arrive": "on_scene_at", "clear": "cleared_at"}


def do_change_unit_status(unit_id: int, action: Any, *, actor: User, note: Any = None) -> Unit:
    """A crew (its own agency's units) or the command desk moves a unit; steps of an assigned unit are
    timed on its incident's timeline (dispatch-to-en-route, dispatch-to-scene, time on scene)."""
    action, note = check_change_unit_status(action, note)
    with transaction.atomic(durable=True):
        at = clock.now()
        incident_id = open_incident_of([unit_id]).get(unit_id)
        incident = lock_incident(incident_id) if incident_id else None
        unit = lock_units([unit_id])[unit_id]
        assignment = (
            Assignment.objects.select_for_update(of=("self",)).filter(unit=unit, cleared_at__isnull=True).first()
        )
        if (assignment.incident_id if assignment else None) != incident_id:
            raise Conflict(_("The unit's assignment changed meanwhile; try again."), code="concurrent_change")
        from_state, to_state = _transition_unit(unit, action, actor=actor, at=at, incident=incident, note=note)
        if assignment is not None and incident is not None and action in _ASSIGNMENT_STAMPS:
            setattr(assignment, _ASSIGNMENT_STAMPS[action], at)
            assignment.save(update_fields=[_ASSIGNMENT_STAMPS[action]])
            data = {
                "unit_id": unit.pk,
                "call_sign": unit.call_sign,
                "unit_type": unit.unit_type,
                "assignment_id": assignment.pk,
                "dispatch_to_en_route_seconds": _seconds_between(assignment.dispatched_at, assignment.en_route_at)
                if assignment.en_route_at
                else None,
                "dispatch_to_scene_seconds": _seconds_between(assignment.dispatched_at, assignment.on_scene_at)
                if assignment.on_scene_at
                else None,
                "call_to_scene_seconds": _seconds_between(incident.reported_at, assignment.on_scene_at)
                if assignment.on_scene_at
                else None,
                "time_on_scene_seconds": _seconds_between(assignment.on_scene_at, at) if action == "clear" else None,
            }
            record_unit_step_on_incident(
                incident,
                action=f"unit_{action}",
                from_state=from_state,
                to_state=to_state,
                actor=actor,
                at=at,
                note=note,
                data=data,
            )
            if action == "arrive" and incident.state == IncidentState.DISPATCHED:
                # The first unit on scene puts the incident's forces on scene (a system step of the unit action).
                transition_incident(incident, "arrive", actor=actor, at=at, cascaded=True)
        scopes = audiences([unit], {unit.pk: incident_id} if incident_id else {})
        emit_unit_event(
            unit,
            "unit.status_changed",
            None if action == "clear" else incident_id,
            scopes[unit.pk],
            city_id=centre_cities([unit])[unit.pk],
            action=action,
            from_state=from_state,
            to_state=to_state,
        )
    return unit


def check_assign_units(unit_ids: Any, note: Any) -> tuple[list[int], str]:
    errors: dict[str, list[str]] = {}
    if (
        not isinstance(unit_ids, list)
        or not unit_ids
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in unit_ids)
    ):
        errors["unit_ids"] = [_("A non-empty list of unit ids.")]
    elif len(unit_ids) > MAX_UNITS_PER_ASSIGNMENT:
        errors["unit_ids"] = [_("At most %(n)d units at once.") % {"n": MAX_UNITS_PER_ASSIGNMENT}]
    elif len(set(unit_ids)) != len(unit_ids):
        errors["unit_ids"] = [_("A unit is listed twice.")]
    if note is not None and (not isinstance(note, str) or len(note) > 5000):
        errors["note"] = [_("At most %(n)d characters of text.") % {"n": 5000}]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    return list(unit_ids), note or ""


def do_assign_units(incident_id: int, unit_ids: Any, *, actor: User, note: Any = None) -> list[Assignment]:
    """Send units to an incident (one click on the map): each unit goes available -> dispatched and gets
    an Assignment; the incident's timeline records each with its call-to-dispatch time. A unit that is
    not available (already dispatched, out of service...) refuses the whole request with 409."""
    unit_ids, note = check_assign_units(unit_ids, note)
    if not actor.has_role(*policy.UNIT_COMMAND):
        raise NotAllowed(_("Your role may not do '%(action)s'.") % {"action": "dispatch"})
    with transaction.atomic(durable=True):
        at = clock.now()
        incident = lock_incident(incident_id)
        if incident.state in TERMINAL_INCIDENT_STATES:
            raise Conflict(_("The incident is finished; no units can be assigned."), code="incident_finished")
        try:
            units = lock_units(unit_ids)
        except NotFound:
            raise InvalidInput(_("Some fields are not valid."), fields={"unit_ids": [_("Unknown unit.")]}) from None
        if any(not unit.active for unit in units.values()):
            raise InvalidInput(_("Some fields are not valid."), fields={"unit_ids": [_("Unknown unit.")]})
        assignments = []
        call_to_dispatch = _seconds_between(incident.reported_at, at)
        for unit in units.values():
            from_state, to_state = _transition_unit(unit, "dispatch", actor=actor, at=at, incident=incident, note=note)
            distance = eta = None
            if unit.longitude is not None and unit.latitude is not None:
                distance = distance_m(unit.longitude, unit.latitude, incident.longitude, incident.latitude)
                eta = rough_eta_seconds(unit.unit_type, distance)
            assignment = Assignment.objects.create(
                unit=unit,
                incident=incident,
                assigned_by=actor,
                distance_m=None if distance is None else round(distance, 1),
                eta_seconds=eta,
                dispatched_at=at,
            )
            assignments.append(assignment)
            record_unit_step_on_incident(
                incident,
                action="unit_dispatch",
                from_state=from_state,
                to_state=to_state,
                actor=actor,
                at=at,
                note=note,
                data={
                    "unit_id": unit.pk,
                    "call_sign": unit.call_sign,
                    "unit_type": unit.unit_type,
                    "assignment_id": assignment.pk,
                    "call_to_dispatch_seconds": call_to_dispatch,
                    "distance_m": assignment.distance_m,
                    "eta_seconds": eta,
                },
            )
        if incident.state in (IncidentState.REPORTED, IncidentState.CONFIRMED):
            transition_incident(incident, "dispatch", actor=actor, at=at, cascaded=True)
        scopes = audiences(list(units.values()), {unit_id: incident.pk for unit_id in units})
        cities = centre_cities(list(units.values()))
        for unit in units.values():
            emit_unit_event(
                unit,
                "unit.status_changed",
                incident.pk,
                scopes[unit.pk],
                city_id=cities[unit.pk],
                action="dispatch",
                from_state=UnitStatus.AVAILABLE,
                to_state=unit.status,
            )
    return assignments
