/*
 * Ticket page: the ticket shown (from the server-rendered part's JSON), the labels of codes, the one shared
 * state object, and the hooks through which a lower module asks a higher one to act (filled by main.js).
 */

import { config, gettext } from "./helpers.js";

export const TICKET = config.ticket;  // {id, number}
const labels = config.labels || {};
const stepLabels = config.timeline_actions || {};
export const workflowLabels = {};  // "machine.action" -> label (the workflow table's, /api/workflow/)

/** The label of a code (kind: ticket_state, work_order_state, outcome, stage, level, satisfaction, ...); never the code. */
export function label(kind, code) {
  if (!code) return "";
  return (labels[kind] || {})[code] || gettext("(unknown)");
}
export function actionLabel(machine, action) {
  return workflowLabels[machine + "." + action] || stepLabels[action] || workflowLabels["*." + action] || gettext("Other step");
}

export const state = {
  data: null,  // the ticket detail (GET /api/tickets/<id>/'s shape) of the part shown now
  openForm: null,  // {key, machine, action, workOrderId, form, button}
  revealed: null,  // the caller details an agency user revealed (kept across reloads)
  pendingReload: false,  // the ticket changed while a form was open: reload once it closes
};

export function readTicketData() {
  const node = document.getElementById("ticket-data");
  state.data = node ? JSON.parse(node.textContent) : null;
  return state.data;
}
export function workOrder(id) {
  return ((state.data && state.data.work_orders) || []).find(function (wo) { return wo.id === id; }) || null;
}
/** Agency names by code, from the work orders shown (timeline details name agencies by code). */
export function agencyName(code) {
  const wo = ((state.data && state.data.work_orders) || []).find(function (w) { return w.agency.code === code; });
  return wo ? wo.agency.name : "";
}

export const hooks = Object.seal({
  reload: null,  // main.js: reload the ticket (deferred while a form is open)
});
