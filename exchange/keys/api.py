"""The administrators' API of keys: ``/api/keys/`` list, issue (the key shown once, in this answer only),
read, revoke and rotate. An agency's administrator sees and manages its own agency's keys only (a foreign key
answers 404); nobody else may. Keys themselves can never call it (no scope opens it)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from core import clock
from core.parsing import AwareDateTimeField, validated
from exchange.keys.actions import KeyRequest, do_create_key, do_revoke_key, do_rotate_key, may_manage_keys, visible_keys
from exchange.keys.scopes import SCOPES
from exchange.models import ApiKey
from organisation.models import Agency
from organisation.policy import current_user


class ApiKeySerializer(serializers.ModelSerializer):
    state = serializers.SerializerMethodField(help_text="active, expired or revoked")
    agency_name = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "agency",
            "agency_name",
            "partner",
            "scopes",
            "rate",
            "expires_at",
            "revoked_at",
            "created_at",
            "last_used_at",
            "state",
        ]
        read_only_fields = fields

    def get_state(self, key: ApiKey) -> str:
        if key.revoked_at is not None:
            return "revoked"
        return "expired" if key.expires_at <= clock.now() else "active"

    def get_agency_name(self, key: ApiKey) -> str | None:
        return key.agency.display_name if key.agency is not None else None


class IssuedKeySerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The key itself: shown in this answer only, store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class CreateKeyInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    agency = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**31 - 1)
    partner = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=sorted(SCOPES)), max_length=len(SCOPES))
    expires_at = AwareDateTimeField()
    rate = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")


def _issued(key: ApiKey, raw: str) -> dict[str, Any]:
    return {**ApiKeySerializer(key).data, "key": raw}


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ApiKeySerializer

    def get_queryset(self) -> QuerySet[ApiKey]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return ApiKey.objects.none()
        user = current_user(self.request)
        if not may_manage_keys(user):
            raise PermissionDenied(_("You may not manage API keys."))
        return visible_keys(user).select_related("agency")

    @extend_schema(request=CreateKeyInput, responses={201: IssuedKeySerializer})
    def create(self, request: Request) -> Response:
        user = current_user(request)
        if not may_manage_keys(user):
            raise PermissionDenied(_("You may not manage API keys."))
        data = validated(CreateKeyInput, request)
        agency = None
        if data.get("agency"):
            # An agency the user may not manage is refused like a foreign object: not named as existing.
            agency = Agency.objects.filter(pk=data["agency"]).first()
            if agency is None or not may_manage_keys(user, agency.pk):
                raise serializers.ValidationError({"agency": [_("Choose one of your agencies.")]})
        key, raw = do_create_key(
            user,
            KeyRequest(
                name=data["name"],
                scopes=list(data["scopes"]),
                expires_at=data["expires_at"],
                agency=agency,
                partner=data.get("partner") or "",
                rate=data.get("rate") or "",
            ),
        )
        return Response(_issued(key, raw), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ApiKeySerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        key = self.get_object()
        do_revoke_key(current_user(request), key)
        return Response(ApiKeySerializer(key).data)

    @extend_schema(request=None, responses={201: IssuedKeySerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str | None = None) -> Response:
        key = self.get_object()
        new, raw = do_rotate_key(current_user(request), key)
        return Response(_issued(new, raw), status=status.HTTP_201_CREATED)
