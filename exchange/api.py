"""The webhooks' API for whoever manages subscriptions: a subscription's delivery log with every attempt
(``/api/subscriptions/<id>/deliveries/``) and its test delivery (``.../test-delivery/``). Scoped as the
subscription admin is (exchange/admin.py): a superuser sees every subscription, anyone else given the
permission its own agency's, an agency's key with ``webhooks:manage`` its own agency's; a foreign subscription
answers 404. The subscriptions themselves: exchange/subscriptions_api.py."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange.actions import do_send_test_delivery
from exchange.keys.scopes import WEBHOOKS_MANAGE
from exchange.models import ApiKey, Delivery, DeliveryAttempt, Subscription
from organisation.models import User
from organisation.policy import current_user


def visible_subscriptions(user: User) -> QuerySet[Subscription]:
    if user.is_superuser:
        return Subscription.objects.all()
    if user.agency_id is None or not user.has_perm("exchange.view_subscription"):
        return Subscription.objects.none()
    return Subscription.objects.filter(agency_id=user.agency_id)


def request_key(request: Request) -> ApiKey | None:
    """The key the request was made with (exchange/keys/drf.py), if any."""
    return request.auth if isinstance(request.auth, ApiKey) else None


def manager(request: Request) -> tuple[User, ApiKey | None, QuerySet[Subscription]]:
    """Who is calling, with which key (if any), and the subscriptions it may manage; 403 for anyone else. A
    key (its webhooks:manage scope checked on authentication) manages its own agency's subscriptions only."""
    user = current_user(request)
    key = request_key(request)
    if key is not None:
        if key.agency_id is None or WEBHOOKS_MANAGE not in (key.scopes or ()):
            raise PermissionDenied(_("You may not manage webhook subscriptions."))
        return user, key, Subscription.objects.filter(agency_id=key.agency_id)
    if not (user.is_superuser or user.has_perm("exchange.view_subscription")):
        raise PermissionDenied(_("You may not manage webhook subscriptions."))
    return user, None, visible_subscriptions(user)


def one_subscription(request: Request, pk: int) -> tuple[User, ApiKey | None, Subscription]:
    user, key, visible = manager(request)
    subscription = visible.filter(pk=pk).first()
    if subscription is None:
        raise Http404
    return user, key, subscription


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "duration_ms", "status_code", "error_kind", "ok"]


class DeliverySerializer(serializers.ModelSerializer):
    attempts = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_type",
            "event_id",
            "state",
            "attempt_count",
            "failures",
            "next_attempt_at",
            "created_at",
            "delivered_at",
            "parked_reason",
            "attempts",
        ]


class SubscriptionDeliveriesView(generics.ListAPIView):
    """The delivery log of one subscription, newest first, each delivery with its attempts."""

    serializer_class = DeliverySerializer
    api_key_scope = WEBHOOKS_MANAGE

    def get_queryset(self) -> QuerySet[Delivery]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return Delivery.objects.none()
        _user, _key, subscription = one_subscription(self.request, int(self.kwargs["pk"]))
        attempts = Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("number"))
        return subscription.deliveries.order_by("-created_at").prefetch_related(attempts)


class SendTestDeliveryView(APIView):
    """Queue a signed ``ping`` delivery to the subscription's URL (sent by the outbox worker)."""

    api_key_scope = WEBHOOKS_MANAGE

    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request: Request, pk: int) -> Response:
        user, key, subscription = one_subscription(request, pk)
        delivery = do_send_test_delivery(user, subscription, key=key)
        data: dict[str, Any] = dict(DeliverySerializer(delivery).data)
        return Response(data, status=status.HTTP_202_ACCEPTED)
