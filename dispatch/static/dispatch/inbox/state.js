/*
 * Agency inbox: the page's configuration, the labels it shows for codes, the one shared state object that
 * the panels read and write, and the hooks through which a panel asks a higher one to act.
 */

export const config = JSON.parse(document.getElementById("screen-config").textContent);
export const AGENCY_ID = config.user.agency_id;
export const TIME_ZONE = config.time_zone || "Asia/Shanghai";
export const OPEN_STATES = ["pending_sign", "handling", "return_requested", "replied"];
export const PAGE = 200;
export const WARN_SHARE = 0.2;

// --- labels ---------------------------------------------------------------------------------------
const labels = {};
document.querySelectorAll("#inbox-labels [data-key]").forEach(function (node) {
  labels[node.dataset.key] = node.textContent.trim();
});
(config.work_order_states || []).forEach(function (s) { labels["state." + s.code] = s.name; });
export const workflowLabels = {};  // "machine.action" -> label, from /api/workflow/ (translated by the server)
export const appealTypes = {};
export function label(kind, code) {
  if (!code) return "";
  return labels[kind + "." + code] || code;
}
export function actionLabel(machine, action) {
  return workflowLabels[machine + "." + action] || labels["action." + action] || action;
}

// --- state ----------------------------------------------------------------------------------------
export const state = {
  rows: new Map(),  // id -> {wo, el, stamp, unseen, arrived}
  order: [],  // ids in display order (after filter)
  cursorId: null,  // the row the keyboard is on
  selectedId: null,  // the row whose details are open
  detail: null,  // {wo, ticket, timeline, revealed, files}
  openForm: null,  // {action, form, button}: the action form open in the details
};

// --- hooks ----------------------------------------------------------------------------------------
// A module imports only the modules below it (the order is in main.js). Where a lower panel must make a
// higher one act, it calls the hook of that name; main.js fills them in before anything runs.
export const hooks = Object.seal({
  updateDetailWorkOrder: null,  // detail.js: a refreshed work order, for the details if they show it (list.js)
  closeForm: null,  // forms.js: close the open action form (detail.js)
  toggleForm: null,  // forms.js: open or close an action's form under its button (detail.js)
});
