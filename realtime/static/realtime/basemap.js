/*
 * The live screens' base map (README "Base map"): the tile layers of the page's configuration
 * (tile_layers, tile_coordinate_system; config/settings.py map_tiles) added to a Leaflet map, and the
 * display converters every overlay goes through. Everything is kept in WGS84; on GCJ-02 tiles (Amap,
 * Tencent) a point is shown shifted into GCJ-02 so that it sits on the right street, and a click is
 * shifted back to WGS84. Data the server can convert (jurisdictions, hot spots) is requested with
 * `coordinate_system=<system>` instead.
 *
 *   const display = addBasemap(map, config);
 *   L.marker(display.toMap(lat, lon));                 // WGS84 -> the map's LatLng
 *   display.fromMap(event.latlng);                     // -> {latitude, longitude} in WGS84
 *   L.geoJSON(wgs84GeoJSON, { coordsToLatLng: display.coordsToLatLng });
 *   fetch("/api/geo/layers/district/?coordinate_system=" + display.system);
 *
 * Tiles that fail to load (no network, a wrong key) leave the screen working on the jurisdiction
 * outlines; a small notice says so, and options.onTilesFailing(true) lets the screen return to its look
 * without tiles (false again once a tile loads). Leaflet's L and Django's gettext are globals.
 */

import { fromWgs84, toWgs84 } from "./coords.js";

const TILE_SYSTEMS = ["wgs84", "gcj02"];
const gettext = window.gettext || function (text) { return text; };

/** The converters between WGS84 and the tiles' system (no map needed). */
export function displayFor(config) {
  const wanted = (config && config.tile_coordinate_system) || "wgs84";
  const system = TILE_SYSTEMS.indexOf(wanted) >= 0 ? wanted : "wgs84";
  function toMap(latitude, longitude) {
    const p = fromWgs84(Number(longitude), Number(latitude), system);
    return L.latLng(p[1], p[0]);
  }
  function fromMap(latlng) {
    const at = L.latLng(latlng);
    const p = toWgs84(at.lng, at.lat, system);
    return { latitude: p[1], longitude: p[0] };
  }
  function coordsToLatLng(coords) {
    return toMap(coords[1], coords[0]);
  }
  return { system: system, toMap: toMap, fromMap: fromMap, coordsToLatLng: coordsToLatLng };
}

function escapeHtml(text) {
  return String(text || "").replace(/[&<>"']/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
  });
}

// A line at the map's bottom edge while no tile has loaded but some failed.
function tileNotice(map) {
  const Notice = L.Control.extend({
    options: { position: "bottomright" },
    onAdd: function () {
      const box = L.DomUtil.create("div", "basemap-notice");
      box.setAttribute("role", "status");
      box.textContent = gettext("The base map tiles could not be loaded; the jurisdiction outlines are shown.");
      Object.assign(box.style, {
        background: "rgba(255, 255, 255, 0.9)",
        color: "#7c2d12",
        font: "12px/1.4 sans-serif",
        padding: "2px 6px",
        borderRadius: "3px",
        maxWidth: "22em",
      });
      return box;
    },
  });
  return new Notice();
}

/**
 * Adds the configured tile layers (if any) to the map and returns the display converters plus
 * `hasTiles` and `layers` (the Leaflet tile layers).
 */
export function addBasemap(map, config, options) {
  const onTilesFailing = (options && options.onTilesFailing) || function () {};
  const display = displayFor(config);
  const specs = ((config && config.tile_layers) || []).filter(function (spec) { return spec && spec.url; });
  const layers = [];
  if (specs.length && !map.attributionControl) L.control.attribution({ prefix: false }).addTo(map);
  let loaded = 0;
  let notice = null;
  specs.forEach(function (spec) {
    const tileOptions = {
      attribution: escapeHtml(spec.attribution),
      maxZoom: 19, // beyond the server's own zoom levels, its last tiles are enlarged
      maxNativeZoom: Math.min(spec.max_zoom || 18, 19),
      tms: Boolean(spec.tms),
    };
    if (spec.subdomains && spec.subdomains.length) tileOptions.subdomains = spec.subdomains;
    const layer = L.tileLayer(spec.url, tileOptions);
    layer.on("tileload", function () {
      loaded += 1;
      if (notice) {
        map.removeControl(notice);
        notice = null;
        onTilesFailing(false);
      }
    });
    layer.on("tileerror", function () {
      if (loaded || notice) return;
      notice = tileNotice(map).addTo(map);
      onTilesFailing(true);
    });
    layer.addTo(map);
    layers.push(layer);
  });
  return Object.assign(display, { hasTiles: layers.length > 0, layers: layers });
}
