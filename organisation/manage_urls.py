"""URLs of the organisation's management API (organisation/manage_api.py), under /api/manage/."""

from __future__ import annotations

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from organisation import manage_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("agencies", manage_api.ManagedAgencyViewSet, basename="manage-agency")
router.register("users", manage_api.ManagedUserViewSet, basename="manage-user")

urlpatterns = [
    *router.urls,
    re_path(
        r"^import/(?P<kind>agencies|users)/$",
        manage_api.OrganisationImportView.as_view(),
        name="manage-import-organisation",
    ),
]
