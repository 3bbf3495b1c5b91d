"""/open311/v2/...: GeoReport v2 with the format as the resource's suffix (.json or .xml)."""

from django.urls import re_path

from open311 import views

FMT = r"\.(?P<fmt>json|xml)$"

urlpatterns = [
    re_path(r"^discovery" + FMT, views.discovery, name="open311-discovery"),
    re_path(r"^services" + FMT, views.service_list, name="open311-services"),
    re_path(r"^services/(?P<service_code>[^/]{1,60})" + FMT, views.service_definition, name="open311-service"),
    re_path(r"^requests" + FMT, views.request_list, name="open311-requests"),
    re_path(r"^requests/(?P<request_id>[^/]{1,60})" + FMT, views.request_detail, name="open311-request"),
    re_path(r"^tokens/(?P<token>[^/]{1,64})" + FMT, views.token_detail, name="open311-token"),
    re_path(r"^(?P<rest>.*)$", views.not_found, name="open311-not-found"),
]
