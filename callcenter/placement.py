"""Where a ticket falls on the map and whom routing proposes for it, stored with the ticket at intake
(the geography and the rules are gis/; this is the ticket's record of them)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from callcenter.models import Ticket, TicketPlacement
from core import clock
from core.errors import InvalidInput
from gis.routing import decide, place


def check_service_area(longitude: float, latitude: float) -> None:
    """Refuse a location outside every city's service area when the installation says so
    (HOTLINE["OUTSIDE_SERVICE_AREA"] = "refuse"); otherwise such a ticket is accepted unrouted and flagged."""
    if settings.HOTLINE.get("OUTSIDE_SERVICE_AREA", "accept") != "refuse":
        return
    if place(longitude, latitude).outside_service_area:
        problem = [_("Outside every city's service area.")]
        raise InvalidInput(
            _("The location is outside every city's service area; this installation does not accept it."),
            code="outside_service_area",
            fields={"latitude": problem, "longitude": problem},
        )


def record_placement(ticket: Ticket, *, exclude_agency_ids: frozenset[int] = frozenset()) -> TicketPlacement | None:
    """Place a ticket and store the routing proposal; runs inside the caller's transaction."""
    if ticket.latitude is None or ticket.longitude is None:
        return None
    placement = place(ticket.longitude, ticket.latitude)
    decision = decide(ticket.subject, placement, exclude_agency_ids=exclude_agency_ids)
    if placement.city_id is not None and ticket.city_id != placement.city_id:
        # The ticket belongs to the city whose service area holds it (outside every one: the accepting centre's).
        ticket.city_id = placement.city_id
        ticket.save(update_fields=["city"])

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
