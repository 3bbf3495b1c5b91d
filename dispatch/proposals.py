"""A first dispatch proposal from the subject alone: which agency normally handles it, and why.

Location-aware routing (jurisdiction polygons and the routing matrix) refines this in the GIS layer;
this is the fallback it ends in, and what the operator sees when a ticket has no location.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from callcenter.models import Subject
from dispatch.models import Agency, AgencyFunction, AgencyKind

CITY_WIDE_KINDS = (AgencyKind.DEPARTMENT, AgencyKind.UTILITY, AgencyKind.EMERGENCY)


@dataclass
class Proposal:
    lead: Agency | None
    candidates: list[Agency] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def propose_by_subject(subject: Subject, *, district_adcode: str = "") -> Proposal:
    function = subject.default_agency_function
    active = Agency.objects.filter(active=True)
    reasons: list[str] = []
    candidates: list[Agency] = []
    if function:
        if district_adcode:
            candidates += list(active.filter(function=function, adcode=district_adcode).order_by("sort_order", "id"))
            if candidates:
                reasons.append(f"subject {subject.code} -> {function} in district {district_adcode}")
        city = list(
            active.filter(function=function, kind__in=CITY_WIDE_KINDS, adcode__in=[settings.HOTLINE["CITY_ADCODE"], ""])
            .exclude(pk__in=[a.pk for a in candidates])
            .order_by("sort_order", "id")
        )
        if city and not candidates:
            reasons.append(f"subject {subject.code} -> city-wide {function}")
        candidates += city
    if not candidates and district_adcode:
        candidates = list(
            active.filter(function=AgencyFunction.DISTRICT_GOVERNMENT, adcode=district_adcode, kind=AgencyKind.DISTRICT)
        )
        if candidates:
            reasons.append(f"fallback: district government of {district_adcode}")
    return Proposal(lead=candidates[0] if candidates else None, candidates=candidates, reasons=reasons)
