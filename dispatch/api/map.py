"""The ticket map: tickets in a box as GeoJSON points and hot spots per polygon, for a time window, within the
viewer's scope (visible_tickets); and a ticket's possible duplicates. The geography itself is gis/."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import geopandas
import numpy as np
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.duplicates import candidate_row, find_duplicates
from callcenter.models import Ticket
from core import clock
from core.errors import InvalidInput
from dispatch.access import visible_tickets
from gis.api import SYSTEM_PARAM, layer_geojson, requested_system, requested_time
from gis.coords import convert
from gis.index import OUTSIDE, current_index
from gis.models import Level
from organisation.models import in_language
from organisation.policy import current_user

MAX_MAP_TICKETS = 5000


def _filtered_tickets(request: Request) -> tuple[QuerySet[Ticket], dt.datetime, dt.datetime]:
    user = current_user(request)
    now = clock.now()
    since = requested_time(request, "since", now - dt.timedelta(days=30))
    until = requested_time(request, "until", now)
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
        system = requested_system(request)
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
                "subject__name_en",
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
                    "subject_name": in_language(row["subject__name"], row["subject__name_en"]),
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
    """Ticket counts per grid cell or district for a time window (a spatial join on the viewer's city's active
    layer)."""

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
        system = requested_system(request)
        tickets, since, until = _filtered_tickets(request)
        # The viewer's city's layer (staff of no city: the default city's), as the map's outlines are.
        index = current_index().layers_of(current_user(request).home_city_id).get(level)
        if index is None:
            return Response({"type": "FeatureCollection", "features": [], "level": level})
        points = list(tickets.values_list("longitude", "latitude"))
        counts: dict[str, int] = {}
        if points:
            located = index.locate(*np.array(points, dtype=float).T)
            # The join itself: each ticket point to the polygon that holds it, counted per polygon.
            frame = geopandas.GeoDataFrame({"polygon": located[located != OUTSIDE]})
            counts = {str(index.codes[k]): int(v) for k, v in frame.groupby("polygon").size().items()}
        layer_json = json.loads(layer_geojson(index.layer_id, 13, system))
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
        "candidates": [candidate_row(c) for c in found],
    }
