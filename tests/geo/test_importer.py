"""Jurisdiction layers: reading GeoJSON / GeoPackage / zipped Shapefile, checks and repairs, the STRtree index,
activation without restart, the management commands and the admin pages.

Every layer is built on the fly in ``tmp_path`` around central Liuzhou (109.40 E, 24.30 N); nothing needs the
network. Squares are ``STEP`` degrees (about 1 km) wide, on a lattice whose coordinates are exact in binary
where a test needs points exactly on an edge.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator, Sequence
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas
import numpy as np
import pytest
import shapely
from django.contrib import messages
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import translation
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from callcenter.models import Subject
from gis import index as spatial_index
from gis.actions import (
    GazetteerRow,
    do_activate_layer,
    do_import_layer,
    do_import_routing_rules,
    do_replace_gazetteer,
)
from gis.coords import bd09_to_wgs84, gcj02_to_wgs84
from gis.importer import (
    MAX_REPAIR_AREA_CHANGE,
    Feature,
    LayerRefused,
    PreparedLayer,
    approximate_area_m2,
    overlaps_and_gaps,
    read_layer,
)
from gis.index import OUTSIDE, LayerIndex, current_index
from gis.models import GazetteerEntry, Jurisdiction, JurisdictionLayer, RoutingRule, TicketPlacement
from gis.routing import locate_many, place
from organisation.actions import do_upsert_user
from organisation.models import Role
from tests.conftest import World, ticket_payload

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

LON, LAT = 109.40, 24.30
STEP = 0.0078125  # 2**-7 degrees (~800 m): lattice points and edges are exact binary fractions

Props = dict[str, Any]


# --- Building layers ------------------------------------------------------------------------------------------


def cell(col: float, row: float, width: float = 1, height: float = 1) -> shapely.Polygon:
    """A rectangle of the lattice, ``col``/``row`` counted in STEPs from (LON, LAT)."""
    return shapely.box(LON + col * STEP, LAT + row * STEP, LON + (col + width) * STEP, LAT + (row + height) * STEP)


def write_geojson(path: Path, features: Sequence[tuple[Props, BaseGeometry | dict[str, Any] | None]]) -> Path:
    """A GeoJSON FeatureCollection written with Python's exact float repr (no writer rounding)."""
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": props,
                "geometry": geometry if geometry is None or isinstance(geometry, dict) else mapping(geometry),
            }
            for props, geometry in features
        ],
    }
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def three_streets(tmp_path: Path, name: str = "streets.geojson") -> Path:
    return write_geojson(
        tmp_path / name,
        [
            ({"code": "450202001", "name": "城中街道", "parent": "450202"}, cell(0, 0)),
            ({"code": "450202002", "name": "公园街道", "parent": "450202"}, cell(1, 0)),
            ({"code": "450203001", "name": "鱼峰街道", "parent": "450203"}, cell(0, 1, width=2)),
        ],
    )


def frame(rows: list[Props], geometries: list[BaseGeometry], crs: str | None) -> geopandas.GeoDataFrame:
    return geopandas.GeoDataFrame(rows, geometry=geometries, crs=crs)


def zipped_shapefile(folder: Path, data: geopandas.GeoDataFrame, *, with_prj: bool = True) -> Path:
    """Write a Shapefile with pyogrio, then zip its parts (at the archive's root) into ``folder/streets.zip``."""
    parts = folder / "shapefile"
    parts.mkdir()
    data.to_file(parts / "streets.shp", engine="pyogrio")
    archive = folder / "streets.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in sorted(parts.iterdir()):
            if part.suffix == ".prj" and not with_prj:
                continue
            zipped.write(part, part.name)
    return archive


def features_of(*items: tuple[str, BaseGeometry]) -> PreparedLayer:
    features = [Feature(code=code, name=f"名{code}", geometry=geometry) for code, geometry in items]
    return PreparedLayer(features=features, source_crs="EPSG:4326", report=overlaps_and_gaps(features))


def import_features(level: str, *items: tuple[str, BaseGeometry], activate: bool = True) -> JurisdictionLayer:
    return do_import_layer(features_of(*items), level=level, name=f"{level} test", source="test", activate=activate)


def stored_geometry(layer: JurisdictionLayer, code: str) -> BaseGeometry:
    row = Jurisdiction.objects.get(layer=layer, code=code)
    return shapely.from_wkb(bytes(row.geometry_wkb))


def refusal(path: Path, **kwargs: Any) -> LayerRefused:
    options = {"code_field": "code", "name_field": "name", **kwargs}
    with pytest.raises(LayerRefused) as caught:
        read_layer(path, **options)
    return caught.value


@pytest.fixture(autouse=True)
def fresh_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no cached spatial index.

    The cache is keyed by the active layers' (level, id); SQLite rolls the id sequence back with each test's
    transaction, so the next test's first layer gets the same id and would otherwise hit the old cache.
    """
    monkeypatch.setattr(spatial_index, "_current", None)
    yield


# --- (a) GeoJSON in WGS84 ---------------------------------------------------------------------------------------


def test_geojson_imports_with_codes_names_parents_and_exact_geometry(db: Any, tmp_path: Path) -> None:
    prepared = read_layer(three_streets(tmp_path), code_field="code", name_field="name", parent_field="parent")
    layer = do_import_layer(prepared, level="street", name="街道", source="streets.geojson")

    assert (layer.level, layer.version, layer.active, layer.feature_count) == ("street", 1, True, 3)
    assert layer.activated_at is not None
    rows = list(Jurisdiction.objects.filter(layer=layer).order_by("code").values_list("code", "name", "parent_code"))
    assert rows == [
        ("450202001", "城中街道", "450202"),
        ("450202002", "公园街道", "450202"),
        ("450203001", "鱼峰街道", "450203"),
    ]
    assert stored_geometry(layer, "450203001").equals_exact(cell(0, 1, width=2), tolerance=0)
    row = Jurisdiction.objects.get(layer=layer, code="450202002")
    assert (row.min_lon, row.min_lat, row.max_lon, row.max_lat) == cell(1, 0).bounds
    assert row.properties["name"] == "公园街道" and row.properties["generated"] is False
    assert layer.report == {"repaired": [], "overlaps": [], "gaps": {"count": 0, "area_m2": 0.0}}


def test_each_import_is_a_new_version_and_activation_switches(db: Any, tmp_path: Path) -> None:
    path = three_streets(tmp_path)
    district = import_features("district", ("450202", cell(0, 0, width=2, height=2)))

    def imported(activate: bool) -> JurisdictionLayer:
        prepared = read_layer(path, code_field="code", name_field="name")
        return do_import_layer(prepared, level="street", name="街道", source="x", activate=activate)

    first = imported(activate=True)
    second = imported(activate=False)
    assert (first.version, second.version) == (1, 2)
    assert list(JurisdictionLayer.objects.filter(level="street", active=True)) == [first]
    assert Jurisdiction.objects.filter(layer=second).count() == 3

    do_activate_layer(second.pk)
    assert list(JurisdictionLayer.objects.filter(level="street", active=True)) == [second]
    do_activate_layer(first.pk)
    assert list(JurisdictionLayer.objects.filter(level="street", active=True)) == [first]
    # Other levels are not touched, and their version numbers are their own.
    district.refresh_from_db()
    assert district.active and district.version == 1
    assert imported(activate=True).version == 3


# --- (b) a projected GeoPackage ---------------------------------------------------------------------------------


@pytest.mark.parametrize("epsg", [32649, 3857])
def test_projected_geopackage_is_reprojected_to_wgs84(db: Any, tmp_path: Path, epsg: int) -> None:
    original = shapely.Polygon([(109.401, 24.301), (109.437, 24.304), (109.433, 24.338), (109.404, 24.331)])
    projected = frame([{"code": "450202", "name": "城中区"}], [original], "EPSG:4326").to_crs(epsg=epsg)
    assert projected.geometry.iloc[0].bounds[0] > 1000  # really in metres
    path = tmp_path / "districts.gpkg"
    projected.to_file(path, layer="districts", driver="GPKG", engine="pyogrio")

    prepared = read_layer(path, code_field="code", name_field="name", layer="districts")
    assert str(epsg) in prepared.source_crs
    np.testing.assert_allclose(prepared.features[0].geometry.bounds, original.bounds, rtol=0, atol=1e-6)
    layer = do_import_layer(prepared, level="district", name="区", source=path.name)
    row = Jurisdiction.objects.get(layer=layer)
    np.testing.assert_allclose((row.min_lon, row.min_lat, row.max_lon, row.max_lat), original.bounds, rtol=0, atol=1e-6)
    assert layer.source_crs == prepared.source_crs


# --- (c) zipped Shapefile ---------------------------------------------------------------------------------------


def test_zipped_shapefile_imports(db: Any, tmp_path: Path) -> None:
    data = frame(
        [{"code": "450202001", "name": "城中街道"}, {"code": "450202002", "name": "公园街道"}],
        [cell(0, 0), cell(1, 0)],
        "EPSG:4326",
    )
    archive = zipped_shapefile(tmp_path, data)
    with zipfile.ZipFile(archive) as zipped:
        assert {".shp", ".shx", ".dbf", ".prj"} <= {Path(n).suffix for n in zipped.namelist()}

    prepared = read_layer(archive, code_field="code", name_field="name")
    assert [(f.code, f.name) for f in prepared.features] == [("450202001", "城中街道"), ("450202002", "公园街道")]
    layer = do_import_layer(prepared, level="street", name="shp", source=archive.name)
    # Shapefiles store rings clockwise: same polygon, vertices in another order.
    assert stored_geometry(layer, "450202002").normalize().equals_exact(cell(1, 0).normalize(), tolerance=1e-12)


def test_shapefile_without_prj_is_refused_unless_a_crs_is_assumed(db: Any, tmp_path: Path) -> None:
    original = cell(0, 0, width=3, height=2)
    data = frame([{"code": "450202", "name": "城中区"}], [original], "EPSG:4326").to_crs(epsg=32649)
    archive = zipped_shapefile(tmp_path, data, with_prj=False)

    refused = refusal(archive)
    assert refused.fields == {"crs": ["unknown"]}
    assert "streets.zip" in refused.message

    prepared = read_layer(archive, code_field="code", name_field="name", assume_crs="EPSG:32649")
    assert "32649" in prepared.source_crs
    np.testing.assert_allclose(prepared.features[0].geometry.bounds, original.bounds, rtol=0, atol=1e-6)


# --- (d) GCJ-02 and BD-09 layers --------------------------------------------------------------------------------


@pytest.mark.parametrize(("system", "to_wgs84"), [("gcj02", gcj02_to_wgs84), ("bd09", bd09_to_wgs84)])
def test_layer_declared_in_a_chinese_map_system_is_converted(
    db: Any, tmp_path: Path, system: str, to_wgs84: Any
) -> None:
    declared = cell(0, 0, width=2, height=2)
    path = write_geojson(tmp_path / f"{system}.geojson", [({"code": "A", "name": "甲"}, declared)])

    geometry = read_layer(path, code_field="code", name_field="name", declared_system=system).features[0].geometry

    raw = np.array(declared.exterior.coords)
    got = np.array(geometry.exterior.coords)
    want_lon, want_lat = to_wgs84(raw[:, 0], raw[:, 1])
    np.testing.assert_allclose(got[:, 0], want_lon, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got[:, 1], want_lat, rtol=0, atol=1e-9)
    # The conversion really moved the polygon (hundreds of metres), so the comparison above means something.
    assert np.abs(got - raw).max() > 1e-3


# --- (e) validity: repair what is safe, refuse the rest, naming each feature --------------------------------------


BOW_TIE = shapely.Polygon([(LON, LAT), (LON + STEP, LAT + STEP), (LON + STEP, LAT), (LON, LAT + STEP)])


def notched_square() -> shapely.Polygon:
    """A square whose ring touches itself at one point, cutting out a tiny triangle: invalid, safely repairable."""
    ring = [(0, 0), (10, 0), (10, 10), (5, 10), (5.1, 9.9), (4.9, 9.9), (5, 10), (0, 10), (0, 0)]
    return shapely.Polygon([(LON + 2 * STEP + x * STEP / 10, LAT + y * STEP / 10) for x, y in ring])


def test_bow_tie_is_refused_naming_the_feature(db: Any, tmp_path: Path) -> None:
    assert not BOW_TIE.is_valid
    path = write_geojson(
        tmp_path / "bad.geojson",
        [({"code": "GOOD", "name": "好"}, cell(5, 5)), ({"code": "BOWTIE", "name": "领结"}, BOW_TIE)],
    )
    refused = refusal(path)
    [problem] = refused.fields["features"]
    assert problem.startswith("feature 2 (BOWTIE 领结): invalid (Self-intersection")
    assert problem.endswith("cannot be repaired safely")
    assert "BOWTIE" in refused.message and "GOOD" not in refused.message


def test_tiny_self_touching_defect_is_repaired_and_reported(db: Any, tmp_path: Path) -> None:
    notched = notched_square()
    assert not notched.is_valid and "Self-intersection" in shapely.is_valid_reason(notched)
    path = write_geojson(
        tmp_path / "notched.geojson",
        [({"code": "A", "name": "甲"}, cell(0, 0)), ({"code": "NOTCH", "name": "缺口"}, notched)],
    )
    prepared = read_layer(path, code_field="code", name_field="name")

    [repair] = prepared.report["repaired"]
    assert (repair["feature"], repair["code"]) == (2, "NOTCH")
    assert "Self-intersection" in repair["reason"]
    assert 0 <= repair["area_change"] < MAX_REPAIR_AREA_CHANGE
    fixed = prepared.features[1].geometry
    assert fixed.is_valid and fixed.geom_type in ("Polygon", "MultiPolygon")
    # The repair keeps the square minus the notch: 99.99 % of it, not a sliver and not the whole box.
    assert fixed.area == pytest.approx(cell(2, 0).area * (1 - 0.0001), rel=1e-9)
    layer = do_import_layer(prepared, level="street", name="x", source="x")
    assert layer.report["repaired"] == [repair]
    assert stored_geometry(layer, "NOTCH").is_valid


def test_every_bad_feature_is_named_and_nothing_is_kept(db: Any, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "mixed.geojson",
        [
            ({"code": "A", "name": "甲"}, cell(0, 0)),
            ({"code": "PT", "name": "点"}, shapely.Point(LON, LAT)),
            ({"code": "A", "name": "重复"}, cell(1, 0)),
            ({"code": "", "name": "无码"}, cell(2, 0)),
            ({"code": "EMPTY", "name": "空"}, None),
            ({"code": "LINE", "name": "线"}, shapely.LineString([(LON, LAT), (LON + STEP, LAT)])),
        ],
    )
    refused = refusal(path)
    assert refused.fields["features"] == [
        "feature 2 (PT 点): a Point, not a polygon",
        "feature 3 (A 重复): code used twice",
        "feature 4 (? 无码): no code",
        "feature 5 (EMPTY 空): no geometry",
        "feature 6 (LINE 线): a LineString, not a polygon",
    ]
    assert JurisdictionLayer.objects.count() == 0


@pytest.mark.parametrize("missing", ["code_field", "name_field", "parent_field"])
def test_missing_attribute_is_refused(db: Any, tmp_path: Path, missing: str) -> None:
    path = three_streets(tmp_path)
    options = {"code_field": "code", "name_field": "name", "parent_field": "parent", missing: "adcode"}
    refused = refusal(path, **options)
    assert refused.fields == {"fields": ["adcode"]}
    assert "'adcode'" in refused.message


def test_empty_layer_and_unreadable_file_are_refused(db: Any, tmp_path: Path) -> None:
    empty = write_geojson(tmp_path / "empty.geojson", [({"code": "A", "name": "甲"}, cell(0, 0))])
    assert refusal(empty, keep=lambda row: False).fields == {"features": ["empty"]}
    garbage = tmp_path / "garbage.gpkg"
    garbage.write_bytes(b"not a geopackage at all")
    assert set(refusal(garbage).fields) == {"file"}


# --- (f) overlaps and gaps ----------------------------------------------------------------------------------------


def test_overlap_is_reported_with_codes_and_area(db: Any, tmp_path: Path) -> None:
    # B overlaps A by a quarter of a cell; C only touches B along an edge, which is no overlap.
    path = write_geojson(
        tmp_path / "overlap.geojson",
        [
            ({"code": "A", "name": "甲"}, cell(0, 0)),
            ({"code": "B", "name": "乙"}, cell(0.75, 0)),
            ({"code": "C", "name": "丙"}, cell(1.75, 0)),
        ],
    )
    layer = do_import_layer(read_layer(path, code_field="code", name_field="name"), level="grid", name="g", source="g")
    expected = approximate_area_m2(cell(0.75, 0, width=0.25))
    assert expected > 10_000
    [overlap] = layer.report["overlaps"]
    assert (overlap["a"], overlap["b"]) == ("A", "B")
    assert overlap["area_m2"] == pytest.approx(expected, abs=0.1)
    assert layer.report["gaps"] == {"count": 0, "area_m2": 0.0}


def test_hole_enclosed_by_three_polygons_is_reported_as_a_gap() -> None:
    # A: bottom bar; B: an L over the left and top; C: a block on the right. Between them, a one-cell hole.
    l_shape = shapely.union(cell(0, 1, height=2), cell(1, 2, width=2))
    report = overlaps_and_gaps(
        [
            Feature("A", "甲", cell(0, 0, width=3)),
            Feature("B", "乙", l_shape),
            Feature("C", "丙", cell(2, 1)),
        ]
    )
    assert report["overlaps"] == []
    assert report["gaps"]["count"] == 1
    assert report["gaps"]["area_m2"] == pytest.approx(approximate_area_m2(cell(1, 1)), abs=0.1)


# --- (g) the STRtree index ----------------------------------------------------------------------------------------


def test_point_on_a_shared_edge_or_vertex_belongs_to_the_smallest_code(db: Any) -> None:
    # Codes deliberately not in spatial order: the smallest code sits top-right.
    layer = import_features(
        "grid", ("D", cell(0, 0)), ("C", cell(1, 0)), ("B", cell(0, 1)), ("A", cell(1, 1)), ("E", cell(3, 3))
    )
    index = LayerIndex.build(layer)
    assert list(index.codes) == ["A", "B", "C", "D", "E"]

    def code_at(col: float, row: float) -> str:
        lon, lat = LON + col * STEP, LAT + row * STEP
        found = index.locate([lon], [lat])
        assert int(found[0]) == index.locate_one(lon, lat)
        return "" if found[0] == OUTSIDE else str(index.codes[found[0]])

    assert code_at(1, 0.5) == "C"  # edge between D and C
    assert code_at(0.5, 1) == "B"  # edge between D and B
    assert code_at(1.5, 1) == "A"  # edge between C and A
    assert code_at(1, 1) == "A"  # the vertex shared by all four
    assert code_at(0, 0) == "D"  # a corner of one polygon only
    assert code_at(0.5, 0.5) == "D"  # strictly inside
    assert code_at(2.5, 0.5) == ""  # outside every polygon
    assert index.locate_one(LON - 1, LAT) == OUTSIDE
    assert index.locate([LON - 1, LON + 3.5 * STEP], [LAT, LAT + 3.5 * STEP]).tolist() == [OUTSIDE, 4]


def test_bulk_locate_agrees_with_a_naive_covers_loop(db: Any) -> None:
    rng = np.random.default_rng(12345)
    # A 4x4 grid with holes, plus two polygons overlapping it; codes shuffled against positions.
    items: list[tuple[str, BaseGeometry]] = [
        (f"G{rng.integers(100, 999)}-{col}{row}", cell(col, row)) for col in range(4) for row in range(4) if col != row
    ]
    items.append(("OVER-1", shapely.Polygon([(LON, LAT), (LON + 2 * STEP, LAT), (LON + 2 * STEP, LAT + 2 * STEP)])))
    items.append(("OVER-2", cell(1.5, 1.5, width=2, height=0.5)))
    layer = import_features("grid", *items)
    index = LayerIndex.build(layer)

    n = 10_000
    uniform = rng.uniform([LON - STEP, LAT - STEP], [LON + 5 * STEP, LAT + 5 * STEP], size=(n // 2, 2))
    lattice = (rng.integers(-4, 21, size=(n - n // 2, 2)) * (STEP / 4)) + [LON, LAT]  # on edges and vertices
    points = np.vstack([uniform, lattice])

    found = index.locate(points[:, 0], points[:, 1])

    expected = np.full(n, OUTSIDE)
    ties = 0
    for k, (lon, lat) in enumerate(points):
        point = shapely.Point(lon, lat)
        covering = [i for i, polygon in enumerate(index.geometries) if polygon.covers(point)]
        ties += len(covering) > 1
        if covering:
            expected[k] = min(covering)
    np.testing.assert_array_equal(found, expected)
    # The sample exercised all three cases: inside, outside and on shared boundaries.
    assert (found == OUTSIDE).sum() > 1000 and (found != OUTSIDE).sum() > 3000 and ties > 300
    sample = rng.choice(n, 200, replace=False)
    assert [index.locate_one(*points[k]) for k in sample] == expected[sample].tolist()


def test_empty_input_and_scalars(db: Any) -> None:
    index = LayerIndex.build(import_features("grid", ("A", cell(0, 0))))
    assert index.locate([], []).tolist() == []
    assert index.locate(LON + STEP / 2, LAT + STEP / 2).tolist() == [0]


# --- (h) the index follows activation without a restart -----------------------------------------------------------


def test_current_index_follows_activation(db: Any) -> None:
    inside_old = (LON + 0.5 * STEP, LAT + 0.5 * STEP)
    inside_new = (LON + 10.5 * STEP, LAT + 0.5 * STEP)
    first = import_features("district", ("OLD", cell(0, 0)))

    before = current_index()
    assert [(level, pk) for level, pk, _activated in before.key] == [("district", first.pk)]
    assert before.layers["district"].version == 1
    assert place(*inside_old).code("district") == "OLD"
    assert current_index() is before  # nothing changed: no rebuild

    second = import_features("district", ("NEW", cell(10, 0)), activate=False)
    assert current_index() is before  # an inactive version changes nothing
    assert place(*inside_new).code("district") == ""

    do_activate_layer(second.pk)
    after = current_index()
    assert after is not before
    assert [(level, pk) for level, pk, _activated in after.key] == [("district", second.pk)]
    assert (after.layers["district"].layer_id, after.layers["district"].version) == (second.pk, 2)
    assert place(*inside_new).code("district") == "NEW"
    assert place(*inside_old).code("district") == ""  # the old version is no longer used
    assert place(*inside_new).places["district"].version == 2
    assert locate_many([inside_old[0], inside_new[0]], [inside_old[1], inside_new[1]])["district"].tolist() == [
        "",
        "NEW",
    ]

    do_activate_layer(first.pk)  # and back
    assert place(*inside_old).code("district") == "OLD"


# --- (i) management commands --------------------------------------------------------------------------------------


def run(command: str, *args: Any, **options: Any) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    with translation.override("en"):
        call_command(command, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_import_command_imports_and_reports(db: Any, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "grid.geojson",
        [({"code": "A", "name": "甲"}, cell(0, 0)), ({"code": "B", "name": "乙"}, cell(0.5, 0))],
    )
    out, err = run(
        "import_jurisdictions", str(path), level="grid", code_field="code", name_field="name", name="网格 v1"
    )
    layer = JurisdictionLayer.objects.get(level="grid")
    assert (layer.version, layer.name, layer.active, layer.feature_count) == (1, "网格 v1", True, 2)
    assert "version 1" in out and "2 features" in out
    assert "Overlap between A and B" in out
    assert err == ""


def test_import_command_options_and_activate_command(db: Any, tmp_path: Path) -> None:
    original = cell(0, 0, width=2)
    data = frame([{"code": "S1", "name": "一", "up": "D1"}], [original], "EPSG:4326").to_crs(epsg=32649)
    archive = zipped_shapefile(tmp_path, data, with_prj=False)
    common = {"level": "street", "code_field": "code", "name_field": "name", "parent_field": "up"}

    run("import_jurisdictions", str(archive), assume_crs="EPSG:32649", **common)
    out, _err = run(
        "import_jurisdictions", str(archive), assume_crs="EPSG:32649", no_activate=True, generated=True, **common
    )
    first, second = JurisdictionLayer.objects.filter(level="street").order_by("version")
    assert (first.active, second.active, second.generated, second.version) == (True, False, True, 2)
    assert "not active" in out
    row = Jurisdiction.objects.get(layer=second)
    assert row.parent_code == "D1" and row.properties["generated"] is True
    np.testing.assert_allclose((row.min_lon, row.min_lat, row.max_lon, row.max_lat), original.bounds, atol=1e-6)

    out, _err = run("activate_jurisdictions", "street", "2")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.active, second.active) == (False, True)
    assert "Street v2" in out
    with pytest.raises(CommandError, match="version 7"):
        run("activate_jurisdictions", "street", "7")


def test_refused_import_command_fails_and_writes_nothing(db: Any, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "bad.geojson",
        [({"code": "A", "name": "甲"}, BOW_TIE), ({"code": "P", "name": "点"}, shapely.Point(LON, LAT))],
    )
    err = StringIO()
    with pytest.raises(CommandError, match=r"bad\.geojson"):
        call_command("import_jurisdictions", str(path), level="grid", code_field="code", name_field="name", stderr=err)
    lines = err.getvalue().splitlines()
    assert len(lines) == 2 and "(A 甲)" in lines[0] and "(P 点)" in lines[1]
    assert JurisdictionLayer.objects.count() == 0 and Jurisdiction.objects.count() == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"assume_crs": "EPSG:999999"}, "EPSG:999999"),
        ({"code_field": "adcode"}, "'adcode'"),
        ({"coordinate_system": "mars"}, "mars"),
        ({"level": "province"}, "province"),
        ({"name": "长" * 121}, "120"),
    ],
)
def test_bad_command_input_is_a_command_error(db: Any, tmp_path: Path, options: Props, message: str) -> None:
    path = three_streets(tmp_path)
    arguments = {"level": "street", "code_field": "code", "name_field": "name", **options}
    with pytest.raises(CommandError, match=re.escape(message)):
        run("import_jurisdictions", str(path), **arguments)
    assert JurisdictionLayer.objects.count() == 0


def test_missing_file_is_a_command_error(db: Any, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=re.escape("missing.geojson")):
        run("import_jurisdictions", str(tmp_path / "missing.geojson"), level="street", code_field="c", name_field="n")


# --- (j) the admin --------------------------------------------------------------------------------------------


def admin_client(world: World) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world.users["admin"])
    return client


def upload_url() -> str:
    return reverse("admin:geo_jurisdictionlayer_upload")


def upload(client: Client, path: Path, **fields: Any) -> Response:
    data: dict[str, Any] = {"level": "street", "code_field": "code", "name_field": "name", "coordinate_system": "wgs84"}
    data.update(fields)
    data["file"] = SimpleUploadedFile(path.name, path.read_bytes())
    return client.post(upload_url(), data)


def levels_of(response: Response) -> list[int]:
    return [message.level for message in get_messages(response.wsgi_request)]


def test_admin_upload_of_a_valid_layer(world: World, tmp_path: Path) -> None:
    client = admin_client(world)
    changelist = client.get(reverse("admin:geo_jurisdictionlayer_changelist"))
    assert changelist.status_code == 200 and upload_url() in changelist.content.decode()
    assert client.get(upload_url()).status_code == 200

    path = write_geojson(
        tmp_path / "街道.geojson",
        [
            ({"code": "S1", "name": "城中", "parent": "D1"}, cell(0, 0)),
            ({"code": "S2", "name": "公园", "parent": "D1"}, cell(0.5, 0)),
        ],
    )
    response = upload(client, path, parent_field="parent", activate="on")

    layer = JurisdictionLayer.objects.get(level="street")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:geo_jurisdictionlayer_change", args=[layer.pk])
    assert (layer.version, layer.active, layer.feature_count, layer.name, layer.source) == (
        1,
        True,
        2,
        "街道.geojson",
        "街道.geojson",
    )
    assert messages.SUCCESS in levels_of(response)
    assert messages.WARNING in levels_of(response)  # the overlap between S1 and S2
    assert Jurisdiction.objects.get(layer=layer, code="S2").parent_code == "D1"
    page = client.get(response["Location"]).content.decode()
    assert "Overlap between S1 and S2" in page


def test_admin_upload_of_a_broken_layer_shows_the_problems_and_writes_nothing(world: World, tmp_path: Path) -> None:
    client = admin_client(world)
    path = write_geojson(
        tmp_path / "broken.geojson",
        [({"code": "OK", "name": "好"}, cell(0, 0)), ({"code": "BAD", "name": "坏"}, BOW_TIE)],
    )
    response = upload(client, path)
    assert response.status_code == 200
    assert "feature 2 (BAD 坏)" in response.content.decode()
    assert any("BAD" in error for error in response.context["form"].errors["file"])
    assert JurisdictionLayer.objects.count() == 0 and Jurisdiction.objects.count() == 0


def test_admin_upload_form_errors(world: World, tmp_path: Path) -> None:
    client = admin_client(world)
    text = tmp_path / "streets.csv"
    text.write_text("code,name\n1,a\n")
    assert "file" in upload(client, text).context["form"].errors

    data = frame([{"code": "S1", "name": "一"}], [cell(0, 0)], "EPSG:4326").to_crs(epsg=32649)
    archive = zipped_shapefile(tmp_path, data, with_prj=False)
    no_crs = upload(client, archive)
    assert no_crs.status_code == 200 and "assume_crs" in no_crs.context["form"].errors
    bad_crs = upload(client, archive, assume_crs="EPSG:999999")
    assert bad_crs.status_code == 200 and "assume_crs" in bad_crs.context["form"].errors
    no_field = upload(client, three_streets(tmp_path), code_field="adcode")
    assert no_field.status_code == 200 and "code_field" in no_field.context["form"].errors
    assert JurisdictionLayer.objects.count() == 0

    assumed = upload(client, archive, assume_crs="EPSG:32649", name="UTM")
    assert assumed.status_code == 302
    layer = JurisdictionLayer.objects.get()
    assert layer.name == "UTM" and layer.active is False  # the activate box was left unticked


def test_admin_pages_need_the_permissions(world: World, tmp_path: Path) -> None:
    staff = do_upsert_user(username="staff", password=None, roles=[Role.OPERATOR], agency_code="centre", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(upload_url()).status_code == 403
    assert client.get(reverse("admin:geo_routingrule_import")).status_code == 403


def test_admin_activate_action(world: World) -> None:
    client = admin_client(world)
    first = import_features("street", ("S", cell(0, 0)))
    second = import_features("street", ("S", cell(1, 0)), activate=False)
    district = import_features("district", ("D", cell(0, 0, width=2)), activate=False)
    changelist = reverse("admin:geo_jurisdictionlayer_changelist")

    def act(*layers: JurisdictionLayer) -> Response:
        selected = [str(layer.pk) for layer in layers]
        response = client.post(
            changelist, {"action": "activate_layer", "index": "0", "_selected_action": selected}, follow=True
        )
        assert response.redirect_chain == [(changelist, 302)]
        return response

    refused = act(first, second)
    assert levels_of(refused) == [messages.ERROR]
    assert list(JurisdictionLayer.objects.filter(active=True)) == [first]

    done = act(second, district)
    assert levels_of(done) == [messages.SUCCESS, messages.SUCCESS]
    assert set(JurisdictionLayer.objects.filter(active=True)) == {second, district}
    assert place(LON + 1.5 * STEP, LAT + 0.5 * STEP).code("street") == "S"
    assert place(LON + 0.5 * STEP, LAT + 0.5 * STEP).code("street") == ""


RULES_CSV = (
    "\ufeffsubject,jurisdiction_code,level,lead_agency,lead_function,co_agencies,priority,prefer,note\n"
    "t-garbage,450202,,cgj,,zjj|sjj,5,yes,城中区垃圾\n"
    ",,district,,urban_management,,0,,\n"
)


def test_admin_routing_rules_csv_import(world: World) -> None:
    client = admin_client(world)
    url = reverse("admin:geo_routingrule_import")
    changelist = client.get(reverse("admin:geo_routingrule_changelist"))
    assert changelist.status_code == 200 and url in changelist.content.decode()
    assert client.get(url).status_code == 200

    bad = "subject,lead_agency,lead_function\nt-garbage,nope,\nt-nothing,cgj,\n"
    response = client.post(url, {"file": SimpleUploadedFile("rules.csv", bad.encode())})
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "line 2: name a jurisdiction_code or a level; unknown agency nope; name a lead_agency or a lead_function",
        "line 3: unknown subject t-nothing; name a jurisdiction_code or a level",
    ]
    missing = client.post(url, {"file": SimpleUploadedFile("rules.csv", b"subject,level\nt-garbage,grid\n")})
    assert missing.status_code == 200 and "lead_agency" in missing.content.decode()
    assert RoutingRule.objects.count() == 0

    # UTF-8 with a byte-order mark (as Excel saves it), then GB18030 with replace.
    ok = client.post(url, {"file": SimpleUploadedFile("rules.csv", RULES_CSV.encode("utf-8"))})
    assert ok.status_code == 302 and levels_of(ok) == [messages.SUCCESS]
    rule = RoutingRule.objects.get(jurisdiction_code="450202")
    assert (rule.subject.code if rule.subject else None, rule.lead_agency, rule.priority, rule.prefer) == (
        "t-garbage",
        world.agency_a,
        5,
        True,
    )
    assert {a.code for a in rule.co_agencies.all()} == {"zjj", "sjj"}
    assert RoutingRule.objects.count() == 2
    gbk_bytes = RULES_CSV.removeprefix("\ufeff").encode("gb18030")
    gbk = client.post(url, {"file": SimpleUploadedFile("rules.csv", gbk_bytes), "replace": "on"})
    assert gbk.status_code == 302
    assert RoutingRule.objects.count() == 2 and RoutingRule.objects.filter(note="城中区垃圾").count() == 1


def test_admin_routing_rule_form(world: World) -> None:
    client = admin_client(world)
    add = reverse("admin:geo_routingrule_add")
    assert client.get(add).status_code == 200
    base = {"priority": "0", "active": "on", "subject": "", "lead_agency": "", "co_agencies": []}
    nothing = client.post(add, {**base, "jurisdiction_code": "", "level": "", "lead_function": ""})
    assert nothing.status_code == 200
    errors = nothing.context["adminform"].form.errors
    assert {"jurisdiction_code", "level", "lead_function"} <= set(errors)
    parent = client.post(
        add, {**base, "level": "district", "lead_function": "housing", "subject": _subject_pk("t-urban")}
    )
    assert parent.status_code == 200 and "subject" in parent.context["adminform"].form.errors
    assert RoutingRule.objects.count() == 0

    saved = client.post(
        add,
        {
            **base,
            "subject": _subject_pk("t-garbage"),
            "jurisdiction_code": "450202001",
            "lead_agency": str(world.agency_a.pk),
            "co_agencies": [str(world.agency_b.pk)],
        },
    )
    assert saved.status_code == 302
    rule = RoutingRule.objects.get()
    assert rule.lead_agency == world.agency_a and list(rule.co_agencies.all()) == [world.agency_b]
    # The autocomplete widgets work: both related admins have search fields.
    for field, term in (("subject", "垃圾"), ("lead_agency", "cgj")):
        found = client.get(
            reverse("admin:autocomplete"),
            {"app_label": "geo", "model_name": "routingrule", "field_name": field, "term": term},
        )
        assert found.status_code == 200 and found.json()["results"], field


def _subject_pk(code: str) -> str:
    return str(Subject.objects.get(code=code).pk)


def test_every_geo_admin_page_loads(world: World) -> None:
    client = admin_client(world)
    layer = import_features("district", ("450202", cell(0, 0)))
    do_import_routing_rules("subject,level,lead_agency,lead_function\n,district,,urban_management\n")
    row = GazetteerRow("文惠路", "文惠路", "road", "城中区", latitude=LAT, longitude=LON, generated=False)
    do_replace_gazetteer([row], source="test")
    ticket = world.client("operator").post(
        "/api/tickets/",
        {**ticket_payload(), "latitude": LAT + 0.5 * STEP, "longitude": LON + 0.5 * STEP},
        format="json",
    )
    assert ticket.status_code == 201
    assert TicketPlacement.objects.get().district_code == "450202"
    for model in (JurisdictionLayer, Jurisdiction, RoutingRule, GazetteerEntry, TicketPlacement):
        opts = model._meta
        listing = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert listing.status_code == 200, opts.model_name
        first = model._default_manager.first()
        if first is not None:
            page = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk]))
            assert page.status_code == 200, opts.model_name
    assert Jurisdiction.objects.get(layer=layer).code == "450202"
    filtered = client.get(
        reverse("admin:geo_jurisdiction_changelist"), {"layer__id__exact": str(layer.pk), "q": "4502"}
    )
    assert filtered.status_code == 200 and "450202" in filtered.content.decode()
    assert client.get(reverse("admin:geo_jurisdictionlayer_add")).status_code == 403


# --- Bugs found in the existing code ------------------------------------------------------------------------------
# pandas 3 reads a missing attribute as NaN (also in text columns), and read_layer treats NaN as a value.


def test_null_attribute_does_not_break_the_import(db: Any, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "nulls.geojson",
        [
            ({"code": "A", "name": "甲", "remark": "x", "population": 3}, cell(0, 0)),
            ({"code": "B", "name": "乙", "remark": None, "population": None}, cell(1, 0)),
        ],
    )
    layer = do_import_layer(read_layer(path, code_field="code", name_field="name"), level="grid", name="g", source="g")
    properties = Jurisdiction.objects.get(layer=layer, code="B").properties
    assert properties.get("remark") is None and properties.get("population") is None


@pytest.mark.parametrize("code", [450202, "450202"])
def test_null_code_is_refused_as_no_code(db: Any, tmp_path: Path, code: Any) -> None:
    path = write_geojson(
        tmp_path / "codes.geojson",
        [({"code": code, "name": "城中区"}, cell(0, 0)), ({"code": None, "name": "无码"}, cell(1, 0))],
    )
    assert refusal(path).fields["features"] == ["feature 2 (? 无码): no code"]


def test_null_name_falls_back_to_the_code_and_null_parent_is_empty(db: Any, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "names.geojson",
        [
            ({"code": "A", "name": "甲", "parent": "D"}, cell(0, 0)),
            ({"code": "B", "name": None, "parent": None}, cell(1, 0)),
        ],
    )
    feature = read_layer(path, code_field="code", name_field="name", parent_field="parent").features[1]
    assert (feature.name, feature.parent_code) == ("B", "")


def test_unknown_assumed_crs_is_a_refusal(db: Any, tmp_path: Path) -> None:
    data = frame([{"code": "S1", "name": "一"}], [cell(0, 0)], "EPSG:4326")
    archive = zipped_shapefile(tmp_path, data, with_prj=False)
    refusal(archive, assume_crs="EPSG:999999")


def test_zip_with_the_shapefile_in_a_folder_imports(db: Any, tmp_path: Path) -> None:
    data = frame([{"code": "S1", "name": "一"}], [cell(0, 0)], "EPSG:4326")
    flat = zipped_shapefile(tmp_path, data)
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(flat) as source, zipfile.ZipFile(nested, "w") as target:
        for name in source.namelist():
            target.writestr(f"streets/{name}", source.read(name))
    assert [f.code for f in read_layer(nested, code_field="code", name_field="name").features] == ["S1"]


def test_admin_upload_with_a_null_attribute_is_not_a_server_error(world: World, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "nulls.geojson",
        [
            ({"code": "A", "name": "甲", "remark": "x"}, cell(0, 0)),
            ({"code": "B", "name": "乙", "remark": None}, cell(1, 0)),
        ],
    )
    response = upload(admin_client(world), path)
    assert response.status_code in (200, 302)
