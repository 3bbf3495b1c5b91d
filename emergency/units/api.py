"""REST API of units: the list and status board, status transitions, AVL ingest, recommendations and
assignment of units to incidents. Coordinates are WGS84 unless a request says ``crs=gcj02``."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import clock
from core.errors import InvalidInput, NotAllowed, NotFound
from core.parsing import validated
from emergency.access import visible_incidents
from emergency.models import Assignment, Incident, Unit, UnitTimelineEntry
from emergency.states import UnitStatus, UnitType
from emergency.units import actions as unit_actions
from emergency.units import avl
from emergency.units.access import visible_units
from emergency.units.recommendation import MAX_PER_TYPE, parse_types, recommend
from emergency.units.serializers import (
    AssignInput,
    AssignmentSerializer,
    UnitSerializer,
    UnitTransitionInput,
    with_open_incident,
)
from organisation import policy
from organisation.models import User
from organisation.policy import current_user

UNIT_FILTERS = [
    OpenApiParameter("type", str, description="Unit type (comma-separated)"),
    OpenApiParameter("status", str, description="Unit status (comma-separated)"),
    OpenApiParameter("agency", str, description="Agency code"),
    OpenApiParameter("stale", str, description="1: only stale positions, 0: only fresh ones"),
    OpenApiParameter("bbox", str, description="min_lon,min_lat,max_lon,max_lat (WGS84)"),
    OpenApiParameter("active", str, description="0 to list retired units instead of active ones"),
]


def _choices(raw: str, allowed: list[str], name: str) -> list[str]:
    values = [part for part in raw.split(",") if part]
    if not values or any(value not in allowed for value in values):
        raise InvalidInput(
            _("Some fields are not valid."), fields={name: [_("One of: %(c)s.") % {"c": ", ".join(allowed)}]}
        )
    return values


def _bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in raw.split(","))
    except ValueError:
        raise InvalidInput(
            _("Some fields are not valid."), fields={"bbox": [_("Four numbers: min_lon,min_lat,max_lon,max_lat.")]}
        ) from None
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise InvalidInput(_("Some fields are not valid."), fields={"bbox": [_("Not a valid box.")]})
    return min_lon, min_lat, max_lon, max_lat


def _flag(raw: str, name: str) -> bool:
    if raw not in ("0", "1", "true", "false"):
        raise InvalidInput(_("Some fields are not valid."), fields={name: [_("0 or 1.")]})
    return raw in ("1", "true")


class UnitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Units (力量): an agency sees its own and those on incidents it is linked to."""

    serializer_class = UnitSerializer
    queryset = Unit.objects.none()
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Unit]:
        rows = with_open_incident(visible_units(current_user(self.request)).select_related("agency"))
        if self.action != "list":
            return rows
        params = self.request.query_params
        rows = rows.filter(active=not (params.get("active") and not _flag(params["active"], "active")))
        if params.get("type"):
            rows = rows.filter(unit_type__in=_choices(params["type"], list(UnitType.values), "type"))
        if params.get("status"):
            rows = rows.filter(status__in=_choices(params["status"], list(UnitStatus.values), "status"))
        if params.get("agency"):
            rows = rows.filter(agency__code=params["agency"])
        if params.get("bbox"):
            min_lon, min_lat, max_lon, max_lat = _bbox(params["bbox"])
            rows = rows.filter(
                longitude__gte=min_lon, longitude__lte=max_lon, latitude__gte=min_lat, latitude__lte=max_lat
            )
        if params.get("stale"):
            cutoff = clock.now() - unit_actions.stale_after()
            fresh = Q(fix_at__gt=cutoff, longitude__isnull=False, latitude__isnull=False)
            rows = rows.exclude(fresh) if _flag(params["stale"], "stale") else rows.filter(fresh)
        return rows.order_by("call_sign")

    @extend_schema(parameters=UNIT_FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=UnitTransitionInput, responses={200: UnitSerializer})
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str) -> Response:
        """Move the unit through its statuses: en_route, arrive, clear, make_available, out_of_service."""
        unit_id = int(self.get_object().pk)
        data = validated(UnitTransitionInput, request)
        unit_actions.do_change_unit_status(unit_id, data["action"], actor=current_user(request), note=data["note"])
        row = self.get_queryset().get(pk=unit_id)
        return Response(UnitSerializer(row, context=self.get_serializer_context()).data)

    @extend_schema(responses={200: {"type": "array", "items": {"type": "object", "additionalProperties": True}}})
    @action(detail=True, methods=["get"], pagination_class=None)
    def timeline(self, request: Request, pk: str) -> Response:
        unit = self.get_object()
        rows = UnitTimelineEntry.objects.filter(unit=unit).order_by("id")[:500]
        return Response(
            [
                {
                    "id": row.pk,
                    "action": row.action,
                    "from": row.from_state,
                    "to": row.to_state,
                    "incident_id": row.incident_id,
                    "actor_agency_id": row.actor_agency_id,
                    "note": row.note,
                    "at": row.created_at,
                }
                for row in rows
            ]
        )

    @extend_schema(responses={200: dict})
    @action(detail=False, methods=["get"])
    def board(self, request: Request) -> Response:
        """The unit status board: counts by type and status, in total and per agency, plus stale counts."""
        now = clock.now()
        rows = visible_units(current_user(request)).filter(active=True).select_related("agency")
        totals: Counter[tuple[str, str]] = Counter()
        per_agency: dict[int, dict[str, Any]] = {}
        stale: Counter[str] = Counter()
        for unit in rows:
            totals[(unit.unit_type, unit.status)] += 1
            entry = per_agency.setdefault(
                unit.agency_id,
                {
                    "agency": {"id": unit.agency_id, "code": unit.agency.code, "name": unit.agency.display_name},
                    "counts": {},
                },
            )
            by_status = entry["counts"].setdefault(unit.unit_type, {})
            by_status[unit.status] = by_status.get(unit.status, 0) + 1
            if unit_actions.is_stale(unit, now):
                stale[unit.unit_type] += 1
        return Response(
            {
                "types": [{"code": code, "label": str(label)} for code, label in UnitType.choices],
                "statuses": [{"code": code, "label": str(label)} for code, label in UnitStatus.choices],
                "totals": {
                    unit_type: {status: totals[(unit_type, status)] for status in UnitStatus.values}
                    for unit_type in UnitType.values
                },
                "stale": {unit_type: stale[unit_type] for unit_type in UnitType.values},
                "agencies": sorted(per_agency.values(), key=lambda entry: entry["agency"]["code"]),
                "as_of": now,
            }
        )


# --- AVL ----------------------------------------------------------------------------------------------


def _sender(request: Request, key: Any) -> tuple[User | None, str | None]:
    """The authenticated user (token or session), else the device key (header or ``key`` parameter)."""
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        return user, None
    if key is None or not str(key).strip():
        raise unit_actions.DeviceNotAuthenticated(_("A device key or a user token is required."))
    return None, str(key)


def _ingest_response(result: unit_actions.IngestResult) -> Response:
    return Response(
        {
            "accepted": result.accepted,
            "ignored_out_of_order": result.ignored_out_of_order,
            "events": result.events,
            "unit_ids": result.unit_ids,
        }
    )


class AvlPositionsView(APIView):
    """POST /api/avl/positions/: one fix or {"positions": [...]} in our JSON format (docs/AVL.md)."""

    permission_classes = [AllowAny]  # a device key is checked by the action

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request: Request) -> Response:
        body = request.data
        key = request.headers.get("X-AVL-Key")
        if isinstance(body, dict) and "key" in body and key is None:
            body = dict(body)
            key = body.pop("key")
        actor, device_key = _sender(request, key)
        fixes = avl.parse_json_report(body)
        return _ingest_response(unit_actions.do_record_positions(fixes, actor=actor, device_key=device_key))


class AvlOsmAndView(APIView):
    """GET or POST /api/avl/osmand/?id=..&lat=..&lon=..&timestamp=..: the Traccar/OsmAnd format."""

    permission_classes = [AllowAny]

    def _ingest(self, request: Request) -> Response:
        params: dict[str, Any] = {key: request.query_params.get(key) for key in request.query_params}
        if hasattr(request.data, "keys"):
            for key in request.data:
                params.setdefault(key, request.data.get(key))
        key = request.headers.get("X-AVL-Key") or params.pop("key", None)
        actor, device_key = _sender(request, key)
        fix = avl.parse_osmand(params)
        return _ingest_response(unit_actions.do_record_positions([fix], actor=actor, device_key=device_key))

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return self._ingest(request)

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request: Request) -> Response:
        return self._ingest(request)


# --- incidents: recommendations and assignment ----------------------------------------------------------


def _incident_for_command(request: Request, incident_id: int) -> Incident:
    user = current_user(request)
    incident = visible_incidents(user).filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(_("No such incident."))
    if not user.has_role(*policy.UNIT_COMMAND):
        raise NotAllowed(_("Only the command desk recommends and assigns units."))
    return incident


class RecommendationsView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("types", str, description="Unit types, comma-separated (default: from the incident type)"),
            OpenApiParameter("per_type", int, description=f"Units per type, 1-{MAX_PER_TYPE} (default 3)"),
            OpenApiParameter("district_first", str, description="1: units in the incident's district first"),
        ],
        responses={200: dict},
    )
    def get(self, request: Request, pk: int) -> Response:
        incident = _incident_for_command(request, pk)
        params = request.query_params
        types = parse_types(params.get("types"), incident.type)
        raw_per_type = params.get("per_type", "3")
        if not raw_per_type.isdigit() or not 1 <= int(raw_per_type) <= MAX_PER_TYPE:
            raise InvalidInput(
                _("Some fields are not valid."),
                fields={"per_type": [_("A whole number from 1 to %(n)d.") % {"n": MAX_PER_TYPE}]},
            )
        district_first = _flag(params.get("district_first", "0"), "district_first")
        now = clock.now()
        found = recommend(
            incident,
            types=types,
            per_type=int(raw_per_type),
            district_first=district_first,
            now=now,
            among=visible_units(current_user(request)),
        )
        context = {"request": request, "now": now}
        return Response(
            {
                "incident_id": incident.pk,
                "types": types,
                "district_first": district_first,
                "district_code": incident.district_code,
                "recommendations": {
                    unit_type: [
                        {
                            "unit": UnitSerializer(row["unit"], context=context).data,
                            "distance_m": row["distance_m"],
                            "eta_seconds": row["eta_seconds"],
                            "in_district": row["in_district"],
                        }
                        for row in rows
                    ]
                    for unit_type, rows in found.items()
                },
            }
        )


class AssignView(APIView):
    @extend_schema(request=AssignInput, responses={201: dict})
    def post(self, request: Request, pk: int) -> Response:
        incident = _incident_for_command(request, pk)
        data = validated(AssignInput, request)
        # Only units the user commands (another city's are unknown to them, as a missing unit is).
        wanted = set(data["unit_ids"])
        if visible_units(current_user(request)).filter(pk__in=wanted).count() != len(wanted):
            raise InvalidInput(_("Some fields are not valid."), fields={"unit_ids": [_("Unknown unit.")]})
        assignments = unit_actions.do_assign_units(
            incident.pk, data["unit_ids"], actor=current_user(request), note=data["note"]
        )
        rows = Assignment.objects.filter(pk__in=[a.pk for a in assignments]).select_related("unit").order_by("id")
        return Response({"assignments": AssignmentSerializer(rows, many=True).data}, status=201)


class AssignmentsView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        incident = visible_incidents(user).filter(pk=pk).first()
        if incident is None:
            from core.errors import NotFound

            raise NotFound(_("No such incident."))
        rows = Assignment.objects.filter(incident=incident).select_related("unit").order_by("id")
        return Response({"assignments": AssignmentSerializer(rows, many=True).data})
