/*
 * Operator console, middle: the map. Click, drag, address search (geocode.js) or shared coordinates place
 * the pin; the opened ticket has its own marker. Coordinates are kept in WGS84; the base map
 * (realtime/basemap.js: config tile_layers, tile_coordinate_system) shows them in the tiles' system, and a
 * click or drag on GCJ-02 tiles is shifted back to WGS84 here. Jurisdictions come from the server in the
 * tiles' system.
 */

import { $, api, el, errorText, fmt, show } from "./helpers.js";
import { config, hooks, state } from "./state.js";
import { markDirty } from "./fields.js";
import { addBasemap } from "../../realtime/basemap.js";
import { loadLeaflet } from "../../realtime/placemap.js";

let map = null;
let pinMarker = null;
let ticketMarker = null;

export function mapMessage(text) {
  const box = $("map-message");
  box.textContent = text || "";
  show(box, Boolean(text));
}

// WGS84 <-> the tiles' system (realtime/basemap.js), set when the map is built (initMap).
let display = null;
function toMap(latitude, longitude) {
  return display.toMap(latitude, longitude);
}

/** The Leaflet map and its display converters (for tests and troubleshooting). */
export function mapView() {
  return { map: map, display: display };
}

function fitCity(layer, features) {
  // Fit to the cluster of jurisdictions around the median centre: one stray polygon far away
  // must not zoom the map out to a whole country.
  const centres = features
    .map(function (f) {
      const b = L.geoJSON(f).getBounds();
      return b.isValid() ? { bounds: b, centre: b.getCenter() } : null;
    })
    .filter(Boolean);
  if (!centres.length) return false;
  const median = function (values) {
    const sorted = values.slice().sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const lat = median(centres.map((c) => c.centre.lat));
  const lng = median(centres.map((c) => c.centre.lng));
  let bounds = null;
  for (const c of centres) {
    if (Math.abs(c.centre.lat - lat) > 2.5 || Math.abs(c.centre.lng - lng) > 2.5) continue;
    bounds = bounds ? bounds.extend(c.bounds) : L.latLngBounds(c.bounds.getSouthWest(), c.bounds.getNorthEast());
  }
  if (!bounds) return false;
  map.fitBounds(bounds, { padding: [8, 8] });
  return true;
}

export async function initMap() {
  try {
    await loadLeaflet(config);
  } catch (error) {
    mapMessage(gettext("The map library could not be loaded."));
    return;
  }
  map = L.map("map", { zoomControl: false, keyboard: true, zoomSnap: 0.25, attributionControl: false });
  L.control.zoom({ zoomInTitle: gettext("Zoom in"), zoomOutTitle: gettext("Zoom out") }).addTo(map);
  map.setView([30, 110], 4);
  display = addBasemap(map, config, {
    onTilesFailing: function (failing) {
      map.getContainer().classList.toggle("no-tiles", failing);
    },
  });
  if (!display.hasTiles) map.getContainer().classList.add("no-tiles");
  map.on("click", function (event) {
    if (state.submitted && !state.dirty) return; // the accepted ticket's place is not edited here
    placeFromMap(event.latlng);
  });
  try {
    const zoom = 10;
    const data = await api(
      "GET",
      "/api/geo/layers/district/?zoom=" + zoom + "&coordinate_system=" + encodeURIComponent(display.system)
    );
    const layer = L.geoJSON(data, {
      style: function () {
        return { color: "#0b4f8a", weight: 1.2, fillColor: "#5b8fc7", fillOpacity: 0.06 };
      },
      onEachFeature: function (feature, featureLayer) {
        const label = document.createElement("span");
        label.textContent = (feature.properties && feature.properties.name) || "";
        featureLayer.bindTooltip(label, { sticky: true, direction: "top", opacity: 0.85 });
      },
      interactive: true,
    });
    layer.addTo(map); // its clicks reach the map's click handler
    addDetailLayers();
    if (!fitCity(layer, data.features || [])) mapMessage(gettext("No jurisdiction layer is loaded."));
  } catch (error) {
    mapMessage(fmt(gettext("The district layer could not be loaded: %(error)s"), { error: errorText(error) }));
  }
  if (state.pin) drawPin();
}

/** Street boundaries from zoom 12 and grid cells from zoom 15, fetched once when first needed. */
function addDetailLayers() {
  const renderer = L.canvas({ padding: 0.2 });
  const levels = [
    { level: "street", minZoom: 12, style: { color: "#3d6f9e", weight: 1, dashArray: "4 3", fill: false } },
    { level: "grid", minZoom: 15, style: { color: "#8a9aab", weight: 0.7, fill: false } },
  ];
  for (const item of levels) {
    item.layer = null;
    item.loading = false;
  }
  async function update() {
    const zoom = map.getZoom();
    for (const item of levels) {
      const wanted = zoom >= item.minZoom;
      if (wanted && !item.layer && !item.loading) {
        item.loading = true;
        try {
          const data = await api(
            "GET",
            "/api/geo/layers/" + item.level + "/?zoom=" + item.minZoom + "&coordinate_system=" + encodeURIComponent(display.system)
          );
          item.layer = L.geoJSON(data, { style: item.style, renderer: renderer, interactive: false });
        } catch (error) {
          item.layer = null;
        }
        item.loading = false;
      }
      if (!item.layer) continue;
      const shown = map.hasLayer(item.layer);
      if (map.getZoom() >= item.minZoom && !shown) item.layer.addTo(map);
      else if (map.getZoom() < item.minZoom && shown) map.removeLayer(item.layer);
    }
  }
  map.on("zoomend", update);
  update();
}

/** A point clicked or dragged to on the map (in the tiles' system) becomes the pin, in WGS84. */
function placeFromMap(latlng) {
  setPin(display.fromMap(latlng));
}

export function setPin(pin, options) {
  if (state.submitted) {
    // A new place after acceptance starts a new intake only when asked for; keep the ticket as it is.
    return;
  }
  state.pin = { latitude: Number(pin.latitude.toFixed(7)), longitude: Number(pin.longitude.toFixed(7)) };
  markDirty();
  state.routingView = "draft";
  hooks.renderTicket();
  drawPin();
  renderPinSummary();
  if (options && options.pan && map) map.setView(toMap(state.pin.latitude, state.pin.longitude), Math.max(map.getZoom(), 15));
  hooks.requestRouting();
}

/** The accepted ticket's own marker takes the pin's place. */
export function removePinMarker() {
  if (pinMarker && map) map.removeLayer(pinMarker);
  pinMarker = null;
}

export function clearPin() {
  state.pin = null;
  state.placement = null;
  if (pinMarker && map) map.removeLayer(pinMarker);
  pinMarker = null;
  renderPinSummary();
}

function drawPin() {
  if (!map || !state.pin || state.submitted) return;
  const at = toMap(state.pin.latitude, state.pin.longitude);
  if (!pinMarker) {
    pinMarker = L.marker(at, { draggable: true, keyboard: true, title: gettext("Location pin: drag to adjust") });
    pinMarker.on("dragend", function () {
      placeFromMap(pinMarker.getLatLng());
    });
    pinMarker.addTo(map);
  } else {
    pinMarker.setLatLng(at);
  }
}

export function renderPinSummary() {
  const box = $("pin-summary");
  if (!state.pin) {
    box.textContent = gettext("No location yet: click the map, search an address, or enter coordinates.");
    return;
  }
  const where = state.placement ? placementNames(state.placement) : "";
  box.textContent =
    gettext("Location:") + " " + (where ? where + " · " : "") + "WGS84 " + state.pin.latitude.toFixed(6) + ", " + state.pin.longitude.toFixed(6);
}

export function placementNames(placement) {
  const places = (placement && placement.places) || {};
  return ["district", "street", "grid"]
    .map((level) => (places[level] ? places[level].name : ""))
    .filter(Boolean)
    .join(" · ");
}

export function drawTicketMarker() {
  if (!map) return;
  if (ticketMarker) map.removeLayer(ticketMarker);
  ticketMarker = null;
  const ticket = state.ticket;
  if (!ticket || ticket.latitude === null || ticket.longitude === null) return;
  ticketMarker = L.circleMarker(toMap(ticket.latitude, ticket.longitude), {
    radius: 9,
    color: "#c0392b",
    weight: 3,
    fillColor: "#f5b7b1",
    fillOpacity: 0.7,
    interactive: false,
  }).addTo(map);
  if (!state.pin || state.submitted) map.panTo(toMap(ticket.latitude, ticket.longitude));
}

export function removeTicketMarker() {
  if (ticketMarker && map) map.removeLayer(ticketMarker);
  ticketMarker = null;
}
