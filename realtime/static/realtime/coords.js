/*
 * Coordinate systems of Chinese web maps, for the live screens (the server's twin is gis/coords.py, whose
 * comments explain the constants). Longitude first, as in GeoJSON: every function takes (lon, lat) and
 * returns [lon, lat].
 *
 *   wgs84  GPS, OpenStreetMap, Tianditu (CGCS2000 is within centimetres). Everything is stored in WGS84.
 *   gcj02  the state-mandated offset of WGS84 used by Amap (Gaode) and Tencent tiles.
 *   bd09   Baidu's further offset of GCJ-02.
 *
 * Outside the usual rectangle around China the three coincide. The GCJ-02 inverse has no closed form and
 * is solved by fixed-point iteration to 1e-9 degrees (about 0.1 mm).
 */

export const SYSTEMS = ["wgs84", "gcj02", "bd09"];

const KRASOVSKY_A = 6378245.0;
const KRASOVSKY_EE = 0.00669342162296594323;
const INVERSE_TOLERANCE_DEG = 1e-9;
const INVERSE_MAX_ROUNDS = 30;
const BD_X_PI = (Math.PI * 3000.0) / 180.0;

/** Whether a point gets the Chinese offsets (the rectangle every published implementation uses). */
export function inChina(lon, lat) {
  return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
}

// The [dlon, dlat] in degrees that GCJ-02 adds to a WGS84 point (without the "in China" test).
function gcjOffset(lon, lat) {
  const x = lon - 105.0;
  const y = lat - 35.0;
  const wobble = ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  let north = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) + wobble;
  north += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  north += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320.0 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  let east = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) + wobble;
  east += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  east += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  // Metres to degrees with the Krasovsky ellipsoid's radii of curvature at this latitude.
  const latRad = (lat / 180.0) * Math.PI;
  const wSquared = 1.0 - KRASOVSKY_EE * Math.sin(latRad) * Math.sin(latRad);
  const w = Math.sqrt(wSquared);
  const meridianRadius = (KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (wSquared * w);
  const parallelRadius = (KRASOVSKY_A / w) * Math.cos(latRad);
  return [(east * 180.0) / (parallelRadius * Math.PI), (north * 180.0) / (meridianRadius * Math.PI)];
}

export function wgs84ToGcj02(lon, lat) {
  if (!inChina(lon, lat)) return [lon, lat];
  const d = gcjOffset(lon, lat);
  return [lon + d[0], lat + d[1]];
}

export function gcj02ToWgs84(lon, lat) {
  if (!inChina(lon, lat)) return [lon, lat];
  let x = lon;
  let y = lat;
  for (let round = 0; round < INVERSE_MAX_ROUNDS; round += 1) {
    const d = gcjOffset(x, y);
    const dx = lon - (x + d[0]);
    const dy = lat - (y + d[1]);
    x += dx;
    y += dy;
    if (Math.abs(dx) < INVERSE_TOLERANCE_DEG && Math.abs(dy) < INVERSE_TOLERANCE_DEG) break;
  }
  return [x, y];
}

export function gcj02ToBd09(lon, lat) {
  if (!inChina(lon, lat)) return [lon, lat];
  const radius = Math.hypot(lon, lat) + 0.00002 * Math.sin(lat * BD_X_PI);
  const angle = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * BD_X_PI);
  return [radius * Math.cos(angle) + 0.0065, radius * Math.sin(angle) + 0.006];
}

export function bd09ToGcj02(lon, lat) {
  if (!inChina(lon, lat)) return [lon, lat];
  const x = lon - 0.0065;
  const y = lat - 0.006;
  const radius = Math.hypot(x, y) - 0.00002 * Math.sin(y * BD_X_PI);
  const angle = Math.atan2(y, x) - 0.000003 * Math.cos(x * BD_X_PI);
  return [radius * Math.cos(angle), radius * Math.sin(angle)];
}

/** A WGS84 point in `system`. */
export function fromWgs84(lon, lat, system) {
  if (system === "gcj02") return wgs84ToGcj02(lon, lat);
  if (system === "bd09") return gcj02ToBd09(...wgs84ToGcj02(lon, lat));
  return [lon, lat];
}

/** A point given in `system`, in WGS84. */
export function toWgs84(lon, lat, system) {
  if (system === "gcj02") return gcj02ToWgs84(lon, lat);
  if (system === "bd09") return gcj02ToWgs84(...bd09ToGcj02(lon, lat));
  return [lon, lat];
}
