/*
 * Operator console: the page's configuration, labels and lookups, the one shared state object that every
 * panel reads and writes (window.HotlineConsole.state, for tests and troubleshooting), and the hooks
 * through which a panel asks a higher one to act.
 */

import { el, uuid } from "./helpers.js";

export const config = JSON.parse(document.getElementById("screen-config").textContent);
export const user = config.user || {};
export const TERMINAL = new Set(["closed", "merged", "cancelled"]);

export const STATE_LABELS = {
  accepted: gettext("Accepted"),
  dispatched: gettext("Dispatched"),
  in_progress: gettext("In progress"),
  returned: gettext("Returned, awaiting re-dispatch"),
  replied: gettext("Replied, awaiting review"),
  pending_revisit: gettext("Awaiting revisit"),
  revisited: gettext("Revisited"),
  closed: gettext("Closed"),
  merged: gettext("Merged into another ticket"),
  cancelled: gettext("Cancelled"),
};
export const CALL_STATE_LABELS = {
  ringing: gettext("Ringing"),
  answered: gettext("On the call"),
  ended: gettext("Call ended"),
};
export const urgencyNames = Object.fromEntries((config.urgencies || []).map((u) => [u.code, u.name]));

export function stateBadge(state) {
  return el("span", { class: "state state-" + state, text: STATE_LABELS[state] || state });
}

// --- state ------------------------------------------------------------------------------------------

export const state = {
  idempotencyKey: uuid(),
  submitting: false,
  submitted: null, // the ticket this form created (the form is locked until "new intake")
  dirty: false,
  callId: null, // the Call pk this intake is taken from
  call: null,
  pendingCall: null, // a call that arrived while another intake was half typed
  handledCalls: new Set(),
  routingView: "draft", // the routing panel shows the draft being typed, or the opened ticket
  live: "connecting",
  pin: null, // {latitude, longitude} in WGS84
  placement: null,
  proposal: null, // live proposal for the draft
  ticket: null, // the ticket shown in the ticket panel (detail)
  ticketProposal: null, // the server's current proposal for that ticket
  duplicates: [],
  chosenArticle: null,
  queue: new Map(), // id -> list representation
  historyPhone: null, // the number last looked up (or being looked up)
  historyShownFor: null, // the number (as typed) whose history is on screen
};

export const subjects = (config.subjects || []).map((s) => {
  const parts = String(s.path).split(/\s*>\s*/);
  return { code: s.code, path: s.path, name: parts[parts.length - 1] };
});
export const subjectByPath = new Map(subjects.map((s) => [s.path, s]));
export const subjectByCode = new Map(subjects.map((s) => [s.code, s]));

/** The opened ticket offers this action (the API's available_actions). */
export function can(action) {
  return Boolean(state.ticket && (state.ticket.available_actions || []).includes(action));
}

// --- hooks ------------------------------------------------------------------------------------------
// A module imports only the modules below it (the order is in main.js). Where a lower panel must make a
// higher one act, it calls the hook of that name; main.js fills them in before anything runs.
export const hooks = Object.seal({
  renderTicket: null, // ticket.js: show state.ticket again (map.js, dispatch.js, knowledge.js)
  openTicket: null, // ticket.js: open a ticket in the ticket panel (queue.js)
  requestRouting: null, // routing.js: ask for the draft's proposal again, debounced (map.js)
  resetIntake: null, // intake.js: start a new intake (call.js)
});
