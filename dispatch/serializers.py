"""API representations of a ticket in the workflow: its detail with work orders, deadlines and the actions
the viewer may take, its timeline, and the inputs of the ticket actions."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from callcenter.models import Satisfaction, Ticket
from callcenter.serializers import RevisitSerializer, TicketCallerSerializer, TicketListSerializer, viewer
from dispatch import workflow
from dispatch.models import TimelineEntry, WorkOrder
from dispatch.workflow import Machine
from organisation.policy import is_centre


class RunningDeadlineSerializer(serializers.Serializer):
    stage = serializers.CharField()
    due_at = serializers.DateTimeField(allow_null=True)
    due_provisional = serializers.BooleanField(help_text="Computed on the provisional calendar of an unpublished year")


class WorkOrderBriefSerializer(serializers.ModelSerializer):
    agency = serializers.SerializerMethodField()
    deadline = serializers.SerializerMethodField()

    class Meta:
        model = WorkOrder
        fields = [
            "id",
            "number",
            "agency",
            "responsibility",
            "state",
            "created_at",
            "signed_at",
            "replied_at",
            "reply_outcome",
            "redo_count",
            "deadline",
        ]

    @extend_schema_field(RunningDeadlineSerializer(allow_null=True))
    def get_deadline(self, work_order: WorkOrder) -> dict[str, Any] | None:
        """The deadline of the work order's running stage clock (sign or handle), if any."""
        running = getattr(work_order, "running_clocks", None)
        if running is None:
            running = list(work_order.stage_clocks.filter(stopped_at__isnull=True).order_by("id"))
        if not running:
            return None
        return dict(RunningDeadlineSerializer(running[-1]).data)

    def get_agency(self, work_order: WorkOrder) -> dict[str, Any]:
        return {"id": work_order.agency_id, "code": work_order.agency.code, "name": work_order.agency.name}


class TicketDetailSerializer(TicketListSerializer):
    work_orders = serializers.SerializerMethodField()
    callers = serializers.SerializerMethodField()
    revisits = serializers.SerializerMethodField()
    master: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="number", read_only=True)
    answered_by_article: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    available_actions = serializers.SerializerMethodField()
    placement = serializers.SerializerMethodField()

    class Meta(TicketListSerializer.Meta):
        fields = [
            *TicketListSerializer.Meta.fields,
            "description",
            "master",
            "answered_by_article",
            "resolution_note",
            "redo_count",
            "work_orders",
            "callers",
            "revisits",
            "available_actions",
            "placement",
        ]

    def _own_work_orders(self, ticket: Ticket) -> list[WorkOrder]:
        user = viewer(self)
        rows = list(ticket.work_orders.all())
        return rows if is_centre(user) else [wo for wo in rows if wo.agency_id == user.agency_id]

    def get_work_orders(self, ticket: Ticket) -> Any:
        return WorkOrderBriefSerializer(self._own_work_orders(ticket), many=True, context=self.context).data

    def get_callers(self, ticket: Ticket) -> Any:
        return TicketCallerSerializer(ticket.ticket_callers.all(), many=True, context=self.context).data

    def get_revisits(self, ticket: Ticket) -> Any:
        if not is_centre(viewer(self)):
            return []
        return RevisitSerializer(ticket.revisits.all(), many=True).data

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
        return row.actor_agency.name if row.actor_agency else None


class ResolveDirectlyInput(serializers.Serializer):
    answer = serializers.CharField(max_length=5000)
    article_id = serializers.IntegerField(required=False, allow_null=True)


class DispatchInput(serializers.Serializer):
    lead_agency_id = serializers.IntegerField()
    co_agency_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list, max_length=20)
    instructions = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    override_reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class MergeInput(serializers.Serializer):
    master_id = serializers.IntegerField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class RevisitInput(serializers.Serializer):
    satisfaction = serializers.ChoiceField(choices=Satisfaction.choices)
    resolved = serializers.BooleanField(allow_null=True, required=False, default=None)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    caller_id = serializers.IntegerField(required=False, allow_null=True)


class RedoInput(serializers.Serializer):
    note = serializers.CharField(max_length=5000)
    work_order_ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, allow_null=True, default=None, max_length=20
    )
