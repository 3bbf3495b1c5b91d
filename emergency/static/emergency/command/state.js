/*
 * Commander's map: the page's configuration, colours and names, the emergency layer's hooks, the lookups
 * filled from the API, the one shared state object of the map, and the hooks through which a part asks a
 * higher one to act.
 */

import { gettext } from "./helpers.js";

export const config = JSON.parse(document.getElementById("screen-config").textContent);

export const CELL_PX = 60;              // clustering cell size in screen pixels
export const CLUSTER_MAX_ZOOM = 15;     // above this every ticket is its own marker
export const FEED_MAX = 200;
export const TERMINAL = ["closed", "merged", "cancelled"];
export const STATE_COLOURS = {
  accepted: "#2563eb",
  dispatched: "#7c3aed",
  in_progress: "#0891b2",
  returned: "#db2777",
  replied: "#0d9488",
  pending_revisit: "#ca8a04",
  revisited: "#65a30d",
  closed: "#94a3b8",
  merged: "#cbd5e1",
  cancelled: "#64748b",
};
export const URGENCY_RING = {
  normal: { color: "#ffffff", weight: 1.5, radius: 7 },
  urgent: { color: "#f97316", weight: 3, radius: 8 },
  emergency: { color: "#dc2626", weight: 4, radius: 10 },
};
export const HOT_COLOURS = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
export const WORK_ORDER_STATES = {
  pending_sign: gettext("Awaiting sign-off"),
  handling: gettext("Being handled"),
  return_requested: gettext("Return requested, awaiting review"),
  replied: gettext("Replied, awaiting review"),
  approved: gettext("Reply approved"),
  returned: gettext("Returned"),
  cancelled: gettext("Cancelled"),
  closed: gettext("Closed"),
};
export const RESPONSIBILITIES = { lead: gettext("Lead"), co: gettext("Co-handling") };
const EXTRA_ACTIONS = { absorb_duplicate: gettext("Absorbed a duplicate") };
// The emergency layer (emergency.js) plugs in here: it hears the map, the events and the ticket panel.
export const emergencyHooks = window.HotlineCommandHooks = window.HotlineCommandHooks || [];
export function callHooks(name, arg) {
  emergencyHooks.forEach(function (hook) { if (hook[name]) hook[name](arg); });
}

// --- lookups ---------------------------------------------------------------------------------------

const stateNames = new Map((config.states || []).map(function (s) { return [s.code, s.name]; }));
const urgencyNames = new Map((config.urgencies || []).map(function (u) { return [u.code, u.name]; }));
const agencyByCode = new Map((config.agencies || []).map(function (a) { return [a.code, a]; }));
export const agencyById = new Map();      // id -> {code, name}, from /api/agencies/
export const subjectById = new Map();     // id -> {code, name, path}, from /api/subjects/
export const actionLabels = new Map();    // "machine:action" -> label, from /api/workflow/

export function stateName(code) { return stateNames.get(code) || WORK_ORDER_STATES[code] || code || ""; }
export function urgencyName(code) { return urgencyNames.get(code) || code || ""; }
export function actionName(machine, action) {
  return actionLabels.get(machine + ":" + action) || EXTRA_ACTIONS[action] || action;
}

// --- state of the map ------------------------------------------------------------------------------

export const state = {
  tickets: new Map(),  // id -> record {id, number, state, urgency, subject, subjectName, lat, lon (WGS84), createdMs}
  selectedId: null,    // the ticket in the details panel
  map: null,           // the Leaflet map, once built (map.js)
  truncated: false,    // the last load was cut to the newest tickets
  bboxMode: false,     // load only around the view (after a truncated load)
  loadedBounds: null,  // the area the last bbox load covered
  holding: true,       // events wait while the map data is (re)loaded, then apply in order
  pendingEvents: [],
  firstLoad: true,
};

// The base map's converters (realtime/basemap.js), filled in by map.js before anything is drawn: records stay
// in WGS84; toMap(lat, lon) gives the LatLng on the tiles, fromMap(latlng) the WGS84 point of a LatLng, and
// system is the coordinate_system to ask the server for (jurisdictions, hot spots).
export const display = { system: "wgs84", toMap: null, fromMap: null, coordsToLatLng: null, hasTiles: false };

/** Where a ticket record is drawn (cached on the record until it moves). */
export function recordLatLng(rec) {
  if (!rec._at || rec._atLat !== rec.lat || rec._atLon !== rec.lon) {
    rec._at = display.toMap(rec.lat, rec.lon);
    rec._atLat = rec.lat;
    rec._atLon = rec.lon;
  }
  return rec._at;
}

// --- hooks between the parts -----------------------------------------------------------------------
// A module imports only the modules below it (the order is in main.js). Where a lower part must make a
// higher one act, it calls the hook of that name; main.js fills them in before anything runs. (Not to be
// confused with the emergency layer's hooks above, which hear what happens.)
export const hooks = Object.seal({
  selectTicket: null,     // details.js: open a ticket's details (markers.js: a marker was clicked)
  loadTicketsSoon: null,  // tickets.js: load the tickets again, debounced (map.js: the view left the loaded area)
});
