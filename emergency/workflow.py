"""The emergency app's rows of the one workflow table (dispatch/workflow.py): tickets escalated or
transferred, incidents, the linked agencies' tasks on them, and units. Registered at ready()
(emergency/apps.py), so that the workflow engine below knows nothing of emergencies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from callcenter.models import TicketState as T
from dispatch import workflow
from dispatch.workflow import START, SYSTEM, Guard, Machine, Transition
from emergency.states import OPEN_AGENCY_TASK_STATES, AgencyTaskStatus, IncidentState, UnitStatus
from organisation.policy import (
    AGENCY,
    COMMAND,
    INCIDENT_REPORTERS,
    PUBLIC_ALERTERS,
    UNIT_COMMAND,
    UNIT_CREW_OR_COMMAND,
)

I = IncidentState  # noqa: E741
K = AgencyTaskStatus
U = UnitStatus
OPEN_TICKET = (T.ACCEPTED, T.DISPATCHED, T.IN_PROGRESS, T.RETURNED, T.REPLIED, T.PENDING_REVISIT, T.REVISITED)
LIVE_INCIDENT = (I.REPORTED, I.CONFIRMED, I.DISPATCHED, I.ON_SCENE, I.CONTROLLED)


def _no_open_agency_tasks(incident: Any, _context: Mapping[str, Any]) -> bool:
    return not incident.agency_links.filter(status__in=OPEN_AGENCY_TASK_STATES).exists()


NO_OPEN_AGENCY_TASKS = Guard(
    "agency_tasks_open",
    _("Linked agencies are still working: their tasks must be done, declined or withdrawn first."),
    _no_open_agency_tasks,
)

# fmt: off
ROWS: tuple[Transition, ...] = (
    Transition(Machine.TICKET, frozenset(OPEN_TICKET), "escalate", None, INCIDENT_REPORTERS,
               _("Escalate into an emergency incident (升级为事件)")),
    Transition(Machine.TICKET, frozenset(OPEN_TICKET), "transfer", None, INCIDENT_REPORTERS,
               _("Transfer to 110/119/120/122 (一键转接)")),
    # --- incidents (emergency/actions/) -------------------------------------------------------
    Transition(Machine.INCIDENT, frozenset({START}), "report", I.REPORTED, INCIDENT_REPORTERS, _("Report (接报)")),
    Transition(Machine.INCIDENT, frozenset({START}), "escalate", I.REPORTED, INCIDENT_REPORTERS,
               _("Create from a ticket (工单升级)")),
    Transition(Machine.INCIDENT, frozenset({I.REPORTED}), "confirm", I.CONFIRMED, COMMAND, _("Confirm (核实)")),
    Transition(Machine.INCIDENT, frozenset({I.REPORTED, I.CONFIRMED}), "dispatch", I.DISPATCHED, COMMAND,
               _("Dispatch forces (调度)")),
    Transition(Machine.INCIDENT, frozenset({I.DISPATCHED}), "arrive", I.ON_SCENE, COMMAND, _("Forces on scene (到场)")),
    Transition(Machine.INCIDENT, frozenset({I.DISPATCHED, I.ON_SCENE}), "control", I.CONTROLLED, COMMAND,
               _("Under control (控制)")),
    Transition(Machine.INCIDENT, frozenset({I.CONTROLLED}), "close", I.CLOSED, COMMAND, _("Close (结案)"),
               guards=(NO_OPEN_AGENCY_TASKS,)),
    Transition(Machine.INCIDENT, frozenset({I.REPORTED, I.CONFIRMED, I.DISPATCHED, I.ON_SCENE}), "cancel", I.CANCELLED,
               COMMAND, _("Cancel (撤销)")),
    Transition(Machine.INCIDENT, frozenset(LIVE_INCIDENT), "merge", I.MERGED, COMMAND,
               _("Merge into another incident (合并)")),
    Transition(Machine.INCIDENT, frozenset(LIVE_INCIDENT), "absorb", None, SYSTEM, _("Absorb a merged incident")),
    Transition(Machine.INCIDENT, frozenset(LIVE_INCIDENT), "update", None, COMMAND, _("Update details")),
    Transition(Machine.INCIDENT, frozenset(LIVE_INCIDENT), "note", None, COMMAND, _("Command note")),
    Transition(Machine.INCIDENT, frozenset(LIVE_INCIDENT), "attach_ticket", None, INCIDENT_REPORTERS,
               _("Attach a reporting ticket")),
    Transition(Machine.INCIDENT, frozenset(LIVE_INCIDENT), "publish_alert", None, PUBLIC_ALERTERS,
               _("Publish a public alert (发布预警)")),
    Transition(Machine.INCIDENT, frozenset(LIVE_INCIDENT), "withdraw_alert", None, PUBLIC_ALERTERS,
               _("Withdraw the public alert")),
    # Incident exchange (emergency/eido/): taken over from another centre's EIDO, or sent to a partner centre.
    Transition(Machine.INCIDENT, frozenset({START}), "import_eido", I.REPORTED, COMMAND,
               _("Taken over from another centre (EIDO)")),
    Transition(Machine.INCIDENT, frozenset(LIVE_INCIDENT), "update_eido", None, COMMAND,
               _("Updated by the partner centre (EIDO)")),
    Transition(Machine.INCIDENT, frozenset(I.values), "send_eido", None, COMMAND,
               _("Sent to a partner centre (EIDO)")),
    # --- linked agencies' tasks on an incident ----------------------------------------------------------
    Transition(Machine.INCIDENT_TASK, frozenset({START}), "link", K.NOTIFIED, COMMAND, _("Link an agency (联动)")),
    Transition(Machine.INCIDENT_TASK, frozenset({K.DECLINED, K.WITHDRAWN, K.DONE}), "relink", K.NOTIFIED, COMMAND,
               _("Link the agency again")),
    Transition(Machine.INCIDENT_TASK, frozenset({K.NOTIFIED}), "acknowledge", K.ACKNOWLEDGED, AGENCY,
               _("Acknowledge (签收)"), own_agency_only=True),
    Transition(Machine.INCIDENT_TASK, frozenset({K.NOTIFIED, K.ACKNOWLEDGED}), "start_work", K.WORKING, AGENCY,
               _("Start work (处置)"), own_agency_only=True),
    Transition(Machine.INCIDENT_TASK, frozenset({K.WORKING}), "finish", K.DONE, AGENCY, _("Task done (完成)"),
               own_agency_only=True),
    Transition(Machine.INCIDENT_TASK, frozenset({K.NOTIFIED, K.ACKNOWLEDGED}), "decline", K.DECLINED, AGENCY,
               _("Decline (拒绝)"), own_agency_only=True),
    Transition(Machine.INCIDENT_TASK, frozenset(OPEN_AGENCY_TASK_STATES), "report", None, AGENCY,
               _("Report progress, people and contact"), own_agency_only=True),
    Transition(Machine.INCIDENT_TASK, frozenset(OPEN_AGENCY_TASK_STATES), "withdraw", K.WITHDRAWN, COMMAND,
               _("Withdraw the task")),
    # --- units (dispatch only through an assignment to an incident; see emergency/units/actions.py) --
    Transition(Machine.UNIT, frozenset({U.AVAILABLE}), "dispatch", U.DISPATCHED, UNIT_COMMAND,
               _("Assign to an incident (调派)")),
    Transition(Machine.UNIT, frozenset({U.DISPATCHED}), "en_route", U.EN_ROUTE, UNIT_CREW_OR_COMMAND,
               _("En route (出动)"), own_agency_only=True, centre_may_act=True),
    Transition(Machine.UNIT, frozenset({U.DISPATCHED, U.EN_ROUTE}), "arrive", U.ON_SCENE, UNIT_CREW_OR_COMMAND,
               _("On scene (到场)"), own_agency_only=True, centre_may_act=True),
    Transition(Machine.UNIT, frozenset({U.DISPATCHED, U.EN_ROUTE, U.ON_SCENE}), "clear", U.RETURNING,
               UNIT_CREW_OR_COMMAND, _("Clear the incident, returning (返回)"), own_agency_only=True,
               centre_may_act=True),
    Transition(Machine.UNIT, frozenset({U.RETURNING, U.OUT_OF_SERVICE}), "make_available", U.AVAILABLE,
               UNIT_CREW_OR_COMMAND, _("Available (待命)"), own_agency_only=True, centre_may_act=True),
    Transition(Machine.UNIT, frozenset({U.AVAILABLE, U.RETURNING}), "out_of_service", U.OUT_OF_SERVICE,
               UNIT_CREW_OR_COMMAND, _("Out of service (停用)"), own_agency_only=True, centre_may_act=True),
)
# fmt: on


def register() -> None:
    workflow.register(
        ROWS,
        states={Machine.INCIDENT: IncidentState, Machine.INCIDENT_TASK: AgencyTaskStatus, Machine.UNIT: UnitStatus},
    )
