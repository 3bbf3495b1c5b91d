"""Linked agencies' tasks on an incident (联动): link an agency, and the agency moving its own task."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core import clock
from core.errors import InvalidInput, NotFound
from core.parsing import MAX_TEXT, require_text
from dispatch import workflow
from dispatch.workflow import Machine
from emergency.actions.incidents import (
    _refuse_when_finished,
    emit_incident_event,
    is_row_id,
    write_incident_timeline,
)
from emergency.locks import lock_agency_link, lock_agency_links, lock_incident
from emergency.models import Incident, IncidentAgency
from emergency.states import AgencyTaskStatus
from organisation.models import Agency, User

_TASK_STAMP_ON_ENTRY = {
    AgencyTaskStatus.ACKNOWLEDGED: "acknowledged_at",
    AgencyTaskStatus.WORKING: "working_at",
    AgencyTaskStatus.DONE: "finished_at",
    AgencyTaskStatus.DECLINED: "finished_at",
    AgencyTaskStatus.WITHDRAWN: "finished_at",
}
MAX_PEOPLE = 10_000


def task_summary(link: IncidentAgency) -> dict[str, Any]:
    return {
        "id": link.pk,
        "incident_id": link.incident_id,
        "agency_id": link.agency_id,
        "status": link.status,
        "people_count": link.people_count,
    }


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
