"""Cities through the management API with their explicit service area (a GeoJSON boundary): set, changed and
cleared, routing follows at once; bad geometry is a 400 naming the field that changes nothing; only
administrators; a city something refers to is not deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import shapely
from rest_framework.test import APIClient

from core import clock
from gis.actions import do_import_layer
from gis.importer import Feature, PreparedLayer
from gis.index import current_index
from gis.models import Level
from gis.routing import place
from organisation.models import Agency, AuditEntry, City
from tests.conftest import World

# The default city has one district around (109.39, 24.31); the new city's areas lie far from it.
HOME_DISTRICT = shapely.box(109.38, 24.30, 109.40, 24.32)
IN_HOME = (109.39, 24.31)
FIRST_AREA = [[110.20, 25.20], [110.40, 25.20], [110.40, 25.40], [110.20, 25.40], [110.20, 25.20]]
IN_FIRST = (110.30, 25.30)
SECOND_AREA = [[111.00, 26.00], [111.20, 26.00], [111.20, 26.20], [111.00, 26.20], [111.00, 26.00]]
IN_SECOND = (111.10, 26.10)


def _polygon(ring: list[Any]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def admin(world: World) -> APIClient:
    client = world.client("admin")
    assert client.post("/api/manage/cities/", {"code": "home", "name": "本市"}, format="json").status_code == 201
    home = City.objects.get(code="home")
    prepared = PreparedLayer([Feature("D1", "一区", HOME_DISTRICT)], "EPSG:4326", {})
    do_import_layer(prepared, level=Level.DISTRICT, name="districts", source="test", city=home)
    return client


def _create_beta(admin: APIClient, boundary: Any = None) -> dict[str, Any]:
    body = {"code": "beta", "name": "乙市", "name_en": "Beta", "boundary": boundary}
    created = admin.post("/api/manage/cities/", body, format="json")
    assert created.status_code == 201, created.content
    return dict(created.json())


def test_a_boundary_set_changed_and_cleared_routes_at_once(admin: APIClient) -> None:
    made = _create_beta(admin, _polygon(FIRST_AREA))
    assert made["boundary"]["type"] == "Polygon"
    assert shapely.geometry.shape(made["boundary"]).equals(shapely.Polygon(FIRST_AREA))
    beta = City.objects.get(code="beta")
    created_entry = AuditEntry.objects.get(action="city_created", target_id=beta.pk)
    assert "boundary" in created_entry.fields[0]["fields"]
    # A point inside the new boundary is the new city's; the default city keeps its own.
    assert place(*IN_FIRST).city_code == "beta" and not place(*IN_FIRST).outside_service_area
    city = current_index().city_at(*IN_FIRST)
    assert city is not None and city.code == "beta"
    assert place(*IN_HOME).city_code == "home" and place(*IN_SECOND).outside_service_area

    # Moved, under a pinned clock (as the demo loader and the tests run): routing follows at the next lookup.
    with clock.pinned_at(dt.datetime(2026, 6, 15, 10, tzinfo=clock.local_zone())):
        multi = {"type": "MultiPolygon", "coordinates": [[SECOND_AREA]]}
        moved = admin.patch(f"/api/manage/cities/{beta.pk}/", {"boundary": multi}, format="json")
        assert moved.status_code == 200, moved.content
        assert moved.json()["boundary"]["type"] == "MultiPolygon"
        assert place(*IN_SECOND).city_code == "beta"
        assert place(*IN_FIRST).outside_service_area
        renamed = admin.patch(f"/api/manage/cities/{beta.pk}/", {"name": "乙市新名"}, format="json")
        assert renamed.status_code == 200 and renamed.json()["boundary"]["type"] == "MultiPolygon"
        assert place(*IN_SECOND).city_name == "乙市新名"
    changed = AuditEntry.objects.filter(action="city_changed", target_id=beta.pk).order_by("pk")
    assert [entry.fields[0]["fields"] for entry in changed] == [["boundary"], ["name"]]

    # Cleared: the city has no layer, so no service area; its points are outside every one.
    cleared = admin.patch(f"/api/manage/cities/{beta.pk}/", {"boundary": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["boundary"] is None
    assert City.objects.get(pk=beta.pk).boundary_wkb is None
    assert place(*IN_SECOND).outside_service_area and place(*IN_HOME).city_code == "home"
    listed = {c["code"]: c for c in admin.get("/api/manage/cities/").json()}
    assert listed["beta"]["boundary"] is None and listed["home"]["boundary"] is None


BOWTIE = [[110.2, 25.2], [110.4, 25.4], [110.4, 25.2], [110.2, 25.4], [110.2, 25.2]]
BAD_BOUNDARIES = {
    "not an object": [[110.2, 25.2]],
    "a point": {"type": "Point", "coordinates": [110.3, 25.3]},
    "no coordinates": {"type": "Polygon"},
    "a ring too short": _polygon(FIRST_AREA[:3]),
    "an open ring": _polygon([*FIRST_AREA[:4], [110.21, 25.2]]),
    "self-intersecting": _polygon(BOWTIE),
    "no area": _polygon([[110.2, 25.2], [110.3, 25.2], [110.4, 25.2], [110.2, 25.2]]),
    "longitude out of range": _polygon([[p[0] + 100, p[1]] for p in FIRST_AREA]),
    "latitude out of range": _polygon([[p[0], p[1] + 70] for p in FIRST_AREA]),
    "text for a number": _polygon([["110.2", "25.2"], *FIRST_AREA[1:]]),
    "a bare number": _polygon([*FIRST_AREA[:2], 7, *FIRST_AREA[3:]]),
    "empty multipolygon": {"type": "MultiPolygon", "coordinates": []},
    "overlapping parts": {"type": "MultiPolygon", "coordinates": [[FIRST_AREA], [FIRST_AREA]]},
}


@pytest.mark.parametrize("boundary", list(BAD_BOUNDARIES.values()), ids=list(BAD_BOUNDARIES))
def test_bad_geojson_is_refused_with_field_errors_and_changes_nothing(admin: APIClient, boundary: Any) -> None:
    made = _create_beta(admin, _polygon(FIRST_AREA))
    entries = AuditEntry.objects.count()
    refused = admin.patch(f"/api/manage/cities/{made['id']}/", {"name": "改名", "boundary": boundary}, format="json")
    assert refused.status_code == 400, refused.content
    body = refused.json()
    assert set(body["fields"]) == {"boundary"} and all(body["fields"]["boundary"]), body
    stored = City.objects.get(pk=made["id"])
    assert stored.name == "乙市" and stored.boundary_wkb is not None
    assert shapely.from_wkb(bytes(stored.boundary_wkb)).equals(shapely.Polygon(FIRST_AREA))
    assert AuditEntry.objects.count() == entries and place(*IN_FIRST).city_code == "beta"
    # Nor is a city created with it.
    new = admin.post("/api/manage/cities/", {"code": "gamma", "name": "丙市", "boundary": boundary}, format="json")
    assert new.status_code == 400 and "boundary" in new.json()["fields"]
    assert not City.objects.filter(code="gamma").exists()


def test_problems_are_named_in_the_request_language(admin: APIClient) -> None:
    made = _create_beta(admin)
    url = f"/api/manage/cities/{made['id']}/"
    chinese = admin.patch(url, {"boundary": _polygon(BOWTIE)}, format="json").json()["fields"]["boundary"][0]
    assert chinese.startswith("边界不是有效的区域")
    admin.cookies["django_language"] = "en"
    english = admin.patch(url, {"boundary": {"type": "Point"}}, format="json").json()["fields"]["boundary"]
    assert english == ["Give a GeoJSON Polygon or MultiPolygon."]


def test_only_administrators_manage_cities(world: World, admin: APIClient) -> None:
    made = _create_beta(admin, _polygon(FIRST_AREA))
    url = f"/api/manage/cities/{made['id']}/"
    for who in ("operator", "dispatcher", "commander", "supervisor", "auditor", "handler_a", "agencyadmin_a"):
        client = world.client(who)
        assert client.get("/api/manage/cities/").status_code == 403, who
        assert client.get(url).status_code == 403, who
        assert client.patch(url, {"boundary": None}, format="json").status_code == 403, who
        assert client.post("/api/manage/cities/", {"code": "x", "name": "x"}, format="json").status_code == 403
        assert client.delete(url).status_code == 403, who
    assert City.objects.get(pk=made["id"]).boundary_wkb is not None
    assert sorted(City.objects.values_list("code", flat=True)) == ["beta", "home"]
    assert APIClient().get("/api/manage/cities/").status_code in (401, 403)


def test_a_city_is_deleted_only_while_nothing_refers_to_it(world: World, admin: APIClient) -> None:
    made = _create_beta(admin, _polygon(FIRST_AREA))
    beta = City.objects.get(pk=made["id"])
    Agency.objects.filter(code="sjj").update(city=beta)
    refused = admin.delete(f"/api/manage/cities/{beta.pk}/")
    assert refused.status_code == 409 and refused.json()["code"] == "city_in_use"
    assert "1" in refused.json()["message"] and City.objects.filter(pk=beta.pk).exists()
    # The default city: its layer, and the rows that name no city (they would move to another city), keep it.
    home = City.objects.get(code="home")
    kept = admin.delete(f"/api/manage/cities/{home.pk}/")
    assert kept.status_code == 409 and City.objects.filter(pk=home.pk).exists()
    assert not AuditEntry.objects.filter(action="city_deleted").exists()

    Agency.objects.filter(code="sjj").update(city=None)
    deleted = admin.delete(f"/api/manage/cities/{beta.pk}/")
    assert deleted.status_code == 204 and not City.objects.filter(pk=beta.pk).exists()
    assert AuditEntry.objects.filter(action="city_deleted", target_id=beta.pk).exists()
    assert place(*IN_FIRST).outside_service_area
    assert admin.delete(f"/api/manage/cities/{beta.pk}/").status_code == 404
