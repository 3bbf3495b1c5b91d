"""Forward geocoding: normalising and splitting addresses, ranking gazetteer matches, loading gazetteer files."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from gis.geocoding import (
    DEMO_GAZETTEER_PATH,
    AddressParts,
    Candidate,
    geocode,
    load_gazetteer_file,
    normalize_address,
    split_address,
)
from gis.models import GazetteerEntry, PlaceKind

# --- Normalisation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Full-width digits and letters, whitespace and punctuation.
        ("文惠路１２号", "文惠路12号"),
        ("  文惠路 12 号，", "文惠路12号"),
        ("Ａ座", "a栋"),
        ("WanDa Plaza", "wandaplaza"),
        ("文惠路12-3号", "文惠路12-3号"),
        ("文惠路１２－３号", "文惠路12-3号"),
        # Region prefixes.
        ("广西壮族自治区柳州市城中区文惠路12号", "城中区文惠路12号"),
        ("中国广西柳州市五一路", "五一路"),
        ("广西柳州五一路", "五一路"),
        ("柳州市工人医院", "工人医院"),
        ("广东省广州市天河区", "天河区"),
        ("南宁市青秀区", "青秀区"),
        # ... but not what only looks like one.
        ("中国银行", "中国银行"),
        ("柳州站", "柳州站"),
        ("华润超市柳石店", "华润超市柳石店"),
        ("城中菜市场", "城中菜市场"),
        # House numbers.
        ("文惠路12號", "文惠路12号"),
        ("文惠路12#", "文惠路12号"),
        ("文惠路十二号", "文惠路12号"),
        ("五一路九十九号", "五一路99号"),
        ("八一路二十号", "八一路20号"),
        ("八一路一号", "八一路1号"),
        ("文惠路12号院", "文惠路12号"),
        # Buildings.
        ("3栋", "3栋"),
        ("3幢", "3栋"),
        ("3座", "3栋"),
        ("3号楼", "3栋"),
        ("3#楼", "3栋"),
        ("三号楼", "3栋"),
        ("3楼", "3楼"),  # a floor, not a building
        # Lanes.
        ("跃进路128弄", "跃进路128弄"),
        ("跃进路一二八弄５号", "跃进路128弄5号"),
        # All at once.
        ("广西柳州市城中区文惠路１２號院３号楼２单元", "城中区文惠路12号3栋2单元"),
    ],
)
def test_normalize_address(text: str, expected: str) -> None:
    assert normalize_address(text) == expected


def test_normalize_address_is_idempotent() -> None:
    for text in ("广西柳州市城中区文惠路１２號院３号楼", "柳州站", "中国银行", "跃进路一二八弄"):
        once = normalize_address(text)
        assert normalize_address(once) == once


# --- Splitting --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("柳州市城中区文惠路12号", AddressParts("城中区", "文惠路", "12号", "", "")),
        ("鱼峰区屏山大道3号楼2单元301室", AddressParts("鱼峰区", "屏山大道", "", "3栋", "2单元301室")),
        ("柳南区飞鹅路12-3号a座", AddressParts("柳南区", "飞鹅路", "12-3号", "a栋", "")),
        ("柳北区跃进路128弄5号", AddressParts("柳北区", "跃进路", "128弄5号", "", "")),
        ("五星步行街", AddressParts("", "五星步行街", "", "", "")),
        ("融水县大浪镇", AddressParts("融水苗族自治县", "大浪镇", "", "", "")),
        ("柳江县拉堡镇", AddressParts("柳江区", "拉堡镇", "", "", "")),
        ("三江侗族自治县古宜镇", AddressParts("三江侗族自治县", "古宜镇", "", "", "")),
        ("文惠路12号对面", AddressParts("", "文惠路", "12号", "", "对面")),
    ],
)
def test_split_address(text: str, expected: AddressParts) -> None:
    assert split_address(normalize_address(text)) == expected


# --- A small hand-made gazetteer ----------------------------------------------------------------------------------

SMALL_GAZETTEER = [
    # name, kind, district, latitude, longitude
    ("文惠路", "road", "城中区", 24.3110, 109.4150),
    ("文惠路12号", "address", "城中区", 24.3126, 109.4112),
    ("文惠社区", "community", "城中区", 24.3120, 109.4140),
    ("五一路", "road", "城中区", 24.3175, 109.4085),
    ("柳州市人民医院", "landmark", "城中区", 24.3112, 109.4275),
    ("屏山大道", "road", "鱼峰区", 24.2975, 109.4450),
    ("胜利路", "road", "柳北区", 24.3535, 109.4125),
    ("胜利路", "road", "鱼峰区", 24.2950, 109.4500),
    ("谷埠街", "road", "城中区", 24.3200, 109.4170),
    ("谷埠街", "community", "城中区", 24.3205, 109.4165),
    ("文昌路230号", "address", "城中区", 24.3080, 109.4300),
    ("屏山大道83号", "address", "鱼峰区", 24.2990, 109.4420),
    ("屏山大道155号", "address", "鱼峰区", 24.2960, 109.4480),
]


def write_csv(path: Path, header: list[str], rows: list[tuple[Any, ...]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def small_gazetteer(db: Any, tmp_path: Path) -> int:
    path = write_csv(tmp_path / "small.csv", ["name", "kind", "district", "latitude", "longitude"], SMALL_GAZETTEER)
    return load_gazetteer_file(path, source="test-small")


def names(candidates: list[Candidate]) -> list[str]:
    return [candidate.name for candidate in candidates]


def test_small_gazetteer_loads_with_normalised_names(small_gazetteer: int) -> None:
    assert small_gazetteer == len(SMALL_GAZETTEER)
    hospital = GazetteerEntry.objects.get(name="柳州市人民医院")
    assert hospital.normalized == "人民医院"
    assert hospital.source == "test-small"
    assert not hospital.generated  # the file states no flag and none was given


def test_exact_match_comes_first_with_full_score(small_gazetteer: int) -> None:
    candidates = geocode("文惠路")
    first = candidates[0]
    assert (first.name, first.kind, first.method, first.score) == ("文惠路", "road", "exact", 1.0)
    assert (first.latitude, first.longitude) == (24.3110, 109.4150)
    assert first.entry_id == GazetteerEntry.objects.get(name="文惠路").pk
    assert all(candidate.score < 1.0 for candidate in candidates[1:])


def test_exact_match_ignores_prefixes_and_the_district(small_gazetteer: int) -> None:
    first = geocode("广西柳州市城中区文惠路１２號")[0]
    assert (first.name, first.method, first.score) == ("文惠路12号", "exact", 1.0)


def test_address_with_prefix_and_unknown_house_number_finds_the_road(small_gazetteer: int) -> None:
    candidates = geocode("广西壮族自治区柳州市城中区五一路８８號３号楼")
    first = candidates[0]
    assert (first.name, first.method, first.matched) == ("五一路", "contained", "五一路")
    assert 0.6 < first.score < 1.0


def test_longest_contained_name_wins(small_gazetteer: int) -> None:
    candidates = geocode("柳州市文惠路12号3栋2单元")
    assert names(candidates)[:2] == ["文惠路12号", "文惠路"]
    assert candidates[0].score > candidates[1].score


def test_typo_finds_the_right_entry_with_a_lower_score(small_gazetteer: int) -> None:
    exact = geocode("文惠路")[0]
    typo = geocode("城中区文慧路")[0]
    assert (typo.name, typo.method, typo.matched) == ("文惠路", "similar", "文慧路")
    assert 0 < typo.score < exact.score
    # A landmark given without its city finds it too; a partial name finds the entry with a lower score.
    assert geocode("人民医院")[0].name == "柳州市人民医院"
    partial = geocode("屏山")[0]
    assert (partial.name, partial.method) == ("屏山大道", "similar")


def test_house_numbers_count_only_on_the_right_road(small_gazetteer: int) -> None:
    # The caller's house on a misspelt road: as good as the road, and the tie goes to the address.
    assert names(geocode("文慧路12号"))[:2] == ["文惠路12号", "文惠路"]
    # Sharing "30号" does not make a house on another road look like a typo of the caller's road.
    assert "文昌路230号" not in names(geocode("文慧路30号"))
    # Other houses on the caller's road rank below the road, nearest number first.
    neighbours = geocode("屏山大道88号")
    assert names(neighbours) == ["屏山大道", "屏山大道83号", "屏山大道155号"]
    assert [c.method for c in neighbours] == ["contained", "similar", "similar"]


def test_district_conflict_lowers_the_score(small_gazetteer: int) -> None:
    agreeing = geocode("城中区文惠路")[0]
    conflicting = geocode("鱼峰区文惠路")[0]
    assert agreeing.name == conflicting.name == "文惠路"
    assert not agreeing.district_conflict
    assert conflicting.district_conflict
    assert conflicting.score < agreeing.score


def test_district_picks_between_places_of_the_same_name(small_gazetteer: int) -> None:
    assert [c.district for c in geocode("鱼峰区胜利路")[:2]] == ["鱼峰区", "柳北区"]
    assert [c.district for c in geocode("柳北区胜利路")[:2]] == ["柳北区", "鱼峰区"]


def test_ties_go_to_the_more_precise_kind_then_to_the_name(small_gazetteer: int) -> None:
    candidates = geocode("谷埠街")
    assert [(c.name, c.kind, c.score) for c in candidates[:2]] == [
        ("谷埠街", "community", 1.0),
        ("谷埠街", "road", 1.0),
    ]
    crossing = geocode("五一路与文惠路交叉口")
    assert crossing[0].score == crossing[1].score
    assert names(crossing)[:2] == sorted(["五一路", "文惠路"])


def test_limit_and_nothing_to_match(small_gazetteer: int) -> None:
    assert len(geocode("文惠路12号", limit=2)) == 2
    assert geocode("文惠路", limit=0) == []
    assert geocode("，。 ") == []
    assert geocode("完全无关的地方") == []


def test_geocode_runs_a_single_query(small_gazetteer: int, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        geocode("广西柳州市城中区文慧路12号3栋")


# --- The demo gazetteer -------------------------------------------------------------------------------------------

LIUZHOU_URBAN_BOX = {"min_lat": 24.15, "max_lat": 24.50, "min_lon": 109.20, "max_lon": 109.60}
URBAN_DISTRICTS = {"城中区", "鱼峰区", "柳南区", "柳北区", "柳江区"}


def test_demo_gazetteer_file_marks_every_row_and_stays_in_liuzhou() -> None:
    with DEMO_GAZETTEER_PATH.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert 300 <= len(rows) <= 400
    assert {row["generated"] for row in rows} <= {"true", "false"}
    assert all(row["generated"] == "true" for row in rows if row["kind"] == "address")
    assert {row["provenance"] for row in rows} == {"recalled", "invented"}
    assert {row["district"] for row in rows} == URBAN_DISTRICTS
    assert {row["kind"] for row in rows} == set(PlaceKind.values)
    assert len({(row["name"], row["kind"]) for row in rows}) == len(rows)


def test_demo_gazetteer_loads_and_geocodes(db: Any) -> None:
    count = load_gazetteer_file(DEMO_GAZETTEER_PATH)
    assert 300 <= count <= 400
    entries = GazetteerEntry.objects.filter(source=DEMO_GAZETTEER_PATH.name)
    assert entries.count() == count
    for latitude, longitude in entries.values_list("latitude", "longitude"):
        assert LIUZHOU_URBAN_BOX["min_lat"] < latitude < LIUZHOU_URBAN_BOX["max_lat"]
        assert LIUZHOU_URBAN_BOX["min_lon"] < longitude < LIUZHOU_URBAN_BOX["max_lon"]
    assert not entries.filter(generated=False).exists()
    for kind in ("road", "landmark", "community"):
        assert entries.filter(kind=kind).count() >= 30

    first = geocode("广西柳州市城中区文惠路１２號")[0]
    assert (first.name, first.score, first.generated) == ("文惠路12号", 1.0, True)
    assert geocode("柳州站")[0].name == "柳州站"
    assert geocode("柳侯公园旁边")[0].name == "柳侯公园"

    # Loading again replaces the entries instead of adding to them.
    assert load_gazetteer_file(DEMO_GAZETTEER_PATH) == count
    assert GazetteerEntry.objects.count() == count


# --- GeoJSON --------------------------------------------------------------------------------------------------------


def point_feature(longitude: Any, latitude: Any, **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [longitude, latitude]},
        "properties": properties,
    }


def write_geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return path


def test_geojson_points_load_with_their_flags(db: Any, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "pois.geojson",
        [
            point_feature(109.4092, 24.3192, name="五星步行街", kind="landmark", district="城中区", generated=False),
            point_feature(109.4112, 24.3232, name="柳侯公园", kind="landmark", district="城中区"),
            point_feature(109.4450, 24.2975, name="屏山大道", kind="road", district="鱼峰区", generated="true"),
        ],
    )
    assert load_gazetteer_file(path, generated=True) == 3
    entries = {entry.name: entry for entry in GazetteerEntry.objects.all()}
    assert entries["五星步行街"].source == "pois.geojson"
    assert (entries["五星步行街"].latitude, entries["五星步行街"].longitude) == (24.3192, 109.4092)
    # A feature's own flag wins; the argument fills in for features without one.
    assert not entries["五星步行街"].generated
    assert entries["柳侯公园"].generated
    assert entries["屏山大道"].generated
    assert geocode("五星步行街")[0].name == "五星步行街"


def test_csv_saved_by_chinese_excel_in_gbk_loads(db: Any, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "名称备注,name,kind,district,latitude,longitude\r\n城中,文惠路,road,城中区,24.3110,109.4150\r\n".encode("gbk")
    )
    assert load_gazetteer_file(path) == 1
    assert GazetteerEntry.objects.get().district == "城中区"


# --- Refusals -------------------------------------------------------------------------------------------------------


def test_bad_csv_rows_are_refused_by_line_and_nothing_is_written(small_gazetteer: int, tmp_path: Path) -> None:
    before = list(GazetteerEntry.objects.order_by("pk").values_list("pk", "name"))
    path = write_csv(
        tmp_path / "bad.csv",
        ["name", "kind", "district", "latitude", "longitude", "generated"],
        [
            ("文惠路", "road", "城中区", 24.3110, 109.4150, "false"),  # line 2: fine
            ("", "road", "城中区", 24.3110, 109.4150, "false"),  # line 3: no name
            ("五一路", "street", "城中区", 24.3175, 109.4085, "false"),  # line 4: unknown kind
            ("柳石路", "road", "鱼峰区", 109.42, 24.28, "false"),  # line 5: latitude and longitude swapped
            ("荣军路", "road", "鱼峰区", "", 109.44, "maybe"),  # line 6: no latitude, bad flag
            ("飞鹅路", "road", "柳南区", 24.30, 109.38, "true"),  # line 7: fine
        ],
    )
    with translation.override("en"), pytest.raises(ValueError, match="nothing loaded") as refused:
        load_gazetteer_file(path, source="test-small")
    message = str(refused.value)
    for problem in (
        "line 3: missing name",
        "line 4: unknown kind 'street'",
        "line 5: latitude '109.42' out of range",
        "line 6: latitude '' is not a number",
        "line 6: generated 'maybe' is not true/false",
    ):
        assert problem in message
    assert "line 2" not in message and "line 7" not in message
    # In the default language (Chinese) the same refusal reads in Chinese.
    with pytest.raises(ValueError) as refused_in_chinese:
        load_gazetteer_file(path, source="test-small")
    chinese = str(refused_in_chinese.value)
    for problem in (
        "5 个问题，未导入任何内容",
        "第 3 行：缺少名称",
        "第 5 行：纬度 '109.42' 超出范围",
        "第 6 行：纬度 '' 不是数字",
    ):
        assert problem in chinese, problem
    assert list(GazetteerEntry.objects.order_by("pk").values_list("pk", "name")) == before


def test_bad_geojson_features_are_refused_by_number(db: Any, tmp_path: Path) -> None:
    line = {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[109.4, 24.3], [109.41, 24.31]]}}
    path = write_geojson(
        tmp_path / "bad.geojson",
        [
            point_feature(109.4092, 24.3192, name="五星步行街", kind="landmark"),
            {**line, "properties": {"name": "龙城路", "kind": "road"}},
            point_feature(209.4, 24.3, name="柳侯公园", kind="landmark"),
            point_feature(109.4, 24.3, kind="landmark"),
        ],
    )
    with translation.override("en"), pytest.raises(ValueError) as refused:
        load_gazetteer_file(path)
    message = str(refused.value)
    assert "feature 2: geometry is not a Point" in message
    assert "feature 3: longitude 209.4 out of range" in message
    assert "feature 4: missing name" in message
    assert "feature 1" not in message
    assert not GazetteerEntry.objects.exists()


def test_files_without_required_columns_or_rows_are_refused(db: Any, tmp_path: Path) -> None:
    no_kind = write_csv(tmp_path / "no_kind.csv", ["name", "latitude", "longitude"], [("文惠路", 24.31, 109.41)])
    with translation.override("en"), pytest.raises(ValueError, match="line 1: missing column"):
        load_gazetteer_file(no_kind)
    with pytest.raises(ValueError, match="第 1 行：缺少列 kind"):
        load_gazetteer_file(no_kind)
    empty = write_csv(tmp_path / "empty.csv", ["name", "kind", "district", "latitude", "longitude"], [])
    with translation.override("en"), pytest.raises(ValueError, match="no entries"):
        load_gazetteer_file(empty)
    with translation.override("en"), pytest.raises(ValueError, match="unknown coordinate system"):
        load_gazetteer_file(no_kind, coordinate_system="utm")
    assert not GazetteerEntry.objects.exists()


# --- GCJ-02 input ---------------------------------------------------------------------------------------------------

# An independent oracle: the published GCJ-02 forward transform (WGS84 -> GCJ-02), as in eviltransform and
# coordtransform. The loader must store points whose forward transform gives back the file's GCJ-02 values.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323


def _gcj_offset_lat(x: float, y: float) -> float:
    value = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    value += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    value += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    value += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return value


def _gcj_offset_lon(x: float, y: float) -> float:
    value = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    value += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    value += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    value += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return value


def wgs84_to_gcj02_reference(longitude: float, latitude: float) -> tuple[float, float]:
    d_lat = _gcj_offset_lat(longitude - 105.0, latitude - 35.0)
    d_lon = _gcj_offset_lon(longitude - 105.0, latitude - 35.0)
    rad_lat = latitude / 180.0 * math.pi
    magic = 1 - _KRASOVSKY_EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_KRASOVSKY_A * (1 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_KRASOVSKY_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return longitude + d_lon, latitude + d_lat


# ~1 m: far below the few hundred metres GCJ-02 shifts points in Liuzhou, far above the inverse's error.
GCJ_TOLERANCE_DEG = 1e-5


def test_gcj02_coordinates_are_converted_to_wgs84(db: Any, tmp_path: Path) -> None:
    gcj_lon, gcj_lat = wgs84_to_gcj02_reference(109.4112, 24.3126)
    path = write_csv(
        tmp_path / "amap.csv",
        ["name", "kind", "district", "latitude", "longitude", "crs"],
        [
            ("文惠路12号", "address", "城中区", gcj_lat, gcj_lon, "gcj02"),
            ("柳州站", "landmark", "柳南区", 24.3035, 109.3945, "wgs84"),
            ("五一路", "road", "城中区", gcj_lat + 0.005, gcj_lon - 0.003, ""),  # no crs: the argument's
        ],
    )
    assert load_gazetteer_file(path, coordinate_system="gcj02") == 3
    entries = {entry.name: entry for entry in GazetteerEntry.objects.all()}

    house = entries["文惠路12号"]
    assert house.longitude == pytest.approx(109.4112, abs=GCJ_TOLERANCE_DEG)
    assert house.latitude == pytest.approx(24.3126, abs=GCJ_TOLERANCE_DEG)
    # The conversion really moved the point (GCJ-02 is a few hundred metres off in Liuzhou).
    assert abs(house.longitude - gcj_lon) + abs(house.latitude - gcj_lat) > 1e-3

    station = entries["柳州站"]
    assert (station.latitude, station.longitude) == (24.3035, 109.3945)

    road = entries["五一路"]
    forward_lon, forward_lat = wgs84_to_gcj02_reference(road.longitude, road.latitude)
    assert forward_lon == pytest.approx(gcj_lon - 0.003, abs=GCJ_TOLERANCE_DEG)
    assert forward_lat == pytest.approx(gcj_lat + 0.005, abs=GCJ_TOLERANCE_DEG)


def test_unknown_crs_in_a_row_is_refused(db: Any, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "odd.csv",
        ["name", "kind", "latitude", "longitude", "crs"],
        [("文惠路", "road", 24.31, 109.41, "wgs84"), ("五一路", "road", 24.31, 109.41, "utm")],
    )
    with translation.override("en"), pytest.raises(ValueError, match="line 3: unknown crs 'utm'"):
        load_gazetteer_file(path)
    assert not GazetteerEntry.objects.exists()
