"""Intake of a point outside every city's service area: accepted unrouted and flagged, or refused, by setting;
never silently routed to some agency."""

from __future__ import annotations

from typing import Any

import pytest
import shapely

from callcenter.models import Ticket
from gis.actions import do_import_layer
from gis.importer import Feature, PreparedLayer
from gis.models import Level
from organisation.actions import do_save_city
from organisation.models import City
from tests.conftest import World, ticket_payload

SAN_FRANCISCO = {"latitude": 37.7749, "longitude": -122.4194}
IN_CITY = {"latitude": 24.31, "longitude": 109.39}


@pytest.fixture
def served(world: World) -> City:
    city = do_save_city(City(code="liuzhou", name="柳州市", adcode="450200"), actor=None, changed=["code"])
    prepared = PreparedLayer([Feature("D1", "西区", shapely.box(109.38, 24.30, 109.40, 24.32))], "EPSG:4326", {})
    do_import_layer(prepared, level=Level.DISTRICT, name="districts", source="test", city=city)
    return city


def test_outside_point_is_accepted_unrouted_and_flagged(world: World, served: City, settings: Any) -> None:
    settings.HOTLINE = {**settings.HOTLINE, "OUTSIDE_SERVICE_AREA": "accept"}
    client = world.client("operator")
    created = client.post("/api/tickets/", ticket_payload(**SAN_FRANCISCO), format="json")
    assert created.status_code == 201, created.content
    ticket = Ticket.objects.get(pk=created.json()["id"])
    proposal = ticket.placement.proposal
    assert proposal["lead"] is None and proposal["candidates"] == []
    assert proposal["outside_service_area"] is True
    assert [r["code"] for r in proposal["reasons"]] == ["outside_service_area"]
    # The ticket's routing answer says so too, and proposes nobody.
    routing = client.get(f"/api/tickets/{ticket.pk}/routing/").json()
    assert routing["proposal"]["outside_service_area"] is True and routing["proposal"]["lead"] is None
    # The operator's live preview (the console) gets the same answer with its code.
    preview = client.post("/api/geo/route/", {**SAN_FRANCISCO, "subject": "t-garbage"}, format="json").json()
    assert preview["outside_service_area"] is True and preview["lead"] is None
    assert preview["placement"]["outside_service_area"] is True and preview["placement"]["city"] is None
    reverse = client.get("/api/geo/reverse/", SAN_FRANCISCO).json()
    assert reverse["outside_service_area"] is True


def test_outside_point_is_refused_when_so_configured(world: World, served: City, settings: Any) -> None:
    settings.HOTLINE = {**settings.HOTLINE, "OUTSIDE_SERVICE_AREA": "refuse"}
    client = world.client("operator")
    refused = client.post("/api/tickets/", ticket_payload(**SAN_FRANCISCO), format="json")
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "outside_service_area" and set(body["fields"]) == {"latitude", "longitude"}
    assert not Ticket.objects.exists()
    # A point inside the service area is accepted and placed in its city.
    inside = client.post("/api/tickets/", ticket_payload(**IN_CITY), format="json")
    assert inside.status_code == 201
    ticket = Ticket.objects.get(pk=inside.json()["id"])
    assert ticket.city_id == served.pk and ticket.placement.district_code == "D1"
    # A ticket without a location is not refused: it has no point to judge.
    no_place = client.post("/api/tickets/", ticket_payload(latitude=None, longitude=None), format="json")
    assert no_place.status_code == 201
