/*
 * Agency inbox: the page's configuration, the labels it shows for codes, and the one shared state object
 * that the panels read and write.
 */

const config = JSON.parse(document.getElementById("screen-config").textContent);
export const AGENCY_ID = config.user.agency_id;
export const TIME_ZONE = config.time_zone || "Asia/Shanghai";
export const OPEN_STATES = ["pending_sign", "handling", "replied"];
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
  detail: null,  // {wo, ticket, timeline, revealed}
  openForm: null,  // {action, form, button}: the action form open in the details
};
