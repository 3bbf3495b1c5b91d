/*
 * Operator console: the live event stream (HotlineLive, realtime/live.js): calls for the screen pop,
 * ticket changes for the queue and the opened ticket, snapshots after a long absence.
 */

import { api } from "./helpers.js";
import { state, TERMINAL, user } from "./state.js";
import { onCallEvent } from "./call.js";
import { refreshTicketDebounced } from "./ticket.js";
import { mineIds, renderQueue, upsertQueue } from "./queue.js";

function onTicketEvent(event) {
  const payload = event.payload || {};
  const brief = payload.ticket;
  const ids = [];
  if (brief && brief.id) ids.push(brief.id);
  if (event.type === "ticket.merged" && payload.duplicate_id) ids.push(payload.duplicate_id);
  const mine = new Set(mineIds());
  for (const id of ids) {
    const known = state.queue.get(id);
    if (known && brief && brief.id === id) {
      upsertQueue(Object.assign({}, known, { state: brief.state, urgency: brief.urgency, number: brief.number || known.number }));
    } else if (known || mine.has(id)) {
      // The duplicate of a merge, or one of mine not loaded yet: read it whole.
      api("GET", "/api/tickets/" + id + "/").then(upsertQueue, function () {});
    }
    if (state.ticket && state.ticket.id === id) refreshTicketDebounced();
  }
}

function onSnapshot(snapshot) {
  const open = new Map((snapshot.tickets || []).map((t) => [t.id, t]));
  for (const [id, known] of state.queue) {
    const fresh = open.get(id);
    if (fresh) {
      if (fresh.state !== known.state) upsertQueue(Object.assign({}, known, { state: fresh.state, urgency: fresh.urgency }), { quiet: true });
    } else if (!TERMINAL.has(known.state)) {
      // Not among the open tickets any more (or beyond the snapshot's limit): read it.
      api("GET", "/api/tickets/" + id + "/").then(upsertQueue, function () {});
    }
  }
  renderQueue();
  if (state.ticket) refreshTicketDebounced();
}

export function connectLive() {
  if (!window.HotlineLive) return;
  window.HotlineLive.connect({
    storageKey: "console." + user.id,
    onState: function (liveState) {
      state.live = liveState;
      if (typeof window.showLiveState === "function") window.showLiveState(liveState);
    },
    onSnapshot: onSnapshot,
    onEvent: function (event) {
      // Events that arrive before "live" are a replay of what was missed while away.
      const replayed = state.live !== "live";
      if (event.type && event.type.startsWith("call.")) {
        onCallEvent(Object.assign({}, event, { replayed: replayed }));
      } else if (event.type === "ticket.created" || event.type === "ticket.changed" || event.type === "ticket.merged") {
        onTicketEvent(event);
      }
    },
  });
}
