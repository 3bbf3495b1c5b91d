"""WGS84 / GCJ-02 / BD-09 conversions: published reference values, round trips, the China test, geometries.

Distances are measured as geodesic metres on the WGS84 ellipsoid (pyproj.Geod), so tolerances read as what a
dispatcher would notice on the ground rather than as degrees.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from pyproj import Geod
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Polygon

from gis.coords import (
    INVERSE_TOLERANCE_DEG,
    CoordinateSystem,
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert,
    convert_point,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    to_wgs84,
    transform_geometry,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

Conversion = Callable[[npt.ArrayLike, npt.ArrayLike], tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]

GEOD = Geod(ellps="WGS84")

ALL_CONVERSIONS: dict[str, Conversion] = {
    "wgs84_to_gcj02": wgs84_to_gcj02,
    "gcj02_to_wgs84": gcj02_to_wgs84,
    "gcj02_to_bd09": gcj02_to_bd09,
    "bd09_to_gcj02": bd09_to_gcj02,
    "wgs84_to_bd09": wgs84_to_bd09,
    "bd09_to_wgs84": bd09_to_wgs84,
}

LIUZHOU = (109.41, 24.31)
SHANGHAI = (121.47, 31.23)
BEIJING = (116.40, 39.90)
GUANGZHOU = (113.26, 23.13)

OUTSIDE_CHINA = {
    "tokyo": (139.69, 35.69),
    "london": (-0.1276, 51.5072),
    "new_york": (-74.0060, 40.7128),
    "sydney": (151.2093, -33.8688),
}


def metres_between(
    lon_a: npt.ArrayLike, lat_a: npt.ArrayLike, lon_b: npt.ArrayLike, lat_b: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Geodesic distance in metres between corresponding points (arrays or scalars)."""
    lon_a_arr, lat_a_arr, lon_b_arr, lat_b_arr = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(value, dtype=np.float64)) for value in (lon_a, lat_a, lon_b, lat_b))
    )
    _, _, distance = GEOD.inv(lon_a_arr, lat_a_arr, lon_b_arr, lat_b_arr)
    return np.asarray(distance, dtype=np.float64)


def random_points_in_china(count: int, seed: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Uniform points over mainland China's extent (Hainan to Heilongjiang, Kashgar to Fuyuan), fixed seed.

    Kept a little inside the in-China rectangle: right at its edge a point and its shifted image can fall on
    different sides, where a round trip is legitimately not the identity.
    """
    rng = np.random.default_rng(seed)
    return rng.uniform(73.5, 134.9, count), rng.uniform(18.2, 53.5, count)


# --- Published reference values -------------------------------------------------------------------------------

# (wgs_lon, wgs_lat, gcj_lon, gcj_lat). Sources:
# * googollee/eviltransform, python/test.py and javascript/test.js (the TESTS table, given there as
#   wgsLat, wgsLng, gcjLat, gcjLng; its gcj2wgs_exact test requires the inverse within 0.5 m of the WGS84 value).
# * hujiulong/gcoord, test/unit/crs/WGS84.spec.ts ("WGS84 to GCJ02", [123, 45]).
# * wandergis/coordtransform, test/app.js (wgs84togcj02(116.404, 39.915), the "//result" comment block).
WGS84_GCJ02_REFERENCE = [
    pytest.param(121.5272106, 31.1774276, 121.531541859215, 31.17530398364597, id="eviltransform-shanghai"),
    pytest.param(113.912316, 22.543847, 113.9171764808363, 22.540796131694766, id="eviltransform-shenzhen"),
    pytest.param(116.377817, 39.911954, 116.38404722455657, 39.91334545536069, id="eviltransform-beijing"),
    pytest.param(123.0, 45.0, 123.00607541, 45.00197815, id="gcoord-123-45"),
    pytest.param(116.404, 39.915, 116.41024449916938, 39.91640428150164, id="coordtransform-beijing"),
]

# (gcj_lon, gcj_lat, wgs_lon, wgs_lat): published *inverse* results.
# * hujiulong/gcoord, test/unit/crs/GCJ02.spec.ts ("GCJ02 to WGS84", [123, 45]).
# * wandergis/coordtransform, test/app.js (gcj02towgs84(116.404, 39.915)). That library uses the one-step
#   approximation, ~6 cm from the exact inverse, well inside the 1 m tolerance.
GCJ02_TO_WGS84_REFERENCE = [
    pytest.param(123.0, 45.0, 122.99395597, 44.99804071, id="gcoord-123-45"),
    pytest.param(116.404, 39.915, 116.39775550083061, 39.91359571849836, id="coordtransform-beijing"),
]

# (gcj_lon, gcj_lat, bd_lon, bd_lat). Sources:
# * hujiulong/gcoord, test/unit/crs/GCJ02.spec.ts ("GCJ02 to BD09", [123, 45]).
# * wandergis/coordtransform, test/app.js (gcj02tobd09(116.404, 39.915)).
GCJ02_BD09_REFERENCE = [
    pytest.param(123.0, 45.0, 123.00636499, 45.00636899, id="gcoord-123-45"),
    pytest.param(116.404, 39.915, 116.41036949371029, 39.92133699351021, id="coordtransform-beijing"),
]

# (bd_lon, bd_lat, gcj_lon, gcj_lat): published BD-09 -> GCJ-02 results.
# * hujiulong/gcoord, test/unit/crs/BD09.spec.ts ("BD09 to GCJ02", [123, 45]).
# * wandergis/coordtransform, test/app.js (bd09togcj02(116.404, 39.915)).
BD09_TO_GCJ02_REFERENCE = [
    pytest.param(123.0, 45.0, 122.99363304, 44.99365430, id="gcoord-123-45"),
    pytest.param(116.404, 39.915, 116.39762729119315, 39.90865673957631, id="coordtransform-beijing"),
]

# Composite WGS84 <-> BD-09 values from hujiulong/gcoord: test/unit/crs/WGS84.spec.ts ("WGS84 to BD09") and
# test/unit/crs/BD09.spec.ts ("BD09 to WGS84"), both at [123, 45].
GCOORD_WGS84_TO_BD09 = ((123.0, 45.0), (123.0124491, 45.0083293))
GCOORD_BD09_TO_WGS84 = ((123.0, 45.0), (122.98762210, 44.99171540))

REFERENCE_TOLERANCE_M = 1.0


@pytest.mark.parametrize(("wgs_lon", "wgs_lat", "gcj_lon", "gcj_lat"), WGS84_GCJ02_REFERENCE)
def test_wgs84_to_gcj02_matches_published_values(wgs_lon: float, wgs_lat: float, gcj_lon: float, gcj_lat: float):
    lon, lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
    assert metres_between(lon, lat, gcj_lon, gcj_lat).max() < REFERENCE_TOLERANCE_M


@pytest.mark.parametrize(("wgs_lon", "wgs_lat", "gcj_lon", "gcj_lat"), WGS84_GCJ02_REFERENCE)
def test_gcj02_to_wgs84_recovers_published_wgs84_values(wgs_lon: float, wgs_lat: float, gcj_lon: float, gcj_lat: float):
    lon, lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert metres_between(lon, lat, wgs_lon, wgs_lat).max() < REFERENCE_TOLERANCE_M


@pytest.mark.parametrize(("gcj_lon", "gcj_lat", "wgs_lon", "wgs_lat"), GCJ02_TO_WGS84_REFERENCE)
def test_gcj02_to_wgs84_matches_published_inverse_values(
    gcj_lon: float, gcj_lat: float, wgs_lon: float, wgs_lat: float
):
    lon, lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert metres_between(lon, lat, wgs_lon, wgs_lat).max() < REFERENCE_TOLERANCE_M


@pytest.mark.parametrize(("gcj_lon", "gcj_lat", "bd_lon", "bd_lat"), GCJ02_BD09_REFERENCE)
def test_gcj02_to_bd09_matches_published_values(gcj_lon: float, gcj_lat: float, bd_lon: float, bd_lat: float):
    lon, lat = gcj02_to_bd09(gcj_lon, gcj_lat)
    assert metres_between(lon, lat, bd_lon, bd_lat).max() < REFERENCE_TOLERANCE_M


@pytest.mark.parametrize(("bd_lon", "bd_lat", "gcj_lon", "gcj_lat"), BD09_TO_GCJ02_REFERENCE)
def test_bd09_to_gcj02_matches_published_values(bd_lon: float, bd_lat: float, gcj_lon: float, gcj_lat: float):
    lon, lat = bd09_to_gcj02(bd_lon, bd_lat)
    assert metres_between(lon, lat, gcj_lon, gcj_lat).max() < REFERENCE_TOLERANCE_M


def test_wgs84_bd09_composites_match_published_values():
    (wgs, bd_expected), (bd, wgs_expected) = GCOORD_WGS84_TO_BD09, GCOORD_BD09_TO_WGS84
    assert metres_between(*wgs84_to_bd09(*wgs), *bd_expected).max() < REFERENCE_TOLERANCE_M
    assert metres_between(*bd09_to_wgs84(*bd), *wgs_expected).max() < REFERENCE_TOLERANCE_M


# --- Round trips over China -------------------------------------------------------------------------------------

ROUND_TRIP_POINTS = 2000
ROUND_TRIP_SEED = 12345
ROUND_TRIP_TOLERANCE_M = 0.5


def test_wgs84_gcj02_round_trip_is_within_half_a_metre_everywhere_in_china():
    lon, lat = random_points_in_china(ROUND_TRIP_POINTS, ROUND_TRIP_SEED)
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    max_error_m = metres_between(back_lon, back_lat, lon, lat).max()
    assert max_error_m < ROUND_TRIP_TOLERANCE_M
    # The iterative inverse should do far better than the requirement; the one-step shortcut is off by metres.
    assert max_error_m < 0.01


def test_gcj02_inverse_reproduces_its_input_under_the_forward_transform():
    gcj_lon, gcj_lat = random_points_in_china(ROUND_TRIP_POINTS, ROUND_TRIP_SEED + 1)
    forward_lon, forward_lat = wgs84_to_gcj02(*gcj02_to_wgs84(gcj_lon, gcj_lat))
    assert np.abs(forward_lon - gcj_lon).max() < INVERSE_TOLERANCE_DEG
    assert np.abs(forward_lat - gcj_lat).max() < INVERSE_TOLERANCE_DEG


def test_wgs84_bd09_round_trip_is_within_half_a_metre_everywhere_in_china():
    lon, lat = random_points_in_china(ROUND_TRIP_POINTS, ROUND_TRIP_SEED)
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert metres_between(back_lon, back_lat, lon, lat).max() < ROUND_TRIP_TOLERANCE_M


def test_gcj02_bd09_round_trip_is_within_half_a_metre_everywhere_in_china():
    lon, lat = random_points_in_china(ROUND_TRIP_POINTS, ROUND_TRIP_SEED)
    back_lon, back_lat = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert metres_between(back_lon, back_lat, lon, lat).max() < ROUND_TRIP_TOLERANCE_M


@pytest.mark.parametrize("system", list(CoordinateSystem))
def test_dispatchers_round_trip_through_every_system(system: CoordinateSystem):
    lon, lat = random_points_in_china(200, ROUND_TRIP_SEED + 2)
    back_lon, back_lat = to_wgs84(*from_wgs84(lon, lat, system), system)
    assert metres_between(back_lon, back_lat, lon, lat).max() < ROUND_TRIP_TOLERANCE_M


# --- Inside and outside China -----------------------------------------------------------------------------------


def test_in_china_is_vectorised_and_tells_china_from_abroad():
    inside_points = [LIUZHOU, SHANGHAI, BEIJING, GUANGZHOU]
    outside_points = list(OUTSIDE_CHINA.values())
    lon, lat = np.array(inside_points + outside_points).T
    expected = [True] * len(inside_points) + [False] * len(outside_points)
    assert in_china(lon, lat).tolist() == expected


def test_in_china_treats_nan_as_abroad():
    assert not in_china(np.nan, 30.0)
    assert not in_china(110.0, np.nan)


@pytest.mark.parametrize("conversion_name", list(ALL_CONVERSIONS))
def test_no_offset_is_applied_outside_china(conversion_name: str):
    lon, lat = np.array(list(OUTSIDE_CHINA.values())).T
    converted_lon, converted_lat = ALL_CONVERSIONS[conversion_name](lon, lat)
    np.testing.assert_array_equal(converted_lon, lon)
    np.testing.assert_array_equal(converted_lat, lat)


@pytest.mark.parametrize("city", list(OUTSIDE_CHINA))
def test_convert_point_leaves_foreign_points_alone_in_every_direction(city: str):
    lon, lat = OUTSIDE_CHINA[city]
    for source in CoordinateSystem:
        for target in CoordinateSystem:
            assert convert_point(lon, lat, source, target) == (lon, lat)


@pytest.mark.parametrize(
    "city", [LIUZHOU, SHANGHAI, BEIJING, GUANGZHOU], ids=["liuzhou", "shanghai", "beijing", "guangzhou"]
)
def test_gcj02_offset_in_eastern_china_is_a_few_hundred_metres(city: tuple[float, float]):
    gcj_lon, gcj_lat = wgs84_to_gcj02(*city)
    offset_m = metres_between(*city, gcj_lon, gcj_lat).item()
    assert 100.0 < offset_m < 700.0


def test_bd09_adds_its_own_shift_on_top_of_gcj02():
    gcj_lon, gcj_lat = wgs84_to_gcj02(*LIUZHOU)
    bd_lon, bd_lat = gcj02_to_bd09(gcj_lon, gcj_lat)
    # Baidu's fixed shift of (0.0065, 0.006) degrees plus its perturbations: roughly 0.8-1 km, towards north-east.
    assert 700.0 < metres_between(gcj_lon, gcj_lat, bd_lon, bd_lat).item() < 1100.0
    assert bd_lon > gcj_lon
    assert bd_lat > gcj_lat


# --- Input shapes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("conversion_name", list(ALL_CONVERSIONS))
def test_scalar_and_array_inputs_give_the_same_answer(conversion_name: str):
    conversion = ALL_CONVERSIONS[conversion_name]
    scalar_lon, scalar_lat = conversion(*SHANGHAI)
    assert scalar_lon.shape == scalar_lat.shape == ()

    lon = np.array([[SHANGHAI[0], LIUZHOU[0]], [BEIJING[0], OUTSIDE_CHINA["tokyo"][0]]])
    lat = np.array([[SHANGHAI[1], LIUZHOU[1]], [BEIJING[1], OUTSIDE_CHINA["tokyo"][1]]])
    array_lon, array_lat = conversion(lon, lat)
    assert array_lon.shape == array_lat.shape == (2, 2)
    assert array_lon[0, 0] == scalar_lon
    assert array_lat[0, 0] == scalar_lat
    # Plain lists work too, and the shift is actually applied (not an identity that trivially "matches").
    list_lon, list_lat = conversion([SHANGHAI[0]], [SHANGHAI[1]])
    assert list_lon.tolist() == [scalar_lon.item()]
    assert list_lat.tolist() == [scalar_lat.item()]
    assert scalar_lon != SHANGHAI[0]


def test_inputs_are_not_modified_and_scalars_broadcast_against_arrays():
    lon = np.array([109.40, 109.41, 109.42])
    lat = np.array([24.31, 24.31, 24.31])
    lon_before, lat_before = lon.copy(), lat.copy()
    gcj02_to_wgs84(lon, lat)
    wgs84_to_bd09(lon, lat)
    np.testing.assert_array_equal(lon, lon_before)
    np.testing.assert_array_equal(lat, lat_before)

    broadcast_lon, broadcast_lat = wgs84_to_gcj02(lon, 24.31)
    expected_lon, expected_lat = wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(broadcast_lon, expected_lon)
    np.testing.assert_array_equal(broadcast_lat, expected_lat)


def test_empty_arrays_convert_to_empty_arrays():
    for conversion in ALL_CONVERSIONS.values():
        lon, lat = conversion(np.array([]), np.array([]))
        assert lon.shape == lat.shape == (0,)


def test_nan_points_pass_through_without_spoiling_their_neighbours():
    wgs_lon, wgs_lat = np.array([LIUZHOU[0], np.nan]), np.array([LIUZHOU[1], np.nan])
    gcj_lon, gcj_lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
    back_lon, back_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert np.isnan(back_lon[1])
    assert np.isnan(back_lat[1])
    assert metres_between(back_lon[0], back_lat[0], *LIUZHOU).item() < 0.01


# --- Dispatchers and convert_point ------------------------------------------------------------------------------


def test_dispatchers_accept_enum_members_and_their_string_values():
    by_member = from_wgs84(*SHANGHAI, CoordinateSystem.GCJ02)
    by_string = from_wgs84(*SHANGHAI, "gcj02")
    assert by_member == by_string
    assert to_wgs84(*by_member, "gcj02") == to_wgs84(*by_member, CoordinateSystem.GCJ02)
    np.testing.assert_array_equal(from_wgs84(*SHANGHAI, "wgs84"), SHANGHAI)
    np.testing.assert_array_equal(to_wgs84(*SHANGHAI, "wgs84"), SHANGHAI)


def test_dispatchers_pick_the_right_conversion():
    assert from_wgs84(*SHANGHAI, "bd09") == wgs84_to_bd09(*SHANGHAI)
    assert to_wgs84(*SHANGHAI, "bd09") == bd09_to_wgs84(*SHANGHAI)
    assert from_wgs84(*SHANGHAI, "gcj02") == wgs84_to_gcj02(*SHANGHAI)
    assert to_wgs84(*SHANGHAI, "gcj02") == gcj02_to_wgs84(*SHANGHAI)


def test_convert_goes_directly_between_gcj02_and_bd09():
    assert convert(*SHANGHAI, "gcj02", "bd09") == gcj02_to_bd09(*SHANGHAI)
    assert convert(*SHANGHAI, "bd09", "gcj02") == bd09_to_gcj02(*SHANGHAI)


def test_convert_point_returns_plain_floats():
    lon, lat = convert_point(*LIUZHOU, "wgs84", "gcj02")
    assert type(lon) is float
    assert type(lat) is float
    expected_lon, expected_lat = wgs84_to_gcj02(*LIUZHOU)
    assert (lon, lat) == (expected_lon.item(), expected_lat.item())
    assert convert_point(*LIUZHOU, "bd09", "bd09") == LIUZHOU


@pytest.mark.parametrize("unknown", ["utm", "WGS-84", "", "epsg:4326"])
def test_unknown_system_raises_value_error(unknown: str):
    with pytest.raises(ValueError, match="Unknown coordinate system"):
        to_wgs84(*SHANGHAI, unknown)
    with pytest.raises(ValueError, match="Unknown coordinate system"):
        from_wgs84(*SHANGHAI, unknown)
    with pytest.raises(ValueError, match="Unknown coordinate system"):
        convert_point(*SHANGHAI, unknown, "wgs84")
    with pytest.raises(ValueError, match="Unknown coordinate system"):
        convert_point(*SHANGHAI, "wgs84", unknown)
    with pytest.raises(ValueError, match="Unknown coordinate system"):
        transform_geometry(Polygon([(0, 0), (1, 0), (1, 1)]), unknown, "wgs84")


# --- Geometries -------------------------------------------------------------------------------------------------


def liuzhou_district_with_a_hole() -> Polygon:
    """A ~1 km square around central Liuzhou with a hole in it, in GCJ-02 as an AMap export would give it."""
    shell = [(109.40, 24.30), (109.41, 24.30), (109.41, 24.31), (109.40, 24.31), (109.40, 24.30)]
    hole = [(109.403, 24.303), (109.403, 24.307), (109.407, 24.307), (109.407, 24.303), (109.403, 24.303)]
    return Polygon(shell, [hole])


def test_transform_geometry_converts_every_vertex_of_a_gcj02_polygon_and_keeps_it_valid():
    gcj_polygon = liuzhou_district_with_a_hole()
    wgs_polygon = transform_geometry(gcj_polygon, CoordinateSystem.GCJ02, CoordinateSystem.WGS84)

    assert isinstance(wgs_polygon, Polygon)
    assert wgs_polygon.is_valid
    assert len(wgs_polygon.interiors) == 1
    gcj_coords = shapely.get_coordinates(gcj_polygon)
    wgs_coords = shapely.get_coordinates(wgs_polygon)
    assert wgs_coords.shape == gcj_coords.shape
    expected_lon, expected_lat = gcj02_to_wgs84(gcj_coords[:, 0], gcj_coords[:, 1])
    np.testing.assert_array_equal(wgs_coords[:, 0], expected_lon)
    np.testing.assert_array_equal(wgs_coords[:, 1], expected_lat)
    shifts_m = metres_between(gcj_coords[:, 0], gcj_coords[:, 1], wgs_coords[:, 0], wgs_coords[:, 1])
    assert (shifts_m > 100.0).all()
    assert (shifts_m < 700.0).all()
    # A smooth shift of a few hundred metres barely changes the shape: same area to within 0.1 %.
    assert wgs_polygon.area == pytest.approx(gcj_polygon.area, rel=1e-3)


def test_transform_geometry_round_trips_and_handles_multi_parts():
    gcj_polygon = liuzhou_district_with_a_hole()
    multi = MultiPolygon([gcj_polygon, affinity.translate(gcj_polygon, xoff=0.05)])
    bd_multi = transform_geometry(multi, "gcj02", "bd09")
    assert isinstance(bd_multi, MultiPolygon)
    assert bd_multi.is_valid
    assert not bd_multi.equals_exact(multi, tolerance=1e-4)
    back = transform_geometry(bd_multi, "bd09", "gcj02")
    distances = metres_between(*shapely.get_coordinates(back).T, *shapely.get_coordinates(multi).T)
    assert distances.max() < ROUND_TRIP_TOLERANCE_M


def test_transform_geometry_keeps_z_and_two_dimensional_geometries_stay_two_dimensional():
    route = LineString([(109.40, 24.30, 85.0), (109.41, 24.31, 92.5)])
    converted = transform_geometry(route, "wgs84", "gcj02")
    assert converted.has_z
    np.testing.assert_array_equal(shapely.get_coordinates(converted, include_z=True)[:, 2], [85.0, 92.5])
    flat = transform_geometry(LineString([(109.40, 24.30), (109.41, 24.31)]), "wgs84", "gcj02")
    assert not flat.has_z
