"""An incident as a NENA EIDO (JSON, NENA-STA-021, ``eidoVersion`` "1.0"), valid against NENA's schema.

Mapping, documented here because it is a policy:

* Identity: the centre is an agency whose identifier is ``HOTLINE["EIDO_AGENCY_ID"]`` (a domain name, as NENA
  agency identifiers are); the issuing element is ``HOTLINE["EIDO_ELEMENT_ID"]`` (default: the agency id). The
  incident tracking identifier is ``urn:emergency:uid:incidentid:<incident number>:<agency id>``; it is the
  document's ``$id``, and a centre that imports the document keys the incident on it.
* The incident component carries the type (our code as the internal code, and a word of the NENA incident type
  registry's top level, ``REGISTRY_TYPES``), the state as internal status, the level as internal priority and
  1-4 as common priority number (I = 1).
* One location component with the incident's point or circle, and a second with the affected polygon, as
  PIDF-LO (emergency/eido/pidf.py); the address is the location's description text.
* One note: the title, then the description. Free text goes out as linked agencies read it: typed phone and
  ID-card numbers masked (core.redaction). Callers, their numbers and the calls never leave in an EIDO.
* Agencies: the centre (owning the incident) and every agency linked to it (``<agency code>.<agency id>``).
* A merged incident carries a merge component naming the incident that replaced it.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from django.conf import settings

from core.clock import local_zone
from core.redaction import mask_personal_numbers
from emergency.eido import pidf
from emergency.models import AffectedAreaKind, Incident, IncidentAgency, IncidentLevel, IncidentType

EIDO_VERSION = "1.0"
JSON_LD_CONTEXT = {"@vocab": "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"}
REGISTRY_TYPES: dict[str, str] = {
    IncidentType.FIRE: "Fire",
    IncidentType.TRAFFIC_ACCIDENT: "Traffic",
    IncidentType.FLOOD: "Flood",
    IncidentType.GAS_LEAK: "Hazmat",
    IncidentType.POWER_OUTAGE: "Utility",
    IncidentType.WATER_MAIN_BURST: "Utility",
    IncidentType.BUILDING_COLLAPSE: "Rescue",
    IncidentType.HAZARDOUS_MATERIALS: "Hazmat",
    IncidentType.PUBLIC_HEALTH: "Medical",
    IncidentType.PUBLIC_SECURITY: "Police",
    IncidentType.OTHER: "Other",
}
PRIORITY_NUMBERS = {
    IncidentLevel.ESPECIALLY_SERIOUS: 1,
    IncidentLevel.SERIOUS: 2,
    IncidentLevel.MAJOR: 3,
    IncidentLevel.GENERAL: 4,
}
#: Agency functions -> the IANA urn:emergency:service:responder registry (without the prefix).
RESPONDER_TYPES = {
    "public_security": "police",
    "traffic_police": "police",
    "fire_rescue": "fire",
    "emergency_medical": "ems",
    "health": "ems",
}


def agency_id() -> str:
    return str(settings.HOTLINE.get("EIDO_AGENCY_ID") or "yjld.12345.liuzhou.gov.cn")


def element_id() -> str:
    return str(settings.HOTLINE.get("EIDO_ELEMENT_ID") or agency_id())


def tracking_id(incident: Incident) -> str:
    return f"urn:emergency:uid:incidentid:{incident.number}:{agency_id()}"


def eido_time(moment: dt.datetime) -> str:
    return moment.astimezone(local_zone()).isoformat(timespec="seconds")


def _prologue(component_id: str, at: dt.datetime) -> dict[str, Any]:
    return {
        "$id": component_id,
        "lastUpdateTimeStamp": eido_time(at),
        "updatedByAgencyReference": {"$ref": agency_id()},
    }


def _agencies(incident: Incident, at: dt.datetime) -> list[dict[str, Any]]:
    centre = {
        **_prologue(agency_id(), at),
        "agencyRoleDescriptionRegistryText": ["Owning"],
        "agencyType": ["psap"],
        "incidentOwningAgencyIndicator": True,
    }
    linked = []
    for link in IncidentAgency.objects.filter(incident=incident).select_related("agency").order_by("id"):
        responder = RESPONDER_TYPES.get(link.agency.function)
        linked.append(
            {
                **_prologue(f"{link.agency.code}.{agency_id()}", link.updated_at),
                "agencyRoleDescriptionRegistryText": ["Responding"],
                "agencyType": [responder] if responder else [],
                "incidentOwningAgencyIndicator": False,
            }
        )
    return [centre, *linked]


def _locations(incident: Incident, at: dt.datetime) -> list[dict[str, Any]]:
    entity = f"pres:{incident.number}@{agency_id()}"
    place = mask_personal_numbers(" ".join(p for p in (incident.district_name, incident.address) if p))
    radius = incident.area_radius_m if incident.area_kind == AffectedAreaKind.CIRCLE else None
    point = {
        **_prologue(f"urn:emergency:uid:location:{incident.number}-1:{agency_id()}", at),
        "locationTypeDescriptionRegistryText": "Incident",
        "locationByValue": pidf.point_or_circle(entity, eido_time(at), incident.latitude, incident.longitude, radius),
    }
    if place:
        point["locationDescriptionText"] = place
    locations = [point]
    if incident.area_kind == AffectedAreaKind.POLYGON and incident.area_geojson:
        locations.append(
            {
                **_prologue(f"urn:emergency:uid:location:{incident.number}-2:{agency_id()}", at),
                "locationTypeDescriptionRegistryText": "Incident",
                "locationByValue": pidf.polygon(entity, eido_time(at), incident.area_geojson),
                "locationDescriptionText": "affected area",
            }
        )
    return locations


def note_html(title: str, description: str) -> str:
    """The note: title, then description, as HTML5 text (escaped), numbers masked."""
    parts = [mask_personal_numbers(text) for text in (title, description) if text]
    return "\n".join(html.escape(part, quote=False) for part in parts)


def build_eido(incident: Incident) -> dict[str, Any]:
    at = incident.updated_at
    locations = _locations(incident, at)
    note = {
        **_prologue(f"urn:emergency:uid:note:{incident.number}-1:{agency_id()}", at),
        "notesActionComments": note_html(incident.title, incident.description),
    }
    component: dict[str, Any] = {
        **_prologue(f"urn:emergency:uid:incident:{incident.number}:{agency_id()}", at),
        "incidentTypeCommonRegistryText": REGISTRY_TYPES.get(incident.type, "Other"),
        "incidentTypeInternalCode": incident.type,
        "incidentTypeInternalText": str(IncidentType(incident.type).label),
        "incidentStatusInternalText": [incident.state],
        "internalIncidentId": incident.number,
        "incidentPriorityInternalText": incident.level,
        "incidentCommonPriorityNumber": PRIORITY_NUMBERS[IncidentLevel(incident.level)],
        "locationReference": [{"$ref": location["$id"]} for location in locations],
        "notesReference": [{"$ref": note["$id"]}],
    }
    document: dict[str, Any] = {
        **_prologue(tracking_id(incident), at),
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": element_id(),
        "incidentComponent": component,
        "agencyComponent": _agencies(incident, at),
        "locationComponent": locations,
        "notesComponent": [note],
    }
    if incident.merged_into_id:
        survivor = Incident.objects.get(pk=incident.merged_into_id)
        document["mergeComponent"] = [
            {
                **_prologue(f"urn:emergency:uid:merge:{incident.number}:{agency_id()}", at),
                "incidentTrackingIdentifier": tracking_id(survivor),
                "incidentMergeDirectionCode": "REPLACED",
            }
        ]
    document["@context"] = dict(JSON_LD_CONTEXT)
    return document
