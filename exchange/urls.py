"""Routes of the exchange app (included from config/urls.py): API keys, webhook subscriptions and their delivery
log."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from exchange import api, subscriptions_api
from exchange.keys import api as keys_api

router = SimpleRouter()
router.register("api/keys", keys_api.ApiKeyViewSet, basename="api-key")

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/subscriptions/", subscriptions_api.SubscriptionListView.as_view(), name="subscription-list"),
    path("api/subscriptions/<int:pk>/", subscriptions_api.SubscriptionDetailView.as_view(), name="subscription-detail"),
    path(
        "api/subscriptions/<int:pk>/rotate-secret/",
        subscriptions_api.RotateSecretView.as_view(),
        name="subscription-rotate-secret",
    ),
    path(
        "api/subscriptions/<int:pk>/deliveries/",
        api.SubscriptionDeliveriesView.as_view(),
        name="subscription-deliveries",
    ),
    path(
        "api/subscriptions/<int:pk>/test-delivery/",
        api.SendTestDeliveryView.as_view(),
        name="subscription-test-delivery",
    ),
    *router.urls,
]
