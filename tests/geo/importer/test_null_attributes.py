"""Missing (null) attributes in a layer: bugs found in the existing importer."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from gis.actions import do_import_layer
from gis.importer import read_layer
from gis.models import Jurisdiction
from tests.conftest import World
from tests.geo.importer.helpers import admin_client, cell, frame, refusal, upload, write_geojson, zipped_shapefile

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
    with translation.override("en"):
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
