"""Routes of the emergency app, included under /api/ by config/urls.py.

The units helper adds its routes here with a small edit (units_api.py)."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from emergency import api, feeds
from emergency.eido import api as eido_api
from emergency.units import api as units_api

router = SimpleRouter()
router.register("incidents", api.IncidentViewSet, basename="incident")
router.register("incident-tasks", api.IncidentTaskViewSet, basename="incident-task")
router.register("units", units_api.UnitViewSet, basename="unit")

urlpatterns = [
    path("incidents/alerts.atom", feeds.AlertFeedView.as_view(), name="incident-alerts-atom"),
    path("incidents/<int:pk>/cap/", feeds.CapAlertView.as_view(), name="incident-cap"),
    path("incidents/eido/", eido_api.EidoImportView.as_view(), name="incident-eido-import"),
    path("incidents/<int:pk>/eido/", eido_api.IncidentEidoView.as_view(), name="incident-eido"),
    path("incidents/<int:pk>/eido/send/", eido_api.EidoSendView.as_view(), name="incident-eido-send"),
    path("eido/partners/", eido_api.EidoPartnersView.as_view(), name="eido-partners"),
    path("tickets/<int:pk>/escalate/", api.EscalateTicketView.as_view(), name="ticket-escalate"),
    path("tickets/<int:pk>/transfer/", api.TransferTicketView.as_view(), name="ticket-transfer"),
    path("transfer-list/", api.TransferListView.as_view(), name="transfer-list"),
    path("avl/positions/", units_api.AvlPositionsView.as_view(), name="avl-positions"),
    path("avl/osmand/", units_api.AvlOsmAndView.as_view(), name="avl-osmand"),
    path(
        "incidents/<int:pk>/recommendations/", units_api.RecommendationsView.as_view(), name="incident-recommendations"
    ),
    path("incidents/<int:pk>/assign/", units_api.AssignView.as_view(), name="incident-assign"),
    path("incidents/<int:pk>/assignments/", units_api.AssignmentsView.as_view(), name="incident-assignments"),
    *router.urls,
]
