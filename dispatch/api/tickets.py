"""REST API of tickets (工单): the list and detail every role sees within its scope, intake (POST, through
callcenter's intake action), and every lifecycle action after intake. Agencies see only tickets behind their own
work orders."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from callcenter import actions as intake
from callcenter.models import Ticket, TicketCaller, Urgency
from callcenter.serializers import TicketCreateInput, TicketListSerializer
from core.errors import InvalidInput, NotAllowed
from core.parsing import NoteInput, ReasonInput, StrictFloatField, validated
from dispatch import actions
from dispatch.access import visible_tickets, visible_timeline
from dispatch.api.map import ticket_duplicates
from dispatch.api.revealed import revealed_texts
from dispatch.models import StageClock, WorkOrder
from dispatch.serializers import (
    DispatchInput,
    MergeInput,
    RedoInput,
    ResolveDirectlyInput,
    RevisitInput,
    TicketDetailSerializer,
    TimelineEntrySerializer,
)
from gis.coords import CoordinateSystem
from gis.routing import proposal_for
from organisation.policy import current_user, is_centre
from organisation.privacy import REVEALED


def request_fingerprint(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class CorrectInput(serializers.Serializer):
    """A correction names only the fields it changes; the action checks them as intake does."""

    reason = serializers.CharField(max_length=5000)
    subject = serializers.CharField(required=False, max_length=40, help_text="Subject code (a leaf)")
    appeal_type = serializers.CharField(required=False, max_length=40, help_text="Appeal type code")
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    latitude = StrictFloatField(required=False)
    longitude = StrictFloatField(required=False)
    coordinate_system = serializers.ChoiceField(
        choices=[system.value for system in CoordinateSystem],
        required=False,
        help_text="Of latitude and longitude (default wgs84); stored coordinates are always WGS84.",
    )


TICKET_FILTERS = [
    OpenApiParameter("state", str, description="Ticket state"),
    OpenApiParameter("subject", str, description="Subject code"),
    OpenApiParameter("urgency", str),
    OpenApiParameter("number", str, description="Exact ticket number"),
    OpenApiParameter("mine", str, description="1: only tickets the current user accepted"),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="Accepted at or after this ISO 8601 time"),
    OpenApiParameter("source_system", str, description="Sending system's code (with external_id: lookup)"),
    OpenApiParameter("external_id", str, description="Case id in the sending system"),
]


class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tickets (工单). Agencies see only tickets behind their own work orders."""

    serializer_class = TicketListSerializer
    queryset = Ticket.objects.none()  # the real one depends on the user: get_queryset
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Ticket]:
        tickets = visible_tickets(current_user(self.request)).select_related("subject", "appeal_type", "caller")
        if self.action == "list":
            params = self.request.query_params
            if params.get("mine") in ("1", "true"):
                tickets = tickets.filter(created_by=current_user(self.request))
            if params.get("since"):
                since = serializers.DateTimeField().run_validation(params["since"])
                tickets = tickets.filter(created_at__gte=since)
            for name, lookup in (
                ("state", "state"),
                ("subject", "subject__code"),
                ("urgency", "urgency"),
                ("number", "number"),
                ("source_system", "source_system"),
                ("external_id", "external_id"),
            ):
                if params.get(name):
                    tickets = tickets.filter(**{lookup: params[name]})
            return tickets.order_by("-id")
        return tickets.select_related("master", "answered_by_article", "placement").prefetch_related(
            Prefetch("work_orders", queryset=WorkOrder.objects.select_related("agency").order_by("id")),
            Prefetch(
                "work_orders__stage_clocks",
                queryset=StageClock.objects.filter(stopped_at__isnull=True).order_by("id"),
                to_attr="running_clocks",
            ),
            Prefetch("ticket_callers", queryset=TicketCaller.objects.select_related("caller", "via_ticket")),
            "revisits",
        )

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return TicketListSerializer if self.action == "list" else TicketDetailSerializer

    @extend_schema(parameters=TICKET_FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def _detail(self, ticket_id: int, code: int = status.HTTP_200_OK) -> Response:
        ticket = self.get_queryset().get(pk=ticket_id)
        return Response(TicketDetailSerializer(ticket, context=self.get_serializer_context()).data, status=code)

    def _visible_id(self) -> int:
        return int(self.get_object().pk)

    @extend_schema(
        request=TicketCreateInput,
        responses={201: TicketDetailSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def create(self, request: Request) -> Response:
        data = validated(TicketCreateInput, request)
        key = request.headers.get("Idempotency-Key", "").strip()
        ticket, created = intake.do_create_ticket(
            data,
            actor=current_user(request),
            idempotency_key=key,
            request_hash=request_fingerprint(request.data) if key else "",
        )
        return self._detail(ticket.pk, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses=TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def timeline(self, request: Request, pk: str) -> Response:
        ticket = self.get_object()
        rows = visible_timeline(current_user(request), ticket).select_related("actor", "actor_agency", "work_order")
        return Response(TimelineEntrySerializer(rows.order_by("id"), many=True).data)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def routing(self, request: Request, pk: str) -> Response:
        """Where the ticket lies and whom routing proposes now (agencies that returned it left out)."""
        ticket = self.get_object()
        returned = frozenset(ticket.work_orders.filter(state="returned").values_list("agency_id", flat=True))
        decision = proposal_for(ticket, exclude_agency_ids=returned)
        stored = getattr(ticket, "placement", None)
        return Response(
            {
                "placement": {
                    "district": {"code": stored.district_code, "name": stored.district_name},
                    "street": {"code": stored.street_code, "name": stored.street_name},
                    "grid": {"code": stored.grid_code, "name": stored.grid_name},
                    "layer_versions": stored.layer_versions,
                    "near_boundary": stored.near_boundary,
                    "proposal_at_intake": stored.proposal,
                }
                if stored
                else None,
                "proposal": decision.as_dict() if decision else None,
            }
        )

    @extend_schema(
        parameters=[OpenApiParameter("radius", float), OpenApiParameter("hours", float)], responses={200: dict}
    )
    @action(detail=True, methods=["get"])
    def duplicates(self, request: Request, pk: str) -> Response:
        """Possible duplicates: the same subject within the radius, or the same caller, within the hours."""
        if not is_centre(current_user(request)):
            raise NotAllowed(_("Only the centre merges tickets."))
        return Response(ticket_duplicates(self.get_object(), request))

    @extend_schema(request=ResolveDirectlyInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def resolve_directly(self, request: Request, pk: str) -> Response:
        data = validated(ResolveDirectlyInput, request)
        ticket_id = self._visible_id()
        actions.do_resolve_ticket_directly(
            ticket_id, actor=current_user(request), answer=data["answer"], article_id=data.get("article_id")
        )
        return self._detail(ticket_id)

    @extend_schema(request=DispatchInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"], url_path="dispatch")
    def dispatch_ticket(self, request: Request, pk: str) -> Response:
        # Named dispatch_ticket because APIView.dispatch is the request entry point.
        data = validated(DispatchInput, request)
        ticket_id = self._visible_id()
        actions.do_dispatch_ticket(ticket_id, actor=current_user(request), **data)
        return self._detail(ticket_id)

    @extend_schema(request=DispatchInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def redispatch(self, request: Request, pk: str) -> Response:
        data = validated(DispatchInput, request)
        ticket_id = self._visible_id()
        actions.do_redispatch_ticket(ticket_id, actor=current_user(request), **data)
        return self._detail(ticket_id)

    @extend_schema(request=MergeInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str) -> Response:
        data = validated(MergeInput, request)
        ticket_id = self._visible_id()
        if not self.get_queryset().filter(pk=data["master_id"]).exists():
            raise InvalidInput(_("Unknown master ticket."), fields={"master_id": [_("Unknown ticket.")]})
        actions.do_merge_ticket(ticket_id, actor=current_user(request), master_id=data["master_id"], note=data["note"])
        return self._detail(ticket_id)

    @extend_schema(request=ReasonInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        data = validated(ReasonInput, request)
        ticket_id = self._visible_id()
        actions.do_cancel_ticket(ticket_id, actor=current_user(request), reason=data["reason"])
        return self._detail(ticket_id)

    @extend_schema(request=RevisitInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def revisit(self, request: Request, pk: str) -> Response:
        data = validated(RevisitInput, request)
        ticket_id = self._visible_id()
        actions.do_revisit_ticket(ticket_id, actor=current_user(request), **data)
        return self._detail(ticket_id)

    @extend_schema(request=RedoInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def redo(self, request: Request, pk: str) -> Response:
        data = validated(RedoInput, request)
        ticket_id = self._visible_id()
        actions.do_redo_ticket(ticket_id, actor=current_user(request), **data)
        return self._detail(ticket_id)

    @extend_schema(request=NoteInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        data = validated(NoteInput, request)
        ticket_id = self._visible_id()
        actions.do_close_ticket(ticket_id, actor=current_user(request), note=data["note"])
        return self._detail(ticket_id)

    @extend_schema(request=CorrectInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, pk: str) -> Response:
        """Correct the classification or location (工单修正): the ticket detail plus the new routing ``proposal``."""
        data = validated(CorrectInput, request)
        ticket_id = self._visible_id()
        correction = actions.do_correct_ticket(ticket_id, actor=current_user(request), **data)
        response = self._detail(ticket_id)
        response.data["proposal"] = correction.proposal
        return response

    @extend_schema(request=ReasonInput, responses={200: dict})
    @action(detail=True, methods=["post"])
    def reveal(self, request: Request, pk: str) -> Response:
        """Show the caller's full number and name to an agency user; the reason is audited."""
        data = validated(ReasonInput, request)
        ticket_id = self._visible_id()
        revealed = intake.do_reveal_caller(ticket_id, actor=current_user(request), reason=data["reason"])
        response = Response({**revealed, "texts": revealed_texts(request, ticket_id)})
        setattr(response, REVEALED, True)  # the renderer leaves it unmasked (organisation/privacy.py)
        return response
