"""Map data and routing API. Every coordinate in or out names its system (default wgs84).

Agency users get only their own tickets here too: every ticket query starts from visible_tickets.
"""

from __future__ import annotations

import datetime as dt
import functools
import json

import shapely
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput, NotAllowed
from core.parsing import query_int, validated
from gis.coords import CoordinateSystem, convert_point
from gis.models import Jurisdiction, JurisdictionLayer, Level
from gis.routing import decide, place
from organisation.fields import SubjectCodeField
from organisation.models import Subject, in_city
from organisation.policy import current_user, is_centre

SYSTEMS = [s.value for s in CoordinateSystem]
SYSTEM_PARAM = OpenApiParameter("coordinate_system", str, enum=SYSTEMS, description="Default wgs84.")
LATITUDE = {"type": "number", "minimum": -90, "maximum": 90}
LONGITUDE = {"type": "number", "minimum": -180, "maximum": 180}


def requested_system(request: Request) -> str:
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


def requested_time(request: Request, name: str, default: dt.datetime) -> dt.datetime:
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
    subject = SubjectCodeField()


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
            OpenApiParameter("latitude", LATITUDE, required=True),
            OpenApiParameter("longitude", LONGITUDE, required=True),
            SYSTEM_PARAM,
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        lat, lon = _float(request, "latitude", -90, 90), _float(request, "longitude", -180, 180)
        lon, lat = convert_point(lon, lat, requested_system(request), "wgs84")
        placement = place(lon, lat)
        return Response({"wgs84": {"latitude": lat, "longitude": lon}, **placement.as_dict()})


class GeocodeView(APIView):
    """Address text -> scored candidate points from the gazetteer."""

    @extend_schema(
        parameters=[
            # Some text that is not only spaces, at most 200 characters.
            OpenApiParameter("q", {"type": "string", "maxLength": 200, "pattern": r"\S"}, required=True),
            SYSTEM_PARAM,
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        from gis.geocoding import geocode

        raw = request.query_params.get("q", "")
        query = raw.strip()
        if not query or len(raw) > 200:
            raise InvalidInput(_("Give an address of at most 200 characters."), fields={"q": [_("1..200 characters.")]})
        system = requested_system(request)
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
    @extend_schema(responses={200: {"type": "array", "items": {"type": "object", "additionalProperties": True}}})
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
def layer_geojson(layer_id: int, zoom: int, system: str) -> str:
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
        operation_id="geo_layer_geojson",  # not geo_layers_retrieve, the list's (check --deploy warned of both)
        parameters=[
            OpenApiParameter("level", str, OpenApiParameter.PATH, enum=Level.values),
            OpenApiParameter("zoom", {"type": "integer", "minimum": 0, "maximum": 20}, description="Default 12"),
            SYSTEM_PARAM,
        ],
        responses={200: dict},
    )
    def get(self, request: Request, level: str) -> Response:
        if level not in Level.values:
            raise InvalidInput(_("Unknown level."), fields={"level": Level.values})
        zoom = query_int(request, "zoom", minimum=0, maximum=20)
        zoom = 12 if zoom is None else zoom
        # The viewer's city's layer (staff of no city: the default city's), one of the cities' active ones.
        city = in_city(current_user(request).home_city_id)
        layer = JurisdictionLayer.objects.filter(city, level=level, active=True).first()
        if layer is None:
            return Response({"type": "FeatureCollection", "features": [], "layer": None})
        body = json.loads(layer_geojson(layer.pk, zoom, requested_system(request)))
        return Response(
            {**body, "layer": {"id": layer.pk, "level": level, "version": layer.version, "generated": layer.generated}}
        )
