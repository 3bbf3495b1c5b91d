"""All writes of the GIS side: layer imports and activation, routing rules, the gazetteer."""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from core import clock
from core.errors import Conflict, InvalidInput, NotFound
from gis.boundaries import BoundaryProblem, read_boundary
from gis.importer import PreparedLayer
from gis.models import GazetteerEntry, Jurisdiction, JurisdictionLayer, Level, RoutingRule
from organisation import actions as organisation_actions
from organisation import imports
from organisation.actions import ReferenceChange, record_reference_change
from organisation.models import Agency, AgencyFunction, City, Subject, User, default_city_id, in_city


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
    prepared: PreparedLayer,
    *,
    level: str,
    name: str,
    source: str,
    generated: bool = False,
    activate: bool = True,
    city: City | None = None,
) -> JurisdictionLayer:
    """A new version of the level's layer of one city (None: the default city); that city's active one stays
    until this one is activated. Other cities' layers are never touched."""
    if level not in Level.values:
        raise InvalidInput(_("Unknown level."), fields={"level": [", ".join(Level.values)]})
    try:
        return _import_layer(
            prepared, level=level, name=name, source=source, generated=generated, activate=activate, city=city
        )
    except IntegrityError as exc:
        # Two imports of one level took the same next version number; the unique constraint refused one.
        raise Conflict(
            _("Another import of this level finished first; import again."), code="layer_import_raced"
        ) from exc


def _import_layer(
    prepared: PreparedLayer, *, level: str, name: str, source: str, generated: bool, activate: bool, city: City | None
) -> JurisdictionLayer:
    with transaction.atomic(durable=True):
        city = city or City.objects.order_by("pk").first()
        same_city = in_city(city.pk if city else None)
        version = (JurisdictionLayer.objects.filter(same_city, level=level).aggregate(v=Max("version"))["v"] or 0) + 1
        layer = JurisdictionLayer.objects.create(
            city=city,
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
    """One active layer per city and level: the city's other version of the level is switched off."""
    same_city = in_city(layer.city_id)
    JurisdictionLayer.objects.filter(same_city, level=layer.level, active=True).exclude(pk=layer.pk).update(
        active=False
    )
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


def do_import_routing_rules(
    text: str, *, replace: bool = False, actor: User | None = None, city: City | None = None
) -> int:
    """Routing rules from CSV text (the command and the admin); returns how many were created."""
    header, rows = imports.read_table(text.encode("utf-8"))
    plan = do_import_routing_rule_rows(header, rows, replace=replace, actor=actor, city=city, dry_run=False)
    return plan.counts()["create"]


def do_import_routing_rule_rows(
    header: list[str],
    rows: list[imports.Row],
    *,
    replace: bool = False,
    actor: User | None = None,
    city: City | None = None,
    dry_run: bool = False,
) -> imports.ImportPlan:
    """Routing rules from a table (columns: RULE_COLUMNS; agencies by code, several separated by '|'; ``city``
    by code, else ``city``, else the default city). ``replace`` first deletes the rules of the cities the file
    names, no other city's. Every row is checked before anything is written; errors name their line numbers; an
    agency must belong to the rule's city."""
    missing = [c for c in ("subject", "lead_agency", "lead_function") if c not in header]
    if missing:
        raise InvalidInput(_("Missing columns."), fields={"columns": missing})
    plan = imports.ImportPlan("routing_rules", dry_run=dry_run)
    plan.errors += imports.unknown_column_problems(header, (*RULE_COLUMNS, "city"))
    default_id = default_city_id()
    agencies = {a.code: a for a in Agency.objects.all()}
    subjects = {s.code: s for s in Subject.objects.filter(is_leaf=True)}
    cities = {c.code: c for c in City.objects.all()}
    fallback_city = city or next((c for c in cities.values() if c.pk == default_id), None)
    prepared: list[tuple[dict[str, Any], list[Agency]]] = []
    for line, row in rows:
        problems = []
        rule_city = cities.get(row["city"]) if row.get("city") else fallback_city
        if row.get("city") and rule_city is None:
            problems.append(_("unknown city %(code)s") % {"code": row["city"]})
        city_id = rule_city.pk if rule_city else None

        def foreign(agency: Agency, city_id: int | None = city_id) -> bool:
            return (agency.city_id or default_id) != (city_id or default_id)

        subject = subjects.get(row["subject"]) if row.get("subject") else None
        if row.get("subject") and subject is None:
            problems.append(_("unknown subject %(code)s") % {"code": row["subject"]})
        level = row.get("level", "")
        if level and level not in Level.values:
            problems.append(_("unknown level %(level)s") % {"level": level})
        if not row.get("jurisdiction_code") and not level:
            problems.append(_("name a jurisdiction_code or a level"))
        lead = agencies.get(row["lead_agency"]) if row.get("lead_agency") else None
        if row.get("lead_agency") and lead is None:
            problems.append(_("unknown agency %(code)s") % {"code": row["lead_agency"]})
        elif lead is not None and foreign(lead):
            problems.append(_("agency %(code)s belongs to another city") % {"code": lead.code})
        function = row.get("lead_function", "")
        if function and function not in AgencyFunction.values:
            problems.append(_("unknown function %(function)s") % {"function": function})
        if lead is None and not function:
            problems.append(_("name a lead_agency or a lead_function"))
        co_codes = imports.split_codes(row.get("co_agencies", ""))
        unknown = [c for c in co_codes if c not in agencies]
        if unknown:
            problems.append(_("unknown co-handling agencies %(codes)s") % {"codes": ", ".join(unknown)})
        elsewhere = [c for c in co_codes if c in agencies and foreign(agencies[c])]
        if elsewhere:
            problems.append(_("co-handling agencies of another city %(codes)s") % {"codes": ", ".join(elsewhere)})
        try:
            priority = int(row.get("priority") or 0)
            if not -(2**31) <= priority < 2**31:
                raise ValueError
        except ValueError:
            problems.append(_("priority is not a number: %(value)s") % {"value": row.get("priority")})
            priority = 0
        if problems:
            plan.errors.append(imports.line_problem(line, "; ".join(problems)))
            continue
        values = {
            "city": rule_city,
            "subject": subject,
            "jurisdiction_code": row.get("jurisdiction_code", "")[:20],
            "level": level,
            "lead_agency": lead,
            "lead_function": function,
            "priority": priority,
            "prefer": row.get("prefer", "").lower() in ("1", "true", "yes"),
            "note": row.get("note", "")[:200],
        }
        shown = {k: (getattr(v, "code", v) if v is not None else "") for k, v in values.items()}
        plan.rows.append(
            imports.RowPlan(line, "", "create", {**imports.changes_of(None, shown), "co_agencies": [None, co_codes]})
        )
        prepared.append((values, [agencies[c] for c in co_codes]))
    plan.refuse_if_invalid()
    doomed = RoutingRule.objects.none()
    if replace:
        named = {values["city"].pk if values["city"] else None for values, _co in prepared} or {
            fallback_city.pk if fallback_city else None
        }
        queries = [in_city(city_id, default_id=default_id) for city_id in named]
        doomed = RoutingRule.objects.filter(functools.reduce(operator.or_, queries))
        plan.rows[:0] = [imports.RowPlan(0, str(rule), "delete") for rule in doomed]
    if dry_run:
        return plan
    with transaction.atomic(durable=True):
        doomed.delete()
        for values, co_agencies in prepared:
            rule = RoutingRule.objects.create(**values)
            rule.co_agencies.set(co_agencies)
        action = "replaced" if replace else "imported"
        record_reference_change(actor, ReferenceChange("routing_rule", 0, action, ("count",)), details=[len(prepared)])
    return plan


def do_save_routing_rule(rule: RoutingRule, *, actor: User | None, changed: Sequence[str]) -> RoutingRule:
    """A routing rule edited by a person (the admin): saved, audited, announced. Routing reads the rules
    afresh at every decision, so the next ticket is routed by it."""
    with transaction.atomic():  # the admin's own transaction may enclose it (and then saves co_agencies)
        created = rule.pk is None
        rule.save()
        change = ReferenceChange("routing_rule", rule.pk, "created" if created else "changed", tuple(changed))
        record_reference_change(actor, change)
    return rule


def do_delete_routing_rules(rules: Iterable[RoutingRule], *, actor: User | None) -> int:
    with transaction.atomic():
        count = 0
        for rule in rules:
            rule_id = rule.pk
            rule.delete()
            record_reference_change(actor, ReferenceChange("routing_rule", rule_id, "deleted", ()))
            count += 1
    return count


# --- a city's explicit service area (the management API) ----------------------------------------------

#: ``do_save_city``'s boundary argument when the boundary stays as it is.
KEEP_BOUNDARY = object()


def check_city_boundary(geojson: Any) -> bytes | None:
    """The boundary to store (WKB, WGS84) for a GeoJSON Polygon/MultiPolygon, or None for null (no explicit
    boundary); a 400 naming the ``boundary`` field when it is not a valid, non-empty area in lon/lat ranges."""
    if geojson is None:
        return None
    try:
        return bytes(shapely.to_wkb(read_boundary(geojson)))
    except BoundaryProblem as problem:
        raise InvalidInput(_("Some fields are not valid."), fields={"boundary": [str(problem)]}) from None


def do_save_city(city: City, *, actor: User | None, changed: Sequence[str], boundary: Any = KEEP_BOUNDARY) -> City:
    """A city's fields and, unless KEEP_BOUNDARY, its explicit boundary (WKB from check_city_boundary, or None to
    clear it): saved, audited and announced by organisation's action, whose new change time switches every
    process's routing to the new service area at its next lookup (gis/index.py active_layer_key)."""
    fields = list(changed)
    if boundary is not KEEP_BOUNDARY:
        old = bytes(city.boundary_wkb) if city.boundary_wkb else None
        if city.pk is None or old != boundary:
            fields.append("boundary")
        city.boundary_wkb = boundary
    return organisation_actions.do_save_city(city, actor=actor, changed=sorted(set(fields)))
