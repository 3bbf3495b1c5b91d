"""The typed schema of every event type. append_event refuses an event whose payload does not fit,
so a screen never meets a payload shape nobody documented (docs/EVENTS.md lists the same types)."""

from __future__ import annotations

import functools
from typing import Any, TypedDict, get_type_hints


class TicketSummary(TypedDict):
    id: int
    number: str
    state: str
    urgency: str
    subject_id: int
    appeal_type_id: int
    latitude: float | None  # WGS84
    longitude: float | None  # WGS84


class WorkOrderSummary(TypedDict):
    id: int
    number: str
    ticket_id: int
    agency_id: int
    responsibility: str
    state: str


class PlacementSummary(TypedDict):
    district: str
    street: str
    grid: str
    near_boundary: bool
    proposed_lead_id: int | None
    layer_versions: dict[str, int]


class CallSummary(TypedDict):
    id: int
    state: str
    extension: str
    operator_id: int | None
    ticket_id: int | None


class TicketCreated(TypedDict):
    ticket: TicketSummary
    placement: PlacementSummary | None


class TicketChanged(TypedDict):
    ticket: TicketSummary
    action: str
    from_state: str
    to_state: str


class TicketMerged(TypedDict):
    ticket: TicketSummary
    duplicate_id: int
    duplicate_number: str


class TicketCorrected(TypedDict):
    """Centre staff corrected a ticket's classification or location: the names of the fields that changed
    (never their values) and where the ticket lies now (null without a location)."""

    ticket: TicketSummary
    fields: list[str]  # subject, appeal_type, urgency, address, latitude, longitude
    placement: PlacementSummary | None


class WorkOrderCreated(TypedDict):
    work_order: WorkOrderSummary


class WorkOrderChanged(TypedDict):
    work_order: WorkOrderSummary
    action: str
    from_state: str
    to_state: str


class CallerRevealed(TypedDict):
    ticket_id: int
    actor_id: int


class CallEvent(TypedDict):
    call: CallSummary


class FiredEscalation(TypedDict):
    """One step of the escalation ladder; work_order_id is null for a ticket-level clock (revisit)."""

    escalation_id: int
    clock_id: int
    work_order_id: int | None
    ticket_id: int
    stage: str  # sign, handle, review, revisit
    level: str  # warning, overdue, serious
    due_at: str  # ISO 8601 with offset
    provisional: bool  # the deadline was computed on the provisional calendar of an unpublished year
    supervision_case_id: int | None  # the 督办 case a red card opened or joined


class WorkOrderEscalated(TypedDict):
    """Steps of the escalation ladder one batch of the timer worker fired for one agency
    (dispatch/deadlines/escalations.py): one event per agency per batch, so that a storm of deadlines is a few
    messages per screen, not thousands.
    agency_id is null for the centre's own stages (review, revisit)."""

    agency_id: int | None
    fired_at: str  # ISO 8601 with offset
    escalations: list[FiredEscalation]


class DeadlineUnknown(TypedDict):
    """A stage clock started without a deadline (e.g. the working calendar does not know the year)."""

    clock_id: int
    work_order_id: int | None
    ticket_id: int
    agency_id: int | None
    stage: str
    error: str  # e.g. calendar_year_unpublished


class RecomputedDeadline(TypedDict):
    """One open deadline computed again when a year's holiday schedule was published."""

    clock_id: int
    work_order_id: int | None
    ticket_id: int
    stage: str
    due_at: str  # ISO 8601 with offset: the deadline now in force
    warn_at: str | None
    previous_due_at: str | None  # null: the clock had no deadline before
    moved: bool  # true: the official deadline is later and replaced the provisional one; false: kept
    provisional: bool  # still provisional (it touches another unpublished year)


class DeadlinesRecomputed(TypedDict):
    """Deadlines of one agency (null: the centre's own stages) recomputed by publishing ``year`` (null: clocks
    that had no deadline got one, because a calendar now covers their year)."""

    agency_id: int | None
    year: int | None
    deadlines: list[RecomputedDeadline]


class CalendarYearPublished(TypedDict):
    """An administrator published a year's holiday schedule; counts of the open deadlines recomputed."""

    year: int
    recomputed: int
    moved: int
    kept: int


class ReferenceChanged(TypedDict):
    """A person changed reference data (an agency, a user's roles, ...): names of the fields, never values."""

    kind: str
    id: int
    action: str  # created, changed, deleted
    fields: list[str]


class UnitSummary(TypedDict):
    id: int
    call_sign: str
    unit_type: str
    agency_id: int
    status: str
    longitude: float | None  # WGS84
    latitude: float | None  # WGS84
    heading: float | None  # degrees clockwise from north
    speed: float | None  # m/s
    fix_at: str | None  # ISO 8601 with offset
    incident_id: int | None  # the incident of its open assignment


class UnitMoved(TypedDict):
    """A unit's position changed (coalesced per unit: docs/AVL.md)."""

    unit: UnitSummary


class UnitStatusChanged(TypedDict):
    unit: UnitSummary
    action: str
    from_state: str
    to_state: str


class IncidentSummary(TypedDict):
    id: int
    number: str
    type: str
    level: str
    state: str
    title: str
    latitude: float  # WGS84
    longitude: float  # WGS84
    district_code: str
    area_kind: str
    public_alert: bool


class IncidentTaskSummary(TypedDict):
    id: int
    incident_id: int
    agency_id: int
    status: str
    people_count: int


class IncidentCreated(TypedDict):
    incident: IncidentSummary


class IncidentChanged(TypedDict):
    incident: IncidentSummary
    action: str
    from_state: str
    to_state: str


class IncidentLinked(TypedDict):
    incident: IncidentSummary
    task: IncidentTaskSummary


class IncidentAgencyChanged(TypedDict):
    incident: IncidentSummary
    task: IncidentTaskSummary
    action: str
    from_state: str
    to_state: str


class IncidentMerged(TypedDict):
    incident: IncidentSummary
    merged_id: int
    merged_number: str


class AttachmentAdded(TypedDict):
    """A photo or document was added to a ticket (work_order_id null: an intake file) or to a work order.
    Never the file's name: it may hold personal data."""

    attachment_id: int
    ticket_id: int
    work_order_id: int | None
    agency_id: int | None  # the work order's agency; null for a file on the ticket itself
    kind: str  # intake, note, reply, other
    content_type: str
    size: int  # bytes, as stored
    is_image: bool


EVENT_SCHEMAS: dict[str, type] = {
    "ticket.created": TicketCreated,
    "ticket.changed": TicketChanged,
    "ticket.merged": TicketMerged,
    "ticket.corrected": TicketCorrected,
    "work_order.created": WorkOrderCreated,
    "work_order.changed": WorkOrderChanged,
    "work_order.escalated": WorkOrderEscalated,
    "work_order.deadline_unknown": DeadlineUnknown,
    "work_order.deadlines_recomputed": DeadlinesRecomputed,
    "calendar.year_published": CalendarYearPublished,
    "reference.changed": ReferenceChanged,
    "caller.revealed": CallerRevealed,
    "call.ringing": CallEvent,
    "call.answered": CallEvent,
    "call.ended": CallEvent,
    "incident.created": IncidentCreated,
    "incident.changed": IncidentChanged,
    "incident.linked": IncidentLinked,
    "incident.agency_changed": IncidentAgencyChanged,
    "incident.merged": IncidentMerged,
    "unit.moved": UnitMoved,
    "unit.status_changed": UnitStatusChanged,
    "attachment.added": AttachmentAdded,
}


class SchemaMismatch(ValueError):
    pass


@functools.cache
def _hints(schema: type) -> dict[str, Any]:
    # Computed once per schema: the escalation path validates thousands of payloads per batch.
    return get_type_hints(schema)


def _check(value: Any, expected: Any, where: str) -> None:
    hints = _hints(expected) if isinstance(expected, type) and issubclass(expected, dict) else None
    if hints is not None:
        if not isinstance(value, dict):
            raise SchemaMismatch(f"{where}: expected an object")
        optional: frozenset[str] = getattr(expected, "__optional_keys__", frozenset())
        missing = [key for key in hints if key not in value and key not in optional]
        extra = [key for key in value if key not in hints]
        if missing or extra:
            raise SchemaMismatch(f"{where}: missing {missing}, unexpected {extra}")
        for key, hint in hints.items():
            if key in value:
                _check(value[key], hint, f"{where}.{key}")
        return
    origin = getattr(expected, "__origin__", None)
    args = getattr(expected, "__args__", ())
    if expected is Any:
        return
    if (args and origin is None) or type(expected).__name__ == "UnionType":
        if not any(_fits(value, option) for option in args):
            raise SchemaMismatch(f"{where}: {value!r} is not {expected}")
        return
    if origin is dict:
        if not isinstance(value, dict):
            raise SchemaMismatch(f"{where}: expected an object")
        return
    if origin is list:
        if not isinstance(value, list):
            raise SchemaMismatch(f"{where}: expected a list")
        item_schema: Any = args[0] if args else Any
        for index, item in enumerate(value):
            _check(item, item_schema, f"{where}[{index}]")
        return
    if expected is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise SchemaMismatch(f"{where}: expected a number")
        return
    if expected is type(None):
        if value is not None:
            raise SchemaMismatch(f"{where}: expected null")
        return
    if isinstance(expected, type) and (
        not isinstance(value, expected) or (expected is int and isinstance(value, bool))
    ):
        raise SchemaMismatch(f"{where}: expected {expected.__name__}, got {type(value).__name__}")


def _fits(value: Any, expected: Any) -> bool:
    try:
        _check(value, expected, "")
    except SchemaMismatch:
        return False
    return True


def validate_payload(event_type: str, payload: dict[str, Any]) -> None:
    schema = EVENT_SCHEMAS.get(event_type)
    if schema is None:
        raise SchemaMismatch(f"unknown event type {event_type!r}: add it to realtime/schemas.py and docs/EVENTS.md")
    _check(payload, schema, event_type)
