"""JSON shapes of incidents over the API. Coordinates are WGS84; agencies never see who reported."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from callcenter.phones import mask_phone
from core.parsing import MAX_TEXT, BoundedIntegerField, IdField, StrictFloatField
from dispatch import workflow
from dispatch.workflow import Machine
from emergency.access import sees_reporters, visible_agency_links, visible_incident_timeline
from emergency.models import (
    AffectedAreaKind,
    EmergencyLine,
    Incident,
    IncidentAgency,
    IncidentCall,
    IncidentLevel,
    IncidentTicket,
    IncidentTimelineEntry,
    IncidentType,
    Transfer,
    TransferDirection,
    TransferRule,
)
from organisation.policy import current_user, is_centre


class IncidentListSerializer(serializers.ModelSerializer):
    coordinate_system = serializers.SerializerMethodField(help_text="Always wgs84 for stored coordinates.")

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "type",
            "level",
            "state",
            "title",
            "address",
            "latitude",
            "longitude",
            "coordinate_system",
            "district_code",
            "district_name",
            "area_kind",
            "area_radius_m",
            "area_geojson",
            "public_alert",
            "reported_at",
            "updated_at",
        ]

    def get_coordinate_system(self, incident: Incident) -> str:
        return "wgs84"


class AgencyTaskSerializer(serializers.ModelSerializer):
    agency = serializers.SerializerMethodField()
    contact_phone = serializers.SerializerMethodField()
    available_actions = serializers.SerializerMethodField()

    class Meta:
        model = IncidentAgency
        fields = [
            "id",
            "agency",
            "task",
            "status",
            "people_count",
            "contact_name",
            "contact_phone",
            "note",
            "decline_reason",
            "notified_at",
            "acknowledged_at",
            "working_at",
            "finished_at",
            "updated_at",
            "available_actions",
        ]

    def _viewer(self) -> Any:
        return current_user(self.context["request"])

    def get_agency(self, link: IncidentAgency) -> dict[str, Any]:
        return {
            "id": link.agency_id,
            "code": link.agency.code,
            "name": link.agency.display_name,
            "function": link.agency.function,
        }

    def get_contact_phone(self, link: IncidentAgency) -> str:
        viewer = self._viewer()
        if is_centre(viewer) or viewer.agency_id == link.agency_id or not link.contact_phone:
            return link.contact_phone
        return mask_phone(link.contact_phone)

    def get_available_actions(self, link: IncidentAgency) -> list[str]:
        return workflow.available_actions(Machine.INCIDENT_TASK, link.status, self._viewer(), agency_id=link.agency_id)


#: Details of timeline rows that say who reported (tickets, calls): centre information.
REPORTER_KEYS = frozenset({"ticket", "ticket_id", "tickets_added", "calls", "transfer_id", "override_reason"})


class IncidentTimelineSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    agency = serializers.SerializerMethodField()
    # DRF takes declared fields off the class, so this does not shadow Serializer.data at runtime.
    data = serializers.SerializerMethodField()  # type: ignore[assignment]

    class Meta:
        model = IncidentTimelineEntry
        fields = ["id", "machine", "action", "from_state", "to_state", "actor", "agency", "note", "data", "created_at"]

    def get_actor(self, entry: IncidentTimelineEntry) -> str | None:
        return entry.actor.get_username() if entry.actor_id and entry.actor else None

    def get_agency(self, entry: IncidentTimelineEntry) -> str | None:
        return entry.agency_link.agency.code if entry.agency_link_id and entry.agency_link else None

    def get_data(self, entry: IncidentTimelineEntry) -> dict[str, Any]:
        request = self.context.get("request")
        if request is not None and sees_reporters(current_user(request)):
            return dict(entry.data)
        return {key: value for key, value in entry.data.items() if key not in REPORTER_KEYS}


class TransferSerializer(serializers.ModelSerializer):
    ticket = serializers.SlugRelatedField(slug_field="number", read_only=True)  # type: ignore[var-annotated]

    class Meta:
        model = Transfer
        fields = [
            "id",
            "ticket",
            "incident",
            "direction",
            "line",
            "rule",
            "item",
            "override_reason",
            "note",
            "created_at",
        ]


class IncidentDetailSerializer(IncidentListSerializer):
    description = serializers.CharField(read_only=True)
    commander = serializers.SerializerMethodField()
    merged_into = serializers.SerializerMethodField()
    agencies = serializers.SerializerMethodField()
    tickets = serializers.SerializerMethodField()
    calls = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    transfers = serializers.SerializerMethodField()
    available_actions = serializers.SerializerMethodField()

    class Meta(IncidentListSerializer.Meta):
        fields = [
            *IncidentListSerializer.Meta.fields,
            "description",
            "commander",
            "merged_into",
            "public_alert_at",
            "alert_revision",
            "confirmed_at",
            "dispatched_at",
            "on_scene_at",
            "controlled_at",
            "closed_at",
            "agencies",
            "tickets",
            "calls",
            "transfers",
            "timeline",
            "available_actions",
        ]

    def _viewer(self) -> Any:
        return current_user(self.context["request"])

    def get_commander(self, incident: Incident) -> dict[str, Any] | None:
        if incident.commander is None:
            return None
        return {"id": incident.commander.pk, "name": incident.commander.get_full_name() or incident.commander.username}

    def get_merged_into(self, incident: Incident) -> dict[str, Any] | None:
        target = incident.merged_into
        return {"id": target.pk, "number": target.number} if target else None

    def get_agencies(self, incident: Incident) -> Any:
        links = visible_agency_links(self._viewer(), incident)
        return AgencyTaskSerializer(links, many=True, context=self.context).data

    def get_tickets(self, incident: Incident) -> list[dict[str, Any]]:
        if not sees_reporters(self._viewer()):
            return []
        rows = IncidentTicket.objects.filter(incident=incident).select_related("ticket", "caller", "via_incident")
        return [
            {
                "ticket_id": row.ticket_id,
                "number": row.ticket.number,
                "state": row.ticket.state,
                "caller_phone": row.caller.phone if row.caller else "",
                "caller_name": row.caller_name,
                "confidential": row.confidential,
                "reported_at": row.reported_at,
                "via_incident": row.via_incident.number,
            }
            for row in rows
        ]

    def get_calls(self, incident: Incident) -> list[dict[str, Any]]:
        if not sees_reporters(self._viewer()):
            return []
        rows = IncidentCall.objects.filter(incident=incident).select_related("call", "via_incident")
        return [
            {
                "call_id": row.call_id,
                "external_id": row.call.external_id,
                "phone": row.call.phone,
                "reported_at": row.reported_at,
                "via_incident": row.via_incident.number,
            }
            for row in rows
        ]

    def get_transfers(self, incident: Incident) -> Any:
        if not sees_reporters(self._viewer()):
            return []
        return TransferSerializer(incident.transfers.select_related("ticket"), many=True).data

    def get_timeline(self, incident: Incident) -> Any:
        rows = visible_incident_timeline(self._viewer(), incident).select_related("actor").order_by("id")
        return IncidentTimelineSerializer(rows, many=True, context=self.context).data

    def get_available_actions(self, incident: Incident) -> list[str]:
        return workflow.available_actions(Machine.INCIDENT, incident.state, self._viewer())


class TransferRuleSerializer(serializers.ModelSerializer):
    subject = serializers.SlugRelatedField(slug_field="code", read_only=True)  # type: ignore[var-annotated]

    class Meta:
        model = TransferRule
        fields = ["id", "subject", "line", "item", "incident_type"]


class SuggestionSerializer(serializers.Serializer):
    function = serializers.CharField()
    agency = serializers.DictField()
    task = serializers.CharField()
    linked = serializers.BooleanField()


# --- inputs (documentation for the schema; the actions validate) --------------------------------------


class IncidentInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=IncidentType.choices)
    level = serializers.ChoiceField(
        choices=IncidentLevel.choices, required=False, help_text="IV (一般), III (较大), II (重大), I (特别重大)"
    )
    title = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    latitude = StrictFloatField(min_value=-90, max_value=90)
    longitude = StrictFloatField(min_value=-180, max_value=180)
    coordinate_system = serializers.ChoiceField(choices=["wgs84", "gcj02", "bd09"], required=False)
    area_kind = serializers.ChoiceField(choices=AffectedAreaKind.choices, required=False)
    area_radius_m = serializers.FloatField(required=False)
    area_geojson = serializers.JSONField(required=False, help_text="GeoJSON Polygon in coordinate_system")
    commander_id = IdField(required=False)
    call_ids = serializers.ListField(child=IdField(), required=False)


class EscalateInput(IncidentInput):
    type = serializers.ChoiceField(choices=IncidentType.choices, required=False)
    title = serializers.CharField(required=False, allow_blank=True, max_length=120, help_text="Default: the ticket's")
    latitude = StrictFloatField(
        required=False, min_value=-90, max_value=90, help_text="Required when the ticket has no location"
    )
    longitude = StrictFloatField(required=False, min_value=-180, max_value=180)
    incident_id = IdField(required=False, help_text="Join this live incident instead")
    note = serializers.CharField(required=False, allow_blank=True)


class IncidentNoteInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True)


class IncidentNoteRequiredInput(serializers.Serializer):
    note = serializers.CharField()


class IncidentMergeInput(serializers.Serializer):
    into_id = IdField()
    note = serializers.CharField(required=False, allow_blank=True)


class LinkAgencyInput(serializers.Serializer):
    agency_id = IdField()
    task = serializers.CharField()


class TaskActionInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True)
    people_count = BoundedIntegerField(required=False, min_value=0)
    contact_name = serializers.CharField(required=False, allow_blank=True)
    contact_phone = serializers.CharField(required=False, allow_blank=True)


class TransferInput(serializers.Serializer):
    line = serializers.ChoiceField(choices=EmergencyLine.choices)
    direction = serializers.ChoiceField(choices=TransferDirection.choices, required=False)
    override_reason = serializers.CharField(required=False, allow_blank=True)
    note = serializers.CharField(required=False, allow_blank=True)
    incident_id = IdField(required=False)
    escalate = EscalateInput(required=False)
