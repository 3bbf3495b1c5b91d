/*
 * Agency inbox, details: the ticket's place on a small Leaflet map (Leaflet is served by the app itself:
 * screen_config.leaflet, loaded on first use). Coordinates are WGS84; the base map is the screens' shared
 * one (realtime/basemap.js: tile_layers, tile_coordinate_system), so on GCJ-02 tiles (Amap, Tencent) the
 * marker is shifted through realtime/coords.js onto the right street. Without tiles the map has no
 * background, just the marker. The map is made once and reused for every work order shown.
 */

import { $, el, gettext } from "./helpers.js";
import { config } from "./state.js";
import { addBasemap } from "../../realtime/basemap.js";

let leaflet = null;
let mapReady = null;
let map = null;
let marker = null;
let display = null;  // WGS84 -> the map's LatLng
let shownKey = null;  // what the map was last centred on: a live refresh keeps the user's panning
let placeSeq = 0;

function loadLeaflet() {
  if (!leaflet) {
    leaflet = new Promise(function (resolve, reject) {
      if (window.L) { resolve(window.L); return; }
      const files = config.leaflet || {};
      if (files.css) {
        const link = el("link");
        link.rel = "stylesheet";
        link.href = files.css;
        document.head.appendChild(link);
      }
      const script = el("script");
      script.src = files.js;
      script.onload = function () { resolve(window.L); };
      script.onerror = function () { leaflet = null; reject(new Error("leaflet")); };
      document.head.appendChild(script);
    });
  }
  return leaflet;
}

function ensureMap(box) {
  if (!mapReady) {
    mapReady = Promise.resolve().then(function () {
      const L = window.L;
      // No keyboard handler: the inbox's own keys (j / k / n) must keep working while the map has focus.
      map = L.map(box, { zoomControl: false, keyboard: false, attributionControl: false, scrollWheelZoom: false });
      L.control.zoom({ zoomInTitle: gettext("Zoom in"), zoomOutTitle: gettext("Zoom out") }).addTo(map);
      display = addBasemap(map, config);
      if (!display.hasTiles) box.classList.add("no-tiles");
      L.control.scale({ imperial: false }).addTo(map);
    });
  }
  return mapReady;
}

function note(text) {
  const box = $("detail-map-note");
  box.textContent = text || "";
  box.hidden = !text;
}

/** Show the place of work order `key` (any value naming it), or say that it has none. */
export async function showPlace(key, latitude, longitude) {
  const seq = ++placeSeq;
  const box = $("detail-map");
  if (latitude === null || latitude === undefined || longitude === null || longitude === undefined) {
    box.hidden = true;
    delete box.dataset.latitude;
    delete box.dataset.longitude;
    note(gettext("No location on record."));
    return;
  }
  box.hidden = false;
  note("");
  try {
    await loadLeaflet();
  } catch (error) {
    box.hidden = true;
    note(gettext("The map library could not be loaded."));
    return;
  }
  await ensureMap(box);
  if (seq !== placeSeq) return;  // another work order was opened meanwhile
  const L = window.L;
  const point = display.toMap(latitude, longitude);
  map.invalidateSize();  // the box may have been hidden (another work order without a place, a closed pane)
  if (!marker) {
    marker = L.circleMarker(point, {
      radius: 9, color: "#8e1d12", weight: 2, fillColor: "#e74c3c", fillOpacity: 0.85, className: "inbox-map-marker",
    }).addTo(map);
    marker.bindTooltip(gettext("Ticket location"));
  } else {
    marker.setLatLng(point);
  }
  const placeKey = [key, latitude, longitude].join("|");
  if (placeKey !== shownKey) {
    shownKey = placeKey;
    map.setView(point, 16);
  }
  box.dataset.latitude = String(latitude);
  box.dataset.longitude = String(longitude);
}

/** The map's box became visible again (the details pane opened on a phone): let Leaflet measure it. */
export function refreshMapSize() {
  if (!map || $("detail-map").hidden) return;
  map.invalidateSize();
  if (marker) map.setView(marker.getLatLng(), map.getZoom() || 16, { animate: false });
}

/** The map, its marker and the display converters (for troubleshooting and tests); nulls before first use. */
export function mapView() {
  return { map: map, marker: marker, display: display };
}
