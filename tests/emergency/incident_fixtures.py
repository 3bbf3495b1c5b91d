"""Shared helpers of the incident tests: a district layer, emergency agencies, incidents through the API."""

from __future__ import annotations

from typing import Any

import pytest
import shapely

from gis.actions import do_activate_layer, do_import_layer
from gis.importer import Feature, PreparedLayer
from gis.models import Level
from organisation.actions import do_upsert_agency, do_upsert_user
from organisation.models import Agency, Role
from tests.conftest import World

#: 城中区-like district around the test tickets' point (WGS84).
DISTRICT = shapely.box(109.38, 24.29, 109.44, 24.34)
LON, LAT = 109.4112, 24.3126


def incident_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "fire",
        "level": "III",
        "title": "文惠路居民楼火灾",
        "description": "三楼住户起火，有浓烟。",
        "address": "柳州市城中区文惠路12号",
        "latitude": LAT,
        "longitude": LON,
    }
    body.update(overrides)
    return body


def ok(response: Any, code: int = 200) -> Any:
    assert response.status_code == code, response.content.decode()[:800]
    return response.json()


@pytest.fixture(name="linkage")
def linkage_fixture(world: World) -> World:
    """The world plus a district layer and the emergency services (police, fire, ambulance) with users."""
    prepared = PreparedLayer([Feature("450202", "城中区", DISTRICT, "")], "EPSG:4326", {})
    layer = do_import_layer(prepared, level=Level.DISTRICT, name="test districts", source="test")
    if not layer.active:
        do_activate_layer(layer.pk)
    for code, name, function in (
        ("police", "市公安局", "public_security"),
        ("fire", "市消防救援支队", "fire_rescue"),
        ("ambulance", "市急救中心", "emergency_medical"),
    ):
        do_upsert_agency(code=code, name=name, kind="emergency", function=function)
        do_upsert_user(username=f"{code}_handler", password=None, roles=[Role.AGENCY_HANDLER], agency_code=code)
        world.users[f"{code}_handler"] = do_upsert_user(
            username=f"{code}_handler", password=None, roles=[Role.AGENCY_HANDLER], agency_code=code
        )
    return world


def agency(code: str) -> Agency:
    return Agency.objects.get(code=code)


def create_incident(world: World, who: str = "commander", **overrides: Any) -> dict[str, Any]:
    return ok(world.client(who).post("/api/incidents/", incident_body(**overrides), format="json"), 201)
