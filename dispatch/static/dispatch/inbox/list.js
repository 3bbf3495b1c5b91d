/*
 * Agency inbox, left: the list of the agency's open work orders (sorted: new arrivals first, then by
 * deadline), the keyboard cursor, loading the whole list and refreshing single rows.
 */

import { $, api, el, fetchAll, fmt, gettext } from "./helpers.js";
import { AGENCY_ID, hooks, label, OPEN_STATES, PAGE, state } from "./state.js";
import { countdown, dueSortKey, escalationLabel, runningClock } from "./time.js";
import { ding, toast, updateBadge } from "./notify.js";

export const listEl = $("inbox-rows");
const countEl = $("inbox-count");
const emptyEl = $("inbox-empty");
const loadingEl = $("inbox-loading");
const listErrorEl = $("inbox-list-error");
export const filterState = $("inbox-filter-state");
export const searchEl = $("inbox-search");
const removedAt = new Map();  // id -> stamp of the removal (so an older list load cannot resurrect it)
let stampCounter = 0;
let listSeq = 0;
let firstLoadDone = false;
let arrivals = 0;

// --- list -----------------------------------------------------------------------------------------
function subjectShort(path) {
  const parts = String(path || "").split(">").map(function (s) { return s.trim(); }).filter(Boolean);
  return parts.slice(-2).join(" › ");
}

function buildRow(row) {
  const wo = row.wo;
  const li = row.el || el("li");
  li.replaceChildren();
  li.id = "wo-row-" + wo.id;
  li.dataset.id = String(wo.id);
  li.setAttribute("role", "option");
  li.tabIndex = -1;
  const urgency = wo.ticket.urgency;
  li.appendChild(el("span", "row-urgency urgency-" + urgency, label("urgency", urgency)));
  const main = el("span", "row-main");
  const line1 = el("span", "row-line1");
  if (row.unseen) line1.appendChild(el("span", "row-new", gettext("New")));
  line1.appendChild(el("span", "row-number", wo.number));
  const subject = el("span", "row-subject", subjectShort(wo.ticket.subject));
  subject.title = wo.ticket.subject || "";
  line1.appendChild(subject);
  if (wo.urge_count > 0) line1.appendChild(el("span", "row-urge", fmt(gettext("Urged %(n)s×"), { n: wo.urge_count })));
  if (wo.escalation_level) {
    const card = el("span", "row-escalation esc-" + wo.escalation_level, escalationLabel(wo.escalation_level));
    line1.appendChild(card);
  }
  ["warning", "overdue", "serious"].forEach(function (level) {
    li.classList.toggle("esc-" + level, wo.escalation_level === level);
  });
  const line2 = el("span", "row-line2");
  line2.appendChild(el("span", "row-title", wo.ticket.title || gettext("(no title)")));
  if (wo.ticket.address) line2.appendChild(el("span", "row-address", wo.ticket.address));
  line2.title = [wo.ticket.title, wo.ticket.address].filter(Boolean).join(" — ");
  main.append(line1, line2);
  li.appendChild(main);
  const stateCell = el("span");
  stateCell.appendChild(el("span", "chip state-" + wo.state, label("state", wo.state)));
  li.appendChild(stateCell);
  const due = el("span", "row-due");
  const clock = runningClock(wo);
  due.appendChild(el("span", "stage", clock ? label("stage", clock.stage) : ""));
  due.appendChild(el("span", "countdown"));
  li.appendChild(due);
  row.el = li;
  row.countEl = due.lastChild;
  row.lastCount = null;
  paintCountdown(row);
  li.classList.toggle("unseen", !!row.unseen);
  const name = [wo.number, label("urgency", urgency), wo.ticket.title, wo.ticket.address, label("state", wo.state)];
  li.setAttribute("aria-label", name.filter(Boolean).join(", "));
  return li;
}
export function paintCountdown(row) {
  const c = countdown(row.wo);
  const key = c.text + "|" + c.cls;
  if (row.lastCount === key) return;
  row.lastCount = key;
  row.countEl.textContent = c.text;
  row.countEl.className = "countdown " + c.cls;
  row.countEl.title = c.title;
}
function matchesFilter(wo) {
  if (filterState.value && wo.state !== filterState.value) return false;
  const q = searchEl.value.trim().toLowerCase();
  if (!q) return true;
  return [wo.number, wo.ticket.number, wo.ticket.title, wo.ticket.address, wo.ticket.subject]
    .some(function (v) { return v && String(v).toLowerCase().indexOf(q) !== -1; });
}
export function renderList() {
  const all = Array.from(state.rows.values());
  all.sort(function (a, b) {
    if (a.unseen !== b.unseen) return a.unseen ? -1 : 1;
    if (a.unseen) return b.arrived - a.arrived;  // newest arrival on top
    const d = dueSortKey(a.wo) - dueSortKey(b.wo);
    if (d !== 0 && !isNaN(d)) return d;
    return a.wo.id - b.wo.id;
  });
  const shown = all.filter(function (row) { return matchesFilter(row.wo); });
  state.order = shown.map(function (row) { return row.wo.id; });
  const hadFocus = listEl.contains(document.activeElement);
  // Move only the nodes that are out of place, so focus and running highlights survive.
  const wanted = new Set();
  shown.forEach(function (row, index) {
    if (!row.el) buildRow(row);
    wanted.add(row.el);
    row.el.setAttribute("aria-selected", row.wo.id === state.selectedId ? "true" : "false");
    const here = listEl.children[index];
    if (here !== row.el) listEl.insertBefore(row.el, here || null);
  });
  Array.from(listEl.children).forEach(function (child) { if (!wanted.has(child)) child.remove(); });
  if (state.cursorId === null || state.order.indexOf(state.cursorId) === -1) {
    state.cursorId = state.order.indexOf(state.selectedId) !== -1 ? state.selectedId : (state.order.length ? state.order[0] : null);
  }
  paintCursor(hadFocus);
  countEl.textContent = state.rows.size ? "(" + (shown.length === state.rows.size ? state.rows.size : shown.length + "/" + state.rows.size) + ")" : "";
  loadingEl.hidden = firstLoadDone;
  emptyEl.hidden = !firstLoadDone || shown.length > 0;
  emptyEl.textContent = state.rows.size ? gettext("No work order matches the filter.") : gettext("No open work orders.");
  updateBadge();
}
export function paintCursor(focus) {
  listEl.querySelectorAll("li.cursor").forEach(function (li) { li.classList.remove("cursor"); li.tabIndex = -1; });
  const row = state.rows.get(state.cursorId);
  const first = listEl.firstElementChild;
  if (row && row.el && row.el.parentNode === listEl) {
    row.el.classList.add("cursor");
    row.el.tabIndex = 0;
    if (focus) row.el.focus({ preventScroll: true });
    row.el.scrollIntoView({ block: "nearest" });
  } else if (first) {
    first.tabIndex = 0;
  }
}
export function moveCursor(delta) {
  if (!state.order.length) return;
  let index = state.order.indexOf(state.cursorId);
  index = index === -1 ? 0 : Math.max(0, Math.min(state.order.length - 1, index + delta));
  state.cursorId = state.order[index];
  paintCursor(true);
}
export function putRow(wo, options) {
  options = options || {};
  stampCounter += 1;
  let row = state.rows.get(wo.id);
  if (!row) {
    row = { wo: wo, el: null, stamp: stampCounter, unseen: !!options.unseen, arrived: ++arrivals };
    state.rows.set(wo.id, row);
  } else {
    row.wo = wo;
    row.stamp = stampCounter;
    if (options.unseen) { row.unseen = true; row.arrived = ++arrivals; }
  }
  removedAt.delete(wo.id);
  buildRow(row);
  if (options.highlight) {
    row.el.classList.remove("fresh");
    void row.el.offsetWidth;  // restart the animation
    row.el.classList.add("fresh");
    row.el.addEventListener("animationend", function () { row.el.classList.remove("fresh"); }, { once: true });
  }
  return row;
}
export function dropRow(id) {
  stampCounter += 1;
  removedAt.set(id, stampCounter);
  const row = state.rows.get(id);
  if (!row) return false;
  state.rows.delete(id);
  if (row.el) row.el.remove();
  if (state.cursorId === id) {
    const index = state.order.indexOf(id);
    const rest = state.order.filter(function (x) { return x !== id; });
    state.cursorId = rest.length ? rest[Math.min(index, rest.length - 1)] : null;
  }
  return true;
}
export function markSeen(id) {
  const row = state.rows.get(id);
  if (row && row.unseen) {
    row.unseen = false;
    buildRow(row);
    return true;
  }
  return false;
}

export async function reloadList() {
  const seq = ++listSeq;
  const startStamp = stampCounter;
  try {
    const lists = await Promise.all(OPEN_STATES.map(function (state) {
      return fetchAll("/api/work-orders/?state=" + encodeURIComponent(state) + "&limit=" + PAGE);
    }));
    if (seq !== listSeq) return;  // a newer load is under way
    const fetched = new Map();
    lists.forEach(function (list) { list.forEach(function (wo) { fetched.set(wo.id, wo); }); });
    let fresh = 0;
    fetched.forEach(function (wo, id) {
      if ((removedAt.get(id) || 0) > startStamp) return;  // removed by a newer event
      const existing = state.rows.get(id);
      if (existing && existing.stamp > startStamp) return;  // refreshed by a newer event
      const isNew = firstLoadDone && !existing && wo.agency.id === AGENCY_ID;
      if (isNew) fresh += 1;
      putRow(wo, { unseen: isNew, highlight: isNew });
    });
    Array.from(state.rows.keys()).forEach(function (id) {
      if (!fetched.has(id) && state.rows.get(id).stamp <= startStamp) dropRow(id);
    });
    firstLoadDone = true;
    listErrorEl.hidden = true;
    renderList();
    if (fresh) {
      ding();
      toast(fmt(gettext("%(n)s new work orders arrived while the connection was down."), { n: fresh }));
    }
  } catch (problem) {
    if (seq !== listSeq) return;
    listErrorEl.textContent = fmt(gettext("The list could not be loaded: %(message)s"), { message: problem.message || "" });
    listErrorEl.hidden = false;
    firstLoadDone = true;
    renderList();
  }
}

// --- refreshing single rows -----------------------------------------------------------------------
const refreshTimers = new Map();
export function scheduleRefresh(id, options) {
  const pending = refreshTimers.get(id);
  const merged = Object.assign({}, pending ? pending.options : {}, options || {});
  if (pending) clearTimeout(pending.timer);
  const timer = setTimeout(function () {
    refreshTimers.delete(id);
    refreshRow(id, merged);
  }, 150);
  refreshTimers.set(id, { timer: timer, options: merged });
}
async function refreshRow(id, options) {
  let wo;
  try {
    wo = await api("GET", "/api/work-orders/" + id + "/");
  } catch (problem) {
    if (problem.status === 404) {
      dropRow(id);
      renderList();
    }
    return;
  }
  applyWorkOrder(wo, options);
}
export function applyWorkOrder(wo, options) {
  options = options || {};
  const open = OPEN_STATES.indexOf(wo.state) !== -1 && wo.agency.id === AGENCY_ID;
  if (open) {
    const isNew = !state.rows.has(wo.id) && !!options.arrival;
    putRow(wo, { unseen: isNew, highlight: isNew || options.highlight });
    if (isNew) {
      ding();
      toast(fmt(gettext("New work order: %(title)s"), { title: wo.ticket.title || wo.number }));
    }
  } else {
    dropRow(wo.id);
  }
  renderList();
  if (state.selectedId === wo.id) hooks.updateDetailWorkOrder(wo);
}
