"""URLs of the e-supervision board: the page and its API (included from config/urls.py)."""

from django.urls import path, re_path

from dispatch.supervision import api, views

urlpatterns = [
    path("supervision/", views.board, name="supervision"),
    path("api/supervision/kpis/", api.KpiView.as_view(), name="supervision-kpis"),
    path("api/supervision/kpis/drilldown/", api.DrilldownView.as_view(), name="supervision-drilldown"),
    path("api/supervision/ranking/", api.RankingView.as_view(), name="supervision-ranking"),
    path("api/supervision/trend/", api.TrendView.as_view(), name="supervision-trend"),
    path("api/supervision/escalations/", api.EscalationsView.as_view(), name="supervision-escalations"),
    re_path(
        r"^api/supervision/export/(?P<table>" + "|".join(api.EXPORT_TABLES) + r")\.(?P<extension>csv|xlsx)$",
        api.ExportView.as_view(),
        name="supervision-export",
    ),
]
