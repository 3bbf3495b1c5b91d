"""Checks on a layer before import: invalid geometries repaired or refused feature by feature, overlaps and gaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import shapely
from django.utils import translation

from gis.actions import do_import_layer
from gis.importer import MAX_REPAIR_AREA_CHANGE, Feature, approximate_area_m2, overlaps_and_gaps, read_layer
from gis.models import JurisdictionLayer
from tests.geo.importer.helpers import (
    BOW_TIE,
    LAT,
    LON,
    STEP,
    cell,
    refusal,
    stored_geometry,
    three_streets,
    write_geojson,
)

# --- (e) validity: repair what is safe, refuse the rest, naming each feature --------------------------------------


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
    with translation.override("en"):
        refused = refusal(path)
    [problem] = refused.fields["features"]
    assert refused.message.startswith("bad.geojson: 1 feature refused: feature 2")
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


def mixed_layer(tmp_path: Path) -> Path:
    return write_geojson(
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


def test_every_bad_feature_is_named_and_nothing_is_kept(db: Any, tmp_path: Path) -> None:
    with translation.override("en"):
        refused = refusal(mixed_layer(tmp_path))
    assert refused.fields["features"] == [
        "feature 2 (PT 点): a Point, not a polygon",
        "feature 3 (A 重复): code used twice",
        "feature 4 (? 无码): no code",
        "feature 5 (EMPTY 空): no geometry",
        "feature 6 (LINE 线): a LineString, not a polygon",
    ]
    assert refused.message.startswith("mixed.geojson: 5 features refused: feature 2 (PT 点)")
    assert JurisdictionLayer.objects.count() == 0


def test_refusals_are_in_chinese_by_default(db: Any, tmp_path: Path) -> None:
    refused = refusal(mixed_layer(tmp_path))
    assert refused.fields["features"] == [
        "第 2 个要素（PT 点）：是点，不是多边形",
        "第 3 个要素（A 重复）：代码重复",
        "第 4 个要素（? 无码）：缺少代码",
        "第 5 个要素（EMPTY 空）：没有几何图形",
        "第 6 个要素（LINE 线）：是线，不是多边形",
    ]
    assert refused.message.startswith("mixed.geojson：5 个要素被拒绝：第 2 个要素")
    path = three_streets(tmp_path)
    assert refusal(path, code_field="adcode").message == "streets.geojson 没有属性 'adcode'。"
    empty = refusal(path, keep=lambda row: False)
    assert empty.message == "streets.geojson 中没有可导入的要素。"


@pytest.mark.parametrize("missing", ["code_field", "name_field", "parent_field"])
def test_missing_attribute_is_refused(db: Any, tmp_path: Path, missing: str) -> None:
    path = three_streets(tmp_path)
    options = {"code_field": "code", "name_field": "name", "parent_field": "parent", missing: "adcode"}
    refused = refusal(path, **options)
    assert refused.fields == {"fields": ["adcode"]}
    assert "'adcode'" in refused.message


def test_empty_layer_and_unreadable_file_are_refused(db: Any, tmp_path: Path) -> None:
    empty = write_geojson(tmp_path / "empty.geojson", [({"code": "A", "name": "甲"}, cell(0, 0))])
    with translation.override("en"):
        nothing = refusal(empty, keep=lambda row: False)
        garbage = tmp_path / "garbage.gpkg"
        garbage.write_bytes(b"not a geopackage at all")
        unreadable = refusal(garbage)
    assert nothing.fields == {"features": ["empty"]}
    assert nothing.message == "empty.geojson has no features to import."
    assert set(unreadable.fields) == {"file"} and unreadable.message.startswith("Cannot read garbage.gpkg: ")
    assert refusal(garbage).message.startswith("无法读取 garbage.gpkg：")


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
