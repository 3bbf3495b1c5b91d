/*
 * Commander's map: the tickets on the map. Circle markers (fill = state, ring = urgency, a yellow or red
 * ring once escalated), grouped into count bubbles by screen-pixel cells while zoomed out; the count line.
 * A click on a marker opens the ticket's details (details.js, through hooks.selectTicket). Markers stand
 * where the base map shows their WGS84 point (state.js recordLatLng) in the pane above the units (map.js).
 */

import { el, fmt, gettext } from "./helpers.js";
import {
  CELL_PX, CLUSTER_MAX_ZOOM, hooks, recordLatLng, state, STATE_COLOURS, stateName, URGENCY_RING, urgencyName,
} from "./state.js";

const countLine = document.getElementById("cmd-count");
let ticketLayer = null;
const shown = new Map();      // key -> {layer, sig}

export function addTicketLayer(map) {
  ticketLayer = L.layerGroup().addTo(map);
}

/** The marker of a ticket drawn on its own (not in a count bubble), or null: for tests and troubleshooting. */
export function ticketMarker(id) {
  const entry = shown.get("t" + id);
  return entry ? entry.layer : null;
}

export function updateCount() {
  let text = fmt(gettext("%(count)s tickets on the map"), { count: state.tickets.size });
  if (state.truncated) text += " · " + gettext("only the newest are shown; zoom in for more");
  countLine.textContent = text;
}

// --- rendering tickets with grid clustering --------------------------------------------------------

let renderQueued = false;
export function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(function () {
    renderQueued = false;
    render();
    updateCount();
  });
}

function ticketStyle(rec) {
  const ring = URGENCY_RING[rec.urgency] || URGENCY_RING.normal;
  const selected = rec.id === state.selectedId;
  const escalated = rec.escalation === "serious" ? "#c0392b" : rec.escalation ? "#e0a800" : null;
  return {
    pane: "cmd-tickets",
    radius: ring.radius + (selected ? 4 : 0),
    color: selected ? "#111827" : escalated || ring.color,
    weight: selected ? 4 : escalated ? Math.max(ring.weight, 4) : ring.weight,
    opacity: 1,
    fillColor: STATE_COLOURS[rec.state] || "#888888",
    fillOpacity: rec.state === "closed" || rec.state === "cancelled" ? 0.7 : 0.95,
    className: "cmd-ticket",
  };
}

function ticketLabel(rec) {
  return [rec.number, stateName(rec.state), urgencyName(rec.urgency), rec.subjectName].filter(Boolean).join(" · ");
}

function makeTicketMarker(rec) {
  const marker = L.circleMarker(recordLatLng(rec), ticketStyle(rec));
  marker.bindTooltip(el("span", { text: ticketLabel(rec) }), { direction: "top", offset: [0, -8] });
  marker.on("click", function () { hooks.selectTicket(rec.id, false); });
  marker.on("add", function () {
    const node = marker.getElement();
    if (!node) return;
    node.setAttribute("tabindex", "0");
    node.setAttribute("role", "button");
    node.setAttribute("aria-label", ticketLabel(rec));
    node.dataset.ticketId = String(rec.id);
    node.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        hooks.selectTicket(rec.id, false);
      }
    });
    node.addEventListener("focus", function () { marker.openTooltip(); });
    node.addEventListener("blur", function () { marker.closeTooltip(); });
  });
  return marker;
}

function clusterIcon(members) {
  const n = members.length;
  let level = "normal";
  members.forEach(function (m) {
    if (m.urgency === "emergency") level = "emergency";
    else if (m.urgency === "urgent" && level !== "emergency") level = "urgent";
  });
  const size = n < 10 ? 30 : n < 100 ? 38 : 46;
  return L.divIcon({
    className: "cmd-cluster cmd-cluster-" + level,
    html: el("span", { text: String(n) }),
    iconSize: [size, size],
  });
}

function makeCluster(members, center) {
  const label = fmt(gettext("%(count)s tickets here; press to zoom in"), { count: members.length });
  const marker = L.marker(center, { pane: "cmd-tickets", icon: clusterIcon(members), keyboard: true, title: label, riseOnHover: true });
  marker.on("add", function () {
    const node = marker.getElement();
    if (node) {
      node.setAttribute("role", "button");
      node.setAttribute("aria-label", label);
      node.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          marker.fire("click");
        }
      });
    }
  });
  marker.on("click", function () {
    const bounds = L.latLngBounds(members.map(recordLatLng));
    const zoom = state.map.getZoom();
    let target = Math.max(zoom + 1, state.map.getBoundsZoom(bounds.pad(0.3)));
    target = Math.min(target, CLUSTER_MAX_ZOOM + 1);
    state.map.setView(bounds.getCenter(), target);
  });
  return marker;
}

export function render() {
  if (!state.map || !ticketLayer) return;
  const zoom = state.map.getZoom();
  const view = state.map.getBounds().pad(0.2);
  const desired = new Map();
  const cells = new Map();
  state.tickets.forEach(function (rec) {
    const ll = recordLatLng(rec);
    if (!view.contains(ll)) return;
    if (zoom > CLUSTER_MAX_ZOOM || rec.id === state.selectedId) {
      desired.set("t" + rec.id, { rec: rec });
      return;
    }
    const p = state.map.project(ll, zoom);
    const key = Math.floor(p.x / CELL_PX) + ":" + Math.floor(p.y / CELL_PX);
    if (!cells.has(key)) cells.set(key, []);
    cells.get(key).push(rec);
  });
  cells.forEach(function (members, key) {
    if (members.length === 1) {
      desired.set("t" + members[0].id, { rec: members[0] });
      return;
    }
    let lat = 0;
    let lon = 0;
    members.forEach(function (m) {
      const at = recordLatLng(m);
      lat += at.lat;
      lon += at.lng;
    });
    desired.set("c" + zoom + ":" + key, { members: members, center: L.latLng(lat / members.length, lon / members.length) });
  });

  shown.forEach(function (entry, key) {
    if (!desired.has(key)) {
      ticketLayer.removeLayer(entry.layer);
      shown.delete(key);
    }
  });
  desired.forEach(function (want, key) {
    const entry = shown.get(key);
    if (want.rec) {
      const rec = want.rec;
      const sig = [rec.state, rec.urgency, rec.id === state.selectedId, rec.lat, rec.lon].join("|");
      if (entry && entry.sig === sig) return;
      if (entry) {
        entry.layer.setLatLng(recordLatLng(rec));
        entry.layer.setStyle(ticketStyle(rec));
        entry.layer.setRadius(ticketStyle(rec).radius);
        entry.layer.setTooltipContent(el("span", { text: ticketLabel(rec) }));
        const node = entry.layer.getElement();
        if (node) node.setAttribute("aria-label", ticketLabel(rec));
        if (rec.id === state.selectedId) entry.layer.bringToFront();
        entry.sig = sig;
        return;
      }
      const marker = makeTicketMarker(rec);
      ticketLayer.addLayer(marker);
      if (rec.id === state.selectedId) marker.bringToFront();
      shown.set(key, { layer: marker, sig: sig });
    } else {
      const sig = want.members.map(function (m) { return m.id + m.urgency; }).join(",");
      if (entry && entry.sig === sig) return;
      if (entry) ticketLayer.removeLayer(entry.layer);
      const cluster = makeCluster(want.members, want.center);
      ticketLayer.addLayer(cluster);
      shown.set(key, { layer: cluster, sig: sig });
    }
  });
}
