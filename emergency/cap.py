"""An incident as an OASIS Common Alerting Protocol 1.2 alert (validated against the OASIS XSD).

Mapping, documented here because it is a policy, not a fact:

* ``msgType``: ``Alert`` for the first published revision (and for previews of unpublished incidents),
  ``Update`` for later revisions (level, place, area or text changed while public), ``Cancel`` once the
  incident is closed, cancelled or merged, or the commander withdrew the public alert. Updates and
  cancels reference the first published message (``sender,identifier,sent``).
* ``identifier``: ``<incident number>-r<alert revision>``; ``sent`` is when that revision was made, in
  China Standard Time with an explicit ``+08:00`` offset and whole seconds (the XSD's pattern).
* Level -> urgency and severity (the national four grades of 突发事件分级):

  ====================  ===========  =========
  level                 urgency      severity
  ====================  ===========  =========
  I   特别重大           Immediate    Extreme
  II  重大               Immediate    Severe
  III 较大               Expected     Moderate
  IV  一般               Expected     Minor
  ====================  ===========  =========

* Certainty follows what the centre knows: ``Likely`` while the incident is only reported, ``Observed``
  from confirmation on.
* Type -> category: see ``CATEGORIES`` (CAP's list: Geo, Met, Safety, Security, Rescue, Fire, Health,
  Env, Transport, Infra, CBRNE, Other).
* Two ``info`` blocks, ``zh-CN`` then ``en-US``, with the same area: a ``polygon`` ("lat,lon" pairs, the
  ring closed), or a ``circle`` ("lat,lon radius_km"; a point incident is a circle of radius 0), plus a
  ``geocode`` with the district's administrative code (GB/T 2260) when the point lies in a district.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from xml.etree import ElementTree as ET

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from lxml import etree

from core.clock import local_zone
from emergency.models import AffectedAreaKind, Incident, IncidentLevel, IncidentType
from emergency.states import TERMINAL_INCIDENT_STATES, IncidentState

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_CONTENT_TYPE = "application/cap+xml"
CAP_SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "CAP-v1.2.xsd"

URGENCY_SEVERITY = {
    IncidentLevel.ESPECIALLY_SERIOUS: ("Immediate", "Extreme"),
    IncidentLevel.SERIOUS: ("Immediate", "Severe"),
    IncidentLevel.MAJOR: ("Expected", "Moderate"),
    IncidentLevel.GENERAL: ("Expected", "Minor"),
}
CATEGORIES: dict[str, tuple[str, ...]] = {
    IncidentType.FIRE: ("Fire",),
    IncidentType.TRAFFIC_ACCIDENT: ("Transport",),
    IncidentType.FLOOD: ("Met", "Infra"),
    IncidentType.GAS_LEAK: ("Safety", "Infra"),
    IncidentType.POWER_OUTAGE: ("Infra",),
    IncidentType.WATER_MAIN_BURST: ("Infra",),
    IncidentType.BUILDING_COLLAPSE: ("Rescue", "Safety"),
    IncidentType.HAZARDOUS_MATERIALS: ("CBRNE",),
    IncidentType.PUBLIC_HEALTH: ("Health",),
    IncidentType.PUBLIC_SECURITY: ("Security",),
    IncidentType.OTHER: ("Other",),
}
LANGUAGES = (("zh-hans", "zh-CN"), ("en", "en-US"))


def cap_sender() -> str:
    return str(getattr(settings, "EMERGENCY_CAP_SENDER", "yjld@12345.liuzhou.gov.cn"))


def cap_sender_name() -> str:
    return str(getattr(settings, "EMERGENCY_CAP_SENDER_NAME", "柳州市12345热线应急联动中心"))


def cap_time(moment: dt.datetime) -> str:
    """2026-11-21T20:05:00+08:00: local time, whole seconds, explicit offset (the XSD's pattern)."""
    return moment.astimezone(local_zone()).replace(microsecond=0).isoformat()


def message_type(incident: Incident) -> str:
    if incident.state in TERMINAL_INCIDENT_STATES or (not incident.public_alert and incident.alert_revision > 0):
        return "Cancel"
    return "Update" if incident.alert_revision > 1 else "Alert"


def identifier(incident: Incident, revision: int | None = None) -> str:
    return f"{incident.number}-r{max(revision if revision is not None else incident.alert_revision, 1)}"


def sent_at(incident: Incident) -> dt.datetime:
    return incident.alert_sent_at or incident.updated_at


def certainty(incident: Incident) -> str:
    return "Likely" if incident.state == IncidentState.REPORTED else "Observed"


def _sub(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP_NAMESPACE}}}{name}")
    if text is not None:
        element.text = text
    return element


def polygon_text(geojson: dict) -> str:
    """CAP polygon: space-separated "lat,lon" pairs of a closed ring (GeoJSON is [lon, lat])."""
    ring = [list(p) for p in geojson["coordinates"][0]]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return " ".join(f"{lat:.6f},{lon:.6f}" for lon, lat, *_rest in ring)


def circle_text(incident: Incident) -> str:
    radius_km = (incident.area_radius_m or 0.0) / 1000.0
    return f"{incident.latitude:.6f},{incident.longitude:.6f} {radius_km:.3f}"


def _area(info: ET.Element, incident: Incident) -> None:
    area = _sub(info, "area")
    description = " ".join(part for part in (incident.district_name, incident.address) if part) or incident.title
    _sub(area, "areaDesc", description)
    if incident.area_kind == AffectedAreaKind.POLYGON and incident.area_geojson:
        _sub(area, "polygon", polygon_text(incident.area_geojson))
    else:
        _sub(area, "circle", circle_text(incident))
    if incident.district_code:
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", "GB/T 2260")
        _sub(geocode, "value", incident.district_code)


def _info(alert: ET.Element, incident: Incident, language: str, cap_language: str) -> None:
    urgency, severity = URGENCY_SEVERITY[IncidentLevel(incident.level)]
    with translation.override(language):
        event = str(IncidentType(incident.type).label)
        level = str(IncidentLevel(incident.level).label)
        state = str(IncidentState(incident.state).label)
        info = _sub(alert, "info")
        _sub(info, "language", cap_language)
        for category in CATEGORIES.get(incident.type, ("Other",)):
            _sub(info, "category", category)
        _sub(info, "event", event)
        _sub(info, "responseType", "AllClear" if message_type(incident) == "Cancel" else "Avoid")
        _sub(info, "urgency", urgency)
        _sub(info, "severity", severity)
        _sub(info, "certainty", certainty(incident))
        _sub(info, "eventCode")
        code = info[-1]
        _sub(code, "valueName", "incident_type")
        _sub(code, "value", incident.type)
        _sub(info, "onset", cap_time(incident.reported_at))
        _sub(info, "senderName", cap_sender_name())
        place = incident.district_name or incident.address
        headline = (
            incident.title
            if language.startswith("zh")
            else f"{event} (level {incident.level})" + (f": {place}" if place else "")
        )
        _sub(info, "headline", headline[:160])
        description = (
            incident.description or incident.title
            if language.startswith("zh")
            else _("%(event)s, %(level)s, reported at %(time)s. Current state: %(state)s.")
            % {"event": event, "level": level, "time": cap_time(incident.reported_at), "state": state}
        )
        _sub(info, "description", description)
        _sub(
            info,
            "instruction",
            _("The incident is over; follow any further notices.")
            if message_type(incident) == "Cancel"
            else _("Avoid the affected area and follow the instructions of responders on site."),
        )
        _sub(info, "contact", "12345")
        _area(info, incident)


def build_alert(incident: Incident) -> ET.Element:
    ET.register_namespace("", CAP_NAMESPACE)
    alert = ET.Element(f"{{{CAP_NAMESPACE}}}alert")
    kind = message_type(incident)
    _sub(alert, "identifier", identifier(incident))
    _sub(alert, "sender", cap_sender())
    _sub(alert, "sent", cap_time(sent_at(incident)))
    _sub(alert, "status", "Actual")
    _sub(alert, "msgType", kind)
    _sub(alert, "scope", "Public")
    first_sent = incident.public_alert_at
    if kind != "Alert" and first_sent is not None and incident.alert_revision > 1:
        _sub(alert, "references", f"{cap_sender()},{identifier(incident, 1)},{cap_time(first_sent)}")
    _sub(alert, "incidents", incident.number)
    for language, cap_language in LANGUAGES:
        _info(alert, incident, language, cap_language)
    return alert


def alert_xml(incident: Incident) -> bytes:
    return ET.tostring(build_alert(incident), encoding="utf-8", xml_declaration=True)


@cache
def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(CAP_SCHEMA_FILE)))


def schema_errors(document: bytes) -> list[str]:
    """Why a document is not a valid CAP 1.2 alert (empty when it is)."""
    schema = cap_schema()
    parsed = etree.fromstring(document, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    if schema.validate(parsed):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]
