"""Map data and routing API. Every coordinate in or out names its system (default wgs84).

Agency users get only their own tickets here too: every ticket query starts from visible_tickets.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

import geopandas
import numpy as np
import shapely
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.models import Subject, Ticket
from core import clock
from core.errors import InvalidInput, NotAllowed
from core.parsing import validated
from dispatch.access import visible_tickets
from gis.coords import CoordinateSystem, convert, convert_point
from gis.duplicates import find_duplicates
from gis.index import OUTSIDE, current_index
from gis.models import Jurisdiction, JurisdictionLayer, Level
from gis.routing import decide, place
from organisation.policy import current_user, is_centre

SYSTEMS = [s.value for s in CoordinateSystem]
SYSTEM_PARAM = OpenApiParameter("coordinate_system", str, enum=SYSTEMS, description="Default wgs84.")
MAX_MAP_TICKETS = 5000


def _system(request: Request) -> str:
    system = request.query_params.get("coordinate_system", "wgs84")
    if system not in SYSTEMS:
        raise InvalidInput(_("Unknown coordinate system."), fields={"coordinate_system": [", ".join(SYSTEMS)]})
    return system


def _float(request: Request, name: str, low: float, high: float) -> float:
    try:
        value = float(request.query_params[name])
    except (KeyError, ValueError):
        raise InvalidInput(_("A number is required."), fields={name: [_("A number is required.")]}) from None
    if not low <= value <= high:
        raise InvalidInput(_("Out of range."), fields={name: [f"{low}..{high}"]})
    return value


def _time(request: Request, name: str, default: dt.datetime) -> dt.datetime:
    raw = request.query_params.get(name)
    if not raw:
        return default
    parsed = serializers.DateTimeField().run_validation(raw) if raw else None
    if not isinstance(parsed, dt.datetime):
        raise InvalidInput(_("A date and time is required."), fields={name: [raw]})
    return parsed


def _point_out(longitude: float, latitude: float, system: str) -> tuple[float, float]:
    lon, lat = convert_point(longitude, latitude, "wgs84", system)
    return round(lon, 7), round(lat, 7)


class RouteInput(serializers.Serializer):
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    coordinate_system = serializers.ChoiceField(choices=SYSTEMS, default="wgs84")
    subject = serializers.CharField(max_length=40)


class RouteView(APIView):
    """The live routing proposal for a point and subject, before a ticket exists (operator console)."""

    @extend_schema(request=RouteInput, responses={200: dict})
    def post(self, request: Request) -> Response:
        if not is_centre(current_user(request)):
            raise NotAllowed(_("Only the centre routes tickets."))
        data = validated(RouteInput, request)
        subject = Subject.objects.filter(code=data["subject"], is_leaf=True).first()
        if subject is None:
            raise InvalidInput(_("Unknown subject."), fields={"subject": [_("Unknown subject.")]})
        lon, lat = convert_point(data["longitude"], data["latitude"], data["coordinate_system"], "wgs84")
        decision = decide(subject, place(lon, lat))
        return Response({"wgs84": {"latitude": lat, "longitude": lon}, **decision.as_dict()})


class ReverseGeocodeView(APIView):
    """Point -> district, street and grid names, for display."""

    @extend_schema(
        parameters=[
            OpenApiParameter("latitude", float, required=True),
            OpenApiParameter("longitude", float, required=True),
            SYSTEM_PARAM,
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        lat, lon = _float(request, "latitude", -90, 90), _float(request, "longitude", -180, 180)
        lon, lat = convert_point(lon, lat, _system(request), "wgs84")
        placement = place(lon, lat)
        return Response({"wgs84": {"latitude": lat, "longitude": lon}, **placement.as_dict()})


class GeocodeView(APIView):
    """Address text -> scored candidate points from the gazetteer."""

    @extend_schema(parameters=[OpenApiParameter("q", str, required=True), SYSTEM_PARAM], responses={200: dict})
    def get(self, request: Request) -> Response:
        from gis.geocoding import geocode

        query = request.query_params.get("q", "").strip()
        if not query or len(query) > 200:
            raise InvalidInput(_("Give an address of at most 200 characters."), fields={"q": [_("1..200 characters.")]})
        system = _system(request)
        results = []
        for candidate in geocode(query):
            lon, lat = _point_out(candidate.longitude, candidate.latitude, system)
            results.append(
                {
                    "name": candidate.name,
                    "kind": candidate.kind,
                    "district": candidate.district,
                    "latitude": lat,
                    "longitude": lon,
                    "score": round(candidate.score, 3),
                    "generated": candidate.generated,
                    "matched": candidate.matched,
                }
            )
        return Response({"query": query, "coordinate_system": system, "results": results})


class LayerListView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        layers = JurisdictionLayer.objects.order_by("level", "-version")
        return Response(
            [
                {
                    "id": layer.pk,
                    "level": layer.level,
                    "version": layer.version,
                    "name": layer.name,
                    "active": layer.active,
                    "generated": layer.generated,
                    "features": layer.feature_count,
                    "report": layer.report,
                    "created_at": layer.created_at,
                }
                for layer in layers
            ]
        )


@functools.lru_cache(maxsize=64)
def _layer_geojson(layer_id: int, zoom: int, system: str) -> str:
    # Tolerance about one screen pixel at this zoom (256 px tiles): coarse maps do not ship every vertex.
    tolerance = 360.0 / (256 * 2**zoom)
    features = []
    for row in Jurisdiction.objects.filter(layer_id=layer_id).order_by("code"):
        geometry = shapely.simplify(shapely.from_wkb(bytes(row.geometry_wkb)), tolerance, preserve_topology=True)
        if system != "wgs84":
            from gis.coords import transform_geometry

            geometry = transform_geometry(geometry, "wgs84", system)
        features.append(
            {
                "type": "Feature",
                "id": row.code,
                "properties": {
                    "code": row.code,
                    "name": row.name,
                    "parent_code": row.parent_code,
                    "generated": bool(row.properties.get("generated")),
                },
                "geometry": json.loads(shapely.to_geojson(geometry, indent=None)),
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


class LayerGeoJSONView(APIView):
    """The active layer of a level as GeoJSON, simplified for the zoom level."""

    @extend_schema(
        parameters=[OpenApiParameter("zoom", int, description="0-20, default 12"), SYSTEM_PARAM], responses={200: dict}
    )
    def get(self, request: Request, level: str) -> Response:
        if level not in Level.values:
            raise InvalidInput(_("Unknown level."), fields={"level": Level.values})
        zoom = int(_float(request, "zoom", 0, 20)) if "zoom" in request.query_params else 12
        layer = JurisdictionLayer.objects.filter(level=level, active=True).first()
        if layer is None:
            return Response({"type": "FeatureCollection", "features": [], "layer": None})
        body = json.loads(_layer_geojson(layer.pk, zoom, _system(request)))
        return Response(
            {**body, "layer": {"id": layer.pk, "level": level, "version": layer.version, "generated": layer.generated}}
        )


def _filtered_tickets(request: Request) -> tuple[QuerySet[Ticket], dt.datetime, dt.datetime]:
    user = current_user(request)
    now = clock.now()
    since = _time(request, "since", now - dt.timedelta(days=30))
    until = _time(request, "until", now)
    if until < since:
        raise InvalidInput(_("The window ends before it starts."), fields={"until": [_("Before since.")]})
    tickets = visible_tickets(user).filter(
        created_at__gte=since, created_at__lte=until, latitude__isnull=False, longitude__isnull=False
    )
    params = request.query_params
    for name, lookup in (
        ("subject", "subject__code"),
        ("state", "state"),
        ("urgency", "urgency"),
        ("agency", "work_orders__agency__code"),
    ):
        if params.get(name):
            tickets = tickets.filter(**{f"{lookup}__in": params[name].split(",")})
    return tickets.distinct(), since, until


class MapTicketsView(APIView):
    """Tickets in a bounding box as GeoJSON points, with filters and a time window."""

    @extend_schema(
        parameters=[
            OpenApiParameter("bbox", str, description="min_lon,min_lat,max_lon,max_lat in coordinate_system"),
            OpenApiParameter("subject", str),
            OpenApiParameter("state", str),
            OpenApiParameter("urgency", str),
            OpenApiParameter("agency", str, description="agency code"),
            OpenApiParameter("since", str),
            OpenApiParameter("until", str),
            SYSTEM_PARAM,
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        system = _system(request)
        tickets, since, until = _filtered_tickets(request)
        if request.query_params.get("bbox"):
            try:
                min_lon, min_lat, max_lon, max_lat = (float(v) for v in request.query_params["bbox"].split(","))
            except ValueError:
                raise InvalidInput(
                    _("bbox is min_lon,min_lat,max_lon,max_lat."), fields={"bbox": ["4 numbers"]}
                ) from None
            (lon_a, lon_b), (lat_a, lat_b) = convert([min_lon, max_lon], [min_lat, max_lat], system, "wgs84")
            tickets = tickets.filter(
                longitude__range=(min(lon_a, lon_b), max(lon_a, lon_b)),
                latitude__range=(min(lat_a, lat_b), max(lat_a, lat_b)),
            )
        rows = list(
            tickets.select_related("subject")
            .order_by("-id")[: MAX_MAP_TICKETS + 1]
            .values(
                "id",
                "number",
                "state",
                "urgency",
                "subject__code",
                "subject__name",
                "created_at",
                "latitude",
                "longitude",
                "placement__district_name",
                "placement__grid_code",
            )
        )
        truncated = len(rows) > MAX_MAP_TICKETS
        rows = rows[:MAX_MAP_TICKETS]
        lons, lats = convert(
            np.array([r["longitude"] for r in rows], dtype=float),
            np.array([r["latitude"] for r in rows], dtype=float),
            "wgs84",
            system,
        )
        lons, lats = np.atleast_1d(lons), np.atleast_1d(lats)
        features = [
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": {"type": "Point", "coordinates": [round(float(lon), 7), round(float(lat), 7)]},
                "properties": {
                    "number": row["number"],
                    "state": row["state"],
                    "urgency": row["urgency"],
                    "subject": row["subject__code"],
                    "subject_name": row["subject__name"],
                    "district": row["placement__district_name"] or "",
                    "grid": row["placement__grid_code"] or "",
                    "created_at": row["created_at"].isoformat(),
                },
            }
            for row, lon, lat in zip(rows, lons, lats, strict=True)
        ]
        return Response(
            {
                "type": "FeatureCollection",
                "features": features,
                "coordinate_system": system,
                "since": since,
                "until": until,
                "truncated": truncated,
            }
        )


class HotspotsView(APIView):
    """Ticket counts per grid cell or district for a time window (a spatial join on the active layer)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("level", str, enum=Level.values),
            OpenApiParameter("subject", str),
            OpenApiParameter("since", str),
            OpenApiParameter("until", str),
            SYSTEM_PARAM,
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        level = request.query_params.get("level", Level.GRID)
        if level not in Level.values:
            raise InvalidInput(_("Unknown level."), fields={"level": Level.values})
        system = _system(request)
        tickets, since, until = _filtered_tickets(request)
        index = current_index().layers.get(level)
        if index is None:
            return Response({"type": "FeatureCollection", "features": [], "level": level})
        points = list(tickets.values_list("longitude", "latitude"))
        counts: dict[str, int] = {}
        if points:
            located = index.locate(*np.array(points, dtype=float).T)
            # The join itself: each ticket point to the polygon that holds it, counted per polygon.
            frame = geopandas.GeoDataFrame({"polygon": located[located != OUTSIDE]})
            counts = {str(index.codes[k]): int(v) for k, v in frame.groupby("polygon").size().items()}
        layer_json = json.loads(_layer_geojson(index.layer_id, 13, system))
        features = [
            dict(f, properties={**f["properties"], "count": counts[f["id"]]})
            for f in layer_json["features"]
            if f["id"] in counts
        ]
        features.sort(key=lambda f: -f["properties"]["count"])
        return Response(
            {
                "type": "FeatureCollection",
                "features": features,
                "level": level,
                "since": since,
                "until": until,
                "total": sum(counts.values()),
                "coordinate_system": system,
            }
        )


def ticket_duplicates(ticket: Ticket, request: Request) -> dict[str, Any]:
    try:
        radius = float(request.query_params.get("radius", 100))
        hours = float(request.query_params.get("hours", 72))
    except ValueError:
        raise InvalidInput(
            _("radius and hours are numbers."), fields={"radius": ["number"], "hours": ["number"]}
        ) from None
    if not (0 < radius <= 5000 and 0 < hours <= 24 * 30):
        raise InvalidInput(_("Out of range."), fields={"radius": ["0..5000"], "hours": ["0..720"]})
    found = find_duplicates(
        tickets=visible_tickets(current_user(request)),
        subject_id=ticket.subject_id,
        at=ticket.created_at,
        latitude=ticket.latitude,
        longitude=ticket.longitude,
        caller_id=ticket.caller_id,
        exclude_id=ticket.pk,
        radius_m=radius,
        hours=hours,
    )
    return {
        "radius_m": radius,
        "hours": hours,
        "candidates": [
            {
                "id": c.ticket.pk,
                "number": c.ticket.number,
                "state": c.ticket.state,
                "subject": c.ticket.subject.code,
                "created_at": c.ticket.created_at,
                "distance_m": c.distance_m,
                "same_subject": c.same_subject,
                "same_caller": c.same_caller,
                "title": c.ticket.title,
                "address": c.ticket.address,
            }
            for c in found
        ],
    }
