"""REST API of incidents: list/filter, detail with timeline and linked agencies, report, the command
transitions, merge, linkage and agencies' tasks, escalation and transfer of tickets, public alerts.

Agencies see only incidents they are linked to (emergency/access.py): anything else is 404.
Errors come out as {code, message, fields} (core/api_errors.py).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput, NotFound
from core.parsing import AwareDateTimeField, ReasonInput, validated
from dispatch.access import visible_tickets
from emergency import actions
from emergency.access import visible_incident_timeline, visible_incidents
from emergency.actions import transfer
from emergency.actions.privacy import do_reveal_incident_texts
from emergency.linkage import suggestions_for
from emergency.models import (
    Incident,
    IncidentAgency,
    IncidentLevel,
    IncidentTicket,
    IncidentType,
    TransferRule,
)
from emergency.revealed import revealed_incident_texts
from emergency.serializers import (
    AgencyTaskSerializer,
    EscalateInput,
    IncidentDetailSerializer,
    IncidentInput,
    IncidentListSerializer,
    IncidentMergeInput,
    IncidentNoteInput,
    IncidentNoteRequiredInput,
    IncidentTimelineSerializer,
    LinkAgencyInput,
    SuggestionSerializer,
    TaskActionInput,
    TransferInput,
    TransferRuleSerializer,
    TransferSerializer,
)
from emergency.states import ACTIVE_INCIDENT_STATES, IncidentState
from organisation.models import User
from organisation.policy import current_user
from organisation.privacy import REVEALED


def body_of(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidInput(_("The request body must be a JSON object."), fields={"body": [_("Expected an object.")]})
    return dict(request.data)


def note_of(request: Request, name: str = "note") -> str:
    value = body_of(request).get(name)
    value = "" if value is None else value  # [] or 0 is no text: refused below, not read as none
    if not isinstance(value, str):
        raise InvalidInput(_("Some fields are not valid."), fields={name: [_("This field must be text.")]})
    return value


def require_visible_incident(user: User, value: Any) -> None:
    """An incident a request body names (merge into, escalate or transfer into) must be one the user sees: another
    city's answers as a missing one does."""
    if actions.is_row_id(value) and not visible_incidents(user).filter(pk=value).exists():
        raise NotFound(_("No such incident."))


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in raw.split(","))
    except ValueError:
        raise InvalidInput(
            _("Some fields are not valid."), fields={"bbox": [_("min_lon,min_lat,max_lon,max_lat (WGS84).")]}
        ) from None
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise InvalidInput(
            _("Some fields are not valid."), fields={"bbox": [_("min_lon,min_lat,max_lon,max_lat (WGS84).")]}
        )
    return min_lon, min_lat, max_lon, max_lat


INCIDENT_FILTERS = [
    OpenApiParameter("state", str, description="Comma-separated states; 'active' for every live state"),
    OpenApiParameter("level", str, enum=IncidentLevel.values),
    OpenApiParameter("type", str, enum=IncidentType.values),
    OpenApiParameter("bbox", str, description="min_lon,min_lat,max_lon,max_lat (WGS84)"),
    OpenApiParameter("since", str, description="Updated at or after this ISO 8601 time"),
    OpenApiParameter("public_alert", str, description="1: only incidents in the public alert feed"),
    OpenApiParameter("number", str, description="Exact incident number"),
    OpenApiParameter("ticket", int, description="Incidents this ticket reported (the ticket's link)"),
]

SIMPLE_TRANSITIONS = ("confirm", "dispatch", "arrive", "control", "close", "cancel", "note")


class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Incidents (事件) of the emergency linkage centre."""

    serializer_class = IncidentListSerializer
    queryset = Incident.objects.none()  # the real one depends on the user: get_queryset
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Incident]:
        incidents = visible_incidents(current_user(self.request))
        if self.action != "list":
            return incidents.select_related("commander", "merged_into")
        params = self.request.query_params
        if params.get("state"):
            wanted = params["state"].split(",")
            if "active" in wanted:
                wanted = [*wanted, *ACTIVE_INCIDENT_STATES]
            unknown = [s for s in wanted if s != "active" and s not in IncidentState.values]
            if unknown:
                raise InvalidInput(_("Some fields are not valid."), fields={"state": [_("Unknown state.")]})
            incidents = incidents.filter(state__in=wanted)
        for name, choices in (("level", IncidentLevel.values), ("type", IncidentType.values)):
            if params.get(name):
                if params[name] not in choices:
                    raise InvalidInput(_("Some fields are not valid."), fields={name: [_("Unknown value.")]})
                incidents = incidents.filter(**{name: params[name]})
        if params.get("bbox"):
            min_lon, min_lat, max_lon, max_lat = parse_bbox(params["bbox"])
            incidents = incidents.filter(
                longitude__gte=min_lon, longitude__lte=max_lon, latitude__gte=min_lat, latitude__lte=max_lat
            )
        if params.get("since"):
            since = AwareDateTimeField().run_validation(params["since"])
            incidents = incidents.filter(updated_at__gte=since)
        if params.get("public_alert") in ("1", "true"):
            incidents = incidents.filter(public_alert=True)
        if params.get("number"):
            incidents = incidents.filter(number=params["number"])
        if params.get("ticket"):
            ticket_id = params["ticket"]
            if not ticket_id.isdigit() or not actions.is_row_id(int(ticket_id)):
                raise InvalidInput(_("Some fields are not valid."), fields={"ticket": [_("A ticket id.")]})
            incidents = incidents.filter(
                pk__in=IncidentTicket.objects.filter(ticket_id=int(ticket_id)).values("incident_id")
            )
        return incidents.order_by("-id")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return IncidentListSerializer if self.action == "list" else IncidentDetailSerializer

    @extend_schema(parameters=INCIDENT_FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def _detail(self, incident_id: int, code: int = status.HTTP_200_OK) -> Response:
        """The incident the user has just reported or acted on (it was visible to them: a move into another city's
        service area hands it to that city, but the answer still shows the result)."""
        incident = Incident.objects.select_related("commander", "merged_into").get(pk=incident_id)
        serializer = IncidentDetailSerializer(incident, context=self.get_serializer_context())
        return Response(serializer.data, status=code)

    def _visible_id(self) -> int:
        return int(self.get_object().pk)

    @extend_schema(request=IncidentInput, responses={201: IncidentDetailSerializer})
    def create(self, request: Request) -> Response:
        incident = actions.do_report_incident(body_of(request), actor=current_user(request))
        return self._detail(incident.pk, status.HTTP_201_CREATED)

    @extend_schema(responses=IncidentTimelineSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def timeline(self, request: Request, pk: str) -> Response:
        incident = self.get_object()
        rows = visible_incident_timeline(current_user(request), incident).select_related("actor").order_by("id")
        return Response(IncidentTimelineSerializer(rows, many=True, context=self.get_serializer_context()).data)

    def _transition(self, request: Request, name: str) -> Response:
        incident_id = self._visible_id()
        actions.do_transition_incident(incident_id, name, actor=current_user(request), note=note_of(request))
        return self._detail(incident_id)

    @extend_schema(request=IncidentNoteInput, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        return self._transition(request, "confirm")

    @extend_schema(request=IncidentNoteInput, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"], url_path="dispatch")
    def dispatch_forces(self, request: Request, pk: str) -> Response:
        return self._transition(request, "dispatch")

    @extend_schema(request=IncidentNoteInput, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def arrive(self, request: Request, pk: str) -> Response:
        return self._transition(request, "arrive")

    @extend_schema(request=IncidentNoteInput, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def control(self, request: Request, pk: str) -> Response:
        return self._transition(request, "control")

    @extend_schema(request=IncidentNoteInput, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        return self._transition(request, "close")

    @extend_schema(request=IncidentNoteRequiredInput, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._transition(request, "cancel")

    @extend_schema(request=IncidentNoteRequiredInput, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def note(self, request: Request, pk: str) -> Response:
        return self._transition(request, "note")

    @extend_schema(request=IncidentInput, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"], url_path="update")
    def update_details(self, request: Request, pk: str) -> Response:
        incident_id = self._visible_id()
        actions.do_update_incident(incident_id, body_of(request), actor=current_user(request))
        return self._detail(incident_id)

    @extend_schema(request=IncidentMergeInput, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str) -> Response:
        """Merge this incident into ``into_id``; answers with the survivor."""
        incident_id = self._visible_id()
        data = body_of(request)
        require_visible_incident(current_user(request), data.get("into_id"))
        survivor = actions.do_merge_incident(
            incident_id, actor=current_user(request), into_id=data.get("into_id"), note=note_of(request)
        )
        return self._detail(survivor.pk)

    @extend_schema(request=LinkAgencyInput, responses={201: AgencyTaskSerializer})
    @action(detail=True, methods=["post"], url_path="agencies")
    def link_agency(self, request: Request, pk: str) -> Response:
        incident_id = self._visible_id()
        link = actions.do_link_agency(incident_id, body_of(request), actor=current_user(request))
        link = IncidentAgency.objects.select_related("agency").get(pk=link.pk)
        return Response(AgencyTaskSerializer(link, context=self.get_serializer_context()).data, status=201)

    @extend_schema(responses=SuggestionSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="suggested-agencies", pagination_class=None)
    def suggested_agencies(self, request: Request, pk: str) -> Response:
        """The agencies this type of incident usually needs, by function, the district's own first."""
        incident = self.get_object()
        linked = set(IncidentAgency.objects.filter(incident=incident).values_list("agency_id", flat=True))
        rows = [
            {
                "function": s.function,
                "agency": {"id": s.agency.pk, "code": s.agency.code, "name": s.agency.display_name},
                "task": s.task,
                "linked": s.agency.pk in linked,
            }
            for s in suggestions_for(incident)
        ]
        return Response(rows)

    @extend_schema(request=IncidentNoteInput, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def publish_alert(self, request: Request, pk: str) -> Response:
        incident_id = self._visible_id()
        actions.do_set_public_alert(incident_id, actor=current_user(request), publish=True, note=note_of(request))
        return self._detail(incident_id)

    @extend_schema(request=IncidentNoteInput, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def withdraw_alert(self, request: Request, pk: str) -> Response:
        incident_id = self._visible_id()
        actions.do_set_public_alert(incident_id, actor=current_user(request), publish=False, note=note_of(request))
        return self._detail(incident_id)

    @extend_schema(request=ReasonInput, responses={200: dict})
    @action(detail=True, methods=["post"])
    def reveal(self, request: Request, pk: str) -> Response:
        """Show a linked agency's user the phone and ID-card numbers typed into the incident's free text, masked
        for them elsewhere; the reason is audited (as a ticket's reveal)."""
        data = validated(ReasonInput, request)
        incident_id = self._visible_id()
        do_reveal_incident_texts(incident_id, actor=current_user(request), reason=data["reason"])
        response = Response({"texts": revealed_incident_texts(request, incident_id)})
        setattr(response, REVEALED, True)  # the renderer leaves it unmasked (organisation/privacy.py)
        return response


class IncidentTaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Linked agencies' tasks on incidents: an agency's own tasks, the centre's all."""

    serializer_class = AgencyTaskSerializer
    queryset = IncidentAgency.objects.none()
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[IncidentAgency]:
        user = current_user(self.request)
        links = IncidentAgency.objects.filter(incident__in=visible_incidents(user)).select_related("agency")
        if user.is_agency_staff and not user.is_centre_staff:
            links = links.filter(agency_id=user.agency_id or 0)
        return links.order_by("-id")

    def _act(self, request: Request, name: str) -> Response:
        link_id = int(self.get_object().pk)
        actions.do_act_on_task(link_id, name, body_of(request), actor=current_user(request))
        link = IncidentAgency.objects.select_related("agency").get(pk=link_id)
        return Response(AgencyTaskSerializer(link, context=self.get_serializer_context()).data)

    @extend_schema(request=TaskActionInput, responses=AgencyTaskSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        return self._act(request, "acknowledge")

    @extend_schema(request=TaskActionInput, responses=AgencyTaskSerializer)
    @action(detail=True, methods=["post"])
    def start_work(self, request: Request, pk: str) -> Response:
        return self._act(request, "start_work")

    @extend_schema(request=TaskActionInput, responses=AgencyTaskSerializer)
    @action(detail=True, methods=["post"])
    def finish(self, request: Request, pk: str) -> Response:
        return self._act(request, "finish")

    @extend_schema(request=TaskActionInput, responses=AgencyTaskSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        return self._act(request, "decline")

    @extend_schema(request=TaskActionInput, responses=AgencyTaskSerializer)
    @action(detail=True, methods=["post"])
    def report(self, request: Request, pk: str) -> Response:
        return self._act(request, "report")

    @extend_schema(request=TaskActionInput, responses=AgencyTaskSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        return self._act(request, "withdraw")


class EscalateTicketView(APIView):
    """Escalate a ticket into a new incident, or into a live one (``incident_id``)."""

    @extend_schema(
        request=EscalateInput,
        responses=inline_serializer(
            "EscalatedTicket",
            {
                "id": serializers.IntegerField(),
                "ticket": serializers.CharField(),
                "incident": IncidentDetailSerializer(),
            },
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        ticket = visible_tickets(user).filter(pk=pk).first()
        if ticket is None:
            raise NotFound(_("Not found."))
        require_visible_incident(user, body_of(request).get("incident_id"))
        incident = actions.do_escalate_ticket(ticket.pk, body_of(request), actor=user)
        serializer = IncidentDetailSerializer(
            Incident.objects.select_related("commander", "merged_into").get(pk=incident.pk),
            context={"request": request},
        )
        # The ticket is the object acted on: its id leads, the incident follows.
        return Response({"id": ticket.pk, "ticket": ticket.number, "incident": serializer.data})


class TransferTicketView(APIView):
    """一键转接: transfer a ticket to 110/119/120/122 by the agreed item lists."""

    @extend_schema(
        request=TransferInput,
        responses=inline_serializer(
            "TransferredTicket",
            {"id": serializers.IntegerField(), "ticket": serializers.CharField(), "transfer": TransferSerializer()},
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        ticket = visible_tickets(user).filter(pk=pk).first()
        if ticket is None:
            raise NotFound(_("Not found."))
        require_visible_incident(user, body_of(request).get("incident_id"))
        record = transfer.do_transfer_ticket(ticket.pk, body_of(request), actor=user)
        return Response({"id": ticket.pk, "ticket": ticket.number, "transfer": TransferSerializer(record).data})


class TransferListView(APIView):
    """The agreed item lists: which subjects go to which emergency line."""

    @extend_schema(
        parameters=[OpenApiParameter("subject", str, description="Subject code"), OpenApiParameter("line", str)],
        responses=TransferRuleSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        rules = TransferRule.objects.filter(active=True).select_related("subject")
        if request.query_params.get("subject"):
            rules = rules.filter(subject__code=request.query_params["subject"])
        if request.query_params.get("line"):
            rules = rules.filter(line=request.query_params["line"])
        return Response(TransferRuleSerializer(rules.order_by("line", "sort_order", "id"), many=True).data)
