/*
 * Ticket page: the whole timeline (GET /api/tickets/<id>/timeline/: the ticket's steps and, for an agency,
 * its own work orders' steps), named by the workflow table's labels (GET /api/workflow/) and the page's
 * labels for states and details. Codes are never shown.
 */

import { $, api, el, fmt, formatTime, gettext } from "./helpers.js";
import { actionLabel, agencyName, label, state, TICKET, workflowLabels } from "./state.js";

let table = null;
function loadTable() {
  if (!table) {
    table = api("GET", "/api/workflow/").then(function (rows) {
      (rows || []).forEach(function (row) {
        const key = row.machine + "." + row.action;
        if (!workflowLabels[key]) workflowLabels[key] = row.label;
        if (!workflowLabels["*." + row.action]) workflowLabels["*." + row.action] = row.label;
      });
    }, function () { table = null; });
  }
  return table;
}

function ticketLink(number) {
  const a = el("a", "", number);
  a.href = "/tickets/" + encodeURIComponent(number) + "/";
  return a;
}
function stateLabel(machine, code) {
  return label(machine === "work_order" ? "work_order_state" : "ticket_state", code);
}
function details(entry) {
  const data = entry.data || {};
  const lines = [];
  const names = function (codes) { return codes.map(agencyName).filter(Boolean).join("、"); };
  if (entry.action === "create" && data.agency && agencyName(data.agency)) {
    lines.push(fmt(gettext("Agency: %(name)s"), { name: agencyName(data.agency) }));
  }
  if (data.lead && agencyName(data.lead)) lines.push(fmt(gettext("Lead agency: %(name)s"), { name: agencyName(data.lead) }));
  if (data.co_handlers && names(data.co_handlers)) lines.push(fmt(gettext("Co-handling: %(names)s"), { names: names(data.co_handlers) }));
  if (data.override_reason) lines.push(fmt(gettext("Not the proposed agency, because: %(text)s"), { text: data.override_reason }));
  if (data.outcome) lines.push(label("outcome", data.outcome));
  if (data.legal_basis) lines.push(fmt(gettext("Legal basis: %(text)s"), { text: data.legal_basis }));
  if (data.requested_due_at) lines.push(fmt(gettext("Requested deadline: %(time)s"), { time: formatTime(data.requested_due_at) }));
  if (data.granted_due_at) lines.push(fmt(gettext("Granted deadline: %(time)s"), { time: formatTime(data.granted_due_at) }));
  if (data.satisfaction) lines.push(label("satisfaction", data.satisfaction));
  if (data.resolved === true) lines.push(gettext("Problem resolved"));
  if (data.resolved === false) lines.push(gettext("Problem not resolved"));
  if (data.level && data.due_at) {
    lines.push(fmt(gettext("%(stage)s deadline: %(time)s"), { stage: label("stage", data.stage), time: formatTime(data.due_at) }));
  } else if (data.due_at && /^deadline_/.test(entry.action)) {
    lines.push(fmt(gettext("%(stage)s deadline: %(time)s"), { stage: label("stage", data.stage), time: formatTime(data.due_at) }));
  }
  if (data.work_orders_redone) lines.push(fmt(gettext("Work orders to redo: %(count)s"), { count: data.work_orders_redone }));
  return lines;
}

export function renderTimeline(rows) {
  const list = $("ticket-timeline");
  list.replaceChildren();
  rows.forEach(function (entry) {
    const li = el("li");
    li.dataset.action = entry.action;
    if (/^escalate_/.test(entry.action)) li.className = "step-" + entry.action;
    const when = el("time", "when", formatTime(entry.created_at));
    when.dateTime = entry.created_at;
    li.appendChild(when);
    li.appendChild(el("span", "what", actionLabel(entry.machine, entry.action)));
    if (entry.to_state && entry.to_state !== entry.from_state) {
      li.appendChild(el("span", "muted", " → " + stateLabel(entry.machine, entry.to_state)));
    }
    const who = [entry.actor_agency, entry.actor].filter(Boolean).join(" · ");
    if (who) li.appendChild(el("span", "who", who));
    if (entry.work_order) li.appendChild(el("span", "who", entry.work_order));
    const data = entry.data || {};
    if (data.duplicate) {
      const line = el("span", "note", gettext("Duplicate: "));
      line.appendChild(ticketLink(data.duplicate));
      li.appendChild(line);
    }
    if (data.master) {
      const line = el("span", "note", gettext("Master ticket: "));
      line.appendChild(ticketLink(data.master));
      li.appendChild(line);
    }
    // After an audited reveal, a note's typed numbers in full (masked for agencies until then).
    const revealed = ((state.revealed && state.revealed.texts && state.revealed.texts.timeline) || {})[entry.id];
    const note = (revealed && revealed.note) || entry.note;
    const text = [note].concat(details(entry)).filter(Boolean).join("\n");
    if (text) li.appendChild(el("span", "note", text));
    list.appendChild(li);
  });
  if (!rows.length) list.appendChild(el("li", "muted", gettext("No entries.")));
  list.removeAttribute("aria-busy");
}

let loading = null;
let again = false;
export async function loadTimeline() {
  if (loading) { again = true; return loading; }
  const error = $("timeline-error");
  loading = (async function () {
    try {
      const both = await Promise.all([api("GET", "/api/tickets/" + TICKET.id + "/timeline/"), loadTable()]);
      error.hidden = true;
      renderTimeline(both[0] || []);
    } catch (problem) {
      error.textContent = (problem && problem.message) || gettext("The timeline could not be loaded.");
      error.hidden = false;
    }
  })();
  await loading;
  loading = null;
  if (again) { again = false; return loadTimeline(); }
}
