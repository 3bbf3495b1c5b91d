/*
 * Commander's map: live events (HotlineLive, realtime/live.js) move, add and drop tickets; the emergency
 * layer hears every event first (hooks). A snapshot starts again from the server's present.
 */

import { debounce } from "./helpers.js";
import { agencyById, callHooks, state, subjectById } from "./state.js";
import { currentFilters, lHot, quickMatches, timeMatches } from "./filters.js";
import { considerTicket, loadTickets } from "./tickets.js";
import { scheduleRender } from "./markers.js";
import { loadHotspots } from "./hotspots.js";
import { showDetails } from "./details.js";
import { addFeedLine } from "./feed.js";

// --- events ----------------------------------------------------------------------------------------

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

const refreshHotspotsSoon = debounce(function () { loadHotspots(); }, 3000);
const refreshDetailsSoon = debounce(function () { if (state.selectedId !== null) showDetails(state.selectedId, false); }, 400);

export function onEvent(event) {
  callHooks("event", event);
  addFeedLine(event);
  if (!state.holding) applyEvent(event);
  else if (state.pendingEvents.push(event) > 5000) {
    // Something keeps the load from finishing: a fresh load (started after all of these) covers them.
    state.pendingEvents.length = 0;
    if (state.map) loadTickets();
  }
  if (event.type.indexOf("ticket.") === 0 && lHot.value) refreshHotspotsSoon();
  const p = event.payload || {};
  if (state.selectedId !== null && (event.ticket_id === state.selectedId || p.duplicate_id === state.selectedId)) refreshDetailsSoon();
}

export function onSnapshot() {
  // Too far behind to replay: the snapshot tells us to start again from the server's present.
  callHooks("snapshot", null);
  state.pendingEvents.length = 0;
  loadTickets();
  loadHotspots();
  if (state.selectedId !== null) showDetails(state.selectedId, false);
}
