"""An incident as an OASIS Common Alerting Protocol 1.2 alert (validated against the OASIS XSD).

Mapping, documented here because it is a policy, not a fact:

* Previews: an incident that was never published is served as a ``Draft`` (``status``) with its own
  identifier, ``<incident number>-draft-<last change, local time>``, and a ``note`` saying so: it never carries
  the identifier or the ``Actual`` status that the real first message gets when the commander publishes.
* ``msgType``: ``Alert`` for the first published revision (and for previews), ``Update`` for later revisions
  (level, place, area or text changed while public), ``Cancel`` once the incident is closed, cancelled or
  merged, or the commander withdrew the public alert. Every message issued is recorded (CapMessage); Updates
  and Cancels reference the whole thread - every earlier message, ``sender,identifier,sent`` triples separated
  by spaces.
* ``identifier``: ``<incident number>-r<alert revision>``; ``sent`` is when that revision was made, in
  China Standard Time with an explicit ``+08:00`` offset and whole seconds (the XSD's pattern).
* ``expires`` (in each ``info``): ``sent`` plus ``HOTLINE["CAP_ALERT_EXPIRES_HOURS"]`` (default 48) for
  Alerts and Updates, plus ``HOTLINE["CAP_CANCEL_EXPIRES_HOURS"]`` (default 24) for a Cancel, which stays in the
  Atom feed until then (emergency/feeds.py).
* Signature: with ``HOTLINE["CAP_SIGNING_KEY_FILE"]`` and ``HOTLINE["CAP_SIGNING_CERT_FILE"]`` set, every
  alert carries an enveloped XML-DSig signature (emergency/cap_signature.py); unset, none (the default).
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
from emergency import cap_signature
from emergency.models import AffectedAreaKind, CapMessage, Incident, IncidentLevel, IncidentType
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


def is_preview(incident: Incident) -> bool:
    """Never published: what the centre would send, not a message it sent."""
    return incident.public_alert_at is None


def status(incident: Incident) -> str:
    return "Draft" if is_preview(incident) else "Actual"


def message_type(incident: Incident) -> str:
    if is_preview(incident):
        return "Alert"
    if incident.state in TERMINAL_INCIDENT_STATES or (not incident.public_alert and incident.alert_revision > 0):
        return "Cancel"
    return "Update" if incident.alert_revision > 1 else "Alert"


def identifier(incident: Incident, revision: int | None = None) -> str:
    if revision is None and is_preview(incident):
        return f"{incident.number}-draft-{incident.updated_at.astimezone(local_zone()):%Y%m%d%H%M%S}"
    return f"{incident.number}-r{max(revision if revision is not None else incident.alert_revision, 1)}"


def sent_at(incident: Incident) -> dt.datetime:
    if is_preview(incident):
        return incident.updated_at
    return incident.alert_sent_at or incident.updated_at


def _hours(name: str, default: float) -> dt.timedelta:
    return dt.timedelta(hours=float(settings.HOTLINE.get(name, default)))


def expires_at(incident: Incident) -> dt.datetime:
    if message_type(incident) == "Cancel":
        return sent_at(incident) + cancel_lifetime()
    return sent_at(incident) + _hours("CAP_ALERT_EXPIRES_HOURS", 48)


def cancel_lifetime() -> dt.timedelta:
    """How long a Cancel is current (its ``expires``), and so how long it stays in the Atom feed."""
    return _hours("CAP_CANCEL_EXPIRES_HOURS", 24)


def references(incident: Incident) -> str:
    """Every earlier message of the incident's thread, oldest first ("" for an Alert or a preview)."""
    if is_preview(incident) or message_type(incident) == "Alert":
        return ""
    thread = CapMessage.objects.filter(incident=incident, revision__lt=incident.alert_revision).order_by("revision")
    return " ".join(f"{cap_sender()},{message.identifier},{cap_time(message.sent_at)}" for message in thread)


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
        _sub(info, "expires", cap_time(expires_at(incident)))
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
    _sub(alert, "status", status(incident))
    _sub(alert, "msgType", kind)
    _sub(alert, "scope", "Public")
    if is_preview(incident):
        _sub(alert, "note", _("Preview of an incident that has not been published; not an alert."))
    thread = references(incident)
    if thread:
        _sub(alert, "references", thread)
    _sub(alert, "incidents", incident.number)
    for language, cap_language in LANGUAGES:
        _info(alert, incident, language, cap_language)
    return alert


def alert_xml(incident: Incident) -> bytes:
    """The alert as sent: signed (enveloped XML-DSig) when a signing key is configured."""
    document = ET.tostring(build_alert(incident), encoding="utf-8", xml_declaration=True)
    return cap_signature.sign(document) if cap_signature.configured() else document


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
