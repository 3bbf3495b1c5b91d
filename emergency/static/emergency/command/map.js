/*
 * Commander's map: the Leaflet map itself: its panes, the base map (realtime/basemap.js: the configured
 * tiles and the display converters, state.js's display), the jurisdiction polygons (districts always,
 * streets and grids on demand, asked for in the tiles' coordinate system) and the legend. The ticket
 * markers (markers.js) and the hot spots (hotspots.js) add their layers to it.
 *
 * Panes, bottom up: tiles 200, cmd-base 250, cmd-hot 300, cmd-outlines 380, cmd-labels 390, the emergency
 * layer's areas 400, incidents 610 and units 620, then cmd-tickets 640: a ticket marker is never covered
 * by a unit or an incident standing on the same spot (Leaflet's tooltips are at 650).
 */

import { el, fmt, getJSON, gettext, setMapStatus } from "./helpers.js";
import { callHooks, config, display, hooks, state, STATE_COLOURS, URGENCY_RING } from "./state.js";
import { lGrid, lStreet } from "./filters.js";
import { addTicketLayer, render } from "./markers.js";
import { addHotLayer, makeHotLegend } from "./hotspots.js";
import { addBasemap } from "../../realtime/basemap.js";

// --- map setup -------------------------------------------------------------------------------------

let jurisdictionRenderer = null;
const layers = {};
const geoCache = new Map();   // "level:zoom" -> GeoJSON promise

export function loadAssets() {
  function add(tag, attrs) {
    return new Promise(function (resolve, reject) {
      const node = document.createElement(tag);
      Object.keys(attrs).forEach(function (k) { node[k] = attrs[k]; });
      node.onload = resolve;
      node.onerror = reject;
      document.head.appendChild(node);
    });
  }
  if (window.L) return Promise.resolve();
  return Promise.all([
    add("link", { rel: "stylesheet", href: config.leaflet.css }),
    add("script", { src: config.leaflet.js }),
  ]);
}

function zoomBucket() {
  return Math.max(6, Math.min(16, Math.round(state.map.getZoom())));
}

export function fetchLayer(level, zoom) {
  const key = level + ":" + zoom;
  if (!geoCache.has(key)) {
    const url = "/api/geo/layers/" + level + "/?zoom=" + zoom + "&coordinate_system=" + encodeURIComponent(display.system);
    const promise = getJSON(url).catch(function (error) {
      geoCache.delete(key);
      throw error;
    });
    geoCache.set(key, promise);
  }
  return geoCache.get(key);
}

function districtLabel(feature, layer) {
  const center = layer.getBounds().getCenter();
  const label = el("span", { text: feature.properties.name });
  return L.marker(center, {
    pane: "cmd-labels",
    interactive: false,
    keyboard: false,
    icon: L.divIcon({ className: "cmd-district-label", html: label, iconSize: null }),
  });
}

const layerZoom = {};
export function refreshJurisdictions(initial) {
  const zoom = zoomBucket();
  const wanted = [["district", true], ["street", lStreet.checked], ["grid", lGrid.checked]];
  const jobs = wanted.map(function (pair) {
    const level = pair[0];
    const on = pair[1];
    if (!on) {
      if (layers[level]) layers[level].clearLayers();
      layerZoom[level] = null;
      return Promise.resolve(null);
    }
    if (layerZoom[level] === zoom) return Promise.resolve(null);
    layerZoom[level] = zoom;
    return fetchLayer(level, zoom).then(function (data) {
      if (layerZoom[level] !== zoom) return null;
      layers[level].clearLayers();
      layers[level].addData(data);
      if (level === "district") {
        layers.districtFill.clearLayers();
        layers.districtFill.addData(data);
        if (initial || !layers.labels.getLayers().length) {
          layers.labels.clearLayers();
          layers.districtFill.eachLayer(function (layer) { layers.labels.addLayer(districtLabel(layer.feature, layer)); });
        }
      }
      return data;
    }).catch(function (error) {
      layerZoom[level] = null;
      setMapStatus(fmt(gettext("Could not load the map layers (%(error)s)."), { error: error.message }));
      return null;
    });
  });
  return Promise.all(jobs);
}

function makePane(name, zIndex, noPointer) {
  const pane = state.map.createPane(name);
  pane.style.zIndex = String(zIndex);
  if (noPointer) pane.style.pointerEvents = "none";
  return pane;
}

function buildLegend() {
  const Legend = L.Control.extend({
    options: { position: "bottomleft" },
    onAdd: function () {
      const box = el("details", { class: "cmd-legend", open: true });
      box.appendChild(el("summary", { text: gettext("Legend") }));
      const states = el("ul", { class: "cmd-legend-list cmd-legend-states", "aria-label": gettext("State") });
      (config.states || []).forEach(function (s) {
        if (s.code === "merged") return;
        states.appendChild(el("li", null,
          el("span", { class: "cmd-swatch", style: "background:" + (STATE_COLOURS[s.code] || "#888") }), " " + s.name));
      });
      const urgencies = el("ul", { class: "cmd-legend-list", "aria-label": gettext("Urgency") });
      (config.urgencies || []).forEach(function (u) {
        const ring = URGENCY_RING[u.code] || URGENCY_RING.normal;
        urgencies.appendChild(el("li", null,
          el("span", { class: "cmd-swatch cmd-ring", style: "border-color:" + (u.code === "normal" ? "#64748b" : ring.color) + ";border-width:" + Math.max(1, ring.weight - 1) + "px" }),
          " " + u.name));
      });
      urgencies.appendChild(el("li", null, el("span", { class: "cmd-swatch cmd-bubble", text: "9" }), " " + gettext("Several tickets: click to zoom in")));
      box.appendChild(el("div", { class: "cmd-legend-cols" }, states, urgencies));
      box.appendChild(makeHotLegend());
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    },
  });
  state.map.addControl(new Legend());
}

export function initMap() {
  const map = L.map("cmd-map", {
    zoomControl: false,
    attributionControl: false,  // the base map adds it with its tiles
    minZoom: 5,
    maxZoom: 18,
    zoomSnap: 1,
    keyboard: true,
  });
  state.map = map;
  L.control.zoom({ zoomInTitle: gettext("Zoom in"), zoomOutTitle: gettext("Zoom out") }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  makePane("cmd-base", 250, false);
  makePane("cmd-hot", 300, false);
  makePane("cmd-outlines", 380, true);
  makePane("cmd-labels", 390, true);
  // Above the emergency layer's units (620): the pane itself lets clicks through, its markers take them.
  makePane("cmd-tickets", 640, true);
  jurisdictionRenderer = L.canvas({ pane: "cmd-outlines", padding: 0.3 });
  // With tiles the district fill lets them show through; without (or while they fail) it is the paper.
  let hasTiles = false;
  function districtFillStyle() { return { stroke: false, fillColor: "#ffffff", fillOpacity: hasTiles ? 0.05 : 0.9 }; }
  Object.assign(display, addBasemap(map, config, {
    onTilesFailing: function (failing) {
      hasTiles = !failing;
      if (layers.districtFill) layers.districtFill.setStyle(districtFillStyle);
    },
  }));
  hasTiles = display.hasTiles;
  layers.districtFill = L.geoJSON(null, {
    pane: "cmd-base",
    interactive: false,
    style: districtFillStyle,
  }).addTo(map);
  layers.district = L.geoJSON(null, {
    pane: "cmd-outlines",
    renderer: jurisdictionRenderer,
    interactive: false,
    style: function () { return { color: "#0b4f8a", weight: 2, opacity: 0.9, fill: false }; },
  }).addTo(map);
  layers.street = L.geoJSON(null, {
    pane: "cmd-outlines",
    renderer: jurisdictionRenderer,
    interactive: false,
    style: function () { return { color: "#3f6f96", weight: 1.2, opacity: 0.8, dashArray: "5 4", fill: false }; },
  }).addTo(map);
  layers.grid = L.geoJSON(null, {
    pane: "cmd-outlines",
    renderer: jurisdictionRenderer,
    interactive: false,
    style: function () { return { color: "#7b93a8", weight: 0.6, opacity: 0.7, fill: false }; },
  }).addTo(map);
  layers.labels = L.layerGroup().addTo(map);
  addHotLayer(map);
  addTicketLayer(map);
  buildLegend();
  callHooks("basemap", display);
  callHooks("mapReady", map);
  map.setView([0, 0], 5);  // replaced by the fit once the data is in

  map.on("zoomend", function () {
    refreshJurisdictions(false);
  });
  map.on("moveend", function () {
    render();
    if (state.bboxMode && !state.firstLoad && (!state.loadedBounds || !state.loadedBounds.contains(map.getBounds()))) hooks.loadTicketsSoon();
  });
  if (window.ResizeObserver) {
    new ResizeObserver(function () { map.invalidateSize(); }).observe(document.getElementById("cmd-map"));
  }
}
