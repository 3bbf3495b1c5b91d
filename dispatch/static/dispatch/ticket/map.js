/*
 * Ticket page: the ticket's place on a small map (Leaflet, served by the app itself: screen_config.leaflet).
 * Coordinates are WGS84. The base map is the screens' shared one (realtime/basemap.js: tile_layers,
 * tile_coordinate_system; the marker is shifted onto GCJ-02 tiles); without tiles the map has no
 * background, just the marker.
 */

import { $, config, el, gettext } from "./helpers.js";

let map = null;
let marker = null;
let leaflet = null;
let display = null;  // WGS84 -> the map's LatLng

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

function message(text) {
  const box = $("map-message");
  box.textContent = text || "";
  box.hidden = !text;
}

let mapReady = null;
/** The map, made once (showPlace may run again before the first one finished). */
function ensureMap(box) {
  if (!mapReady) {
    mapReady = (async function () {
      const L = window.L;
      map = L.map(box, { zoomControl: false, keyboard: true, attributionControl: false });
      L.control.zoom({ zoomInTitle: gettext("Zoom in"), zoomOutTitle: gettext("Zoom out") }).addTo(map);
      const basemap = await import("../../realtime/basemap.js").catch(function () { return null; });
      display = basemap ? basemap.addBasemap(map, config) : null;
      if (!display && config.tile_url) {
        L.tileLayer(config.tile_url, { maxZoom: 19, attribution: config.tile_attribution || "" }).addTo(map);
      }
      if (!(display ? display.hasTiles : config.tile_url)) box.classList.add("no-tiles");
      L.control.scale({ imperial: false }).addTo(map);
    })();
  }
  return mapReady;
}

/** Show the ticket's place, or say that it has none. */
export async function showPlace(latitude, longitude) {
  const box = $("ticket-map");
  if (latitude === null || latitude === undefined || longitude === null || longitude === undefined) {
    box.hidden = true;
    message(gettext("No location on record."));
    return;
  }
  box.hidden = false;
  message("");
  try {
    await loadLeaflet();
  } catch (error) {
    message(gettext("The map library could not be loaded."));
    return;
  }
  await ensureMap(box);
  map.invalidateSize();  // the box may have been hidden (no place before a correction)
  const L = window.L;
  const point = display ? display.toMap(latitude, longitude) : L.latLng(latitude, longitude);
  if (!marker) {
    marker = L.circleMarker(point, { radius: 9, color: "#8e1d12", weight: 2, fillColor: "#e74c3c", fillOpacity: 0.85 }).addTo(map);
    marker.bindTooltip(gettext("Ticket location"));
    map.setView(point, 16);
  } else if (!marker.getLatLng().equals(point)) {
    marker.setLatLng(point);
    map.panTo(point);
  }
  box.dataset.latitude = String(latitude);
  box.dataset.longitude = String(longitude);
}
