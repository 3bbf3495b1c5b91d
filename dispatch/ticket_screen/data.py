"""What the ticket page shows: the ticket as the API's detail serializer gives it to this viewer (the one source
of its fields, its work orders and the actions the workflow table allows), with the labels the page shows for
codes and the choices its action forms offer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from callcenter.models import Channel, Satisfaction, Ticket, TicketCaller, Urgency
from core import clock
from dispatch import workflow
from dispatch.access import visible_tickets
from dispatch.models import EscalationLevel, ReplyOutcome, Responsibility, Stage, StageClock, WorkOrder
from dispatch.serializers import TicketDetailSerializer
from dispatch.ticket_screen import choices as registered_choices
from dispatch.workflow import Machine
from organisation.models import Agency, AgencyKind, AppealType, Subject, User
from organisation.policy import is_centre, sees_caller_details
from organisation.privacy import shown_to


def ticket_queryset(user: User) -> QuerySet[Ticket]:
    """The user's visible tickets with everything the detail reads, prefetched as the ticket API does."""
    return (
        visible_tickets(user)
        .select_related("subject", "appeal_type", "caller", "master", "answered_by_article", "placement")
        .prefetch_related(
            Prefetch("work_orders", queryset=WorkOrder.objects.select_related("agency").order_by("id")),
            Prefetch(
                "work_orders__stage_clocks",
                queryset=StageClock.objects.filter(stopped_at__isnull=True).order_by("id"),
                to_attr="running_clocks",
            ),
            Prefetch("ticket_callers", queryset=TicketCaller.objects.select_related("caller", "via_ticket")),
            "revisits",
        )
    )


def _choices(choices: Any) -> dict[str, str]:
    return {str(value): str(label) for value, label in choices.choices}


def _states(machine: Machine) -> dict[str, str]:
    return {state: workflow.state_label(machine, state) for state in workflow.states(machine)}


def labels() -> dict[str, dict[str, str]]:
    """Names for every code the page shows (the models' own translated labels)."""
    return {
        "ticket_state": _states(Machine.TICKET),
        "work_order_state": _states(Machine.WORK_ORDER),
        "urgency": _choices(Urgency),
        "channel": _choices(Channel),
        "responsibility": _choices(Responsibility),
        "stage": _choices(Stage),
        "level": _choices(EscalationLevel),
        "outcome": _choices(ReplyOutcome),
        "satisfaction": _choices(Satisfaction),
    }


def timeline_labels() -> dict[str, str]:
    """Names of timeline steps that are not rows of the workflow table (the table's own come from /api/workflow/)."""
    return {
        "escalate_warning": _("Deadline warning (预警)"),
        "escalate_overdue": _("Yellow card (黄牌)"),
        "escalate_serious": _("Red card (红牌)"),
        "deadline_set": _("Deadline set"),
        "deadline_recomputed": _("Deadline recomputed"),
        "absorb_duplicate": _("Duplicate merged in"),
        "attach": _("Photo or file added"),
    }


def _when(value: Any) -> dt.datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


class GuardChecks:
    """The table's own guards, asked once per (guard, object) for one rendering of the page: an action the
    table allows whose guard fails now (no open supervision case to answer, an extension already pending)
    keeps its button, marked as not possible now with the guard's own message."""

    def __init__(self) -> None:
        self.context = {"now": clock.now()}
        self.answers: dict[tuple[str, str, int], bool] = {}

    def failure(self, row: workflow.Transition | None, obj: Any) -> str:
        for guard in row.guards if row else ():
            key = (guard.code, type(obj).__name__, obj.pk)
            if key not in self.answers:
                self.answers[key] = guard.holds(obj, self.context)
            if not self.answers[key]:
                return str(guard.message)
        return ""


def _buttons(machine: Machine, obj: Any, actions: list[str], checks: GuardChecks) -> list[dict[str, str]]:
    buttons = []
    for action in actions:
        row = workflow.find(machine, obj.state, action)
        buttons.append(
            {"action": action, "label": str(row.label) if row else action, "blocked": checks.failure(row, obj)}
        )
    return buttons


def _clocks(rows: list[dict[str, Any]], names: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            **clock,
            "stage_label": names["stage"].get(clock["stage"], ""),
            "started": _when(clock["started_at"]),
            "due": _when(clock["due_at"]),
        }
        for clock in rows
    ]


def _cards(rows: list[dict[str, Any]], names: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            **card,
            "level_label": names["level"].get(card["level"], ""),
            "stage_label": names["stage"].get(card["stage"], ""),
            "fired": _when(card["fired_at"]),
            "due": _when(card["due_at"]),
        }
        for card in rows
    ]


def _work_order_view(
    wo: dict[str, Any], row: WorkOrder, names: dict[str, dict[str, str]], checks: GuardChecks
) -> dict[str, Any]:
    pending = wo["pending_extension"]
    case = wo["open_supervision"]
    return {
        **wo,
        "state_label": names["work_order_state"].get(wo["state"], ""),
        "responsibility_label": names["responsibility"].get(wo["responsibility"], ""),
        "outcome_label": names["outcome"].get(wo["reply_outcome"] or "", ""),
        "created": _when(wo["created_at"]),
        "signed": _when(wo["signed_at"]),
        "replied": _when(wo["replied_at"]),
        "approved": _when(wo["approved_at"]),
        "finished": _when(wo["finished_at"]),
        "clock_rows": _clocks(wo["clocks"], names),
        "cards": _cards(wo["escalations"], names),
        "level_label": names["level"].get(wo["escalation_level"] or "", ""),
        "pending": {**pending, "requested_due": _when(pending["requested_due_at"])} if pending else None,
        "case": {**case, "answer_due": _when(case["answer_due_at"])} if case else None,
        "buttons": _buttons(Machine.WORK_ORDER, row, wo["available_actions"], checks),
    }


def page_context(request: HttpRequest, ticket: Ticket) -> dict[str, Any]:
    """The template's context for one ticket: the serialized detail plus labels, times and buttons."""
    user = request.user
    assert isinstance(user, User)
    # Typed phone and ID-card numbers in its free text are masked for agencies, as in the API.
    full = dict(TicketDetailSerializer(ticket, context={"request": request}).data)
    data = shown_to(user, full)
    names = labels()
    checks = GuardChecks()
    rows = {row.pk: row for row in ticket.work_orders.all()}
    work_orders = [_work_order_view(wo, rows[wo["id"]], names, checks) for wo in data["work_orders"]]
    return {
        "ticket": ticket,
        "data": data,
        "centre": is_centre(user),
        "masked": not sees_caller_details(user),
        "hidden_text": data != full,  # a typed number is masked: the reveal button shows it too
        "state_label": names["ticket_state"].get(ticket.state, ""),
        "urgency_label": names["urgency"].get(ticket.urgency, ""),
        "channel_label": names["channel"].get(ticket.channel, ""),
        "created": _when(data["created_at"]),
        "closed": _when(data["closed_at"]),
        "buttons": _buttons(Machine.TICKET, ticket, data["available_actions"], checks),
        "work_orders": work_orders,
        "returned": [wo for wo in work_orders if wo["return_reason"]],
        "replies": [wo for wo in work_orders if wo["reply_text"]],
        "ticket_clocks": _clocks(data["clocks"], names),
        "ticket_cards": _cards(data["escalations"], names),
        "revisits": [
            {
                **row,
                "satisfaction_label": names["satisfaction"].get(row["satisfaction"], ""),
                "created": _when(row["created_at"]),
            }
            for row in data["revisits"]
        ],
        "duplicates": [{**row, "created": _when(row["created_at"])} for row in data["duplicates"]],
        "callers": [{**row, "added": _when(row["added_at"])} for row in data["callers"]],
    }


def _may_ever(user: User, machine: Machine, actions: tuple[str, ...]) -> bool:
    rows = [row for row in workflow.table() if row.machine == machine and row.action in actions]
    return any(user.has_role(*row.roles) for row in rows)


def form_choices(user: User) -> dict[str, Any]:
    """Choices of the action forms (static for the page's life); the long lists only for those who use them."""
    dispatches = _may_ever(user, Machine.TICKET, ("dispatch", "redispatch"))
    corrects = _may_ever(user, Machine.TICKET, ("correct",))
    agencies = (
        [
            {"id": agency.pk, "name": agency.display_name}
            for agency in Agency.objects.filter(active=True)
            .exclude(kind=AgencyKind.CENTRE)
            .order_by("sort_order", "code")
        ]
        if dispatches
        else []
    )
    return {
        "agencies": agencies,
        "subjects": (
            [
                {"code": s.code, "path": s.display_path}
                for s in Subject.objects.filter(is_leaf=True, active=True)
                .select_related("parent__parent__parent")
                .order_by("path")
            ]
            if corrects
            else []
        ),
        "appeal_types": (
            [{"code": a.code, "name": a.display_name} for a in AppealType.objects.order_by("id")] if corrects else []
        ),
        "urgencies": [{"code": k, "name": v} for k, v in _choices(Urgency).items()],
        "outcomes": [{"code": k, "name": v} for k, v in _choices(ReplyOutcome).items()],
        "satisfactions": [{"code": k, "name": v} for k, v in _choices(Satisfaction).items()],
        # The forms of actions an app above dispatch registered (emergency: escalate, transfer).
        **registered_choices.registered(),
    }
