"""Public alert export: one incident's CAP 1.2 alert, and the Atom feed of active public alerts (with the Cancels
of finished or withdrawn ones until they expire).

Public alerts are public information: the feed and the CAP documents of incidents a commander ever
published need no login (the Atom feed links to them). Any other incident's CAP document is for the
users who may see the incident (centre, linked agencies); for everyone else it does not exist (404).
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from core import clock
from core.errors import NotFound
from emergency import cap
from emergency.access import visible_incidents
from emergency.models import Incident
from emergency.states import ACTIVE_INCIDENT_STATES

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
ATOM_CONTENT_TYPE = "application/atom+xml; charset=utf-8"
FEED_LIMIT = 500


def active_public_alerts() -> Any:
    return Incident.objects.filter(public_alert=True, state__in=ACTIVE_INCIDENT_STATES).order_by(
        "-alert_sent_at", "-id"
    )


def feed_incidents(limit: int = FEED_LIMIT) -> list[Incident]:
    """The active public alerts, and the Cancels (closed, cancelled, merged or withdrawn incidents) until their
    ``expires``: a reader of the feed learns that an alert is over instead of seeing it vanish."""
    active = list(active_public_alerts()[:limit])
    recent = (
        Incident.objects.filter(public_alert_at__isnull=False, alert_sent_at__gte=clock.now() - cap.cancel_lifetime())
        .exclude(pk__in=[incident.pk for incident in active])
        .order_by("-alert_sent_at", "-id")
    )
    cancels = [incident for incident in recent[:limit] if cap.message_type(incident) == "Cancel"]
    entries = sorted(active + cancels, key=lambda incident: (cap.sent_at(incident), incident.pk), reverse=True)
    return entries[:limit]


class CapAlertView(APIView):
    """The incident as an OASIS CAP 1.2 alert (application/cap+xml)."""

    permission_classes = [AllowAny]

    @extend_schema(responses={(200, cap.CAP_CONTENT_TYPE): OpenApiTypes.STR})
    def get(self, request: Request, pk: int) -> HttpResponse:
        incident = Incident.objects.filter(pk=pk, public_alert_at__isnull=False).first()
        if incident is None and request.user.is_authenticated:
            incident = visible_incidents(request.user).filter(pk=pk).first()  # type: ignore[arg-type]
        if incident is None:
            raise NotFound(_("Not found."))
        response = HttpResponse(cap.alert_xml(incident), content_type=f"{cap.CAP_CONTENT_TYPE}; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="{incident.number}.cap.xml"'
        return response


def _atom(parent: ET.Element, name: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NAMESPACE}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def build_feed(request: Request, incidents: list[Incident]) -> bytes:
    ET.register_namespace("", ATOM_NAMESPACE)
    feed = ET.Element(f"{{{ATOM_NAMESPACE}}}feed")
    self_url = request.build_absolute_uri(reverse("incident-alerts-atom"))
    _atom(feed, "id", self_url)
    _atom(feed, "title", _("Active public alerts of the emergency linkage centre"))
    newest = max((cap.sent_at(i) for i in incidents), default=clock.now())
    _atom(feed, "updated", cap.cap_time(newest))
    author = _atom(feed, "author")
    _atom(author, "name", cap.cap_sender_name())
    _atom(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    for incident in incidents:
        cap_url = request.build_absolute_uri(reverse("incident-cap", args=[incident.pk]))
        entry = _atom(feed, "entry")
        _atom(entry, "id", f"urn:cap:{cap.cap_sender()}:{cap.identifier(incident)}")
        _atom(entry, "title", incident.title)
        _atom(entry, "updated", cap.cap_time(cap.sent_at(incident)))
        if incident.public_alert_at:
            _atom(entry, "published", cap.cap_time(incident.public_alert_at))
        _atom(entry, "link", rel="alternate", href=cap_url, type=cap.CAP_CONTENT_TYPE)
        _atom(entry, "category", term=incident.type)
        _atom(entry, "category", term=cap.message_type(incident), scheme=f"{cap.CAP_NAMESPACE}:msgType")
        _atom(entry, "summary", f"{incident.get_type_display()} · {incident.get_level_display()} · {incident.address}")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


class AlertFeedView(APIView):
    """Atom feed of the active public alerts and recent Cancels, newest first; each entry links to its CAP alert."""

    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "application/atom+xml"): OpenApiTypes.STR})
    def get(self, request: Request) -> HttpResponse:
        incidents = feed_incidents()
        return HttpResponse(build_feed(request, incidents), content_type=ATOM_CONTENT_TYPE)
