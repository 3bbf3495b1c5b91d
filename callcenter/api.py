"""REST API of the intake side: caller history, the taxonomy, the knowledge base. (Tickets, intake included,
are served by dispatch/api/tickets.py, which calls the intake action here.)"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter import actions
from callcenter.duplicates import candidate_row, find_duplicates
from callcenter.knowledge import search_articles
from callcenter.models import Caller, KnowledgeArticle
from callcenter.phones import InvalidPhone, normalise_phone
from callcenter.queries import caller_history, centre_tickets
from callcenter.serializers import (
    AppealTypeSerializer,
    ArticleInput,
    KnowledgeArticleSerializer,
    PhoneField,
    SubjectSerializer,
    TicketListSerializer,
)
from core import clock
from core.clock import local_zone
from core.errors import InvalidInput, NotAllowed
from core.pagination import BoundedLimitOffsetPagination
from core.parsing import StrictFloatField, validated
from gis.coords import CoordinateSystem, convert_point
from organisation.fields import SubjectCodeField
from organisation.models import AppealType, Subject
from organisation.policy import current_user, may_edit_knowledge, may_read_caller_history


class IntakeDuplicatesInput(serializers.Serializer):
    subject = SubjectCodeField(checked_by_action=True)
    phone = PhoneField(required=False, allow_blank=True, max_length=40)
    latitude = StrictFloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    longitude = StrictFloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    coordinate_system = serializers.ChoiceField(
        choices=[s.value for s in CoordinateSystem], required=False, default="wgs84"
    )


class IntakeDuplicatesView(APIView):
    """Possible duplicates of a ticket still being taken: before it is accepted, the operator sees open tickets
    of the same subject nearby or of the same caller, and closed ones of the same caller and subject
    (repeats). The number travels in the body, never in the URL."""

    @extend_schema(request=IntakeDuplicatesInput, responses={200: dict})
    def post(self, request: Request) -> Response:
        user = current_user(request)
        if not may_read_caller_history(user):
            raise NotAllowed(_("Your role may not look for duplicates at intake."))
        data = validated(IntakeDuplicatesInput, request)
        errors: dict[str, list[str]] = {}
        subject = Subject.objects.filter(code=data["subject"], is_leaf=True).first()
        if subject is None:
            errors["subject"] = [_("Choose a subject from the list.")]
        caller_id = None
        if data.get("phone"):
            try:
                phone = normalise_phone(data["phone"])
            except InvalidPhone:
                errors["phone"] = [_("Not a valid phone number.")]
            else:
                caller_id = Caller.objects.filter(phone=phone).values_list("pk", flat=True).first()
        latitude, longitude = data.get("latitude"), data.get("longitude")
        if (latitude is None) != (longitude is None):
            errors["latitude"] = [_("Give both latitude and longitude, or neither.")]
        if errors:
            raise InvalidInput(_("Some fields are not valid."), fields=errors)
        if latitude is not None and longitude is not None:
            longitude, latitude = convert_point(longitude, latitude, data["coordinate_system"], "wgs84")
        assert subject is not None
        found = find_duplicates(
            # Centre staff only (may_read_caller_history): the tickets of their city.
            tickets=centre_tickets(user),
            subject_id=subject.pk,
            at=clock.now(),
            latitude=latitude,
            longitude=longitude,
            caller_id=caller_id,
        )
        return Response({"candidates": [candidate_row(c) for c in found]})


class CallerHistoryInput(serializers.Serializer):
    phone = PhoneField(max_length=40)


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
        # Caller histories are for centre staff only (may_read_caller_history): the tickets of their city.
        tickets = caller_history(phone, centre_tickets(user).select_related("caller"))[:200]
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
        paginator = self.paginator
        if isinstance(paginator, BoundedLimitOffsetPagination):  # a search is one page of all hits; bad paging: 400
            paginator.get_limit(request)
            paginator.get_offset(request)
        if len(query) > 200:
            raise InvalidInput(_("The query is too long."), fields={"q": [_("At most 200 characters.")]})
        subject_id = None
        if request.query_params.get("subject"):
            subject = Subject.objects.filter(code=request.query_params["subject"]).first()
            if subject is None:
                raise InvalidInput(_("Unknown subject."), fields={"subject": [_("Unknown subject.")]})
            subject_id = subject.pk
        hits = search_articles(query, today=clock.now().astimezone(local_zone()).date(), subject_id=subject_id)
        results = [{**KnowledgeArticleSerializer(hit.article).data, "score": hit.score} for hit in hits]
        # The shape of a page (all hits on one), so that one schema describes both answers.
        return Response({"query": query, "count": len(results), "next": None, "previous": None, "results": results})

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
