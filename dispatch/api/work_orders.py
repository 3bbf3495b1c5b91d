"""REST API of the dispatch side: work orders and their workflow actions, agencies, the current user."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput
from core.openapi import TEXT_PARAMETER
from core.parsing import AwareDateTimeField, NoteInput, ReasonInput, RequiredNoteInput, validated
from dispatch import actions, workflow
from dispatch.access import visible_work_orders
from dispatch.deadlines.api import WorkOrderTimersSerializer, escalation_level, work_order_timers
from dispatch.models import Escalation, ExtensionRequest, ReplyOutcome, StageClock, SupervisionCase, WorkOrder
from dispatch.serializers import TimelineEntrySerializer
from dispatch.workflow import Machine
from organisation.models import Agency
from organisation.policy import current_user


class AgencySerializer(serializers.ModelSerializer):
    # "parent" is also an attribute of DRF fields in the type stubs, hence the ignore.
    parent = serializers.SlugRelatedField(  # type: ignore[assignment,var-annotated]
        slug_field="code", read_only=True, allow_null=True
    )
    name = serializers.CharField(source="display_name", read_only=True, help_text="In the interface language.")

    class Meta:
        model = Agency
        fields = ["id", "code", "name", "name_en", "kind", "function", "parent", "adcode", "active"]


class StageClockSerializer(serializers.ModelSerializer):
    class Meta:
        model = StageClock
        fields = [
            "stage",
            "started_at",
            "time_limit",
            "warn_at",
            "due_at",
            "due_error",
            "due_provisional",
            "stopped_at",
            "stopped_by",
        ]


class ExtensionRequestSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExtensionRequest
        fields = [
            "id",
            "state",
            "reason",
            "requested_due_at",
            "previous_due_at",
            "requested_at",
            "decided_at",
            "decision_note",
        ]


class SupervisionCaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupervisionCase
        fields = ["id", "state", "instruction", "answer_due_at", "opened_at", "answer", "answered_at"]


class WorkOrderSerializer(serializers.ModelSerializer):
    agency = AgencySerializer(read_only=True)
    ticket = serializers.SerializerMethodField()
    clocks = serializers.SerializerMethodField()
    escalation_level = serializers.SerializerMethodField(
        help_text="Highest escalation of a running stage clock: warning, overdue, serious or null"
    )
    available_actions = serializers.SerializerMethodField()

    class Meta:
        model = WorkOrder
        fields = [
            "id",
            "number",
            "ticket",
            "agency",
            "responsibility",
            "state",
            "instructions",
            "created_at",
            "signed_at",
            "replied_at",
            "approved_at",
            "finished_at",
            "return_reason",
            "return_legal_basis",
            "reply_text",
            "reply_outcome",
            "redo_count",
            "urge_count",
            "clocks",
            "escalation_level",
            "available_actions",
        ]

    def get_ticket(self, work_order: WorkOrder) -> dict[str, Any]:
        ticket = work_order.ticket
        return {
            "id": ticket.pk,
            "number": ticket.number,
            "state": ticket.state,
            "urgency": ticket.urgency,
            "subject": ticket.subject.display_path,
            "subject_code": ticket.subject.code,  # for the canned phrases of the subject
            "title": ticket.title,
            "address": ticket.address,
        }

    def get_clocks(self, work_order: WorkOrder) -> Any:
        return StageClockSerializer(work_order.stage_clocks.all(), many=True).data

    def get_escalation_level(self, work_order: WorkOrder) -> str | None:
        running = getattr(work_order, "running_escalations", None)
        if running is None:
            running = list(Escalation.objects.filter(work_order=work_order, clock__stopped_at__isnull=True))
        return escalation_level([e.level for e in running])

    def get_available_actions(self, work_order: WorkOrder) -> list[str]:
        return workflow.available_actions(
            Machine.WORK_ORDER, work_order.state, current_user(self.context["request"]), agency_id=work_order.agency_id
        )


class WorkOrderDetailSerializer(WorkOrderSerializer):
    extension_requests = ExtensionRequestSerializer(many=True, read_only=True)
    supervision_cases = SupervisionCaseSerializer(many=True, read_only=True)

    class Meta(WorkOrderSerializer.Meta):
        fields = [*WorkOrderSerializer.Meta.fields, "extension_requests", "supervision_cases"]


class ReturnInput(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
    legal_basis = serializers.CharField(max_length=5000)


class ReturnDecisionInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class ReplyInput(serializers.Serializer):
    reply = serializers.CharField(max_length=5000)
    outcome = serializers.ChoiceField(choices=ReplyOutcome.choices)


class ExtensionInput(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
    requested_due_at = AwareDateTimeField()


class ExtensionDecisionInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    new_due_at = AwareDateTimeField(required=False, allow_null=True, default=None)


class SuperviseInput(serializers.Serializer):
    instruction = serializers.CharField(max_length=5000)
    answer_due_at = AwareDateTimeField(required=False, allow_null=True, default=None)


class AnswerInput(serializers.Serializer):
    answer = serializers.CharField(max_length=5000)


class WorkOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Work orders (派单/转办): each agency sees and acts on its own only."""

    serializer_class = WorkOrderSerializer
    queryset = WorkOrder.objects.none()  # the real one depends on the user: get_queryset
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[WorkOrder]:
        rows = (
            visible_work_orders(current_user(self.request))
            .select_related("agency", "agency__parent", "ticket", "ticket__subject")
            .prefetch_related(
                Prefetch("stage_clocks", queryset=StageClock.objects.order_by("id")),
                Prefetch(
                    "escalations",
                    queryset=Escalation.objects.filter(clock__stopped_at__isnull=True).only(
                        "id", "level", "work_order"
                    ),
                    to_attr="running_escalations",
                ),
            )
        )
        if self.action == "list":
            params = self.request.query_params
            for name, lookup in (("state", "state"), ("agency", "agency__code"), ("ticket", "ticket__number")):
                if "\x00" in params.get(name, ""):  # PostgreSQL takes no NUL in text: a 400, never a 500
                    refusal = _("Null characters are not allowed.")
                    raise InvalidInput(refusal, fields={name: [refusal]})
                if params.get(name):
                    rows = rows.filter(**{lookup: params[name]})
            return rows.order_by("-id")
        return rows.prefetch_related("extension_requests", "supervision_cases")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return WorkOrderSerializer if self.action == "list" else WorkOrderDetailSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("state", TEXT_PARAMETER),
            OpenApiParameter("agency", TEXT_PARAMETER),
            OpenApiParameter("ticket", TEXT_PARAMETER, description="Ticket number"),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def _detail(self, work_order_id: int) -> Response:
        row = self.get_queryset().get(pk=work_order_id)
        return Response(WorkOrderDetailSerializer(row, context=self.get_serializer_context()).data)

    def _visible_id(self) -> int:
        return int(self.get_object().pk)

    @extend_schema(responses=TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def timeline(self, request: Request, pk: str) -> Response:
        work_order = self.get_object()
        rows = work_order.timeline.select_related("actor", "actor_agency", "work_order").order_by("id")
        return Response(TimelineEntrySerializer(rows, many=True).data)

    @extend_schema(responses=WorkOrderTimersSerializer)
    @action(detail=True, methods=["get"])
    def timers(self, request: Request, pk: str) -> Response:
        """Stage clocks with their deadlines, pending and done timers, and fired escalations."""
        return Response(WorkOrderTimersSerializer(work_order_timers(self.get_object())).data)

    @extend_schema(request=NoteInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request: Request, pk: str) -> Response:
        data = validated(NoteInput, request)
        actions.do_sign_work_order(self._visible_id(), actor=current_user(request), note=data["note"])
        return self._detail(int(pk))

    @extend_schema(request=ReturnInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request: Request, pk: str) -> Response:
        data = validated(ReturnInput, request)
        actions.do_return_work_order(self._visible_id(), actor=current_user(request), **data)
        return self._detail(int(pk))

    @extend_schema(request=ReturnDecisionInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve_return(self, request: Request, pk: str) -> Response:
        """退单审核通过: the work order is returned; the ticket awaits re-dispatch when no active lead remains."""
        data = validated(ReturnDecisionInput, request)
        actions.do_approve_return(self._visible_id(), actor=current_user(request), reason=data["reason"])
        return self._detail(int(pk))

    @extend_schema(request=ReasonInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject_return(self, request: Request, pk: str) -> Response:
        """退单驳回: the work order goes back to the state it was in; its clock keeps running."""
        data = validated(ReasonInput, request)
        actions.do_reject_return(self._visible_id(), actor=current_user(request), reason=data["reason"])
        return self._detail(int(pk))

    @extend_schema(request=RequiredNoteInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def note(self, request: Request, pk: str) -> Response:
        data = validated(RequiredNoteInput, request)
        actions.do_note_work_order(self._visible_id(), actor=current_user(request), note=data["note"])
        return self._detail(int(pk))

    @extend_schema(request=ReplyInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def reply(self, request: Request, pk: str) -> Response:
        data = validated(ReplyInput, request)
        actions.do_reply_work_order(self._visible_id(), actor=current_user(request), **data)
        return self._detail(int(pk))

    @extend_schema(request=NoteInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        data = validated(NoteInput, request)
        actions.do_approve_work_order(self._visible_id(), actor=current_user(request), note=data["note"])
        return self._detail(int(pk))

    @extend_schema(request=RequiredNoteInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def send_back(self, request: Request, pk: str) -> Response:
        data = validated(RequiredNoteInput, request)
        actions.do_send_back_work_order(self._visible_id(), actor=current_user(request), note=data["note"])
        return self._detail(int(pk))

    @extend_schema(request=ExtensionInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def request_extension(self, request: Request, pk: str) -> Response:
        data = validated(ExtensionInput, request)
        actions.do_request_extension(self._visible_id(), actor=current_user(request), **data)
        return self._detail(int(pk))

    @extend_schema(request=ExtensionDecisionInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve_extension(self, request: Request, pk: str) -> Response:
        data = validated(ExtensionDecisionInput, request)
        actions.do_decide_extension(self._visible_id(), actor=current_user(request), approve=True, **data)
        return self._detail(int(pk))

    @extend_schema(request=ExtensionDecisionInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject_extension(self, request: Request, pk: str) -> Response:
        data = validated(ExtensionDecisionInput, request)
        actions.do_decide_extension(self._visible_id(), actor=current_user(request), approve=False, note=data["note"])
        return self._detail(int(pk))

    @extend_schema(request=RequiredNoteInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def urge(self, request: Request, pk: str) -> Response:
        data = validated(RequiredNoteInput, request)
        actions.do_urge_work_order(self._visible_id(), actor=current_user(request), note=data["note"])
        return self._detail(int(pk))

    @extend_schema(request=SuperviseInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def supervise(self, request: Request, pk: str) -> Response:
        data = validated(SuperviseInput, request)
        actions.do_supervise_work_order(self._visible_id(), actor=current_user(request), **data)
        return self._detail(int(pk))

    @extend_schema(request=AnswerInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def answer_supervision(self, request: Request, pk: str) -> Response:
        data = validated(AnswerInput, request)
        actions.do_answer_supervision(self._visible_id(), actor=current_user(request), answer=data["answer"])
        return self._detail(int(pk))

    @extend_schema(request=ReasonInput, responses=WorkOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        data = validated(ReasonInput, request)
        actions.do_cancel_work_order(self._visible_id(), actor=current_user(request), reason=data["reason"])
        return self._detail(int(pk))


class AgencyViewSet(viewsets.ReadOnlyModelViewSet):
    """The agency directory (everyone may read it: dispatching needs it, agencies coordinate by it)."""

    queryset = Agency.objects.select_related("parent").order_by("sort_order", "code")
    serializer_class = AgencySerializer
    pagination_class = None


class MeView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        user = current_user(request)
        return Response(
            {
                "id": user.pk,
                "username": user.username,
                "name": user.get_full_name() or user.username,
                "roles": user.roles,
                "agency": AgencySerializer(user.agency).data if user.agency else None,
            }
        )


class WorkflowTableView(APIView):
    """The workflow table itself, so screens and integrators read the process from its one source."""

    @extend_schema(responses={200: {"type": "array", "items": {"type": "object", "additionalProperties": True}}})
    def get(self, request: Request) -> Response:
        return Response(
            [
                {
                    "machine": row.machine.value,
                    "from": sorted(row.sources),
                    "action": row.action,
                    "to": row.target,
                    # Rows that go back to the state the object was in before (to: null) list those states.
                    "back_to": list(row.resumes),
                    "roles": sorted(row.roles),
                    "system": row.is_system,
                    "own_agency_only": row.own_agency_only,
                    "guards": [g.code for g in row.guards],
                    "starts": list(row.starts),
                    "stops": list(row.stops),
                    "label": str(row.label),
                }
                for row in workflow.table()
            ]
        )
