"""Routing: point -> city -> jurisdictions -> rules -> agencies, with the reasons for every decision.

First the city whose service area holds the point (gis/index.py CityIndex); then only that city's active layers,
routing rules and agencies take part. A point outside every city's service area is not routed at all: the
decision says so (reason ``outside_service_area``), with no lead and no candidates.

Order of decision within the city:
1. matching routing rules, best first by: preferred flag, then priority, then specificity (a rule naming
   one jurisdiction beats a level rule; finer levels beat coarser ones; a rule for the subject beats a
   rule for any subject), then the oldest rule;
2. fallback: the subject's default agency function within the containing district;
3. fallback: the city-wide agency with that function;
4. fallback: the district government.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _

from gis.index import OUTSIDE, CityIndex, current_index
from gis.models import LEVELS, RoutingRule
from organisation.models import Agency, AgencyFunction, AgencyKind, City, Subject, in_city, in_language

NEAR_BOUNDARY_METRES = 50.0
CITY_WIDE_KINDS = (AgencyKind.DEPARTMENT, AgencyKind.UTILITY, AgencyKind.EMERGENCY)


@dataclass
class Place:
    level: str
    code: str
    name: str
    layer_id: int
    version: int


@dataclass
class Placement:
    longitude: float
    latitude: float
    places: dict[str, Place] = field(default_factory=dict)
    near: list[dict[str, Any]] = field(default_factory=list)
    #: The city whose service area holds the point (None: outside every one, or before any city exists).
    city_id: int | None = None
    city_code: str = ""
    city_name: str = ""
    city_name_en: str = ""
    outside_service_area: bool = False
    default_city_id: int | None = None

    @property
    def near_boundary(self) -> bool:
        return bool(self.near)

    def code(self, level: str) -> str:
        return self.places[level].code if level in self.places else ""

    def as_dict(self) -> dict[str, Any]:
        city = (
            {"id": self.city_id, "code": self.city_code, "name": in_language(self.city_name, self.city_name_en)}
            if self.city_id is not None
            else None
        )
        return {
            "city": city,
            "outside_service_area": self.outside_service_area,
            "places": {
                lvl: {"code": p.code, "name": p.name, "layer_version": p.version} for lvl, p in self.places.items()
            },
            "near_boundary": self.near_boundary,
            "near": self.near,
        }


@dataclass
class Decision:
    lead: Agency | None
    co_handlers: list[Agency]
    candidates: list[Agency]
    reasons: list[dict[str, Any]]
    placement: Placement | None
    rule_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        def brief(agency: Agency) -> dict[str, Any]:
            return {"id": agency.pk, "code": agency.code, "name": agency.display_name}

        return {
            "lead": brief(self.lead) if self.lead else None,
            "co_handlers": [brief(a) for a in self.co_handlers],
            "candidates": [brief(a) for a in self.candidates],
            "reasons": self.reasons,
            "rule_id": self.rule_id,
            "outside_service_area": bool(self.placement and self.placement.outside_service_area),
            "near_boundary": bool(self.placement and self.placement.near_boundary),
            "placement": self.placement.as_dict() if self.placement else None,
        }


def place(longitude: float, latitude: float, *, near_metres: float = NEAR_BOUNDARY_METRES) -> Placement:
    """Which city's service area holds the point, which polygon of each of that city's active levels holds it,
    and which other jurisdictions are close."""
    index = current_index()
    city = index.city_at(longitude, latitude)
    placement = Placement(longitude=longitude, latitude=latitude, default_city_id=index.default_city_id)
    if city is None:
        placement.outside_service_area = True
        return placement
    placement.city_id, placement.city_code = city.city_id, city.code
    placement.city_name, placement.city_name_en = city.name, city.name_en
    _place_in(placement, city, near_metres)
    return placement


def _place_in(placement: Placement, city: CityIndex, near_metres: float) -> None:
    longitude, latitude = placement.longitude, placement.latitude
    for level, layer in city.layers.items():
        found = layer.locate_one(longitude, latitude)
        if found == OUTSIDE:
            continue
        placement.places[level] = Place(
            level, str(layer.codes[found]), str(layer.names[found]), layer.layer_id, layer.version
        )
        for neighbour, metres in layer.neighbours_within(longitude, latitude, near_metres, found):
            placement.near.append(
                {
                    "level": level,
                    "code": str(layer.codes[neighbour]),
                    "name": str(layer.names[neighbour]),
                    "metres": metres,
                }
            )


def locate_many(longitudes: npt.ArrayLike, latitudes: npt.ArrayLike) -> dict[str, npt.NDArray[np.str_]]:
    """Bulk routing of arrays of points to the code of their polygon per level of the default city's layers
    ('' outside)."""
    result: dict[str, npt.NDArray[np.str_]] = {}
    for level, layer in current_index().layers.items():
        found = layer.locate(longitudes, latitudes)
        codes = (
            np.where(found == OUTSIDE, "", layer.codes[np.where(found == OUTSIDE, 0, found)])
            if len(layer.codes)
            else np.full(len(found), "")
        )
        result[level] = codes
    return result


def proposal_for(ticket: Any, *, exclude_agency_ids: frozenset[int] = frozenset()) -> Decision | None:
    """The location-based proposal for dispatching a ticket now, or None when it has no place on the map."""
    if ticket.latitude is None or ticket.longitude is None:
        return None
    placement = place(ticket.longitude, ticket.latitude)
    if not placement.places and not placement.outside_service_area:
        return None
    return decide(ticket.subject, placement, exclude_agency_ids=exclude_agency_ids)


def _specificity(rule: RoutingRule, placement: Placement) -> int:
    level = rule.level or next((lvl for lvl in LEVELS if placement.code(lvl) == rule.jurisdiction_code), "")
    depth = LEVELS.index(level) if level in LEVELS else 0  # type: ignore[arg-type]
    return depth * 4 + (2 if rule.jurisdiction_code else 0) + (1 if rule.subject_id else 0)


def _agency_serving(function: str, adcode: str, city: Q) -> Agency | None:
    return (
        (
            Agency.objects.filter(city, active=True, function=function, adcode=adcode)
            .order_by("sort_order", "id")
            .first()
        )
        if function and adcode
        else None
    )


def _city_adcode(city_id: int | None) -> str:
    adcode = City.objects.filter(pk=city_id).values_list("adcode", flat=True).first() if city_id else None
    return adcode or settings.HOTLINE["CITY_ADCODE"]


def _city_wide(function: str, city_id: int | None, city: Q) -> Agency | None:
    if not function:
        return None
    return (
        Agency.objects.filter(
            city, active=True, function=function, kind__in=CITY_WIDE_KINDS, adcode__in=[_city_adcode(city_id), ""]
        )
        .order_by("sort_order", "id")
        .first()
    )


def _rule_lead(rule: RoutingRule, placement: Placement, city: Q) -> Agency | None:
    if rule.lead_agency_id:
        return rule.lead_agency if rule.lead_agency and rule.lead_agency.active else None
    code = rule.jurisdiction_code or placement.code(rule.level)
    return _agency_serving(rule.lead_function, code, city)


def _not_routed(placement: Placement) -> Decision:
    text = _("The point is outside every city's service area: it is not routed. Check the location.")
    return Decision(
        lead=None,
        co_handlers=[],
        candidates=[],
        reasons=[{"code": "outside_service_area", "text": text}],
        placement=placement,
    )


def decide(
    subject: Subject, placement: Placement | None, *, exclude_agency_ids: frozenset[int] = frozenset()
) -> Decision:
    if placement is not None and placement.outside_service_area:
        return _not_routed(placement)
    reasons: list[dict[str, Any]] = []
    ordered: list[tuple[Agency, RoutingRule | None]] = []
    # Without a place: the default city's agencies (rows naming no city belong to it too).
    city_id = placement.city_id if placement is not None else None
    agencies_q = in_city(city_id)
    if placement is None:
        reasons.append({"code": "no_location", "text": _("The ticket has no location.")})
    else:
        if not placement.places:
            reasons.append({"code": "outside", "text": _("The point is outside every jurisdiction.")})
        for level, found in placement.places.items():
            reasons.append(
                {
                    "code": "located",
                    "level": level,
                    "jurisdiction": found.code,
                    "name": found.name,
                    "layer_version": found.version,
                    "text": _("In %(name)s (%(code)s), layer version %(version)s.")
                    % {"name": found.name, "code": found.code, "version": found.version},
                }
            )
        if placement.near_boundary:
            names = ", ".join(f"{n['name']} ({n['metres']} m)" for n in placement.near)
            reasons.append(
                {
                    "code": "near_boundary",
                    "near": placement.near,
                    "text": _("Near another jurisdiction: %(names)s. Confirm the location.") % {"names": names},
                }
            )
        codes = [p.code for p in placement.places.values()]
        rules = list(
            RoutingRule.objects.filter(in_city(city_id), active=True)
            .filter(Q(subject=subject) | Q(subject__isnull=True))
            .filter(Q(jurisdiction_code__in=codes) | Q(level__in=list(placement.places)))
            .select_related("lead_agency")
            .prefetch_related("co_agencies")
        )
        rules.sort(key=lambda r: (not r.prefer, -r.priority, -_specificity(r, placement), r.pk))
        for rule in rules:
            lead = _rule_lead(rule, placement, agencies_q)
            if lead is not None:
                ordered.append((lead, rule))
    district = placement.code("district") if placement else ""
    function = subject.default_agency_function
    fallbacks = [
        (
            _agency_serving(function, district, agencies_q),
            "fallback_district_function",
            _("The subject's default function (%(f)s) in the district."),
        ),
        (
            _city_wide(function, city_id, agencies_q),
            "fallback_city_function",
            _("The city-wide agency for the subject's function (%(f)s)."),
        ),
        (
            _agency_serving(AgencyFunction.DISTRICT_GOVERNMENT, district, agencies_q),
            "fallback_district_government",
            _("The district government."),
        ),
    ]
    fallback_reason: dict[str, dict[str, Any]] = {}
    for agency, code, text in fallbacks:
        if agency is not None:
            ordered.append((agency, None))
            fallback_reason.setdefault(agency.code, {"code": code, "text": text % {"f": function}})
    candidates: list[Agency] = []
    for agency, _rule in ordered:
        if agency.pk not in exclude_agency_ids and all(c.pk != agency.pk for c in candidates):
            candidates.append(agency)
    lead = candidates[0] if candidates else None
    chosen = next((rule for agency, rule in ordered if lead is not None and agency.pk == lead.pk), None)
    co_handlers: list[Agency] = []
    if chosen is not None:
        reasons.append(
            {
                "code": "rule",
                "rule_id": chosen.pk,
                "text": _("Routing rule %(id)s: %(rule)s.") % {"id": chosen.pk, "rule": str(chosen)},
            }
        )
        co_handlers = [
            a
            for a in chosen.co_agencies.all()
            if a.active
            and a.pk != lead.pk  # type: ignore[union-attr]
            and a.pk not in exclude_agency_ids
        ]
    elif lead is not None:
        reasons.append(fallback_reason[lead.code])
    else:
        reasons.append({"code": "no_agency", "text": _("No agency found; dispatch by hand.")})
    if exclude_agency_ids:
        reasons.append(
            {
                "code": "excluded",
                "agency_ids": sorted(exclude_agency_ids),
                "text": _("Agencies that returned this ticket are left out."),
            }
        )
    return Decision(
        lead=lead,
        co_handlers=co_handlers,
        candidates=candidates,
        reasons=reasons,
        placement=placement,
        rule_id=chosen.pk if chosen else None,
    )
