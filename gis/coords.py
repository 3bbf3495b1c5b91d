"""Conversions between the three coordinate systems found on Chinese web maps.

* **WGS84** — GPS / international maps (OpenStreetMap, Google Earth). Everything this app stores is WGS84.
* **GCJ-02** ("Mars coordinates") — the state-mandated obfuscation of WGS84 used by AMap (Gaode), Tencent and
  Google Maps China. The forward transform is the widely published reverse-engineered algorithm: a polynomial
  plus sine-series offset, scaled to degrees on the Krasovsky 1940 ellipsoid. It has no closed-form inverse, so
  GCJ-02 → WGS84 is solved iteratively here.
* **BD-09** — Baidu's further obfuscation of GCJ-02: a small rotation and stretch around a point slightly
  north-east of the origin.

All functions take longitude first (x, y order, as in Shapely and GeoJSON), are vectorised over numpy arrays
and also accept plain scalars (returned as 0-d arrays). Use :func:`convert_point` for a single point as floats.

Outside China the three systems coincide: the map providers apply no offset there, so neither do we (see
:func:`in_china` for the exact test).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
GeometryT = TypeVar("GeometryT", bound=BaseGeometry)


class CoordinateSystem(StrEnum):
    """The coordinate systems a layer, an address lookup or a caller's position may be declared in."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


# --- GCJ-02 constants -------------------------------------------------------------------------------------------
# GCJ-02 scales its offset (computed in metres) to degrees on the Krasovsky 1940 ellipsoid, the datum of the old
# Beijing 1954 system, not on WGS84. Some ports use WGS84's 6378137 m instead and disagree with AMap by ~1 cm.
KRASOVSKY_SEMI_MAJOR_AXIS_M = 6378245.0
KRASOVSKY_ECCENTRICITY_SQUARED = 0.00669342162296594323

# The offset polynomials are expressed relative to this point (roughly the centre of China).
_GCJ_ORIGIN_LON = 105.0
_GCJ_ORIGIN_LAT = 35.0

# --- BD-09 constants --------------------------------------------------------------------------------------------
# Baidu perturbs the polar form (radius and angle) of the GCJ-02 coordinates with sines/cosines of this frequency,
# then shifts the result by a fixed amount.
_BD_X_PI = np.pi * 3000.0 / 180.0
_BD_RADIUS_PERTURBATION = 0.00002
_BD_ANGLE_PERTURBATION = 0.000003
_BD_LON_SHIFT = 0.0065
_BD_LAT_SHIFT = 0.006

# --- Inverse iteration ------------------------------------------------------------------------------------------
# The GCJ-02 offset changes by less than 0.01 degree per degree moved (its Jacobian is below 0.0073 everywhere in
# the rectangle), so the fixed-point iteration used for the inverse is a contraction gaining two decimal digits
# per round: from the first guess (off by the whole offset, up to ~1 km) to 1e-9 degrees (~0.1 mm, two orders of
# magnitude better than the 1e-7 degrees / ~1 cm we need) takes 5 rounds. The cap only guards against surprises.
INVERSE_TOLERANCE_DEG = 1e-9
INVERSE_MAX_ITERATIONS = 30

# --- Where the offsets apply ------------------------------------------------------------------------------------
# Choice: the rough rectangle around China that virtually every published GCJ-02 implementation uses
# (eviltransform, coordtransform, gcoord, ...). It over-includes neighbours (Mongolia, the Korean peninsula,
# western Japan, northern South-East Asia) and includes Taiwan, Hong Kong and Macau. A precise border polygon
# would be more "correct", but the GCJ-02 data we import was produced by tools using this rectangle, so matching
# it is what makes our conversion agree with theirs near the edges. Bounds are inclusive.
CHINA_MIN_LON = 72.004
CHINA_MAX_LON = 137.8347
CHINA_MIN_LAT = 0.8293
CHINA_MAX_LAT = 55.8271


def _as_float_arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Both coordinate inputs as float64 arrays of one common (broadcast) shape; never views of the inputs."""
    lon_array, lat_array = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    # Copy: broadcast arrays may be read-only views, and callers must never see their input arrays modified.
    return np.array(lon_array, dtype=np.float64), np.array(lat_array, dtype=np.float64)


def in_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> BoolArray:
    """Whether each point (any of the three systems; the offsets are too small to matter) gets the Chinese offsets.

    NaN coordinates are "not in China", so they pass through every conversion unchanged.
    """
    lon_array, lat_array = _as_float_arrays(lon, lat)
    inside: BoolArray = (
        (lon_array >= CHINA_MIN_LON)
        & (lon_array <= CHINA_MAX_LON)
        & (lat_array >= CHINA_MIN_LAT)
        & (lat_array <= CHINA_MAX_LAT)
    )
    return inside


def _gcj02_offset(wgs_lon: FloatArray, wgs_lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The (dlon, dlat) in degrees that GCJ-02 adds to a WGS84 point, ignoring the "in China" test."""
    x = wgs_lon - _GCJ_ORIGIN_LON
    y = wgs_lat - _GCJ_ORIGIN_LAT

    # Sine terms shared by both axes (a high-frequency wobble in longitude).
    shared_wobble = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0

    # Northward offset in (approximately) metres.
    north_m = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    north_m += shared_wobble
    north_m += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    north_m += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0

    # Eastward offset in (approximately) metres.
    east_m = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    east_m += shared_wobble
    east_m += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    east_m += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0

    # Metres to degrees with the Krasovsky meridian and prime-vertical radii of curvature at this latitude.
    lat_rad = wgs_lat / 180.0 * np.pi
    w_squared = 1.0 - KRASOVSKY_ECCENTRICITY_SQUARED * np.sin(lat_rad) ** 2
    w = np.sqrt(w_squared)
    meridian_radius = KRASOVSKY_SEMI_MAJOR_AXIS_M * (1.0 - KRASOVSKY_ECCENTRICITY_SQUARED) / (w_squared * w)
    parallel_radius = KRASOVSKY_SEMI_MAJOR_AXIS_M / w * np.cos(lat_rad)
    dlat: FloatArray = north_m * 180.0 / (meridian_radius * np.pi)
    dlon: FloatArray = east_m * 180.0 / (parallel_radius * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS84 (input) → GCJ-02 (output). Points outside China are returned unchanged."""
    wgs_lon, wgs_lat = _as_float_arrays(lon, lat)
    inside = in_china(wgs_lon, wgs_lat)
    dlon, dlat = _gcj02_offset(wgs_lon, wgs_lat)
    return np.where(inside, wgs_lon + dlon, wgs_lon), np.where(inside, wgs_lat + dlat, wgs_lat)


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 (input) → WGS84 (output), solved iteratively to ~1e-9 degrees. Points outside China are unchanged.

    GCJ-02 has no closed-form inverse. The usual one-step shortcut (subtract the offset computed at the GCJ-02
    point) is off by up to ~5 m, enough to put an address in the wrong grid cell. Instead we iterate
    ``wgs ← wgs + (gcj − forward(wgs))`` until the forward transform of the estimate reproduces the input.
    """
    gcj_lon, gcj_lat = _as_float_arrays(lon, lat)
    # Decide "in China" once, on the input, and use the raw offset inside the loop: re-testing each estimate
    # could flip a point near the rectangle's edge in and out of China and stop the iteration from converging.
    inside = in_china(gcj_lon, gcj_lat)
    wgs_lon = gcj_lon.copy()
    wgs_lat = gcj_lat.copy()
    for _ in range(INVERSE_MAX_ITERATIONS):
        dlon, dlat = _gcj02_offset(wgs_lon, wgs_lat)
        residual_lon = np.where(inside, gcj_lon - (wgs_lon + dlon), 0.0)
        residual_lat = np.where(inside, gcj_lat - (wgs_lat + dlat), 0.0)
        wgs_lon += residual_lon
        wgs_lat += residual_lat
        if residual_lon.size == 0:
            break
        if max(np.abs(residual_lon).max(), np.abs(residual_lat).max()) < INVERSE_TOLERANCE_DEG:
            break
    return wgs_lon, wgs_lat


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 (input) → BD-09 (output). Points outside China are returned unchanged.

    Choice: Baidu's shift is applied only inside China, like GCJ-02's, so that abroad all three systems coincide
    and a foreign point never picks up a spurious ~1 km shift. (Some libraries, e.g. gcoord and coordtransform,
    apply BD-09 everywhere; inside China the results are identical.)
    """
    gcj_lon, gcj_lat = _as_float_arrays(lon, lat)
    inside = in_china(gcj_lon, gcj_lat)
    radius = np.hypot(gcj_lon, gcj_lat) + _BD_RADIUS_PERTURBATION * np.sin(gcj_lat * _BD_X_PI)
    angle = np.arctan2(gcj_lat, gcj_lon) + _BD_ANGLE_PERTURBATION * np.cos(gcj_lon * _BD_X_PI)
    bd_lon = radius * np.cos(angle) + _BD_LON_SHIFT
    bd_lat = radius * np.sin(angle) + _BD_LAT_SHIFT
    return np.where(inside, bd_lon, gcj_lon), np.where(inside, bd_lat, gcj_lat)


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 (input) → GCJ-02 (output), by the published inverse formula. Points outside China are unchanged.

    The formula undoes the shift, then removes the radius/angle perturbations evaluated at the shifted point
    instead of at the (unknown) GCJ-02 point; the two differ by ~0.01°, which leaves a round-trip residual of up
    to ~0.25 m. That is within the accuracy of any Baidu-sourced coordinate and is what every
    other implementation (and Baidu-derived reference data) uses, so we keep it rather than iterate.
    """
    bd_lon, bd_lat = _as_float_arrays(lon, lat)
    inside = in_china(bd_lon, bd_lat)
    x = bd_lon - _BD_LON_SHIFT
    y = bd_lat - _BD_LAT_SHIFT
    radius = np.hypot(x, y) - _BD_RADIUS_PERTURBATION * np.sin(y * _BD_X_PI)
    angle = np.arctan2(y, x) - _BD_ANGLE_PERTURBATION * np.cos(x * _BD_X_PI)
    return np.where(inside, radius * np.cos(angle), bd_lon), np.where(inside, radius * np.sin(angle), bd_lat)


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS84 (input) → BD-09 (output), via GCJ-02. Points outside China are returned unchanged."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 (input) → WGS84 (output), via GCJ-02. Points outside China are returned unchanged."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _parse_system(system: CoordinateSystem | str) -> CoordinateSystem:
    try:
        return CoordinateSystem(system)
    except ValueError:
        known = ", ".join(member.value for member in CoordinateSystem)
        raise ValueError(f"Unknown coordinate system {system!r}; expected one of: {known}") from None


def to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, system: CoordinateSystem | str) -> tuple[FloatArray, FloatArray]:
    """Coordinates given in ``system`` (input) → WGS84 (output). Raises ValueError for an unknown system."""
    match _parse_system(system):
        case CoordinateSystem.WGS84:
            return _as_float_arrays(lon, lat)
        case CoordinateSystem.GCJ02:
            return gcj02_to_wgs84(lon, lat)
        case CoordinateSystem.BD09:
            return bd09_to_wgs84(lon, lat)


def from_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, system: CoordinateSystem | str) -> tuple[FloatArray, FloatArray]:
    """WGS84 (input) → coordinates in ``system`` (output). Raises ValueError for an unknown system."""
    match _parse_system(system):
        case CoordinateSystem.WGS84:
            return _as_float_arrays(lon, lat)
        case CoordinateSystem.GCJ02:
            return wgs84_to_gcj02(lon, lat)
        case CoordinateSystem.BD09:
            return wgs84_to_bd09(lon, lat)


def convert(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    source: CoordinateSystem | str,
    target: CoordinateSystem | str,
) -> tuple[FloatArray, FloatArray]:
    """Coordinates in ``source`` (input) → coordinates in ``target`` (output), vectorised.

    GCJ-02 ↔ BD-09 goes directly rather than through WGS84, which would add a needless iterative inverse.
    Raises ValueError for an unknown system.
    """
    source_system = _parse_system(source)
    target_system = _parse_system(target)
    if source_system == target_system:
        return _as_float_arrays(lon, lat)
    if (source_system, target_system) == (CoordinateSystem.GCJ02, CoordinateSystem.BD09):
        return gcj02_to_bd09(lon, lat)
    if (source_system, target_system) == (CoordinateSystem.BD09, CoordinateSystem.GCJ02):
        return bd09_to_gcj02(lon, lat)
    return from_wgs84(*to_wgs84(lon, lat, source_system), target_system)


def convert_point(lon: float, lat: float, source: str, target: str) -> tuple[float, float]:
    """One point from ``source`` (input) to ``target`` (output) as plain floats, e.g. for a geocoder result."""
    converted_lon, converted_lat = convert(lon, lat, source, target)
    return float(converted_lon), float(converted_lat)


def transform_geometry(geom: GeometryT, source: CoordinateSystem | str, target: CoordinateSystem | str) -> GeometryT:
    """A copy of a Shapely geometry with every vertex converted from ``source`` to ``target``.

    Used when importing a polygon layer declared as GCJ-02 or BD-09 (convert to WGS84 before storing). All
    coordinates go through one vectorised call. Z values, if any, are kept as they are; the vertex count and
    order are unchanged, and since the offsets vary smoothly over metres-to-kilometres a valid polygon stays valid.
    """
    source_system = _parse_system(source)
    target_system = _parse_system(target)

    def convert_vertices(coordinates: FloatArray) -> FloatArray:
        converted = coordinates.copy()
        converted[:, 0], converted[:, 1] = convert(coordinates[:, 0], coordinates[:, 1], source_system, target_system)
        return converted

    # include_z=True hands over a third column (NaN for 2D geometries) and keeps each geometry's dimensionality,
    # where the default would silently drop Z.
    transformed: GeometryT = shapely.transform(geom, convert_vertices, include_z=True)
    return transformed
