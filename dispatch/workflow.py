"""The shared workflow: one declarative table of (machine, state, action) -> next state.

Tickets and work orders are driven by this table, and so are incidents, their agency tasks and units:
the emergency app registers those rows at ready() (emergency/workflow.py). Each row says who may act
(roles, named in organisation/policy.py), whether the actor must belong to the work order's agency, which
guards must hold, and which stage clocks start or stop. An action that is not in the table is refused with HTTP 409
``transition_not_allowed``; a failed guard with 409 and the guard's own code; a role that may not act
with 403. This module only decides; the actions modules write.

A ticket's own state while agencies work on it is not chosen by anyone: it follows from its work
orders (see ``ticket_state_from_work_orders``), recorded on the timeline as ``follow_work_orders``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext_lazy as _

from callcenter.models import TERMINAL_TICKET_STATES, Satisfaction, TicketState
from core.errors import Conflict, NotAllowed
from dispatch.models import (
    INACTIVE_WORK_ORDER_STATES,
    ExtensionState,
    Responsibility,
    Stage,
    SupervisionState,
    WorkOrder,
    WorkOrderState,
)
from organisation.models import User
from organisation.policy import (
    AGENCY,
    CENTRE_CONTROL,
    DISPATCHERS,
    EXTENSION_DECIDERS,
    INTAKE,
    REVIEWERS,
    SUPERVISORS,
    URGERS,
)


class Machine(StrEnum):
    TICKET = "ticket"
    WORK_ORDER = "work_order"
    UNIT = "unit"
    INCIDENT = "incident"
    #: One linked agency's task on an incident (emergency): its own status, its own actors.
    INCIDENT_TASK = "incident_task"


#: Pseudo-state of an object that does not exist yet (creation is a transition too).
START = "start"

#: Rows with no roles are run by the system as a consequence of another action, never called directly.
SYSTEM: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Guard:
    code: str
    message: Any
    holds: Callable[[Any, Mapping[str, Any]], bool]
    #: States in which the guard never holds: screens do not offer the row's action there (available_actions).
    fails_in: frozenset[str] = frozenset()


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
    #: Instead of a fixed target (``target`` None): the object goes back to the state it was in before,
    #: which ``back_to`` reads off the object; ``resumes`` lists the states it can be (the table shows them).
    back_to: Callable[[Any], str] | None = None
    resumes: tuple[str, ...] = ()

    @property
    def is_system(self) -> bool:
        return not self.roles

    def next_state(self, current: str, obj: Any = None) -> str:
        if self.back_to is not None:
            previous = self.back_to(obj)
            if previous not in self.resumes:
                raise RuntimeError(f"{self.action}: cannot go back to {previous!r}")
            return previous
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


def _no_return_requested(work_order: WorkOrder, _context: Mapping[str, Any]) -> bool:
    return work_order.state != WorkOrderState.RETURN_REQUESTED


def state_before_return(work_order: WorkOrder) -> str:
    """The state a work order awaiting the centre's decision on its return was in when the agency asked:
    handling once signed, else still awaiting sign-off (nothing takes a signed work order back there)."""
    return WorkOrderState.HANDLING if work_order.signed_at is not None else WorkOrderState.PENDING_SIGN


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
NO_RETURN_REQUESTED = Guard(
    "return_pending",
    _("The return of this work order awaits the centre's decision."),
    _no_return_requested,
    fails_in=frozenset({WorkOrderState.RETURN_REQUESTED}),
)


def _states(*states: str) -> frozenset[str]:
    return frozenset(states)


T = TicketState
W = WorkOrderState
OPEN_WORK = (W.PENDING_SIGN, W.HANDLING)
#: Open work including a return awaiting the centre's decision (the agency is still responsible meanwhile).
HELD_WORK = (*OPEN_WORK, W.RETURN_REQUESTED)
#: Tickets still open: a correction (reclassify, relocate) is possible until the ticket ends.
OPEN_TICKET_STATES = tuple(state for state in T if state not in TERMINAL_TICKET_STATES)

# fmt: off
_TICKET_AND_WORK_ORDER_ROWS: tuple[Transition, ...] = (
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
    # Correcting the classification or location: the intake desk while the ticket is only accepted, the
    # centre's dispatch desk until the ticket ends.
    Transition(Machine.TICKET, _states(T.ACCEPTED), "correct", None, INTAKE, _("Correct the ticket (工单修正)")),
    Transition(Machine.TICKET, _states(*(s for s in OPEN_TICKET_STATES if s != T.ACCEPTED)), "correct", None,
               CENTRE_CONTROL, _("Correct the ticket (工单修正)")),
    # --- work orders --------------------------------------------------------------------------------
    Transition(Machine.WORK_ORDER, _states(START), "create", W.PENDING_SIGN, SYSTEM, _("Create"),
               starts=(Stage.SIGN,)),
    Transition(Machine.WORK_ORDER, _states(W.PENDING_SIGN), "sign", W.HANDLING, AGENCY, _("Sign (签收)"),
               own_agency_only=True, stops=(Stage.SIGN,), starts=(Stage.HANDLE,)),
    # A return is a request: the centre approves it (the work order ends, the ticket awaits re-dispatch) or
    # rejects it (back to where it was). Meanwhile the agency stays responsible and its clocks run on.
    Transition(Machine.WORK_ORDER, _states(*OPEN_WORK), "return", W.RETURN_REQUESTED, AGENCY,
               _("Request a return (退单申请)"), own_agency_only=True, guards=(NO_PENDING_EXTENSION,)),
    Transition(Machine.WORK_ORDER, _states(W.RETURN_REQUESTED), "approve_return", W.RETURNED, REVIEWERS,
               _("Approve the return (退单审核通过)"), stops=(Stage.SIGN, Stage.HANDLE)),
    Transition(Machine.WORK_ORDER, _states(W.RETURN_REQUESTED), "reject_return", None, REVIEWERS,
               _("Reject the return (退单驳回)"), back_to=state_before_return, resumes=OPEN_WORK),
    Transition(Machine.WORK_ORDER, _states(W.HANDLING), "note", None, AGENCY, _("Progress note"),
               own_agency_only=True),
    Transition(Machine.WORK_ORDER, _states(W.HANDLING, W.RETURN_REQUESTED), "reply", W.REPLIED, AGENCY,
               _("Reply (回复)"), own_agency_only=True, guards=(NO_RETURN_REQUESTED, NO_PENDING_EXTENSION),
               stops=(Stage.HANDLE,), starts=(Stage.REVIEW,)),
    Transition(Machine.WORK_ORDER, _states(W.REPLIED), "approve", W.APPROVED, REVIEWERS,
               _("Approve the reply (审核通过)"), stops=(Stage.REVIEW,)),
    Transition(Machine.WORK_ORDER, _states(W.REPLIED), "send_back", W.HANDLING, REVIEWERS,
               _("Send the reply back (审核退回)"), stops=(Stage.REVIEW,), starts=(Stage.HANDLE,)),
    Transition(Machine.WORK_ORDER, _states(W.HANDLING, W.RETURN_REQUESTED), "request_extension", None, AGENCY,
               _("Request an extension (延期申请)"), own_agency_only=True,
               guards=(NO_RETURN_REQUESTED, NO_PENDING_EXTENSION, BEFORE_HANDLE_DEADLINE)),
    Transition(Machine.WORK_ORDER, _states(W.HANDLING), "approve_extension", None, EXTENSION_DECIDERS,
               _("Approve the extension"), guards=(HAS_PENDING_EXTENSION,)),
    Transition(Machine.WORK_ORDER, _states(W.HANDLING), "reject_extension", None, EXTENSION_DECIDERS,
               _("Reject the extension"), guards=(HAS_PENDING_EXTENSION,)),
    Transition(Machine.WORK_ORDER, _states(*HELD_WORK), "urge", None, URGERS, _("Urge (催办)")),
    Transition(Machine.WORK_ORDER, _states(*HELD_WORK, W.REPLIED), "supervise", None, SUPERVISORS,
               _("Open a supervision case (督办)"), guards=(NO_OPEN_SUPERVISION,)),
    Transition(Machine.WORK_ORDER, _states(*HELD_WORK, W.REPLIED, W.APPROVED, W.CLOSED), "answer_supervision",
               None, AGENCY, _("Answer the supervision case"), own_agency_only=True,
               guards=(HAS_OPEN_SUPERVISION,)),
    Transition(Machine.WORK_ORDER, _states(*HELD_WORK, W.REPLIED, W.APPROVED), "cancel", W.CANCELLED,
               CENTRE_CONTROL, _("Withdraw the work order (撤回)"), stops=(Stage.SIGN, Stage.HANDLE, Stage.REVIEW)),
    Transition(Machine.WORK_ORDER, _states(W.APPROVED), "redo", W.HANDLING, SYSTEM, _("Redo (重办)"),
               starts=(Stage.HANDLE,)),
    Transition(Machine.WORK_ORDER, _states(W.APPROVED), "close", W.CLOSED, SYSTEM, _("Close")),
)
# fmt: on


MACHINE_LABELS = {
    Machine.TICKET: _("ticket"),
    Machine.WORK_ORDER: _("work order"),
    Machine.UNIT: _("unit"),
    Machine.INCIDENT: _("incident"),
    Machine.INCIDENT_TASK: _("agency task"),
}

# --- the table: dispatch's rows, and the rows other apps register at ready() -----------------------

_rows: list[Transition] = []
_index: dict[tuple[Machine, str, str], Transition] = {}
_state_choices: dict[Machine, Any] = {}


def register(rows: Iterable[Transition], *, states: Mapping[Machine, Any]) -> None:
    """Add rows to the one table. An app above dispatch (emergency) registers its machines' rows and
    state choices here from its AppConfig.ready(); two rows for one (machine, state, action) are refused."""
    new = tuple(rows)
    for row in new:
        for source in row.sources:
            key = (row.machine, source, row.action)
            if key in _index:
                raise RuntimeError(f"workflow table has two rows for {key}")
            _index[key] = row
    _rows.extend(new)
    _state_choices.update(states)


def table() -> tuple[Transition, ...]:
    """Every row, dispatch's first, then each registering app's in registration order."""
    return tuple(_rows)


def states(machine: Machine) -> tuple[str, ...]:
    return tuple(_state_choices[machine].values)


def state_label(machine: Machine, state: str) -> str:
    choices = _state_choices[machine]
    return str(choices(state).label) if state in choices.values else state


register(
    _TICKET_AND_WORK_ORDER_ROWS,
    states={Machine.TICKET: TicketState, Machine.WORK_ORDER: WorkOrderState},
)


def actions(machine: Machine, *, include_system: bool = False) -> tuple[str, ...]:
    """Actions on existing objects (creation, from START, has its own endpoint)."""
    seen: dict[str, None] = {}
    for row in _rows:
        if row.sources == {START}:
            continue
        if row.machine == machine and (include_system or not row.is_system):
            seen.setdefault(row.action, None)
    return tuple(seen)


def find(machine: Machine, state: str, action: str) -> Transition | None:
    return _index.get((machine, state, action))


def available_actions(machine: Machine, state: str, user: User, *, agency_id: int | None = None) -> list[str]:
    """Actions the user could try now (guards are not evaluated): drives buttons on screens."""
    result = []
    for action in actions(machine):
        row = find(machine, state, action)
        if row is None or not user.has_role(*row.roles):
            continue
        if any(state in guard.fails_in for guard in row.guards):
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
    rows = [row for row in _rows if row.machine == machine and row.action == action]
    return any(row.is_system or actor.has_role(*row.roles) for row in rows)


def action_label(machine: Machine, action: str) -> str:
    """An action as people name it (the table's label); an action the table does not know is named as asked."""
    for row in _rows:
        if row.machine == machine and row.action == action:
            return str(row.label)
    return action


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
        raise NotAllowed(_("Your role may not do '%(action)s'.") % {"action": action_label(machine, action)})
    row = find(machine, state, action)
    if row is None:
        raise Conflict(
            _("Action '%(action)s' is not allowed on a %(machine)s in state '%(state)s'.")
            % {
                "action": action_label(machine, action),
                "machine": MACHINE_LABELS[machine],
                "state": state_label(machine, state),
            },
            code="transition_not_allowed",
        )
    if not row.is_system and not cascaded:
        if not actor.has_role(*row.roles):
            raise NotAllowed(_("Your role may not do '%(action)s'.") % {"action": str(row.label)})
        if (
            row.own_agency_only
            and (agency_id is None or actor.agency_id != agency_id)
            and not (row.centre_may_act and actor.is_centre_staff)
        ):
            raise NotAllowed(_("Only the assigned agency may do '%(action)s'.") % {"action": str(row.label)})
    for guard in row.guards:
        if not guard.holds(obj, context or {}):
            raise Conflict(guard.message, code=guard.code)
    return row


def ticket_state_from_work_orders(work_orders: Iterable[WorkOrder]) -> str:
    """The state a ticket in agencies' hands is in, given its work orders.

    Replied only when the lead and every co-handler replied; awaiting revisit only when every active
    reply is approved; returned when no active lead remains. A work order whose return awaits the centre's
    decision still counts, as the state it was in when its agency asked.
    """
    active = [wo for wo in work_orders if wo.state not in INACTIVE_WORK_ORDER_STATES]
    if not any(wo.responsibility == Responsibility.LEAD for wo in active):
        return TicketState.RETURNED
    states = {state_before_return(wo) if wo.state == W.RETURN_REQUESTED else wo.state for wo in active}
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
        for state in states(machine)
        for action in actions(machine)
    ]
