"""Two cities served side by side by one installation: each routes its own points with its own layers, rules
and agencies; a point outside every service area is never silently routed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import shapely
from django.db import IntegrityError, transaction

from callcenter.models import Ticket
from gis.actions import do_activate_layer, do_import_layer, do_import_routing_rules
from gis.importer import Feature, PreparedLayer
from gis.models import JurisdictionLayer, Level
from gis.routing import decide, place
from organisation.actions import do_save_city, do_upsert_agency, do_upsert_user
from organisation.models import City, Role, Subject
from tests.conftest import World, ticket_payload

# Alpha: two districts around (109.40, 24.31); beta: one district far away, around (110.31, 25.28).
ALPHA_WEST = shapely.box(109.38, 24.30, 109.40, 24.32)
ALPHA_EAST = shapely.box(109.40, 24.30, 109.42, 24.32)
BETA_ONE = shapely.box(110.28, 25.26, 110.34, 25.30)
IN_ALPHA_WEST = (109.39, 24.31)
IN_BETA = (110.31, 25.28)
NOWHERE = (-122.42, 37.77)  # San Francisco: no city of this installation


@dataclass
class Cities:
    world: World
    alpha: City
    beta: City


def _layer(city: City, level: str, features: list[tuple[str, str, shapely.Geometry]]) -> JurisdictionLayer:
    prepared = PreparedLayer([Feature(code, name, geom) for code, name, geom in features], "EPSG:4326", {})
    return do_import_layer(prepared, level=level, name=f"{city.code} {level}", source="test", city=city)


def _subject(code: str) -> Subject:
    return Subject.objects.get(code=code)


@pytest.fixture
def cities(world: World) -> Cities:
    return two_cities(world)


def two_cities(world: World) -> Cities:
    """Alpha and beta side by side, each with its agencies, district layer and routing rules."""
    alpha = do_save_city(City(code="alpha", name="甲市", adcode="100100"), actor=None, changed=["code"])
    beta = do_save_city(City(code="beta", name="乙市", name_en="Beta", adcode="200100"), actor=None, changed=["code"])
    for code, name, function, adcode, kind, city in [
        ("alpha-water", "甲市自来水公司", "water_supply", "100100", "utility", alpha),
        ("alpha-cgj", "甲市城管局", "urban_management", "100100", "department", alpha),
        ("alpha-west-gov", "甲市西区政府", "district_government", "A1", "district", alpha),
        ("beta-cgj", "乙市城管局", "urban_management", "200100", "department", beta),
        ("beta-gov", "乙市一区政府", "district_government", "B1", "district", beta),
        ("beta-zjj", "乙市住建局", "housing", "200100", "department", beta),
    ]:
        agency = do_upsert_agency(code=code, name=name, kind=kind, function=function, adcode=adcode)
        agency.city = city
        agency.save(update_fields=["city"])
    _layer(alpha, Level.DISTRICT, [("A1", "甲西区", ALPHA_WEST), ("A2", "甲东区", ALPHA_EAST)])
    _layer(beta, Level.DISTRICT, [("B1", "乙一区", BETA_ONE)])
    # Alpha's city-wide rule (every subject at district level to the water company, high priority) is the kind
    # that once outranked another city's rules; beta has its own rule for garbage.
    do_import_routing_rules(
        "subject,level,jurisdiction_code,lead_agency,lead_function,priority\n,district,,alpha-water,,50\n",
        city=alpha,
    )
    do_import_routing_rules(
        "subject,level,jurisdiction_code,lead_agency,lead_function,priority\nt-garbage,,B1,beta-gov,,1\n", city=beta
    )
    return Cities(world, alpha, beta)


def test_both_cities_keep_their_own_active_district_layer(cities: Cities) -> None:
    active = JurisdictionLayer.objects.filter(level=Level.DISTRICT, active=True)
    assert sorted(layer.city.code for layer in active if layer.city) == ["alpha", "beta"]
    # A new version for beta switches beta only; alpha's layer stays active.
    newer = _layer(cities.beta, Level.DISTRICT, [("B1", "乙一区", BETA_ONE.buffer(0.01))])
    assert newer.version == 2
    assert JurisdictionLayer.objects.get(city=cities.alpha, level=Level.DISTRICT).active
    assert place(*IN_ALPHA_WEST).code("district") == "A1"
    assert place(*IN_BETA).places["district"].version == 2
    # The database itself refuses two active layers of one level in one city.
    older = JurisdictionLayer.objects.get(city=cities.beta, level=Level.DISTRICT, version=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        JurisdictionLayer.objects.filter(pk=older.pk).update(active=True)
    do_activate_layer(older.pk)
    assert place(*IN_BETA).places["district"].version == 1
    assert JurisdictionLayer.objects.filter(level=Level.DISTRICT, active=True).count() == 2


def test_each_city_routes_its_own_points_with_its_own_rules(cities: Cities) -> None:
    in_alpha = place(*IN_ALPHA_WEST)
    assert (in_alpha.city_id, in_alpha.code("district")) == (cities.alpha.pk, "A1")
    assert in_alpha.as_dict()["city"] == {"id": cities.alpha.pk, "code": "alpha", "name": "甲市"}
    assert decide(_subject("t-garbage"), in_alpha).lead.code == "alpha-water"  # type: ignore[union-attr]

    in_beta = place(*IN_BETA)
    assert (in_beta.city_id, in_beta.code("district")) == (cities.beta.pk, "B1")
    garbage = decide(_subject("t-garbage"), in_beta)
    assert garbage.lead is not None and garbage.lead.code == "beta-gov"
    # Alpha's priority-50 rule for every subject does not reach beta's points: no alpha agency is a candidate.
    for code in ("t-garbage", "t-vendors", "t-property"):
        decision = decide(_subject(code), in_beta)
        assert decision.candidates and all(a.city_id == cities.beta.pk for a in decision.candidates), code
    # Fallbacks are beta's too: the city-wide agency of the function is beta's (by beta's adcode), not alpha's.
    vendors = decide(_subject("t-vendors"), in_beta)
    assert vendors.lead is not None and vendors.lead.code == "beta-cgj"
    assert vendors.reasons[-1]["code"] == "fallback_city_function"
    property_ = decide(_subject("t-property"), in_beta)
    assert property_.lead is not None and property_.lead.code == "beta-zjj"


def test_a_point_outside_every_service_area_is_not_routed(cities: Cities) -> None:
    outside = place(*NOWHERE)
    assert outside.outside_service_area and outside.city_id is None and outside.places == {}
    decision = decide(_subject("t-garbage"), outside)
    assert decision.lead is None and decision.candidates == [] and decision.co_handlers == []
    assert [r["code"] for r in decision.reasons] == ["outside_service_area"]
    assert decision.as_dict()["outside_service_area"] is True
    # A point in the gap between the cities is outside as well (a service area is the city's polygons, not a box).
    assert place(109.9, 24.8).outside_service_area


def test_an_explicit_boundary_is_the_service_area(cities: Cities) -> None:
    gap = (109.9, 24.8)
    cities.alpha.boundary_wkb = shapely.to_wkb(shapely.box(109.3, 24.2, 110.0, 24.9))
    do_save_city(cities.alpha, actor=None, changed=["boundary"])
    placed = place(*gap)
    assert not placed.outside_service_area and placed.city_id == cities.alpha.pk and placed.places == {}
    # Inside the service area but in no district: routed by alpha's fallbacks (the world's city-wide bureau,
    # which names no city and so is alpha's, comes first), never by beta's.
    decision = decide(_subject("t-vendors"), placed)
    assert [a.code for a in decision.candidates] == ["cgj"]
    # An inactive city serves nothing.
    cities.beta.active = False
    do_save_city(cities.beta, actor=None, changed=["active"])
    assert place(*IN_BETA).outside_service_area


def test_rows_naming_no_city_belong_to_the_first_city(cities: Cities) -> None:
    # The world's agencies name no city: they are alpha's (the first created), never beta's.
    in_beta = place(*IN_BETA)
    assert all(a.code not in ("cgj", "zjj", "sjj") for a in decide(_subject("t-property"), in_beta).candidates)
    in_alpha = place(*IN_ALPHA_WEST)
    alpha_rules_off = decide(_subject("t-property"), in_alpha, exclude_agency_ids=frozenset({_water(cities)}))
    assert alpha_rules_off.lead is not None and alpha_rules_off.lead.code == "zjj"  # city-wide housing, no city


def _water(cities: Cities) -> int:
    from organisation.models import Agency

    return Agency.objects.get(code="alpha-water").pk


def test_intake_records_the_city_and_centre_staff_see_only_their_city(cities: Cities) -> None:
    from organisation.models import Agency

    beta_centre = do_upsert_agency(code="beta-12345", name="乙市12345", kind="centre", function="hotline")
    beta_centre.city = cities.beta
    beta_centre.save(update_fields=["city"])
    beta_operator = do_upsert_user(
        username="beta_operator", password=None, roles=[Role.OPERATOR], agency_code="beta-12345"
    )
    alpha_operator = cities.world.users["operator"]
    alpha_operator.city = cities.alpha
    alpha_operator.save(update_fields=["city"])
    client = cities.world.client("operator")
    lon, lat = IN_BETA
    created = client.post("/api/tickets/", ticket_payload(latitude=lat, longitude=lon), format="json")
    assert created.status_code == 201, created.content
    ticket = Ticket.objects.get(pk=created.json()["id"])
    assert ticket.city_id == cities.beta.pk  # the place decides the city, not the centre that took the call
    assert ticket.placement.proposal["lead"]["code"] == "beta-gov"

    from rest_framework.test import APIClient

    beta_client = APIClient()
    beta_client.force_authenticate(beta_operator)
    assert beta_client.get(f"/api/tickets/{ticket.pk}/").status_code == 200
    # Each centre's map shows its own city's districts.
    beta_map = beta_client.get("/api/geo/layers/district/").json()
    assert [f["id"] for f in beta_map["features"]] == ["B1"]
    assert [f["id"] for f in client.get("/api/geo/layers/district/").json()["features"]] == ["A1", "A2"]
    # Alpha's staff: not their city's ticket (only the operator who accepted it still sees it).
    assert client.get(f"/api/tickets/{ticket.pk}/").status_code == 200
    alpha_dispatcher = cities.world.users["dispatcher"]
    alpha_dispatcher.city = cities.alpha
    alpha_dispatcher.save(update_fields=["city"])
    dispatcher = cities.world.client("dispatcher")
    assert dispatcher.get(f"/api/tickets/{ticket.pk}/").status_code == 404
    assert ticket.pk not in {row["id"] for row in dispatcher.get("/api/tickets/").json()["results"]}
    own = beta_client.post("/api/tickets/", ticket_payload(latitude=IN_ALPHA_WEST[1], longitude=IN_ALPHA_WEST[0]))
    assert own.status_code == 201 and Ticket.objects.get(pk=own.json()["id"]).city_id == cities.alpha.pk
    assert own.json()["id"] in {row["id"] for row in dispatcher.get("/api/tickets/").json()["results"]}
    # Staff named to no city (an installation-wide administrator) see every city's tickets.
    assert cities.world.client("admin").get(f"/api/tickets/{ticket.pk}/").status_code == 200
    assert Agency.objects.get(code="beta-gov").city_id == cities.beta.pk


def test_hotspots_and_unit_districts_use_the_city_of_the_viewer_and_of_the_incident(cities: Cities) -> None:
    from types import SimpleNamespace

    import numpy as np
    from rest_framework.test import APIClient

    from callcenter.actions import do_create_ticket
    from emergency.units.recommendation import _in_district

    world = cities.world
    beta_operator = do_upsert_user(username="beta-operator", password=None, roles=[Role.OPERATOR], agency_code=None)
    beta_operator.city = cities.beta
    beta_operator.save(update_fields=["city"])
    lon, lat = IN_BETA
    do_create_ticket(ticket_payload(longitude=lon, latitude=lat), actor=world.users["operator"])
    client = APIClient()
    client.force_authenticate(beta_operator)
    hot = client.get("/api/geo/hotspots/?level=district").json()
    # Beta's staff see beta's districts (the default city is alpha, which holds no such ticket).
    assert [(f["id"], f["properties"]["count"]) for f in hot["features"]] == [("B1", 1)]
    # A unit beside a beta incident is in its district: beta's district layer, not the default city's.
    inside = _in_district(SimpleNamespace(district_code=""), lon, lat, np.array([lon + 0.001]), np.array([lat]))
    assert inside.tolist() == [True]
