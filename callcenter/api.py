"""REST API of the intake side: tickets and their workflow actions, caller history, taxonomy, knowledge."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter import actions
from callcenter.knowledge import search_articles
from callcenter.models import AppealType, KnowledgeArticle, Subject, Ticket, TicketCaller
from callcenter.phones import InvalidPhone, normalise_phone
from callcenter.queries import caller_history
from callcenter.serializers import (
    AppealTypeSerializer,
    ArticleInput,
    DispatchInput,
    KnowledgeArticleSerializer,
    MergeInput,
    NoteInput,
    ReasonInput,
    RedoInput,
    ResolveDirectlyInput,
    RevisitInput,
    SubjectSerializer,
    TicketCreateInput,
    TicketDetailSerializer,
    TicketListSerializer,
    TimelineEntrySerializer,
)
from core import clock
from core.errors import InvalidInput, NotAllowed
from core.parsing import validated
from dispatch import actions as dispatch_actions
from dispatch.access import visible_tickets, visible_timeline
from dispatch.deadlines.calendar import local_zone
from dispatch.models import StageClock, WorkOrder
from organisation.policy import current_user, is_centre, may_edit_knowledge, may_read_caller_history


def request_fingerprint(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


TICKET_FILTERS = [
    OpenApiParameter("state", str, description="Ticket state"),
    OpenApiParameter("subject", str, description="Subject code"),
    OpenApiParameter("urgency", str),
    OpenApiParameter("number", str, description="Exact ticket number"),
    OpenApiParameter("mine", str, description="1: only tickets the current user accepted"),
    OpenApiParameter("since", str, description="Accepted at or after this ISO 8601 time"),
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
        ticket, created = actions.do_create_ticket(
            data,
            actor=current_user(request),
            idempotency_key=key,
            request_hash=request_fingerprint(request.data) if key else "",
        )
        return self._detail(ticket.pk, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses=TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request: Request, pk: str) -> Response:
        ticket = self.get_object()
        rows = visible_timeline(current_user(request), ticket).select_related("actor", "actor_agency", "work_order")
        return Response(TimelineEntrySerializer(rows.order_by("id"), many=True).data)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def routing(self, request: Request, pk: str) -> Response:
        """Where the ticket lies and whom routing proposes now (agencies that returned it left out)."""
        from gis.routing import proposal_for

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
        from gis.api import ticket_duplicates

        if not is_centre(current_user(request)):
            raise NotAllowed(_("Only the centre merges tickets."))
        return Response(ticket_duplicates(self.get_object(), request))

    @extend_schema(request=ResolveDirectlyInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def resolve_directly(self, request: Request, pk: str) -> Response:
        data = validated(ResolveDirectlyInput, request)
        ticket_id = self._visible_id()
        dispatch_actions.do_resolve_ticket_directly(
            ticket_id, actor=current_user(request), answer=data["answer"], article_id=data.get("article_id")
        )
        return self._detail(ticket_id)

    @extend_schema(request=DispatchInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"], url_path="dispatch")
    def dispatch_ticket(self, request: Request, pk: str) -> Response:
        # Named dispatch_ticket because APIView.dispatch is the request entry point.
        data = validated(DispatchInput, request)
        ticket_id = self._visible_id()
        dispatch_actions.do_dispatch_ticket(ticket_id, actor=current_user(request), **data)
        return self._detail(ticket_id)

    @extend_schema(request=DispatchInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def redispatch(self, request: Request, pk: str) -> Response:
        data = validated(DispatchInput, request)
        ticket_id = self._visible_id()
        dispatch_actions.do_redispatch_ticket(ticket_id, actor=current_user(request), **data)
        return self._detail(ticket_id)

    @extend_schema(request=MergeInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str) -> Response:
        data = validated(MergeInput, request)
        ticket_id = self._visible_id()
        if not self.get_queryset().filter(pk=data["master_id"]).exists():
            raise InvalidInput(_("Unknown master ticket."), fields={"master_id": [_("Unknown ticket.")]})
        dispatch_actions.do_merge_ticket(
            ticket_id, actor=current_user(request), master_id=data["master_id"], note=data["note"]
        )
        return self._detail(ticket_id)

    @extend_schema(request=ReasonInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        data = validated(ReasonInput, request)
        ticket_id = self._visible_id()
        dispatch_actions.do_cancel_ticket(ticket_id, actor=current_user(request), reason=data["reason"])
        return self._detail(ticket_id)

    @extend_schema(request=RevisitInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def revisit(self, request: Request, pk: str) -> Response:
        data = validated(RevisitInput, request)
        ticket_id = self._visible_id()
        dispatch_actions.do_revisit_ticket(ticket_id, actor=current_user(request), **data)
        return self._detail(ticket_id)

    @extend_schema(request=RedoInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def redo(self, request: Request, pk: str) -> Response:
        data = validated(RedoInput, request)
        ticket_id = self._visible_id()
        dispatch_actions.do_redo_ticket(ticket_id, actor=current_user(request), **data)
        return self._detail(ticket_id)

    @extend_schema(request=NoteInput, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        data = validated(NoteInput, request)
        ticket_id = self._visible_id()
        dispatch_actions.do_close_ticket(ticket_id, actor=current_user(request), note=data["note"])
        return self._detail(ticket_id)

    @extend_schema(request=ReasonInput, responses={200: dict})
    @action(detail=True, methods=["post"])
    def reveal(self, request: Request, pk: str) -> Response:
        """Show the caller's full number and name to an agency user; the reason is audited."""
        data = validated(ReasonInput, request)
        ticket_id = self._visible_id()
        return Response(actions.do_reveal_caller(ticket_id, actor=current_user(request), reason=data["reason"]))


class CallerHistoryInput(serializers.Serializer):
    phone = serializers.CharField(max_length=40)


class CallerHistoryView(APIView):
    """The operator's screen pop: every earlier ticket of a phone number, newest first.

    The number travels in the request body, not the URL, so that it never lands in access logs.
    """

    @extend_schema(request=CallerHistoryInput, responses={200: dict})
    def post(self, request: Request) -> Response:
        user = current_user(request)
        if not may_read_caller_history(user):
            raise NotAllowed(_("Your role may not read caller histories."))
        raw = validated(CallerHistoryInput, request)["phone"]
        try:
            phone = normalise_phone(raw)
        except InvalidPhone:
            raise InvalidInput(
                _("Not a valid phone number."), fields={"phone": [_("Not a valid phone number.")]}
            ) from None
        tickets = caller_history(phone, visible_tickets(user).select_related("caller"))[:200]
        data = TicketListSerializer(tickets, many=True, context={"request": request}).data
        return Response({"phone": phone, "count": len(data), "tickets": data})


class AppealTypeViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = AppealType.objects.all()
    serializer_class = AppealTypeSerializer
    pagination_class = None


class SubjectViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Subject.objects.select_related("parent")
    serializer_class = SubjectSerializer
    pagination_class = None


class KnowledgeArticleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Knowledge base (知识库). `?q=` searches Chinese text; results are ranked, best first."""

    serializer_class = KnowledgeArticleSerializer
    queryset = KnowledgeArticle.objects.prefetch_related("subjects").order_by("code")

    @extend_schema(parameters=[OpenApiParameter("q", str), OpenApiParameter("subject", str)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            return super().list(request, *args, **kwargs)
        if len(query) > 200:
            raise InvalidInput(_("The query is too long."), fields={"q": [_("At most 200 characters.")]})
        subject_id = None
        if request.query_params.get("subject"):
            subject = Subject.objects.filter(code=request.query_params["subject"]).first()
            if subject is None:
                raise InvalidInput(_("Unknown subject."), fields={"subject": [_("Unknown subject.")]})
            subject_id = subject.pk
        hits = search_articles(query, today=clock.now().astimezone(local_zone()).date(), subject_id=subject_id)
        return Response(
            {
                "query": query,
                "results": [{**KnowledgeArticleSerializer(hit.article).data, "score": hit.score} for hit in hits],
            }
        )

    @extend_schema(request=ArticleInput, responses={201: KnowledgeArticleSerializer})
    def create(self, request: Request) -> Response:
        if not may_edit_knowledge(current_user(request)):
            raise NotAllowed(_("Your role may not edit the knowledge base."))
        data = validated(ArticleInput, request)
        if KnowledgeArticle.objects.filter(code=data["code"]).exists():
            raise InvalidInput(_("Code already used."), fields={"code": [_("Code already used.")]})
        article = actions.do_save_article(data, actor=current_user(request))
        return Response(KnowledgeArticleSerializer(article).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ArticleInput, responses=KnowledgeArticleSerializer)
    def update(self, request: Request, pk: str) -> Response:
        if not may_edit_knowledge(current_user(request)):
            raise NotAllowed(_("Your role may not edit the knowledge base."))
        article_id = self.get_object().pk
        data = validated(ArticleInput, request)
        article = actions.do_save_article(data, actor=current_user(request), article_id=article_id)
        return Response(KnowledgeArticleSerializer(article).data)
