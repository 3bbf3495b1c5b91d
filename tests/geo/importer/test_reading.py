"""Reading jurisdiction layers: GeoJSON, a projected GeoPackage, a zipped Shapefile, GCJ-02 and BD-09 layers."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from gis.actions import do_activate_layer, do_import_layer
from gis.coords import bd09_to_wgs84, gcj02_to_wgs84
from gis.importer import read_layer
from gis.models import Jurisdiction, JurisdictionLayer
from tests.geo.importer.helpers import (
    cell,
    frame,
    import_features,
    refusal,
    stored_geometry,
    three_streets,
    write_geojson,
    zipped_shapefile,
)

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
