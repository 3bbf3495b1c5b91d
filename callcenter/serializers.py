"""API representations of intake objects. Callers' details are masked unless the viewer may see them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from callcenter.models import Channel, KnowledgeArticle, Revisit, Ticket, TicketCaller, Urgency
from callcenter.phones import mask_phone
from core.parsing import StrictFloatField
from organisation.models import AppealType, Subject, User
from organisation.policy import sees_caller_details

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
    name = serializers.CharField(source="display_name", read_only=True, help_text="In the interface language.")

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


class ArticleInput(serializers.Serializer):
    code = serializers.SlugField(max_length=40)
    title = serializers.CharField(max_length=120)
    body = serializers.CharField(max_length=20000)
    subjects = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list)
    keywords = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    valid_from = serializers.DateField(required=False, allow_null=True, default=None)
    valid_to = serializers.DateField(required=False, allow_null=True, default=None)
    active = serializers.BooleanField(required=False, default=True)
