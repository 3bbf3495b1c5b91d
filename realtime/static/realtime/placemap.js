/*
 * The screens' Leaflet loader and the small "where is it" map of one ticket (the ticket page, the agency
 * inbox's details). Leaflet is served by the app itself (screen_config.leaflet) and loaded on first use.
 * Coordinates are WGS84; the base map is the screens' shared one (basemap.js: tile_layers,
 * tile_coordinate_system), so on GCJ-02 tiles (AMap, Tencent) the marker is shifted through coords.js onto
 * the right street. Without tiles the map has no background, just the marker.
 */

import { addBasemap } from "./basemap.js";

const gettext = window.gettext || function (text) { return text; }; // Django's JavaScriptCatalog

let leaflet = null;

/** Leaflet, loaded once per page from the files the screen's config names. */
export function loadLeaflet(config) {
  if (!leaflet) {
    leaflet = new Promise(function (resolve, reject) {
      if (window.L) { resolve(window.L); return; }
      const files = config.leaflet || {};
      if (files.css) {
        const link = document.createElement("link");
        link.rel = "stylesheet";
        link.href = files.css;
        document.head.appendChild(link);
      }
      const script = document.createElement("script");
      script.src = files.js;
      script.onload = function () { resolve(window.L); };
      script.onerror = function () { leaflet = null; reject(new Error("leaflet")); };
      document.head.appendChild(script);
    });
  }
  return leaflet;
}

/**
 * A small map in `box` showing one place at a time. `note(text)` shows a message beside it ("" hides it).
 * `keyboard: false` leaves the screen's own shortcut keys working while the map has focus.
 * `markerClass` names the marker's element for tests. The map is made once and reused for every place.
 */
export function placeMap(box, config, { note, keyboard = true, scrollWheelZoom = true, markerClass = "" }) {
  let made = null;
  let map = null;
  let marker = null;
  let display = null; // WGS84 -> the map's LatLng
  let shownKey = null; // what the map was last centred on: a live refresh keeps the user's panning
  let seq = 0;

  function ensureMap() {
    if (!made) {
      made = Promise.resolve().then(function () {
        const L = window.L;
        map = L.map(box, { zoomControl: false, keyboard: keyboard, attributionControl: false, scrollWheelZoom: scrollWheelZoom });
        L.control.zoom({ zoomInTitle: gettext("Zoom in"), zoomOutTitle: gettext("Zoom out") }).addTo(map);
        display = addBasemap(map, config);
        if (!display.hasTiles) box.classList.add("no-tiles");
        L.control.scale({ imperial: false }).addTo(map);
      });
    }
    return made;
  }

  /** Show the place of `key` (any value naming what is shown), or say that it has none. */
  async function show(key, latitude, longitude) {
    const mine = ++seq;
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
      await loadLeaflet(config);
    } catch (error) {
      box.hidden = true;
      note(gettext("The map library could not be loaded."));
      return;
    }
    await ensureMap();
    if (mine !== seq) return; // another place was asked for meanwhile
    const L = window.L;
    const point = display.toMap(latitude, longitude);
    map.invalidateSize(); // the box may have been hidden (a place-less ticket before, a closed pane)
    if (!marker) {
      marker = L.circleMarker(point, {
        radius: 9, color: "#8e1d12", weight: 2, fillColor: "#e74c3c", fillOpacity: 0.85, className: markerClass,
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

  /** The box became visible again (a pane opened on a phone): let Leaflet measure it. */
  function refreshSize() {
    if (!map || box.hidden) return;
    map.invalidateSize();
    if (marker) map.setView(marker.getLatLng(), map.getZoom() || 16, { animate: false });
  }

  /** The map, its marker and the display converters (for troubleshooting and tests); nulls before first use. */
  function view() {
    return { map: map, marker: marker, display: display };
  }

  return { show: show, refreshSize: refreshSize, view: view };
}
