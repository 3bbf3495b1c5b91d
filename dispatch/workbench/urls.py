"""URLs of the centre's workbench: the page and its API (included from config/urls.py)."""

from django.urls import URLPattern, URLResolver, path, re_path

from dispatch.workbench import api, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("work/", views.workbench, name="workbench"),
    path("api/queues/", api.QueueCountsView.as_view(), name="workbench-queues"),
    path("api/queues/<str:name>/", api.QueueRowsView.as_view(), name="workbench-queue"),
    path("api/search/tickets/", api.TicketSearchView.as_view(), name="workbench-search"),
    re_path(
        r"^api/search/tickets/export\.(?P<extension>csv|xlsx)$",
        api.TicketExportView.as_view(),
        name="workbench-export",
    ),
    path("api/search/bulk-urge/", api.BulkUrgeView.as_view(), name="workbench-bulk-urge"),
]
