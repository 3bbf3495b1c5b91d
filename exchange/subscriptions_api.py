"""The subscriptions API: ``/api/subscriptions/`` (list, create), ``/api/subscriptions/<id>/`` (read, delete)
and ``.../rotate-secret/``. The signing secret is in the answer to a create and to a rotation only.

Who may call it: an administrator (every subscription), a user given the subscription permissions (its own
agency's, as in the admin, exchange/admin.py), and an agency's key holding ``webhooks:manage``: the key's
own agency's subscriptions only, the agency forced to the key's, never ``allow_private_network``. A foreign
subscription answers 404. Every write goes through exchange/actions.py (checked, audited)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.parsing import validated
from exchange.actions import do_delete_subscription, do_rotate_secret, do_save_subscription
from exchange.api import manager, one_subscription
from exchange.keys.scopes import WEBHOOKS_MANAGE
from exchange.models import Subscription
from organisation.models import Agency


class SubscriptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Subscription
        fields = [
            "id",
            "name",
            "target_url",
            "event_types",
            "agency",
            "allow_private_network",
            "active",
            "created_at",
            "previous_secret_until",
        ]
        read_only_fields = fields


class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    secret = serializers.CharField(help_text="The signing secret: shown in this answer only, store it now.")

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class SubscriptionListSerializer(serializers.Serializer):
    results = SubscriptionSerializer(many=True)


class CreateSubscriptionInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    target_url = serializers.CharField(max_length=500)
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, default=list, max_length=100
    )
    # Ignored for a key (always its own agency); for an administrator: none is the centre's view.
    agency = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**31 - 1)
    allow_private_network = serializers.BooleanField(required=False, default=False)
    active = serializers.BooleanField(required=False, default=True)


_INPUT_FIELDS = ("name", "target_url", "event_types", "agency", "allow_private_network", "active")


def _with_secret(subscription: Subscription, secret: str) -> dict[str, Any]:
    return {**SubscriptionSerializer(subscription).data, "secret": secret}


class SubscriptionListView(APIView):
    """The subscriptions the caller may manage (GET), or a new one (POST; its secret in the answer only)."""

    api_key_scope = WEBHOOKS_MANAGE

    @extend_schema(operation_id="subscriptions_list", responses={200: SubscriptionListSerializer})
    def get(self, request: Request) -> Response:
        _user, _key, visible = manager(request)
        rows = visible.order_by("pk")
        return Response({"results": SubscriptionSerializer(rows, many=True).data})

    @extend_schema(request=CreateSubscriptionInput, responses={201: SubscriptionWithSecretSerializer})
    def post(self, request: Request) -> Response:
        user, key, _visible = manager(request)
        data = validated(CreateSubscriptionInput, request)
        agency_id: int | None = data.get("agency")
        if key is not None:
            if agency_id is not None and agency_id != key.agency_id:
                raise serializers.ValidationError({"agency": [_("A key subscribes its own agency only.")]})
            agency_id = key.agency_id
        elif agency_id is not None and not Agency.objects.filter(pk=agency_id).exists():
            raise serializers.ValidationError({"agency": [_("Choose one of the agencies.")]})
        subscription = Subscription(
            name=data["name"],
            target_url=data["target_url"].strip(),
            event_types=list(data["event_types"]),
            agency_id=agency_id,
            allow_private_network=data["allow_private_network"],
            active=data["active"],
        )
        changed = [name for name in _INPUT_FIELDS if name in request.data]
        saved, secret = do_save_subscription(user, subscription, changed=changed, key=key)
        return Response(_with_secret(saved, secret or ""), status=status.HTTP_201_CREATED)


class SubscriptionDetailView(APIView):
    """One subscription (GET) or its removal with its deliveries (DELETE)."""

    api_key_scope = WEBHOOKS_MANAGE

    @extend_schema(responses={200: SubscriptionSerializer})
    def get(self, request: Request, pk: int) -> Response:
        _user, _key, subscription = one_subscription(request, pk)
        return Response(SubscriptionSerializer(subscription).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        user, key, subscription = one_subscription(request, pk)
        do_delete_subscription(user, subscription, key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecretView(APIView):
    """A new signing secret (in this answer only); the previous one keeps signing for a while."""

    api_key_scope = WEBHOOKS_MANAGE

    @extend_schema(request=None, responses={200: SubscriptionWithSecretSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user, key, subscription = one_subscription(request, pk)
        secret = do_rotate_secret(user, subscription, key=key)
        return Response(_with_secret(subscription, secret))
