"""All writes of incidents: report, escalate a ticket, the command transitions, merge, linked agencies'
tasks, public alerts, and the timeline function other modules call inside their own transaction.

Public ``do_*`` functions are outermost actions: a durable transaction, rows locked in the documented
order (emergency/locks.py), the workflow table asked through ``workflow.authorise``, the change,
its command-timeline row and its event rows together. ``check_*`` functions validate input and raise
InvalidInput naming each bad field, before anything is locked.

For the units helper (assignments): inside your own transaction, after locking the incident with
``locks.lock_incident``, call ``record_incident_step(incident, actor=..., action=..., ...)`` to add a
timeline row and an ``incident.changed`` event, and ``transition_incident`` to move the incident itself
(e.g. to dispatched on the first assignment).

One module per concern: ``incidents`` (summaries and events, the command timeline, report, the command
transitions, update), ``escalation`` (a ticket becomes or joins an incident), ``merge``, ``tasks`` (linked
agencies' tasks; the suggestions of which agencies to link live in emergency/linkage.py) and
``alerts`` (public alerts). This package re-exports the names other modules import from it.
"""

from emergency.actions.alerts import do_set_public_alert
from emergency.actions.escalation import create_incident_from_ticket, do_escalate_ticket
from emergency.actions.incidents import (
    INCIDENT_SUMMARY_FIELDS,
    check_report_incident,
    do_report_incident,
    do_transition_incident,
    do_update_incident,
    is_row_id,
    record_incident_step,
    transition_incident,
)
from emergency.actions.merge import do_merge_incident
from emergency.actions.tasks import do_act_on_task, do_link_agency

__all__ = [
    "INCIDENT_SUMMARY_FIELDS",
    "check_report_incident",
    "create_incident_from_ticket",
    "do_act_on_task",
    "do_escalate_ticket",
    "do_link_agency",
    "do_merge_incident",
    "do_report_incident",
    "do_set_public_alert",
    "do_transition_incident",
    "do_update_incident",
    "is_row_id",
    "record_incident_step",
    "transition_incident",
]
