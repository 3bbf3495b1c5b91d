"""Output and input shapes of the units API. Coordinates are WGS84; speeds m/s; headings degrees."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from rest_framework import serializers

from core import clock
from core.parsing import IdField
from dispatch import workflow
from dispatch.workflow import Machine
from emergency.models import Assignment, Unit
from emergency.units.actions import is_stale
from organisation.policy import current_user


def with_open_incident(rows: QuerySet[Unit]) -> QuerySet[Unit]:
    """Annotate each unit with the incident of its open assignment (one query for a whole list)."""
    open_assignment = Assignment.objects.filter(unit=OuterRef("pk"), cleared_at__isnull=True).values("incident_id")
    return rows.annotate(open_incident_id=Subquery(open_assignment[:1]))


class UnitSerializer(serializers.ModelSerializer):
    agency = serializers.SerializerMethodField()
    station = serializers.SerializerMethodField()
    position = serializers.SerializerMethodField()
    stale = serializers.SerializerMethodField()
    incident_id = serializers.SerializerMethodField()
    available_actions = serializers.SerializerMethodField()

    class Meta:
        model = Unit
        fields = [
            "id",
            "call_sign",
            "unit_type",
            "agency",
            "station",
            "status",
            "status_changed_at",
            "position",
            "stale",
            "incident_id",
            "device_id",
            "active",
            "available_actions",
        ]

    def _now(self) -> dt.datetime:
        now = self.context.get("now")
        if now is None:
            now = self.context["now"] = clock.now()
        return now

    def get_agency(self, unit: Unit) -> dict[str, Any]:
        return {"id": unit.agency_id, "code": unit.agency.code, "name": unit.agency.display_name}

    def get_station(self, unit: Unit) -> dict[str, Any]:
        return {"name": unit.station_name, "lon": unit.station_longitude, "lat": unit.station_latitude}

    def get_position(self, unit: Unit) -> dict[str, Any] | None:
        if unit.longitude is None or unit.latitude is None:
            return None
        return {
            "lon": unit.longitude,
            "lat": unit.latitude,
            "crs": "wgs84",
            "heading": unit.heading,
            "speed": unit.speed,
            "accuracy": unit.accuracy,
            "fix_at": unit.fix_at,
            "received_at": unit.received_at,
        }

    def get_stale(self, unit: Unit) -> bool:
        return is_stale(unit, self._now())

    def get_incident_id(self, unit: Unit) -> int | None:
        if hasattr(unit, "open_incident_id"):
            return unit.open_incident_id  # type: ignore[no-any-return]
        return (
            Assignment.objects.filter(unit=unit, cleared_at__isnull=True).values_list("incident_id", flat=True).first()
        )

    def get_available_actions(self, unit: Unit) -> list[str]:
        request = self.context.get("request")
        if request is None:
            return []
        actions = workflow.available_actions(Machine.UNIT, unit.status, current_user(request), agency_id=unit.agency_id)
        return [action for action in actions if action != "dispatch"]


class UnitTransitionInput(serializers.Serializer):
    action = serializers.CharField(max_length=40)
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class AssignInput(serializers.Serializer):
    unit_ids = serializers.ListField(child=IdField(), min_length=1, max_length=20)
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class AssignmentSerializer(serializers.ModelSerializer):
    call_sign = serializers.CharField(source="unit.call_sign", read_only=True)
    unit_type = serializers.CharField(source="unit.unit_type", read_only=True)
    unit_status = serializers.CharField(source="unit.status", read_only=True)

    class Meta:
        model = Assignment
        fields = [
            "id",
            "unit",
            "call_sign",
            "unit_type",
            "unit_status",
            "incident",
            "distance_m",
            "eta_seconds",
            "dispatched_at",
            "en_route_at",
            "on_scene_at",
            "cleared_at",
        ]
