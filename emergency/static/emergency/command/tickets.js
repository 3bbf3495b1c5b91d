/*
 * Commander's map: the tickets the map shows (records from /api/geo/tickets/ or a ticket's detail),
 * loading them (all, or around the view once there are too many), applying live events to them (which
 * wait while a load is under way), fitting the view. Records keep WGS84 as every source gives it (the
 * API, ticket details, events); the view's box is shifted back to WGS84 for the API (state.js display).
 */

import { debounce, fmt, getJSON, gettext, setMapStatus } from "./helpers.js";
import { agencyById, display, state, subjectById } from "./state.js";
import { currentFilters, filterParams, fullMatches, quickMatches, timeMatches } from "./filters.js";
import { fetchLayer } from "./map.js";
import { render, scheduleRender, updateCount } from "./markers.js";

let ticketGeneration = 0;

function recordFromFeature(feature) {
  const p = feature.properties;
  return {
    id: Number(feature.id),
    number: p.number,
    state: p.state,
    urgency: p.urgency,
    subject: p.subject,
    subjectName: p.subject_name,
    district: p.district,
    lat: feature.geometry.coordinates[1],
    lon: feature.geometry.coordinates[0],
    createdMs: Date.parse(p.created_at),
  };
}

function recordFromDetail(d) {
  return {
    id: d.id,
    number: d.number,
    state: d.state,
    urgency: d.urgency,
    subject: d.subject ? d.subject.code : "",
    subjectName: d.subject ? d.subject.name : "",
    district: d.placement && d.placement.district ? d.placement.district.name : "",
    lat: d.latitude,
    lon: d.longitude,
    createdMs: Date.parse(d.created_at),
    agencies: (d.work_orders || []).map(function (w) { return w.agency && w.agency.code; }),
  };
}

function paddedBounds() {
  return state.map.getBounds().pad(0.5);
}

export function loadTickets() {
  const generation = ++ticketGeneration;
  state.holding = true;
  const f = currentFilters();
  const params = filterParams(f);
  let requested = null;
  if (state.bboxMode && state.map) {
    requested = paddedBounds();
    const south = display.fromMap(requested.getSouthWest());
    const north = display.fromMap(requested.getNorthEast());
    params.set("bbox", [south.longitude, south.latitude, north.longitude, north.latitude]
      .map(function (v) { return v.toFixed(6); }).join(","));
  }
  setMapStatus(gettext("Loading tickets…"));
  return getJSON("/api/geo/tickets/?" + params.toString()).then(function (data) {
    if (generation !== ticketGeneration) return;
    state.tickets.clear();
    (data.features || []).forEach(function (feature) {
      const rec = recordFromFeature(feature);
      state.tickets.set(rec.id, rec);
    });
    state.truncated = Boolean(data.truncated);
    state.loadedBounds = requested;
    if (state.truncated && !state.bboxMode) state.bboxMode = true;
    setMapStatus("");
    if (state.firstLoad) {
      state.firstLoad = false;
      fitToTickets(true);
      if (state.bboxMode) return loadTickets();
    }
  }).catch(function (error) {
    if (generation !== ticketGeneration) return;
    setMapStatus(fmt(gettext("Could not load tickets (%(error)s)."), { error: error.message }));
  }).then(function () {
    if (generation !== ticketGeneration) return;
    state.holding = false;
    while (state.pendingEvents.length) applyEvent(state.pendingEvents.shift());
    render();
    updateCount();
  });
}

// Fetch one ticket and put it on the map, or take it off, according to the filters.
const considering = new Map();  // id -> true while fetching; "again" when another look was asked for
export function considerTicket(id) {
  if (considering.has(id)) {
    considering.set(id, "again");
    return;
  }
  considering.set(id, true);
  const generation = ticketGeneration;
  getJSON("/api/tickets/" + id + "/").then(function (detail) {
    if (generation !== ticketGeneration) return;
    const rec = recordFromDetail(detail);
    if (rec.lat !== null && rec.lon !== null && fullMatches(rec, currentFilters())) state.tickets.set(rec.id, rec);
    else state.tickets.delete(rec.id);
    scheduleRender();
  }).catch(function () {
    /* not visible to us (any more): nothing to show */
  }).then(function () {
    const again = considering.get(id) === "again";
    considering.delete(id);
    if (again) considerTicket(id);
  });
}

export const loadTicketsSoon = debounce(loadTickets, 300);

// Fit the view to the tickets (ignoring stray outliers), else to the streets, else to the districts.
export function fitToTickets(initial) {
  const recs = Array.from(state.tickets.values());
  if (recs.length) {
    const lats = recs.map(function (r) { return r.lat; }).sort(function (a, b) { return a - b; });
    const lons = recs.map(function (r) { return r.lon; }).sort(function (a, b) { return a - b; });
    const lo = Math.floor((recs.length - 1) * 0.02);
    const hi = Math.ceil((recs.length - 1) * 0.98);
    const bounds = L.latLngBounds(display.toMap(lats[lo], lons[lo]), display.toMap(lats[hi], lons[hi]));
    state.map.fitBounds(bounds.pad(0.1), { maxZoom: 15, animate: !initial });
    return Promise.resolve();
  }
  return fetchLayer("street", 10).then(function (data) {
    if (!data.features || !data.features.length) return fetchLayer("district", 10);
    return data;
  }).then(function (data) {
    const bounds = L.geoJSON(data).getBounds();
    if (bounds.isValid()) state.map.fitBounds(bounds, { animate: !initial });
  }).catch(function () { /* keep the current view */ });
}

// --- live events on the tickets (live.js holds them back while a load is under way) ----------------

function onTicketPayload(t, event) {
  if (!t) return;
  const located = t.latitude !== null && t.latitude !== undefined && t.longitude !== null && t.longitude !== undefined;
  const existing = state.tickets.get(t.id);
  const f = currentFilters();
  if (existing) {
    existing.state = t.state;
    existing.urgency = t.urgency;
    if (located) {
      existing.lat = t.latitude;
      existing.lon = t.longitude;
    }
    if (!located || !quickMatches(existing, f)) state.tickets.delete(t.id);
    scheduleRender();
    return;
  }
  if (!located || !quickMatches(t, f)) return;
  const subject = subjectById.get(t.subject_id);
  if (f.subject && subject && subject.code !== f.subject) return;
  if (event.type === "ticket.created") {
    if (f.agency) return;  // a new ticket has no work orders yet
    if (subject) {
      const rec = {
        id: t.id,
        number: t.number,
        state: t.state,
        urgency: t.urgency,
        subject: subject.code,
        subjectName: subject.name,
        district: "",
        lat: t.latitude,
        lon: t.longitude,
        createdMs: Date.parse(event.at),
      };
      if (timeMatches(rec.createdMs, f)) {
        state.tickets.set(rec.id, rec);
        scheduleRender();
      }
      return;
    }
  }
  considerTicket(t.id);
}

export function applyEvent(event) {
  const p = event.payload || {};
  switch (event.type) {
    case "ticket.created":
    case "ticket.changed":
      onTicketPayload(p.ticket, event);
      break;
    case "ticket.merged":
      if (p.duplicate_id !== undefined && state.tickets.delete(p.duplicate_id)) scheduleRender();
      onTicketPayload(p.ticket, event);
      break;
    case "work_order.created": {
      const wo = p.work_order || {};
      const agency = agencyById.get(wo.agency_id);
      const f = currentFilters();
      if (f.agency && agency && agency.code === f.agency && !state.tickets.has(wo.ticket_id)) considerTicket(wo.ticket_id);
      break;
    }
    case "work_order.escalated": {
      // Each ticket's ring turns yellow (warning, yellow card) or red (red card), the highest level seen.
      const rank = { warning: 1, overdue: 2, serious: 3 };
      (p.escalations || []).forEach(function (step) {
        const rec = state.tickets.get(step.ticket_id);
        if (rec && (rank[step.level] || 0) > (rank[rec.escalation] || 0)) {
          rec.escalation = step.level;
          scheduleRender();
        }
      });
      break;
    }
    default:
      break;
  }
}
