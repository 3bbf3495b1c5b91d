"""API representations of a ticket in the workflow: its detail with work orders, deadlines and the actions
the viewer may take, its timeline, and the inputs of the ticket actions."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from callcenter.models import Satisfaction, Ticket
from callcenter.serializers import RevisitSerializer, TicketCallerSerializer, TicketListSerializer, viewer
from core.parsing import IdField
from dispatch import workflow
from dispatch.deadlines.api import escalation_level
from dispatch.models import (
    Escalation,
    ExtensionRequest,
    ExtensionState,
    StageClock,
    SupervisionCase,
    SupervisionState,
    TimelineEntry,
    WorkOrder,
)
from dispatch.workflow import Machine
from organisation.policy import is_centre


class RunningDeadlineSerializer(serializers.Serializer):
    stage = serializers.CharField()
    due_at = serializers.DateTimeField(allow_null=True)
    due_provisional = serializers.BooleanField(help_text="Computed on the provisional calendar of an unpublished year")


class RunningClockSerializer(serializers.ModelSerializer):
    class Meta:
        model = StageClock
        fields = ["stage", "started_at", "time_limit", "warn_at", "due_at", "due_error", "due_provisional"]


class EscalationBriefSerializer(serializers.Serializer):
    stage = serializers.CharField()
    level = serializers.CharField(help_text="warning (预警), overdue (黄牌), serious (红牌)")
    due_at = serializers.DateTimeField()
    fired_at = serializers.DateTimeField()
    running = serializers.BooleanField(help_text="The stage clock it fired on still runs")


class PendingExtensionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExtensionRequest
        fields = ["id", "reason", "requested_due_at", "previous_due_at", "requested_at"]


class OpenSupervisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupervisionCase
        fields = ["id", "instruction", "answer_due_at", "opened_at"]


class DuplicateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Ticket
        fields = ["id", "number", "state", "created_at"]


class WorkOrderExtras:
    """What a ticket's work orders show beside their own columns, read in one query each for all of them
    (escalations, pending extension requests, open supervision cases), so a ticket's detail costs the same
    number of queries however many work orders it has."""

    def __init__(self, ticket_id: int, work_order_ids: list[int]):
        self.work_order_ids = frozenset(work_order_ids)
        self.escalations: dict[int | None, list[dict[str, Any]]] = {}
        self.extensions: dict[int, ExtensionRequest] = {}
        self.supervision: dict[int, SupervisionCase] = {}
        rows = Escalation.objects.filter(ticket_id=ticket_id).order_by("id")
        for row in rows.values("work_order_id", "stage", "level", "due_at", "fired_at", "clock__stopped_at"):
            self.escalations.setdefault(row["work_order_id"], []).append(
                {
                    "stage": row["stage"],
                    "level": row["level"],
                    "due_at": row["due_at"],
                    "fired_at": row["fired_at"],
                    "running": row["clock__stopped_at"] is None,
                }
            )
        if work_order_ids:
            pending = ExtensionRequest.objects.filter(work_order_id__in=work_order_ids, state=ExtensionState.PENDING)
            self.extensions = {row.work_order_id: row for row in pending}
            cases = SupervisionCase.objects.filter(work_order_id__in=work_order_ids, state=SupervisionState.OPEN)
            self.supervision = {row.work_order_id: row for row in cases}

    @classmethod
    def of(cls, serializer: serializers.BaseSerializer, work_order: WorkOrder) -> WorkOrderExtras:
        extras = serializer.context.get("work_order_extras")
        if extras is None or work_order.pk not in extras.work_order_ids:  # a work order serialised on its own
            extras = cls(work_order.ticket_id, [work_order.pk])
            serializer.context["work_order_extras"] = extras
        return extras  # type: ignore[no-any-return]


class WorkOrderBriefSerializer(serializers.ModelSerializer):
    agency = serializers.SerializerMethodField()
    deadline = serializers.SerializerMethodField()
    clocks = serializers.SerializerMethodField(help_text="The running stage clocks (sign, handle or review)")
    escalation_level = serializers.SerializerMethodField(
        help_text="Highest escalation of a running stage clock: warning, overdue, serious or null"
    )
    escalations = serializers.SerializerMethodField(help_text="Every fired step of the ladder, oldest first")
    pending_extension = serializers.SerializerMethodField()
    open_supervision = serializers.SerializerMethodField()
    available_actions = serializers.SerializerMethodField(
        help_text="Actions the workflow table allows the viewer on this work order now (guards not evaluated)"
    )

    class Meta:
        model = WorkOrder
        fields = [
            "id",
            "number",
            "agency",
            "responsibility",
            "state",
            "instructions",
            "created_at",
            "signed_at",
            "replied_at",
            "approved_at",
            "finished_at",
            "reply_text",
            "reply_outcome",
            "return_reason",
            "return_legal_basis",
            "redo_count",
            "urge_count",
            "deadline",
            "clocks",
            "escalation_level",
            "escalations",
            "pending_extension",
            "open_supervision",
            "available_actions",
        ]

    def _running(self, work_order: WorkOrder) -> list[StageClock]:
        running = getattr(work_order, "running_clocks", None)
        if running is None:
            running = list(work_order.stage_clocks.filter(stopped_at__isnull=True).order_by("id"))
            work_order.running_clocks = running  # type: ignore[attr-defined]
        return running

    @extend_schema_field(RunningDeadlineSerializer(allow_null=True))
    def get_deadline(self, work_order: WorkOrder) -> dict[str, Any] | None:
        """The deadline of the work order's running stage clock (sign or handle), if any."""
        running = self._running(work_order)
        if not running:
            return None
        return dict(RunningDeadlineSerializer(running[-1]).data)

    def get_agency(self, work_order: WorkOrder) -> dict[str, Any]:
        return {"id": work_order.agency_id, "code": work_order.agency.code, "name": work_order.agency.display_name}

    @extend_schema_field(RunningClockSerializer(many=True))
    def get_clocks(self, work_order: WorkOrder) -> Any:
        return RunningClockSerializer(self._running(work_order), many=True).data

    def get_escalation_level(self, work_order: WorkOrder) -> str | None:
        steps = WorkOrderExtras.of(self, work_order).escalations.get(work_order.pk, [])
        return escalation_level([step["level"] for step in steps if step["running"]])

    @extend_schema_field(EscalationBriefSerializer(many=True))
    def get_escalations(self, work_order: WorkOrder) -> Any:
        steps = WorkOrderExtras.of(self, work_order).escalations.get(work_order.pk, [])
        return EscalationBriefSerializer(steps, many=True).data

    @extend_schema_field(PendingExtensionSerializer(allow_null=True))
    def get_pending_extension(self, work_order: WorkOrder) -> Any:
        row = WorkOrderExtras.of(self, work_order).extensions.get(work_order.pk)
        return PendingExtensionSerializer(row).data if row else None

    @extend_schema_field(OpenSupervisionSerializer(allow_null=True))
    def get_open_supervision(self, work_order: WorkOrder) -> Any:
        row = WorkOrderExtras.of(self, work_order).supervision.get(work_order.pk)
        return OpenSupervisionSerializer(row).data if row else None

    def get_available_actions(self, work_order: WorkOrder) -> list[str]:
        return workflow.available_actions(
            Machine.WORK_ORDER, work_order.state, viewer(self), agency_id=work_order.agency_id
        )


class TicketDetailSerializer(TicketListSerializer):
    work_orders = serializers.SerializerMethodField()
    callers = serializers.SerializerMethodField()
    revisits = serializers.SerializerMethodField()
    master: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="number", read_only=True, allow_null=True
    )
    duplicates = serializers.SerializerMethodField(help_text="Tickets merged into this one (centre only)")
    answered_by_article: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    clocks = serializers.SerializerMethodField(help_text="The ticket's own running stage clock (revisit)")
    escalations = serializers.SerializerMethodField(help_text="Cards of the ticket's own stages (centre only)")
    available_actions = serializers.SerializerMethodField()
    placement = serializers.SerializerMethodField()

    class Meta(TicketListSerializer.Meta):
        fields = [
            *TicketListSerializer.Meta.fields,
            "description",
            "master",
            "duplicates",
            "answered_by_article",
            "resolution_note",
            "redo_count",
            "work_orders",
            "callers",
            "revisits",
            "clocks",
            "escalations",
            "available_actions",
            "placement",
        ]

    def _own_work_orders(self, ticket: Ticket) -> list[WorkOrder]:
        user = viewer(self)
        rows = list(ticket.work_orders.all())
        return rows if is_centre(user) else [wo for wo in rows if wo.agency_id == user.agency_id]

    def _extras(self, ticket: Ticket) -> WorkOrderExtras:
        extras = self.context.get("work_order_extras")
        if extras is None:
            extras = WorkOrderExtras(ticket.pk, [wo.pk for wo in self._own_work_orders(ticket)])
            self.context["work_order_extras"] = extras
        return extras  # type: ignore[no-any-return]

    @extend_schema_field(WorkOrderBriefSerializer(many=True))
    def get_work_orders(self, ticket: Ticket) -> Any:
        self._extras(ticket)
        return WorkOrderBriefSerializer(self._own_work_orders(ticket), many=True, context=self.context).data

    def get_callers(self, ticket: Ticket) -> Any:
        return TicketCallerSerializer(ticket.ticket_callers.all(), many=True, context=self.context).data

    def get_revisits(self, ticket: Ticket) -> Any:
        if not is_centre(viewer(self)):
            return []
        return RevisitSerializer(ticket.revisits.all(), many=True).data

    @extend_schema_field(DuplicateSerializer(many=True))
    def get_duplicates(self, ticket: Ticket) -> Any:
        if not is_centre(viewer(self)):
            return []
        return DuplicateSerializer(ticket.duplicates.order_by("id"), many=True).data

    @extend_schema_field(RunningClockSerializer(many=True))
    def get_clocks(self, ticket: Ticket) -> Any:
        if not is_centre(viewer(self)):
            return []
        running = StageClock.objects.filter(ticket=ticket, work_order__isnull=True, stopped_at__isnull=True)
        return RunningClockSerializer(running.order_by("id"), many=True).data

    @extend_schema_field(EscalationBriefSerializer(many=True))
    def get_escalations(self, ticket: Ticket) -> Any:
        if not is_centre(viewer(self)):
            return []
        return EscalationBriefSerializer(self._extras(ticket).escalations.get(None, []), many=True).data

    def get_placement(self, ticket: Ticket) -> dict[str, Any] | None:
        placement = getattr(ticket, "placement", None)
        if placement is None:
            return None
        return {
            "district": {"code": placement.district_code, "name": placement.district_name},
            "street": {"code": placement.street_code, "name": placement.street_name},
            "grid": {"code": placement.grid_code, "name": placement.grid_name},
            "near_boundary": placement.near_boundary,
            "layer_versions": placement.layer_versions,
            "proposed_lead": placement.proposal.get("lead"),
            "reasons": [r.get("text") for r in placement.proposal.get("reasons", [])],
        }

    def get_available_actions(self, ticket: Ticket) -> list[str]:
        return workflow.available_actions(Machine.TICKET, ticket.state, viewer(self))


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    actor_agency = serializers.SerializerMethodField()
    work_order: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="number", read_only=True)

    class Meta:
        model = TimelineEntry
        fields = [
            "id",
            "machine",
            "work_order",
            "action",
            "from_state",
            "to_state",
            "actor",
            "actor_agency",
            "note",
            "data",
            "created_at",
        ]

    def get_actor(self, row: TimelineEntry) -> str | None:
        return row.actor.get_full_name() or row.actor.username if row.actor else None

    def get_actor_agency(self, row: TimelineEntry) -> str | None:
        return row.actor_agency.display_name if row.actor_agency else None


class ResolveDirectlyInput(serializers.Serializer):
    answer = serializers.CharField(max_length=5000)
    article_id = IdField(required=False, allow_null=True)


class DispatchInput(serializers.Serializer):
    lead_agency_id = IdField()
    co_agency_ids = serializers.ListField(child=IdField(), required=False, default=list, max_length=20)
    instructions = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    override_reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class MergeInput(serializers.Serializer):
    master_id = IdField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class RevisitInput(serializers.Serializer):
    satisfaction = serializers.ChoiceField(choices=Satisfaction.choices)
    resolved = serializers.BooleanField(allow_null=True, required=False, default=None)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    caller_id = IdField(required=False, allow_null=True)


class RedoInput(serializers.Serializer):
    note = serializers.CharField(max_length=5000)
    work_order_ids = serializers.ListField(
        child=IdField(), required=False, allow_null=True, default=None, max_length=20
    )
