"""The import_jurisdictions and activate_jurisdictions management commands."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from gis.models import Jurisdiction, JurisdictionLayer
from tests.geo.importer.helpers import (
    BOW_TIE,
    LAT,
    LON,
    Props,
    cell,
    frame,
    run,
    three_streets,
    write_geojson,
    zipped_shapefile,
)

# --- (i) management commands --------------------------------------------------------------------------------------


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
    with translation.override("en"), pytest.raises(CommandError, match=r"bad\.geojson"):
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
