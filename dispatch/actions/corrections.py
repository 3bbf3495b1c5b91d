"""Correcting a ticket after intake (工单修正): its classification (subject, appeal type, urgency) and its
location (address, coordinates in wgs84, gcj02 or bd09).

The checks are intake's own (``callcenter.actions.check_create_ticket``), so a corrected ticket is one intake
would have accepted, with coordinates converted to WGS84 the same way. A new subject or point places the
ticket again and stores a new routing proposal (``callcenter.placement.record_placement``), leaving out the
agencies that returned it, as dispatching does.

Deadlines: a correction does not move them. Running stage clocks keep the due times frozen when they started
(dispatch/deadlines/policies.py); clocks started later follow the corrected subject and urgency.
Recomputing running deadlines after a reclassification is out of scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.actions import check_create_ticket
from callcenter.models import Channel, Ticket, TicketPlacement
from callcenter.placement import placement_summary, record_placement
from core import clock
from core.errors import InvalidInput
from core.parsing import require_text
from dispatch import workflow
from dispatch.actions.machinery import emit_ticket_event, write_timeline
from dispatch.locks import lock_ticket
from dispatch.models import WorkOrder, WorkOrderState
from dispatch.workflow import Machine
from gis.coords import CoordinateSystem
from organisation.actions import audit
from organisation.models import User

CLASSIFICATION = ("subject", "appeal_type", "urgency")
COORDINATES = ("latitude", "longitude")
CORRECTABLE = (*CLASSIFICATION, "address", *COORDINATES, "coordinate_system")
#: Changes that move the ticket on the routing map: it is placed again.
ROUTING_INPUTS = frozenset({"subject", *COORDINATES})


@dataclass(frozen=True)
class Correction:
    ticket: Ticket
    #: Names of the fields that changed (never their values: some are personal data).
    changed: tuple[str, ...]
    #: The routing proposal after the correction (gis.routing.Decision.as_dict()); None without a map place.
    proposal: dict[str, Any] | None


def _refuse(fields: dict[str, list[str]]) -> InvalidInput:
    return InvalidInput(_("Some fields are not valid."), fields=fields)


def check_correct_ticket(ticket: Ticket, fields: dict[str, Any]) -> dict[str, Any]:
    """Validate a correction of ``ticket``; returns the new value of each field that changes.

    Fields left out keep their values. Coordinates come as a pair, in ``coordinate_system`` (default wgs84).
    """
    errors: dict[str, list[str]] = {}
    for name in sorted(set(fields) - set(CORRECTABLE)):
        errors[name] = [_("This field cannot be corrected.")]
    for name in (*CLASSIFICATION, *COORDINATES):
        # Intake falls back to a default for an empty urgency; a correction must say what it corrects to.
        if name in fields and (fields[name] is None or fields[name] == ""):
            errors[name] = [_("This field is required.")]
    relocated = any(name in fields for name in COORDINATES)
    if "coordinate_system" in fields and not relocated:
        errors["coordinate_system"] = [_("Give the latitude and longitude it applies to.")]
    if not errors and not any(name in fields for name in CORRECTABLE):
        errors["non_field_errors"] = [_("Give at least one field to correct.")]
    if errors:
        raise _refuse(errors)
    data: dict[str, Any] = {
        # Intake-only fields get neutral values: a correction never changes them.
        "channel": Channel.WEB,
        "description": "-",
        "appeal_type": fields.get("appeal_type", ticket.appeal_type.code),
        "subject": fields.get("subject", ticket.subject.code),
        "urgency": fields.get("urgency", ticket.urgency),
        "address": fields.get("address", ticket.address),
        # The stored point is WGS84; new coordinates are in the system the request names.
        "latitude": fields.get("latitude") if relocated else ticket.latitude,
        "longitude": fields.get("longitude") if relocated else ticket.longitude,
        "coordinate_system": fields.get("coordinate_system") if relocated else CoordinateSystem.WGS84,
    }
    checked = check_create_ticket(data)
    new_values: dict[str, Any] = {
        "subject": checked.subject,
        "appeal_type": checked.appeal_type,
        "urgency": checked.urgency,
        "address": checked.address,
        "latitude": checked.latitude,
        "longitude": checked.longitude,
    }
    current = {
        "subject": ticket.subject_id,
        "appeal_type": ticket.appeal_type_id,
        "urgency": ticket.urgency,
        "address": ticket.address,
        "latitude": ticket.latitude,
        "longitude": ticket.longitude,
    }
    changes = {
        name: value
        for name, value in new_values.items()
        if (value.pk if name in ("subject", "appeal_type") else value) != current[name]
    }
    if not changes:
        given = [name for name in fields if name != "coordinate_system"]
        raise InvalidInput(
            _("Nothing to correct: the ticket already has these values."),
            fields={name: [_("Unchanged.")] for name in given},
        )
    return changes


def _location_codes(placement: TicketPlacement | None) -> dict[str, str] | None:
    summary = placement_summary(placement)
    return {level: summary[level] for level in ("district", "street", "grid")} if summary else None


def do_correct_ticket(ticket_id: int, *, actor: User, reason: str, **fields: Any) -> Correction:
    """Reclassify or relocate an open ticket: audited (field names only), on the timeline as ``correct``
    (old -> new subject, appeal type, urgency and location codes), announced as ``ticket.corrected``."""
    require_text({"reason": reason}, required=["reason"])
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket = lock_ticket(ticket_id)
        workflow.authorise(Machine.TICKET, ticket.state, "correct", actor=actor, obj=ticket, context={"now": at})
        changes = check_correct_ticket(ticket, fields)
        placement = TicketPlacement.objects.filter(ticket=ticket).first()
        details: dict[str, Any] = {"changed": sorted(changes)}
        for name in CLASSIFICATION:
            if name in changes:
                old = getattr(ticket, name)
                new = changes[name]
                details[name] = {
                    "from": old if name == "urgency" else old.code,
                    "to": new if name == "urgency" else new.code,
                }
        for name, value in changes.items():
            setattr(ticket, name, value)
        ticket.updated_at = at
        ticket.save(update_fields=[*changes, "updated_at"])
        if ROUTING_INPUTS & set(changes):
            old_location = _location_codes(placement)
            returned_by = WorkOrder.objects.filter(ticket=ticket, state=WorkOrderState.RETURNED)
            returned = frozenset(returned_by.values_list("agency_id", flat=True))
            placement = record_placement(ticket, exclude_agency_ids=returned) or placement
            new_location = _location_codes(placement)
            if new_location != old_location:
                details["location"] = {"from": old_location, "to": new_location}
        write_timeline(
            ticket=ticket,
            machine=Machine.TICKET,
            action="correct",
            from_state=ticket.state,
            to_state=ticket.state,
            actor=actor,
            at=at,
            note=reason,
            data=details,
        )
        changed = sorted(changes)
        audit(actor, "correct_ticket", target_type="ticket", target_id=ticket.pk, reason=reason, details=changed)
        emit_ticket_event(ticket, "ticket.corrected", fields=changed, placement=placement_summary(placement))
    return Correction(ticket, tuple(changed), placement.proposal if placement else None)
