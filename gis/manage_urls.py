"""URLs of the map side's management API (gis/manage_api.py), under /api/manage/."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from gis import manage_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("cities", manage_api.CityViewSet, basename="manage-city")
router.register("routing-rules", manage_api.RoutingRuleViewSet, basename="manage-routing-rule")
router.register("layers", manage_api.LayerViewSet, basename="manage-layer")

urlpatterns = [
    *router.urls,
    path("import/routing-rules/", manage_api.RoutingRuleImportView.as_view(), name="manage-import-routing-rules"),
]
