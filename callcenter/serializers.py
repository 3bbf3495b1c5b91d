"""API representations of intake objects. Callers' details are masked unless the viewer may see them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from phonenumbers import SUPPORTED_REGIONS
from rest_framework import serializers

from callcenter import external
from callcenter.models import Channel, KnowledgeArticle, Revisit, Ticket, TicketCaller, Urgency
from callcenter.phones import PHONE_SCHEMA, mask_phone
from core.parsing import IdField, StrictFloatField
from organisation.fields import AppealTypeCodeField, SubjectCodeField
from organisation.models import AppealType, Subject, User
from organisation.policy import is_centre, sees_caller_details

HIDDEN_NAME = "***"


def viewer(serializer: serializers.BaseSerializer) -> User:
    return serializer.context["request"].user


def _shows_callers(serializer: serializers.BaseSerializer) -> bool:
    cached = serializer.context.get("_shows_callers")
    if cached is None:
        cached = sees_caller_details(viewer(serializer))
        serializer.context["_shows_callers"] = cached
    return bool(cached)


def presented_phone(phone: str, full: bool) -> str:
    return phone if full else mask_phone(phone)


def presented_name(name: str, confidential: bool, full: bool) -> str:
    return name if full or not confidential else (HIDDEN_NAME if name else "")


class AppealTypeSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True, help_text="In the interface language.")

    class Meta:
        model = AppealType
        fields = ["id", "code", "name", "name_en"]


class SubjectSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True, help_text="In the interface language.")
    path = serializers.CharField(source="display_path", read_only=True, help_text="In the interface language.")
    # "parent" is also an attribute of DRF fields in the type stubs, hence the ignore.
    parent = serializers.SlugRelatedField(  # type: ignore[assignment,var-annotated]
        slug_field="code", read_only=True, allow_null=True
    )

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
    name = serializers.CharField(source="display_name", read_only=True, help_text="In the interface language.")
    path = serializers.CharField(source="display_path", read_only=True, help_text="In the interface language.")

    class Meta:
        model = Subject
        fields = ["id", "code", "name", "path"]


class TicketListSerializer(serializers.ModelSerializer):
    appeal_type: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="code", read_only=True)
    subject = SubjectBriefSerializer(read_only=True)
    caller_phone = serializers.SerializerMethodField()
    caller_name = serializers.SerializerMethodField()
    coordinate_system = serializers.SerializerMethodField(help_text="Always wgs84 for stored coordinates.")
    source_system = serializers.SerializerMethodField(help_text="Sending system's code (centre only; else empty).")
    external_id = serializers.SerializerMethodField(help_text="Case id in the sending system (centre only).")
    reported_at = serializers.SerializerMethodField(help_text="Report time in the sending system (centre only).")
    media_url = serializers.SerializerMethodField(
        help_text="Link to a photo of the problem given by the sender (Open311 media_url); never fetched by us."
    )

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
            "source_system",
            "external_id",
            "reported_at",
            "media_url",
        ]

    def get_coordinate_system(self, ticket: Ticket) -> str:
        return "wgs84"

    def _shows_reference(self) -> bool:
        cached = self.context.get("_shows_reference")
        if cached is None:
            cached = self.context["_shows_reference"] = is_centre(viewer(self))
        return bool(cached)

    def get_source_system(self, ticket: Ticket) -> str:
        return ticket.source_system if self._shows_reference() else ""

    def get_external_id(self, ticket: Ticket) -> str:
        return ticket.external_id if self._shows_reference() else ""

    def get_media_url(self, ticket: Ticket) -> str:
        return ticket.media_url if self._shows_reference() else external.shareable_media_url(ticket.media_url)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_reported_at(self, ticket: Ticket) -> str | None:
        if not self._shows_reference() or ticket.reported_at is None:
            return None
        return serializers.DateTimeField().to_representation(ticket.reported_at)  # type: ignore[no-any-return]

    def get_caller_phone(self, ticket: Ticket) -> str:
        return presented_phone(ticket.caller.phone if ticket.caller else "", _shows_callers(self))

    def get_caller_name(self, ticket: Ticket) -> str:
        return presented_name(ticket.caller_name, ticket.caller_confidential, _shows_callers(self))


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


@extend_schema_field(PHONE_SCHEMA)
class PhoneField(serializers.CharField):
    """A phone number (checked by the action against its numbering plan)."""


@extend_schema_field({"type": "string", "enum": ["", *sorted(SUPPORTED_REGIONS)]})
class RegionField(serializers.CharField):
    """An ISO 3166 alpha-2 country whose numbering plan is known (checked by the action)."""


class TicketCreateInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    phone = PhoneField(required=False, allow_blank=True, max_length=40)
    caller_name = serializers.CharField(required=False, allow_blank=True, max_length=60)
    caller_confidential = serializers.BooleanField(required=False, default=False)
    appeal_type = AppealTypeCodeField(checked_by_action=True)
    subject = SubjectCodeField(active_only=True, checked_by_action=True)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False, default=Urgency.NORMAL)
    title = serializers.CharField(required=False, allow_blank=True, max_length=120)
    description = serializers.CharField(max_length=5000)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    call_id = IdField(
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
    phone_country = RegionField(
        required=False,
        allow_blank=True,
        max_length=2,
        help_text="ISO 3166 alpha-2 country (e.g. US) to read a phone number without +country code in; "
        "default the installation's region.",
    )
    source_system = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text="Short code of the sending system (e.g. sf311). With external_id, a repeat returns the first ticket.",
    )
    external_id = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="The case id in the sending system."
    )
    reported_at = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text="ISO 8601 date-time with UTC offset: when the case was reported in the sending system.",
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
