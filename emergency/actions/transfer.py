"""一键转接: 12345 <-> 110/119/120/122 transfers by agreed item lists.

The lists are data (TransferRule rows, loaded from emergency/data/transfer_list.json or edited in the
admin): which subjects go to which emergency line. Transferring a ticket records a Transfer row with the
list entry that justified it, a row on the ticket's timeline, and - when the transfer also escalates
the ticket into an incident or names one - a row on the incident's command timeline. A subject that is
not on the list for that line is refused (409 ``not_on_transfer_list``) unless an override reason is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.models import Ticket
from core import clock
from core.errors import Conflict, InvalidInput
from core.parsing import MAX_TEXT, require_text
from dispatch import workflow
from dispatch.actions import transition_ticket
from dispatch.locks import lock_ticket
from dispatch.workflow import Machine
from emergency.actions import (
    check_report_incident,
    create_incident_from_ticket,
    is_row_id,
    record_incident_step,
)
from emergency.locks import lock_incident
from emergency.models import EmergencyLine, Incident, Transfer, TransferDirection, TransferRule
from emergency.states import TERMINAL_INCIDENT_STATES
from organisation.models import Subject, User

TRANSFER_LIST_FILE = Path(__file__).resolve().parents[1] / "data" / "transfer_list.json"


def rule_for(subject_id: int, line: str) -> TransferRule | None:
    return TransferRule.objects.filter(subject_id=subject_id, line=line, active=True).first()


def lines_for(subject_id: int) -> list[str]:
    return list(TransferRule.objects.filter(subject_id=subject_id, active=True).values_list("line", flat=True))


def check_transfer_ticket(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput(_("The request body must be a JSON object."), fields={"body": [_("Expected an object.")]})
    errors: dict[str, list[str]] = {}
    line = data.get("line")
    if line not in EmergencyLine.values:
        errors["line"] = [_("One of: %(v)s") % {"v": ", ".join(EmergencyLine.values)}]
    for name in ("override_reason", "note"):
        value = data.get(name) or ""
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            errors[name] = [_("At most %(n)d characters of text.") % {"n": MAX_TEXT}]
    incident_id = data.get("incident_id")
    if incident_id is not None and not is_row_id(incident_id):
        errors["incident_id"] = [_("An incident id.")]
    direction = data.get("direction") or TransferDirection.OUTBOUND
    if direction not in TransferDirection.values:
        errors["direction"] = [_("One of: %(v)s") % {"v": ", ".join(TransferDirection.values)}]
    escalate = data.get("escalate")
    if escalate is not None and not isinstance(escalate, dict):
        errors["escalate"] = [_("The incident to create: an object like the incident form.")]
    if escalate is not None and incident_id is not None:
        errors["escalate"] = [_("Either escalate into a new incident or name an incident, not both.")]
    if errors:
        raise InvalidInput(_("Some fields are not valid."), fields=errors)
    return {
        "line": str(line),
        "direction": str(direction),
        "override_reason": (data.get("override_reason") or "").strip(),
        "note": (data.get("note") or "").strip(),
        "incident_id": incident_id,
        "escalate": escalate,
    }


def do_transfer_ticket(ticket_id: int, data: Any, *, actor: User) -> Transfer:
    """Transfer a ticket to an emergency line (outbound), or record that one came from it (inbound),
    on the ticket's timeline and, with an incident, on the incident's."""
    form = check_transfer_ticket(data)
    incident_form = check_report_incident(form["escalate"], location_required=False) if form["escalate"] else None
    with transaction.atomic(durable=True):
        at = clock.now()
        ticket = lock_ticket(ticket_id)
        workflow.authorise(Machine.TICKET, ticket.state, "transfer", actor=actor, obj=ticket, context={"now": at})
        rule = rule_for(ticket.subject_id, form["line"])
        # An inbound transfer was decided by the emergency line: recorded with its list entry if any,
        # never refused. An outbound one needs the list (or a reason).
        if rule is None and form["direction"] == TransferDirection.OUTBOUND and not form["override_reason"]:
            other_lines = lines_for(ticket.subject_id)
            message = (
                _("Subject '%(subject)s' is not on the %(line)s transfer list (it is on: %(lines)s).")
                if other_lines
                else _("Subject '%(subject)s' is not on the %(line)s transfer list.")
            ) % {"subject": ticket.subject.display_name, "line": form["line"], "lines": ", ".join(other_lines)}
            raise Conflict(
                message,
                code="not_on_transfer_list",
                fields={"override_reason": [_("Required to transfer a subject that is not on the list.")]},
            )
        incident = _incident_for_transfer(ticket, form, incident_form, rule, actor=actor, at=at)
        transfer = Transfer.objects.create(
            ticket=ticket,
            incident=incident,
            direction=form["direction"],
            line=form["line"],
            rule=rule,
            item=rule.item if rule else "",
            override_reason=form["override_reason"] if rule is None else "",
            note=form["note"],
            actor=actor,
            created_at=at,
        )
        details = _transfer_details(transfer)
        transition_ticket(ticket, "transfer", actor=actor, at=at, note=form["note"], data=details)
        if incident is not None:
            record_incident_step(
                incident, actor=actor, action="transfer", machine="transfer", note=form["note"], data=details, at=at
            )
    return transfer


def _transfer_details(transfer: Transfer) -> dict[str, Any]:
    details: dict[str, Any] = {
        "transfer_id": transfer.pk,
        "line": transfer.line,
        "direction": transfer.direction,
        "ticket": transfer.ticket.number,
    }
    if transfer.rule_id:
        details.update(rule_id=transfer.rule_id, item=transfer.item)
    else:
        details["override_reason"] = transfer.override_reason
    if transfer.incident_id:
        details["incident"] = transfer.incident.number if transfer.incident else None
    return details


def _incident_for_transfer(
    ticket: Ticket,
    form: dict[str, Any],
    incident_form: Any,
    rule: TransferRule | None,
    *,
    actor: User,
    at: Any,
) -> Incident | None:
    if form["incident_id"] is not None:
        incident = lock_incident(form["incident_id"])
        if incident.state in TERMINAL_INCIDENT_STATES:
            raise Conflict(_("The incident is finished."), code="incident_finished")
        return incident
    if incident_form is None:
        return None
    workflow.authorise(Machine.TICKET, ticket.state, "escalate", actor=actor, obj=ticket)
    return create_incident_from_ticket(
        ticket, incident_form, actor=actor, at=at, data={"via": "transfer"}, nested_under="escalate"
    )


# --- the item lists ----------------------------------------------------------------------------------


def do_load_transfer_list(path: Path = TRANSFER_LIST_FILE) -> int:
    """Upsert the agreed item lists from a JSON list of {subject, line, item, incident_type}.

    Entries whose subject does not exist in this installation's taxonomy are skipped (and counted
    out), so one file serves cities with different subject trees.
    """
    rows = json.loads(path.read_text(encoding="utf-8"))
    loaded = 0
    with transaction.atomic():
        for order, row in enumerate(rows):
            subject = Subject.objects.filter(code=row["subject"]).first()
            if subject is None:
                continue
            TransferRule.objects.update_or_create(
                subject=subject,
                line=row["line"],
                active=True,
                defaults={"item": row["item"], "incident_type": row.get("incident_type", ""), "sort_order": order},
            )
            loaded += 1
    return loaded


def do_save_transfer_rule(rule: TransferRule) -> TransferRule:
    """The admin's write path for one list entry."""
    require_text({"item": rule.item}, required=["item"])
    with transaction.atomic():
        rule.full_clean()
        rule.save()
    return rule
