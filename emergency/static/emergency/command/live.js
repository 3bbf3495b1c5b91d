/*
 * Commander's map: live events (HotlineLive, realtime/live.js) move, add and drop tickets (tickets.js's
 * applyEvent, held back while the tickets load), write the feed and refresh the hot spots and the open
 * details; the emergency layer hears every event first (hooks). A snapshot starts again from the
 * server's present.
 */

import { debounce } from "./helpers.js";
import { callHooks, state } from "./state.js";
import { lHot } from "./filters.js";
import { applyEvent, loadTickets } from "./tickets.js";
import { loadHotspots } from "./hotspots.js";
import { showDetails } from "./details.js";
import { addFeedLine } from "./feed.js";

// --- events ----------------------------------------------------------------------------------------

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
