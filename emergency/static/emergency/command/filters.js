/*
 * Commander's map, side panel: the filters (subject, state, urgency, agency, time window) and layer
 * switches, and the checks a ticket must pass to be on the map.
 */

import { el } from "./helpers.js";
import { config, TERMINAL } from "./state.js";

export const form = document.getElementById("cmd-filters");
export const fSubject = document.getElementById("cmd-f-subject");
export const fState = document.getElementById("cmd-f-state");
export const fUrgency = document.getElementById("cmd-f-urgency");
export const fAgency = document.getElementById("cmd-f-agency");
export const fWindow = document.getElementById("cmd-f-window");
export const fSince = document.getElementById("cmd-f-since");
export const fUntil = document.getElementById("cmd-f-until");
export const lStreet = document.getElementById("cmd-l-street");
export const lGrid = document.getElementById("cmd-l-grid");
export const lHot = document.getElementById("cmd-l-hotspots");

export function fillFilterOptions() {
  const groups = new Map();
  (config.subjects || []).forEach(function (s) {
    const parts = String(s.path || s.code).split(" > ");
    const top = parts.length > 1 ? parts[0] : "";
    const label = parts.length > 1 ? parts.slice(1).join(" › ") : parts[0];
    if (!groups.has(top)) groups.set(top, []);
    groups.get(top).push(el("option", { value: s.code, text: label }));
  });
  groups.forEach(function (options, top) {
    if (!top) options.forEach(function (o) { fSubject.appendChild(o); });
    else fSubject.appendChild(el.apply(null, ["optgroup", { label: top }].concat(options)));
  });
  (config.states || []).forEach(function (s) { fState.appendChild(el("option", { value: s.code, text: s.name })); });
  (config.urgencies || []).forEach(function (u) { fUrgency.appendChild(el("option", { value: u.code, text: u.name })); });
  (config.agencies || []).forEach(function (a) { fAgency.appendChild(el("option", { value: a.code, text: a.name })); });
}

// --- filters ---------------------------------------------------------------------------------------

function localInputToISO(value) {
  if (!value) return null;
  const d = new Date(value);  // datetime-local is read in the browser's zone
  return isNaN(d) ? null : d.toISOString();
}

export function currentFilters() {
  const allStates = (config.states || []).map(function (s) { return s.code; });
  let states;
  if (fState.value === "") states = allStates.filter(function (s) { return s !== "merged"; });
  else if (fState.value === "open") states = allStates.filter(function (s) { return TERMINAL.indexOf(s) < 0; });
  else states = [fState.value];
  let since;
  let until = null;
  if (fWindow.value === "custom") {
    since = localInputToISO(fSince.value) || new Date(Date.now() - 30 * 86400000).toISOString();
    until = localInputToISO(fUntil.value);
  } else {
    since = new Date(Date.now() - Number(fWindow.value) * 3600000).toISOString();
  }
  return {
    subject: fSubject.value,
    states: states,
    urgency: fUrgency.value,
    agency: fAgency.value,
    since: since,
    until: until,
    sinceMs: Date.parse(since),
    untilMs: until ? Date.parse(until) : null,
  };
}

export function filterParams(f) {
  const params = new URLSearchParams();
  if (f.subject) params.set("subject", f.subject);
  params.set("state", f.states.join(","));
  if (f.urgency) params.set("urgency", f.urgency);
  if (f.agency) params.set("agency", f.agency);
  params.set("since", f.since);
  if (f.until) params.set("until", f.until);
  return params;
}

export function timeMatches(createdMs, f) {
  if (isNaN(createdMs)) return true;
  if (createdMs < f.sinceMs) return false;
  return f.untilMs === null || createdMs <= f.untilMs;
}

// The checks we can make from an event payload alone.
export function quickMatches(t, f) {
  if (f.states.indexOf(t.state) < 0) return false;
  return !f.urgency || t.urgency === f.urgency;
}

export function fullMatches(rec, f) {
  if (!quickMatches(rec, f)) return false;
  if (f.subject && rec.subject !== f.subject) return false;
  if (f.agency && !(rec.agencies && rec.agencies.indexOf(f.agency) >= 0)) return false;
  return timeMatches(rec.createdMs, f);
}
