"""Reading another centre's EIDO: valid against NENA's schema first, then what this centre needs of it.

The incident tracking identifier is the document's ``$id``. This centre needs an incident component and a
location it can place (a PIDF-LO Point, Circle or Polygon by value; a location only by reference is not
fetched). Type: our own code when the internal code is one (a document this system wrote), else the registry
word mapped back (``export.REGISTRY_TYPES``), else "other". Level: our own when the internal priority is one,
else from the common priority number (1 = I ... 4 and above = IV). Title: the first line of the incident's
first note (else the type's internal text); description: all its notes. Persons, calls and callbacks are not
read: callers' data never enters through an EIDO.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from typing import Any

import shapely
from django.utils.translation import gettext as _

from core.errors import InvalidInput
from emergency.eido import pidf
from emergency.eido.export import PRIORITY_NUMBERS, REGISTRY_TYPES
from emergency.eido.schema import schema_errors
from emergency.models import IncidentLevel, IncidentType

_TAG = re.compile(r"<[^>]*>")
MAX_DOCUMENT_BYTES = 1_000_000


@dataclass
class ImportedEido:
    tracking_id: str
    issuer: str
    sending_agency: str
    updated_at: dt.datetime | None
    #: A report form for emergency.actions.check_report_incident.
    form: dict[str, Any] = field(default_factory=dict)


def _by_id(document: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    return {str(c.get("$id")): c for c in document.get(key) or [] if isinstance(c, dict)}


def _referenced(ids: Any, components: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The components a list of references names, in order; all of them when there is no list."""
    if not isinstance(ids, list):
        return list(components.values())
    return [components[str(r.get("$ref"))] for r in ids if isinstance(r, dict) and str(r.get("$ref")) in components]


def _plain(note: str) -> str:
    return html.unescape(_TAG.sub("\n", note)).strip()


def _type_of(incident: dict[str, Any]) -> str:
    internal = incident.get("incidentTypeInternalCode")
    if internal in IncidentType.values:
        return str(internal)
    registry = str(incident.get("incidentTypeCommonRegistryText", "")).casefold()
    for ours, word in REGISTRY_TYPES.items():
        if word.casefold() == registry:
            return str(ours)
    return IncidentType.OTHER.value


def _level_of(incident: dict[str, Any]) -> str:
    internal = incident.get("incidentPriorityInternalText")
    if internal in IncidentLevel.values:
        return str(internal)
    number = incident.get("incidentCommonPriorityNumber")
    if isinstance(number, int) and not isinstance(number, bool):
        for level, priority in sorted(PRIORITY_NUMBERS.items(), key=lambda item: item[1]):
            if number <= priority:
                return str(level)
    return IncidentLevel.GENERAL.value


def _place(locations: list[dict[str, Any]], form: dict[str, Any]) -> bool:
    """Fill the form's point and area from the locations; False when none can be placed."""
    point: pidf.Shape | None = None
    polygon: pidf.Shape | None = None
    for location in locations:
        value = location.get("locationByValue")
        shape = pidf.read_shape(value) if isinstance(value, str) else None
        if shape is None:
            continue
        if shape.ring is not None:
            polygon = polygon or shape
        else:
            point = point or shape
        if not form.get("address") and isinstance(location.get("locationDescriptionText"), str):
            form["address"] = location["locationDescriptionText"][:200]
    if point is None and polygon is not None and polygon.ring:
        centre = shapely.Polygon(polygon.ring).representative_point()
        point = pidf.Shape(latitude=centre.y, longitude=centre.x)
    if point is None:
        return False
    form["latitude"], form["longitude"] = point.latitude, point.longitude
    if polygon is not None:
        form.update(area_kind="polygon", area_geojson={"type": "Polygon", "coordinates": [polygon.ring]})
    elif point.radius_m:
        form.update(area_kind="circle", area_radius_m=point.radius_m)
    return True


def _parse_time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def read_eido(document: Any) -> ImportedEido:
    """The incident an EIDO describes, as a report form; InvalidInput listing every problem otherwise."""
    errors = schema_errors(document)
    if errors:
        raise InvalidInput(
            _("The document is not a valid EIDO (NENA-STA-021)."), code="invalid_eido", fields={"eido": errors}
        )
    incident = document.get("incidentComponent")
    if not isinstance(incident, dict):
        raise InvalidInput(
            _("The document is not a valid EIDO (NENA-STA-021)."),
            code="invalid_eido",
            fields={"incidentComponent": [_("An incident component is required to take over an incident.")]},
        )
    form: dict[str, Any] = {"type": _type_of(incident), "level": _level_of(incident), "coordinate_system": "wgs84"}
    locations = _referenced(incident.get("locationReference"), _by_id(document, "locationComponent"))
    if not _place(locations, form) and not _place(list(_by_id(document, "locationComponent").values()), form):
        raise InvalidInput(
            _("The document is not a valid EIDO (NENA-STA-021)."),
            code="invalid_eido",
            fields={
                "locationComponent": [
                    _("A location with coordinates (a PIDF-LO Point, Circle or Polygon by value) is required.")
                ]
            },
        )
    notes = [
        _plain(str(note.get("notesActionComments", "")))
        for note in _referenced(incident.get("notesReference"), _by_id(document, "notesComponent"))
    ]
    notes = [note for note in notes if note]
    first_line = notes[0].splitlines()[0].strip() if notes else ""
    form["title"] = (first_line or str(incident.get("incidentTypeInternalText") or form["type"]))[:120]
    form["description"] = "\n\n".join(notes)[:4000]
    agency = document.get("updatedByAgencyReference") or {}
    return ImportedEido(
        tracking_id=str(document["$id"])[:255],
        issuer=str(document.get("issuingElementIdentification", ""))[:255],
        sending_agency=str(agency.get("$ref", ""))[:255],
        updated_at=_parse_time(document.get("lastUpdateTimeStamp")),
        form=form,
    )
