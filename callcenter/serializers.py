"""API representations of intake objects. Callers' details are masked unless the viewer may see them."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from callcenter.models import (
    AppealType,
    Channel,
    KnowledgeArticle,
    Revisit,
    Satisfaction,
    Subject,
    Ticket,
    TicketCaller,
    Urgency,
)
from callcenter.phones import mask_phone
from dispatch import workflow
from dispatch.models import TimelineEntry, WorkOrder
from dispatch.workflow import Machine
from organisation.models import User
from organisation.policy import is_centre, sees_caller_details

HIDDEN_NAME = "***"


class StrictFloatField(serializers.FloatField):
    """A number, but not a JSON boolean (which Python would otherwise read as 0 or 1)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that states its offset: deadlines are never guessed into a time zone."""

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError(_("Give the time zone, e.g. 2026-11-21T09:00:00+08:00."))
        return super().to_internal_value(value)


def _viewer(serializer: serializers.BaseSerializer) -> User:
    return serializer.context["request"].user


def _shows_callers(serializer: serializers.BaseSerializer) -> bool:
    cached = serializer.context.get("_shows_callers")
    if cached is None:
        cached = sees_caller_details(_viewer(serializer))
        serializer.context["_shows_callers"] = cached
    return bool(cached)


def presented_phone(phone: str, full: bool) -> str:
    return phone if full else mask_phone(phone)


def presented_name(name: str, confidential: bool, full: bool) -> str:
    return name if full or not confidential else (HIDDEN_NAME if name else "")


class AppealTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = AppealType
        fields = ["id", "code", "name", "name_en"]


class SubjectSerializer(serializers.ModelSerializer):
    # "parent" is also an attribute of DRF fields in the type stubs, hence the ignore.
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)  # type: ignore[assignment,var-annotated]

    class Meta:
        model = Subject
        fields = [
            "id",
            "code",
            "name",
            "name_en",
            "path",
            "parent",
            "is_leaf",
            "default_agency_function",
            "time_limits",
            "active",
        ]


class SubjectBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Subject
        fields = ["id", "code", "name", "path"]


class TicketListSerializer(serializers.ModelSerializer):
    appeal_type: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="code", read_only=True)
    subject = SubjectBriefSerializer(read_only=True)
    caller_phone = serializers.SerializerMethodField()
    caller_name = serializers.SerializerMethodField()
    coordinate_system = serializers.SerializerMethodField(help_text="Always wgs84 for stored coordinates.")

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "state",
            "channel",
            "urgency",
            "appeal_type",
            "subject",
            "title",
            "address",
            "latitude",
            "longitude",
            "coordinate_system",
            "caller_phone",
            "caller_name",
            "caller_confidential",
            "created_at",
            "updated_at",
            "closed_at",
        ]

    def get_coordinate_system(self, ticket: Ticket) -> str:
        return "wgs84"

    def get_caller_phone(self, ticket: Ticket) -> str:
        return presented_phone(ticket.caller.phone if ticket.caller else "", _shows_callers(self))

    def get_caller_name(self, ticket: Ticket) -> str:
        return presented_name(ticket.caller_name, ticket.caller_confidential, _shows_callers(self))


class RunningDeadlineSerializer(serializers.Serializer):
    stage = serializers.CharField()
    due_at = serializers.DateTimeField(allow_null=True)
    due_provisional = serializers.BooleanField(help_text="Computed on the provisional calendar of an unpublished year")


class WorkOrderBriefSerializer(serializers.ModelSerializer):
    agency = serializers.SerializerMethodField()
    deadline = serializers.SerializerMethodField()

    class Meta:
        model = WorkOrder
        fields = [
            "id",
            "number",
            "agency",
            "responsibility",
            "state",
            "created_at",
            "signed_at",
            "replied_at",
            "reply_outcome",
            "redo_count",
            "deadline",
        ]

    @extend_schema_field(RunningDeadlineSerializer(allow_null=True))
    def get_deadline(self, work_order: WorkOrder) -> dict[str, Any] | None:
        """The deadline of the work order's running stage clock (sign or handle), if any."""
        running = getattr(work_order, "running_clocks", None)
        if running is None:
            running = list(work_order.stage_clocks.filter(stopped_at__isnull=True).order_by("id"))
        if not running:
            return None
        return dict(RunningDeadlineSerializer(running[-1]).data)

    def get_agency(self, work_order: WorkOrder) -> dict[str, Any]:
        return {"id": work_order.agency_id, "code": work_order.agency.code, "name": work_order.agency.name}


class TicketCallerSerializer(serializers.ModelSerializer):
    phone = serializers.SerializerMethodField()
    name = serializers.SerializerMethodField()
    via_ticket: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="number", read_only=True)

    class Meta:
        model = TicketCaller
        fields = ["caller_id", "phone", "name", "confidential", "via_ticket", "added_at"]

    def get_phone(self, row: TicketCaller) -> str:
        return presented_phone(row.caller.phone, _shows_callers(self))

    def get_name(self, row: TicketCaller) -> str:
        return presented_name(row.caller_name, row.confidential, _shows_callers(self))


class RevisitSerializer(serializers.ModelSerializer):
    class Meta:
        model = Revisit
        fields = ["id", "caller_id", "satisfaction", "resolved", "note", "created_at"]


class TicketDetailSerializer(TicketListSerializer):
    work_orders = serializers.SerializerMethodField()
    callers = serializers.SerializerMethodField()
    revisits = serializers.SerializerMethodField()
    master: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="number", read_only=True)
    answered_by_article: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    available_actions = serializers.SerializerMethodField()
    placement = serializers.SerializerMethodField()

    class Meta(TicketListSerializer.Meta):
        fields = [
            *TicketListSerializer.Meta.fields,
            "description",
            "master",
            "answered_by_article",
            "resolution_note",
            "redo_count",
            "work_orders",
            "callers",
            "revisits",
            "available_actions",
            "placement",
        ]

    def _own_work_orders(self, ticket: Ticket) -> list[WorkOrder]:
        viewer = _viewer(self)
        rows = list(ticket.work_orders.all())
        return rows if is_centre(viewer) else [wo for wo in rows if wo.agency_id == viewer.agency_id]

    def get_work_orders(self, ticket: Ticket) -> Any:
        return WorkOrderBriefSerializer(self._own_work_orders(ticket), many=True, context=self.context).data

    def get_callers(self, ticket: Ticket) -> Any:
        return TicketCallerSerializer(ticket.ticket_callers.all(), many=True, context=self.context).data

    def get_revisits(self, ticket: Ticket) -> Any:
        if not is_centre(_viewer(self)):
            return []
        return RevisitSerializer(ticket.revisits.all(), many=True).data

    def get_placement(self, ticket: Ticket) -> dict[str, Any] | None:
        placement = getattr(ticket, "placement", None)
        if placement is None:
            return None
        return {
            "district": {"code": placement.district_code, "name": placement.district_name},
            "street": {"code": placement.street_code, "name": placement.street_name},
            "grid": {"code": placement.grid_code, "name": placement.grid_name},
            "near_boundary": placement.near_boundary,
            "layer_versions": placement.layer_versions,
            "proposed_lead": placement.proposal.get("lead"),
            "reasons": [r.get("text") for r in placement.proposal.get("reasons", [])],
        }

    def get_available_actions(self, ticket: Ticket) -> list[str]:
        return workflow.available_actions(Machine.TICKET, ticket.state, _viewer(self))


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    actor_agency = serializers.SerializerMethodField()
    work_order: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="number", read_only=True)

    class Meta:
        model = TimelineEntry
        fields = [
            "id",
            "machine",
            "work_order",
            "action",
            "from_state",
            "to_state",
            "actor",
            "actor_agency",
            "note",
            "data",
            "created_at",
        ]

    def get_actor(self, row: TimelineEntry) -> str | None:
        return row.actor.get_full_name() or row.actor.username if row.actor else None

    def get_actor_agency(self, row: TimelineEntry) -> str | None:
        return row.actor_agency.name if row.actor_agency else None


class KnowledgeArticleSerializer(serializers.ModelSerializer):
    subjects: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True
    )

    class Meta:
        model = KnowledgeArticle
        fields = [
            "id",
            "code",
            "title",
            "body",
            "subjects",
            "keywords",
            "valid_from",
            "valid_to",
            "active",
            "updated_at",
        ]


# --- inputs (types only; domain rules live in the check_* actions) --------------------------------


class TicketCreateInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    caller_name = serializers.CharField(required=False, allow_blank=True, max_length=60)
    caller_confidential = serializers.BooleanField(required=False, default=False)
    appeal_type = serializers.CharField(max_length=30)
    subject = serializers.CharField(max_length=40)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False, default=Urgency.NORMAL)
    title = serializers.CharField(required=False, allow_blank=True, max_length=120)
    description = serializers.CharField(max_length=5000)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    call_id = serializers.IntegerField(
        required=False, allow_null=True, help_text="The call (from the CTI events) this ticket was taken from."
    )
    coordinate_system = serializers.ChoiceField(
        choices=["wgs84", "gcj02", "bd09"],
        required=False,
        default="wgs84",
        help_text="Coordinate system of latitude/longitude; stored as WGS84.",
    )
    latitude = StrictFloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    longitude = StrictFloatField(required=False, allow_null=True, min_value=-180, max_value=180)


class NoteInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class RequiredNoteInput(serializers.Serializer):
    note = serializers.CharField(max_length=5000)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class ResolveDirectlyInput(serializers.Serializer):
    answer = serializers.CharField(max_length=5000)
    article_id = serializers.IntegerField(required=False, allow_null=True)


class DispatchInput(serializers.Serializer):
    lead_agency_id = serializers.IntegerField()
    co_agency_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list, max_length=20)
    instructions = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    override_reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class MergeInput(serializers.Serializer):
    master_id = serializers.IntegerField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class RevisitInput(serializers.Serializer):
    satisfaction = serializers.ChoiceField(choices=Satisfaction.choices)
    resolved = serializers.BooleanField(allow_null=True, required=False, default=None)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    caller_id = serializers.IntegerField(required=False, allow_null=True)


class RedoInput(serializers.Serializer):
    note = serializers.CharField(max_length=5000)
    work_order_ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, allow_null=True, default=None, max_length=20
    )


class ArticleInput(serializers.Serializer):
    code = serializers.SlugField(max_length=40)
    title = serializers.CharField(max_length=120)
    body = serializers.CharField(max_length=20000)
    subjects = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list)
    keywords = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    valid_from = serializers.DateField(required=False, allow_null=True, default=None)
    valid_to = serializers.DateField(required=False, allow_null=True, default=None)
    active = serializers.BooleanField(required=False, default=True)
