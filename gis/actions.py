"""All writes of the GIS side: layer imports and activation, routing rules, the gazetteer, placements."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import shapely
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from callcenter.models import Subject, Ticket
from core import clock
from core.errors import Conflict, InvalidInput, NotFound
from gis.importer import PreparedLayer
from gis.models import GazetteerEntry, Jurisdiction, JurisdictionLayer, Level, RoutingRule, TicketPlacement
from gis.routing import decide, place
from organisation.models import Agency, AgencyFunction


@dataclass(frozen=True)
class GazetteerRow:
    name: str
    normalized: str
    kind: str
    district: str
    latitude: float  # WGS84
    longitude: float  # WGS84
    generated: bool


def do_replace_gazetteer(rows: Iterable[GazetteerRow], *, source: str) -> int:
    """Replace every entry that came from ``source`` with ``rows``; entries of other sources stay."""
    entries = [
        GazetteerEntry(
            name=row.name,
            normalized=row.normalized,
            kind=row.kind,
            district=row.district,
            latitude=row.latitude,
            longitude=row.longitude,
            generated=row.generated,
            source=source,
        )
        for row in rows
    ]
    with transaction.atomic(durable=True):
        GazetteerEntry.objects.filter(source=source).delete()
        GazetteerEntry.objects.bulk_create(entries, batch_size=500)
    return len(entries)


def do_import_layer(
    prepared: PreparedLayer, *, level: str, name: str, source: str, generated: bool = False, activate: bool = True
) -> JurisdictionLayer:
    """A new version of the level's layer; the active one stays until this one is activated."""
    if level not in Level.values:
        raise InvalidInput(_("Unknown level."), fields={"level": [", ".join(Level.values)]})
    try:
        return _import_layer(prepared, level=level, name=name, source=source, generated=generated, activate=activate)
    except IntegrityError as exc:
        # Two imports of one level took the same next version number; the unique constraint refused one.
        raise Conflict(
            _("Another import of this level finished first; import again."), code="layer_import_raced"
        ) from exc


def _import_layer(
    prepared: PreparedLayer, *, level: str, name: str, source: str, generated: bool, activate: bool
) -> JurisdictionLayer:
    with transaction.atomic(durable=True):
        version = (JurisdictionLayer.objects.filter(level=level).aggregate(v=Max("version"))["v"] or 0) + 1
        layer = JurisdictionLayer.objects.create(
            level=level,
            version=version,
            name=name,
            source=source,
            source_crs=prepared.source_crs,
            generated=generated,
            feature_count=len(prepared.features),
            report=prepared.report,
        )
        rows = []
        for feature in prepared.features:
            min_lon, min_lat, max_lon, max_lat = feature.geometry.bounds
            rows.append(
                Jurisdiction(
                    layer=layer,
                    code=feature.code,
                    name=feature.name,
                    parent_code=feature.parent_code,
                    geometry_wkb=shapely.to_wkb(feature.geometry),
                    min_lon=min_lon,
                    min_lat=min_lat,
                    max_lon=max_lon,
                    max_lat=max_lat,
                    properties={**feature.properties, "generated": generated},
                )
            )
        Jurisdiction.objects.bulk_create(rows, batch_size=200)
        if activate:
            _activate(layer)
    return layer


def _activate(layer: JurisdictionLayer) -> None:
    JurisdictionLayer.objects.filter(level=layer.level, active=True).exclude(pk=layer.pk).update(active=False)
    layer.active = True
    layer.activated_at = clock.now()
    layer.save(update_fields=["active", "activated_at"])


def do_activate_layer(layer_id: int) -> JurisdictionLayer:
    """Routing switches to this version in every process at its next lookup (no restart)."""
    with transaction.atomic(durable=True):
        layer = JurisdictionLayer.objects.select_for_update(of=("self",)).filter(pk=layer_id).first()
        if layer is None:
            raise NotFound(_("No such layer."))
        _activate(layer)
    return layer


def record_placement(ticket: Ticket, *, exclude_agency_ids: frozenset[int] = frozenset()) -> TicketPlacement | None:
    """Place a ticket and store the routing proposal; runs inside the caller's transaction."""
    if ticket.latitude is None or ticket.longitude is None:
        return None
    placement = place(ticket.longitude, ticket.latitude)
    decision = decide(ticket.subject, placement, exclude_agency_ids=exclude_agency_ids)

    def name_of(level: str) -> str:
        return placement.places[level].name if level in placement.places else ""

    values: dict[str, Any] = {
        "district_code": placement.code("district"),
        "district_name": name_of("district"),
        "street_code": placement.code("street"),
        "street_name": name_of("street"),
        "grid_code": placement.code("grid"),
        "grid_name": name_of("grid"),
        "layer_versions": {lvl: p.version for lvl, p in placement.places.items()},
        "near_boundary": placement.near_boundary,
        "proposal": decision.as_dict(),
        "placed_at": clock.now(),
    }
    row, _created = TicketPlacement.objects.update_or_create(ticket=ticket, defaults=values)
    return row


def placement_summary(placement: TicketPlacement | None) -> dict[str, Any] | None:
    """What screens and the timeline need of a placement: codes, the boundary flag, the proposed lead."""
    if placement is None:
        return None
    lead = placement.proposal.get("lead") or {}
    return {
        "district": placement.district_code,
        "street": placement.street_code,
        "grid": placement.grid_code,
        "near_boundary": placement.near_boundary,
        "proposed_lead_id": lead.get("id"),
        "layer_versions": placement.layer_versions,
    }


RULE_COLUMNS = (
    "subject",
    "jurisdiction_code",
    "level",
    "lead_agency",
    "lead_function",
    "co_agencies",
    "priority",
    "prefer",
    "note",
)


def do_import_routing_rules(text: str, *, replace: bool = False) -> int:
    """Routing rules from CSV (columns: RULE_COLUMNS; agencies by code, several separated by '|').

    Every row is checked before anything is written; errors name their line numbers.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("subject", "lead_agency", "lead_function") if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(_("Missing columns."), fields={"columns": missing})
    agencies = {a.code: a for a in Agency.objects.all()}
    subjects = {s.code: s for s in Subject.objects.filter(is_leaf=True)}
    errors: list[str] = []
    prepared: list[tuple[dict[str, Any], list[Agency]]] = []
    for line, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        problems = []
        subject = subjects.get(row["subject"]) if row.get("subject") else None
        if row.get("subject") and subject is None:
            problems.append(f"unknown subject {row['subject']}")
        level = row.get("level", "")
        if level and level not in Level.values:
            problems.append(f"unknown level {level}")
        if not row.get("jurisdiction_code") and not level:
            problems.append("name a jurisdiction_code or a level")
        lead = agencies.get(row["lead_agency"]) if row.get("lead_agency") else None
        if row.get("lead_agency") and lead is None:
            problems.append(f"unknown agency {row['lead_agency']}")
        function = row.get("lead_function", "")
        if function and function not in AgencyFunction.values:
            problems.append(f"unknown function {function}")
        if lead is None and not function:
            problems.append("name a lead_agency or a lead_function")
        co_codes = [c for c in row.get("co_agencies", "").split("|") if c]
        unknown = [c for c in co_codes if c not in agencies]
        if unknown:
            problems.append(f"unknown co-handling agencies {', '.join(unknown)}")
        try:
            priority = int(row.get("priority") or 0)
        except ValueError:
            problems.append(f"priority is not a number: {row.get('priority')}")
            priority = 0
        if problems:
            errors.append(f"line {line}: " + "; ".join(problems))
            continue
        prepared.append(
            (
                {
                    "subject": subject,
                    "jurisdiction_code": row.get("jurisdiction_code", ""),
                    "level": level,
                    "lead_agency": lead,
                    "lead_function": function,
                    "priority": priority,
                    "prefer": row.get("prefer", "").lower() in ("1", "true", "yes"),
                    "note": row.get("note", "")[:200],
                },
                [agencies[c] for c in co_codes],
            )
        )
    if errors:
        raise InvalidInput(_("The routing rules were not imported."), fields={"rows": errors})
    with transaction.atomic(durable=True):
        if replace:
            RoutingRule.objects.all().delete()
        for values, co_agencies in prepared:
            rule = RoutingRule.objects.create(**values)
            rule.co_agencies.set(co_agencies)
    return len(prepared)
