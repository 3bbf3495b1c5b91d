from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from callcenter import api as callcenter_api
from callcenter import cti
from callcenter import views as callcenter_views
from config import views
from core import health, metrics
from dispatch import views as dispatch_views
from dispatch.api import map as map_api
from dispatch.api import tickets as tickets_api
from dispatch.api import work_orders as dispatch_api
from dispatch.deadlines import api as deadlines_api
from emergency import views as emergency_views
from gis import api as gis_api
from open311 import views as open311_views
from organisation import audit_log
from organisation.identity import second_factor, tokens

# A URL under /api/ that matches no route answers the API's JSON error, not the HTML page.
handler404 = "core.api_errors.page_not_found"

router = DefaultRouter()
router.register("tickets", tickets_api.TicketViewSet, basename="ticket")
router.register("work-orders", dispatch_api.WorkOrderViewSet, basename="work-order")
router.register("appeal-types", callcenter_api.AppealTypeViewSet, basename="appeal-type")
router.register("subjects", callcenter_api.SubjectViewSet, basename="subject")
router.register("knowledge", callcenter_api.KnowledgeArticleViewSet, basename="knowledge")
router.register("agencies", dispatch_api.AgencyViewSet, basename="agency")

urlpatterns = [
    path("", views.home, name="home"),
    # For load balancers and Prometheus (docs/OPERATIONS.md "Health and metrics").
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("console/", callcenter_views.console, name="console"),
    path("command/", emergency_views.command, name="command"),
    path("inbox/", dispatch_views.inbox, name="inbox"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("audit/", audit_log.audit_log, name="audit-log"),
    path("api/audit/", audit_log.audit_log_json, name="audit-log-json"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/second-factor/", second_factor.verify_view, name="second-factor"),
    path("accounts/second-factor/enrol/", second_factor.enrol_view, name="second-factor-enrol"),
    path("admin/", admin.site.urls),
    path("api/", include(router.urls)),
    path("api/manage/", include("organisation.manage_urls")),  # agencies, users (#19)
    path("api/manage/", include("gis.manage_urls")),  # cities (with boundaries), routing rules, layers (#19)
    path("api/callers/history/", callcenter_api.CallerHistoryView.as_view(), name="caller-history"),
    path("api/intake/duplicates/", callcenter_api.IntakeDuplicatesView.as_view(), name="intake-duplicates"),
    path("api/me/", dispatch_api.MeView.as_view(), name="me"),
    path("api/cti/events/", cti.CallEventView.as_view(), name="cti-events"),
    path("api/calls/<int:pk>/", cti.CallDetailView.as_view(), name="call-detail"),
    path("api/geo/route/", gis_api.RouteView.as_view(), name="geo-route"),
    path("api/geo/reverse/", gis_api.ReverseGeocodeView.as_view(), name="geo-reverse"),
    path("api/geo/geocode/", gis_api.GeocodeView.as_view(), name="geo-geocode"),
    path("api/geo/layers/", gis_api.LayerListView.as_view(), name="geo-layers"),
    path("api/geo/layers/<str:level>/", gis_api.LayerGeoJSONView.as_view(), name="geo-layer"),
    path("api/geo/tickets/", map_api.MapTicketsView.as_view(), name="geo-tickets"),
    path("api/geo/hotspots/", map_api.HotspotsView.as_view(), name="geo-hotspots"),
    path("api/workflow/", dispatch_api.WorkflowTableView.as_view(), name="workflow"),
    path("api/calendar/days/", deadlines_api.CalendarDaysView.as_view(), name="calendar-days"),
    path("api/calendar/days/<str:date>/", deadlines_api.CalendarDayView.as_view(), name="calendar-day"),
    path("api/calendar/years/", deadlines_api.CalendarYearsView.as_view(), name="calendar-years"),
    path("api/calendar/years/<int:year>/", deadlines_api.CalendarYearView.as_view(), name="calendar-year"),
    path("api/calendar/working-hours/", deadlines_api.WorkingHoursView.as_view(), name="working-hours"),
    path("api/sla-policies/", deadlines_api.SlaPoliciesView.as_view(), name="sla-policies"),
    path("api/sla-policies/<int:pk>/", deadlines_api.SlaPolicyView.as_view(), name="sla-policy"),
    path("api/auth/token/", tokens.ObtainTokenView.as_view(), name="api-token"),
    path("api/auth/logout/", tokens.LogoutTokenView.as_view(), name="api-logout"),
    path("api/auth/logout-all/", tokens.LogoutTokenView.as_view(everywhere=True), name="api-logout-all"),
    path("api/", include("emergency.urls")),
    path("", include("dispatch.supervision.urls")),
    path("", include("dispatch.workbench.urls")),
    path("", include("dispatch.ticket_screen.urls")),
    path("", include("dispatch.attachments.urls")),
    path("", include("callcenter.phrases.urls")),
    path("", include("archive.urls")),
    path("", include("exchange.urls")),
    # Open311 GeoReport v2 (open311/; README "Open311").
    path("open311/v2/", include("open311.urls")),
    path("open311/", open311_views.not_found),
    path("open311/<path:rest>", open311_views.not_found),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI with its start-up script as a file of its own (?script): the CSP allows no inline script.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api_docs.html"),
        name="api-docs",
    ),
]
