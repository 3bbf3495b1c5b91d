"""The shared workflow: one declarative table of (machine, state, action) -> next state.

Tickets and work orders (and later incidents) are driven by this table. Each row says who may act
(roles), whether the actor must belong to the work order's agency, which guards must hold, and which
stage clocks start or stop. An action that is not in the table is refused with HTTP 409
``transition_not_allowed``; a failed guard with 409 and the guard's own code; a role that may not act
with 403. This module only decides; dispatch/actions/ and callcenter/actions.py write.

A ticket's own state while agencies work on it is not chosen by anyone: it follows from its work
orders (see ``ticket_state_from_work_orders``), recorded on the timeline as ``follow_work_orders``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext_lazy as _

from callcenter.models import Satisfaction, TicketState
from core.errors import Conflict, NotAllowed
from dispatch.emergency.states import OPEN_AGENCY_TASK_STATES, AgencyTaskStatus, IncidentState
from dispatch.emergency.unit_states import UnitStatus
from dispatch.models import (
    INACTIVE_WORK_ORDER_STATES,
    ExtensionState,
    Responsibility,
    Stage,
    SupervisionState,
    WorkOrder,
    WorkOrderState,
)
from organisation.models import Role, User


class Machine(StrEnum):
    TICKET = "ticket"
    WORK_ORDER = "work_order"
    UNIT = "unit"
    INCIDENT = "incident"
    #: One linked agency's task on an incident (dispatch/emergency): its own status, its own actors.
    INCIDENT_TASK = "incident_task"


#: Pseudo-state of an object that does not exist yet (creation is a transition too).
START = "start"

# Who may act. The centre's intake desk, its dispatch desk, reviewers and supervisors, and agencies.
INTAKE = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.ADMIN})
DISPATCHERS = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.ADMIN})
CENTRE_CONTROL = frozenset({Role.DISPATCHER, Role.ADMIN})
REVIEWERS = frozenset({Role.DISPATCHER, Role.ADMIN})
EXTENSION_DECIDERS = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
URGERS = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
AGENCY = frozenset({Role.AGENCY_HANDLER, Role.AGENCY_ADMIN})
#: Who moves units: the command desk for every unit, the owning agency's staff (the crew) for its own.
UNIT_COMMAND = frozenset({Role.COMMANDER, Role.DISPATCHER, Role.ADMIN})
UNIT_CREW_OR_COMMAND = UNIT_COMMAND | AGENCY
# Emergency linkage: operators may report or escalate into an incident; the command desk runs it.
INCIDENT_REPORTERS = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.COMMANDER, Role.ADMIN})
COMMAND = frozenset({Role.DISPATCHER, Role.COMMANDER, Role.ADMIN})
PUBLIC_ALERTERS = frozenset({Role.COMMANDER, Role.ADMIN})
#: Rows with no roles are run by the system as a consequence of another action, never called directly.
SYSTEM: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Guard:
    code: str
    message: Any
    holds: Callable[[Any, Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Transition:
    machine: Machine
    sources: frozenset[str]
    action: str
    target: str | None
    roles: frozenset[str]
    label: Any
    own_agency_only: bool = False
    guards: tuple[Guard, ...] = ()
    #: With own_agency_only: centre staff with one of the roles may act for any agency (units' command desk).
    centre_may_act: bool = False
    starts: tuple[Stage, ...] = ()
    stops: tuple[Stage, ...] = ()

    @property
    def is_system(self) -> bool:
        return not self.roles

    def next_state(self, current: str) -> str:
        return self.target if self.target is not None else current


# --- guards ----------------------------------------------------------------------------------------


def _latest_revisit_unsatisfied(ticket: Any, _context: Mapping[str, Any]) -> bool:
    latest = ticket.revisits.order_by("-id").first()
    return latest is not None and (latest.satisfaction == Satisfaction.UNSATISFIED or latest.resolved is False)


def _has_pending_extension(work_order: WorkOrder, _context: Mapping[str, Any]) -> bool:
    return work_order.extension_requests.filter(state=ExtensionState.PENDING).exists()


def _no_pending_extension(work_order: WorkOrder, context: Mapping[str, Any]) -> bool:
    return not _has_pending_extension(work_order, context)


def _handle_deadline_not_passed(work_order: WorkOrder, context: Mapping[str, Any]) -> bool:
    running = work_order.stage_clocks.filter(stage=Stage.HANDLE, stopped_at__isnull=True).first()
    if running is None:
        return False
    return running.due_at is None or context["now"] <= running.due_at


def _has_open_supervision(work_order: WorkOrder, _context: Mapping[str, Any]) -> bool:
    return work_order.supervision_cases.filter(state=SupervisionState.OPEN).exists()


def _no_open_supervision(work_order: WorkOrder, context: Mapping[str, Any]) -> bool:
    return not _has_open_supervision(work_order, context)


LATEST_REVISIT_UNSATISFIED = Guard(
    "revisit_not_unsatisfied",
    _("Redo needs an unsatisfied or unresolved latest revisit."),
    _latest_revisit_unsatisfied,
)
HAS_PENDING_EXTENSION = Guard(
    "no_pending_extension", _("There is no pending extension request."), _has_pending_extension
)
NO_PENDING_EXTENSION = Guard("extension_pending", _("An extension request is already pending."), _no_pending_extension)
BEFORE_HANDLE_DEADLINE = Guard(
    "deadline_passed",
    _("An extension must be requested before the handling deadline."),
    _handle_deadline_not_passed,
)
HAS_OPEN_SUPERVISION = Guard("no_open_supervision", _("There is no open supervision case."), _has_open_supervision)
NO_OPEN_SUPERVISION = Guard("supervision_open", _("A supervision case is already open."), _no_open_supervision)


def _no_open_agency_tasks(incident: Any, _context: Mapping[str, Any]) -> bool:
    return not incident.agency_links.filter(status__in=OPEN_AGENCY_TASK_STATES).exists()


NO_OPEN_AGENCY_TASKS = Guard(
    "agency_tasks_open",
    _("Linked agencies are still working: their tasks must be done, declined or withdrawn first."),
    _no_open_agency_tasks,
)


def _states(*states: str) -> frozenset[str]:
    return frozenset(states)


T = TicketState
W = WorkOrderState
OPEN_WORK = (W.PENDING_SIGN, W.HANDLING)
I = IncidentState  # noqa: E741
K = AgencyTaskStatus
OPEN_TICKET = (T.ACCEPTED, T.DISPATCHED, T.IN_PROGRESS, T.RETURNED, T.REPLIED, T.PENDING_REVISIT, T.REVISITED)
LIVE_INCIDENT = (I.REPORTED, I.CONFIRMED, I.DISPATCHED, I.ON_SCENE, I.CONTROLLED)
U = UnitStatus

# fmt: off
TABLE: tuple[Transition, ...] = (
    # --- tickets ------------------------------------------------------------------------------------
    Transition(Machine.TICKET, _states(START), "accept", T.ACCEPTED, INTAKE, _("Accept (受理)")),
    Transition(Machine.TICKET, _states(T.ACCEPTED), "resolve_directly", T.CLOSED, INTAKE,
               _("Resolve directly from the knowledge base (直接办结)")),
    Transition(Machine.TICKET, _states(T.ACCEPTED), "dispatch", T.DISPATCHED, DISPATCHERS, _("Dispatch (派单)")),
    Transition(Machine.TICKET, _states(T.RETURNED), "redispatch", T.DISPATCHED, DISPATCHERS,
               _("Re-dispatch after a return (改派)")),
    Transition(Machine.TICKET, _states(T.ACCEPTED), "merge", T.MERGED, INTAKE, _("Merge into a master ticket (合并)")),
    Transition(Machine.TICKET, _states(T.ACCEPTED), "cancel", T.CANCELLED, INTAKE, _("Cancel (撤销)")),
    Transition(Machine.TICKET, _states(T.DISPATCHED, T.IN_PROGRESS, T.RETURNED, T.REPLIED), "cancel",
               T.CANCELLED, CENTRE_CONTROL, _("Cancel (撤销)")),
    Transition(Machine.TICKET, _states(T.PENDING_REVISIT), "revisit", T.REVISITED, INTAKE,
               _("Revisit the caller (回访)"), stops=(Stage.REVISIT,)),
    Transition(Machine.TICKET, _states(T.REVISITED), "redo", T.IN_PROGRESS, DISPATCHERS,
               _("Send back for redo (重办)"), guards=(LATEST_REVISIT_UNSATISFIED,)),
    Transition(Machine.TICKET, _states(T.PENDING_REVISIT, T.REVISITED), "close", T.CLOSED, DISPATCHERS,
               _("Close (办结)"), stops=(Stage.REVISIT,)),
    Transition(Machine.TICKET, _states(T.DISPATCHED, T.IN_PROGRESS, T.RETURNED, T.REPLIED, T.PENDING_REVISIT),
               "follow_work_orders", None, SYSTEM, _("Follow the work orders")),
    Transition(Machine.TICKET, _states(*OPEN_TICKET), "escalate", None, INCIDENT_REPORTERS,
               _("Escalate into an emergency incident (升级为事件)")),
    Transition(Machine.TICKET, _states(*OPEN_TICKET), "transfer", None, INCIDENT_REPORTERS,
               _("Transfer to 110/119/120/122 (一键转接)")),
    # --- work orders --------------------------------------------------------------------------------
    Transition(Machine.WORK_ORDER, _states(START), "create", W.PENDING_SIGN, SYSTEM, _("Create"),
               starts=(Stage.SIGN,)),
    Transition(Machine.WORK_ORDER, _states(W.PENDING_SIGN), "sign", W.HANDLING, AGENCY, _("Sign (签收)"),
               own_agency_only=True, stops=(Stage.SIGN,), starts=(Stage.HANDLE,)),
    Transition(Machine.WORK_ORDER, _states(*OPEN_WORK), "return", W.RETURNED, AGENCY, _("Return (退单)"),
               own_agency_only=True, guards=(NO_PENDING_EXTENSION,), stops=(Stage.SIGN, Stage.HANDLE)),
    Transition(Machine.WORK_ORDER, _states(W.HANDLING), "note", None, AGENCY, _("Progress note"),
               own_agency_only=True),
    Transition(Machine.WORK_ORDER, _states(W.HANDLING), "reply", W.REPLIED, AGENCY, _("Reply (回复)"),
               own_agency_only=True, guards=(NO_PENDING_EXTENSION,), stops=(Stage.HANDLE,), starts=(Stage.REVIEW,)),
    Transition(Machine.WORK_ORDER, _states(W.REPLIED), "approve", W.APPROVED, REVIEWERS,
               _("Approve the reply (审核通过)"), stops=(Stage.REVIEW,)),
    Transition(Machine.WORK_ORDER, _states(W.REPLIED), "send_back", W.HANDLING, REVIEWERS,
               _("Send the reply back (审核退回)"), stops=(Stage.REVIEW,), starts=(Stage.HANDLE,)),
    Transition(Machine.WORK_ORDER, _states(W.HANDLING), "request_extension", None, AGENCY,
               _("Request an extension (延期申请)"), own_agency_only=True,
               guards=(NO_PENDING_EXTENSION, BEFORE_HANDLE_DEADLINE)),
    Transition(Machine.WORK_ORDER, _states(W.HANDLING), "approve_extension", None, EXTENSION_DECIDERS,
               _("Approve the extension"), guards=(HAS_PENDING_EXTENSION,)),
    Transition(Machine.WORK_ORDER, _states(W.HANDLING), "reject_extension", None, EXTENSION_DECIDERS,
               _("Reject the extension"), guards=(HAS_PENDING_EXTENSION,)),
    Transition(Machine.WORK_ORDER, _states(*OPEN_WORK), "urge", None, URGERS, _("Urge (催办)")),
    Transition(Machine.WORK_ORDER, _states(*OPEN_WORK, W.REPLIED), "supervise", None, SUPERVISORS,
               _("Open a supervision case (督办)"), guards=(NO_OPEN_SUPERVISION,)),
    Transition(Machine.WORK_ORDER, _states(*OPEN_WORK, W.REPLIED, W.APPROVED, W.CLOSED), "answer_supervision",
               None, AGENCY, _("Answer the supervision case"), own_agency_only=True,
               guards=(HAS_OPEN_SUPERVISION,)),
    Transition(Machine.WORK_ORDER, _states(*OPEN_WORK, W.REPLIED, W.APPROVED), "cancel", W.CANCELLED,
               CENTRE_CONTROL, _("Withdraw the work order (撤回)"), stops=(Stage.SIGN, Stage.HANDLE, Stage.REVIEW)),
    Transition(Machine.WORK_ORDER, _states(W.APPROVED), "redo", W.HANDLING, SYSTEM, _("Redo (重办)"),
               starts=(Stage.HANDLE,)),
    Transition(Machine.WORK_ORDER, _states(W.APPROVED), "close", W.CLOSED, SYSTEM, _("Close")),
    # --- incidents (dispatch/emergency/actions/) -------------------------------------------------------
    Transition(Machine.INCIDENT, _states(START), "report", I.REPORTED, INCIDENT_REPORTERS, _("Report (接报)")),
    Transition(Machine.INCIDENT, _states(START), "escalate", I.REPORTED, INCIDENT_REPORTERS,
               _("Create from a ticket (工单升级)")),
    Transition(Machine.INCIDENT, _states(I.REPORTED), "confirm", I.CONFIRMED, COMMAND, _("Confirm (核实)")),
    Transition(Machine.INCIDENT, _states(I.REPORTED, I.CONFIRMED), "dispatch", I.DISPATCHED, COMMAND,
               _("Dispatch forces (调度)")),
    Transition(Machine.INCIDENT, _states(I.DISPATCHED), "arrive", I.ON_SCENE, COMMAND, _("Forces on scene (到场)")),
    Transition(Machine.INCIDENT, _states(I.DISPATCHED, I.ON_SCENE), "control", I.CONTROLLED, COMMAND,
               _("Under control (控制)")),
    Transition(Machine.INCIDENT, _states(I.CONTROLLED), "close", I.CLOSED, COMMAND, _("Close (结案)"),
               guards=(NO_OPEN_AGENCY_TASKS,)),
    Transition(Machine.INCIDENT, _states(I.REPORTED, I.CONFIRMED, I.DISPATCHED, I.ON_SCENE), "cancel", I.CANCELLED,
               COMMAND, _("Cancel (撤销)")),
    Transition(Machine.INCIDENT, _states(*LIVE_INCIDENT), "merge", I.MERGED, COMMAND,
               _("Merge into another incident (合并)")),
    Transition(Machine.INCIDENT, _states(*LIVE_INCIDENT), "absorb", None, SYSTEM, _("Absorb a merged incident")),
    Transition(Machine.INCIDENT, _states(*LIVE_INCIDENT), "update", None, COMMAND, _("Update details")),
    Transition(Machine.INCIDENT, _states(*LIVE_INCIDENT), "note", None, COMMAND, _("Command note")),
    Transition(Machine.INCIDENT, _states(*LIVE_INCIDENT), "attach_ticket", None, INCIDENT_REPORTERS,
               _("Attach a reporting ticket")),
    Transition(Machine.INCIDENT, _states(*LIVE_INCIDENT), "publish_alert", None, PUBLIC_ALERTERS,
               _("Publish a public alert (发布预警)")),
    Transition(Machine.INCIDENT, _states(*LIVE_INCIDENT), "withdraw_alert", None, PUBLIC_ALERTERS,
               _("Withdraw the public alert")),
    # --- linked agencies' tasks on an incident ----------------------------------------------------------
    Transition(Machine.INCIDENT_TASK, _states(START), "link", K.NOTIFIED, COMMAND, _("Link an agency (联动)")),
    Transition(Machine.INCIDENT_TASK, _states(K.DECLINED, K.WITHDRAWN, K.DONE), "relink", K.NOTIFIED, COMMAND,
               _("Link the agency again")),
    Transition(Machine.INCIDENT_TASK, _states(K.NOTIFIED), "acknowledge", K.ACKNOWLEDGED, AGENCY,
               _("Acknowledge (签收)"), own_agency_only=True),
    Transition(Machine.INCIDENT_TASK, _states(K.NOTIFIED, K.ACKNOWLEDGED), "start_work", K.WORKING, AGENCY,
               _("Start work (处置)"), own_agency_only=True),
    Transition(Machine.INCIDENT_TASK, _states(K.WORKING), "finish", K.DONE, AGENCY, _("Task done (完成)"),
               own_agency_only=True),
    Transition(Machine.INCIDENT_TASK, _states(K.NOTIFIED, K.ACKNOWLEDGED), "decline", K.DECLINED, AGENCY,
               _("Decline (拒绝)"), own_agency_only=True),
    Transition(Machine.INCIDENT_TASK, _states(*OPEN_AGENCY_TASK_STATES), "report", None, AGENCY,
               _("Report progress, people and contact"), own_agency_only=True),
    Transition(Machine.INCIDENT_TASK, _states(*OPEN_AGENCY_TASK_STATES), "withdraw", K.WITHDRAWN, COMMAND,
               _("Withdraw the task")),
    # --- units (dispatch only through an assignment to an incident; see dispatch/emergency/unit_actions.py) --
    Transition(Machine.UNIT, _states(U.AVAILABLE), "dispatch", U.DISPATCHED, UNIT_COMMAND,
               _("Assign to an incident (调派)")),
    Transition(Machine.UNIT, _states(U.DISPATCHED), "en_route", U.EN_ROUTE, UNIT_CREW_OR_COMMAND,
               _("En route (出动)"), own_agency_only=True, centre_may_act=True),
    Transition(Machine.UNIT, _states(U.DISPATCHED, U.EN_ROUTE), "arrive", U.ON_SCENE, UNIT_CREW_OR_COMMAND,
               _("On scene (到场)"), own_agency_only=True, centre_may_act=True),
    Transition(Machine.UNIT, _states(U.DISPATCHED, U.EN_ROUTE, U.ON_SCENE), "clear", U.RETURNING,
               UNIT_CREW_OR_COMMAND, _("Clear the incident, returning (返回)"), own_agency_only=True,
               centre_may_act=True),
    Transition(Machine.UNIT, _states(U.RETURNING, U.OUT_OF_SERVICE), "make_available", U.AVAILABLE,
               UNIT_CREW_OR_COMMAND, _("Available (待命)"), own_agency_only=True, centre_may_act=True),
    Transition(Machine.UNIT, _states(U.AVAILABLE, U.RETURNING), "out_of_service", U.OUT_OF_SERVICE,
               UNIT_CREW_OR_COMMAND, _("Out of service (停用)"), own_agency_only=True, centre_may_act=True),
)
# fmt: on


MACHINE_LABELS = {
    Machine.TICKET: _("ticket"),
    Machine.WORK_ORDER: _("work order"),
    Machine.UNIT: _("unit"),
    Machine.INCIDENT: _("incident"),
    Machine.INCIDENT_TASK: _("agency task"),
}
_STATE_CHOICES: dict[Machine, Any] = {
    Machine.TICKET: TicketState,
    Machine.WORK_ORDER: WorkOrderState,
    Machine.UNIT: UnitStatus,
    Machine.INCIDENT: IncidentState,
    Machine.INCIDENT_TASK: AgencyTaskStatus,
}


def state_label(machine: Machine, state: str) -> str:
    choices = _STATE_CHOICES[machine]
    return str(choices(state).label) if state in choices.values else state


def _build_index(table: Iterable[Transition]) -> dict[tuple[Machine, str, str], Transition]:
    index: dict[tuple[Machine, str, str], Transition] = {}
    for row in table:
        for source in row.sources:
            key = (row.machine, source, row.action)
            if key in index:
                raise RuntimeError(f"workflow table has two rows for {key}")
            index[key] = row
    return index


_INDEX = _build_index(TABLE)

STATES: dict[Machine, tuple[str, ...]] = {
    Machine.TICKET: tuple(TicketState.values),
    Machine.WORK_ORDER: tuple(WorkOrderState.values),
    Machine.UNIT: tuple(UnitStatus.values),
    Machine.INCIDENT: tuple(IncidentState.values),
    Machine.INCIDENT_TASK: tuple(AgencyTaskStatus.values),
}


def actions(machine: Machine, *, include_system: bool = False) -> tuple[str, ...]:
    """Actions on existing objects (creation, from START, has its own endpoint)."""
    seen: dict[str, None] = {}
    for row in TABLE:
        if row.sources == {START}:
            continue
        if row.machine == machine and (include_system or not row.is_system):
            seen.setdefault(row.action, None)
    return tuple(seen)


def find(machine: Machine, state: str, action: str) -> Transition | None:
    return _INDEX.get((machine, state, action))


def available_actions(machine: Machine, state: str, user: User, *, agency_id: int | None = None) -> list[str]:
    """Actions the user could try now (guards are not evaluated): drives buttons on screens."""
    result = []
    for action in actions(machine):
        row = find(machine, state, action)
        if row is None or not user.has_role(*row.roles):
            continue
        if (
            row.own_agency_only
            and (agency_id is None or user.agency_id != agency_id)
            and not (row.centre_may_act and user.is_centre_staff)
        ):
            continue
        result.append(action)
    return result


def _may_ever(machine: Machine, action: str, actor: User) -> bool:
    rows = [row for row in TABLE if row.machine == machine and row.action == action]
    return any(row.is_system or actor.has_role(*row.roles) for row in rows)


def authorise(
    machine: Machine,
    state: str,
    action: str,
    *,
    actor: User,
    obj: Any,
    agency_id: int | None = None,
    context: Mapping[str, Any] | None = None,
    cascaded: bool = False,
) -> Transition:
    """The one gate every workflow action passes: table, role, ownership, guards.

    ``cascaded`` is for work-order moves caused by a ticket action whose roles were already checked.
    """
    if not cascaded and not _may_ever(machine, action, actor):
        # A role that can never do this learns nothing about the object's state.
        raise NotAllowed(_("Your role may not do '%(action)s'.") % {"action": action})
    row = find(machine, state, action)
    if row is None:
        raise Conflict(
            _("Action '%(action)s' is not allowed on a %(machine)s in state '%(state)s'.")
            % {"action": action, "machine": MACHINE_LABELS[machine], "state": state_label(machine, state)},
            code="transition_not_allowed",
        )
    if not row.is_system and not cascaded:
        if not actor.has_role(*row.roles):
            raise NotAllowed(_("Your role may not do '%(action)s'.") % {"action": action})
        if (
            row.own_agency_only
            and (agency_id is None or actor.agency_id != agency_id)
            and not (row.centre_may_act and actor.is_centre_staff)
        ):
            raise NotAllowed(_("Only the assigned agency may do '%(action)s'.") % {"action": action})
    for guard in row.guards:
        if not guard.holds(obj, context or {}):
            raise Conflict(guard.message, code=guard.code)
    return row


def ticket_state_from_work_orders(work_orders: Iterable[WorkOrder]) -> str:
    """The state a ticket in agencies' hands is in, given its work orders.

    Replied only when the lead and every co-handler replied; awaiting revisit only when every active
    reply is approved; returned when no active lead remains.
    """
    active = [wo for wo in work_orders if wo.state not in INACTIVE_WORK_ORDER_STATES]
    if not any(wo.responsibility == Responsibility.LEAD for wo in active):
        return TicketState.RETURNED
    states = {wo.state for wo in active}
    if states <= {W.APPROVED, W.CLOSED}:
        return TicketState.PENDING_REVISIT
    if states <= {W.REPLIED, W.APPROVED}:
        return TicketState.REPLIED
    if states == {W.PENDING_SIGN}:
        return TicketState.DISPATCHED
    return TicketState.IN_PROGRESS


@dataclass
class TableWalkCase:
    """One (state, action) pair for table-driven tests and documentation."""

    machine: Machine
    state: str
    action: str
    row: Transition | None = field(default=None)


def every_pair(machine: Machine) -> list[TableWalkCase]:
    return [
        TableWalkCase(machine, state, action, find(machine, state, action))
        for state in STATES[machine]
        for action in actions(machine)
    ]
