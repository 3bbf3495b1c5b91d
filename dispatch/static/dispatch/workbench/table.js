/*
 * Workbench: the table (a queue's rows or the search results), its pager and the row selection for bulk
 * urge. Rows: GET /api/queues/<name>/?limit&offset or GET /api/search/tickets/?<query>&limit&offset.
 * Server text only ever reaches the page through textContent.
 */

import { $, api, el, fmt, gettext } from "../inbox/helpers.js";
import { CONFIG, PAGE_SIZE, countText, formatTime, levelLabel, state } from "./state.js";
import { queueLabel, renderTabs, totalText } from "./tabs.js";

const rowsEl = $("wb-rows");
const emptyEl = $("wb-empty");
const loadingEl = $("wb-loading");
const errorEl = $("wb-table-error");
const titleEl = $("wb-table-title");
const totalEl = $("wb-total");
const rangeEl = $("wb-range");
const prevEl = $("wb-prev");
const nextEl = $("wb-next");
const checkAllEl = $("wb-check-all");
const selectedEl = $("wb-selected");
const urgeButton = $("wb-urge-button");

function pageUrl() {
  const paging = "limit=" + PAGE_SIZE + "&offset=" + state.offset;
  if (state.mode === "search") return "/api/search/tickets/?" + (state.query ? state.query + "&" : "") + paging;
  return "/api/queues/" + encodeURIComponent(state.queue) + "/?" + paging;
}

// Loads the current page; `quiet`: a live refresh, which keeps the rows on screen while it loads.
export async function loadTable(quiet) {
  if (state.mode === "queue" && !state.queue) {
    loadingEl.hidden = true;
    return;
  }
  const seq = ++state.loading;
  if (!quiet) loadingEl.hidden = false;
  errorEl.hidden = true;
  let page;
  try {
    page = await api("GET", pageUrl());
  } catch (problem) {
    if (seq !== state.loading) return;
    loadingEl.hidden = true;
    errorEl.textContent = problem.message;
    errorEl.hidden = false;
    return;
  }
  if (seq !== state.loading) return;
  if (page.count > 0 && state.offset >= page.count) {
    // The page emptied under us (rows left the queue): show the last page that has rows.
    state.offset = Math.max(0, Math.floor((page.count - 1) / PAGE_SIZE) * PAGE_SIZE);
    return loadTable(quiet);
  }
  loadingEl.hidden = true;
  state.rows = page.results || [];
  state.total = page.count || 0;
  renderTable();
  renderTabs();
}

function urgeableIds(row) {
  if (row.work_order) return row.work_order.may_urge ? [row.work_order.id] : [];
  return (row.work_orders || []).filter(function (wo) { return wo.may_urge; }).map(function (wo) { return wo.id; });
}

function cell(className) {
  return el("td", className);
}

function ticketCell(row) {
  const td = cell("wb-ticket");
  const link = el("a", "wb-number", row.ticket.number);
  link.href = row.ticket.url;
  td.append(link);
  if (row.ticket.urgency !== "normal") td.append(el("span", "wb-chip urgency-" + row.ticket.urgency, row.ticket.urgency_label));
  td.append(el("small", "wb-muted", formatTime(row.ticket.created_at)));
  return td;
}

function titleCell(row) {
  const td = cell("wb-title");
  td.append(el("span", "", row.ticket.title || "—"));
  if (row.ticket.address) td.append(el("small", "wb-muted", row.ticket.address));
  if (row.extension) {
    td.append(el("small", "wb-detail", fmt(gettext("Extension to %(time)s: %(reason)s"),
      { time: formatTime(row.extension.requested_due_at), reason: row.extension.reason })));
  }
  if (row.supervision) {
    const due = row.supervision.answer_due_at ? " · " + fmt(gettext("answer by %(time)s"),
      { time: formatTime(row.supervision.answer_due_at) }) : "";
    td.append(el("small", "wb-detail", fmt(gettext("Supervision: %(instruction)s"),
      { instruction: row.supervision.instruction }) + due));
  }
  return td;
}

function subjectCell(row) {
  const td = cell("wb-subject");
  td.textContent = row.ticket.subject.name;
  td.title = row.ticket.subject.path;
  return td;
}

function stateCell(row) {
  const td = cell("wb-state");
  td.append(el("span", "wb-chip state-" + row.ticket.state, row.ticket.state_label));
  if (row.work_order) td.append(el("small", "wb-muted", row.work_order.state_label));
  return td;
}

function agencyCell(row) {
  const td = cell("wb-agency");
  const orders = row.work_order ? [row.work_order] : (row.work_orders || []);
  orders.forEach(function (wo) {
    const line = el("span", "wb-line", wo.agency.name + " · " + wo.responsibility_label);
    line.title = wo.number + " · " + wo.state_label;
    if (wo.urge_count) line.append(el("small", "wb-urged", fmt(gettext("urged %(n)s×"), { n: wo.urge_count })));
    td.append(line);
  });
  if (row.district) td.append(el("small", "wb-muted", row.district.name));
  return td;
}

function callerCell(row) {
  const td = cell("wb-caller");
  td.append(el("span", "", row.ticket.caller_name || ""));
  td.append(el("small", "wb-muted wb-phone", row.ticket.caller_phone || ""));
  return td;
}

function deadlineCell(row) {
  const td = cell("wb-deadline");
  const clock = row.clock;
  if (!clock) {
    td.append(el("span", "wb-muted", gettext("No running deadline")));
    return td;
  }
  td.append(el("span", "wb-stage", clock.stage_label));
  if (clock.due_at) {
    const due = el("span", "wb-due" + (clock.overdue ? " over" : ""), formatTime(clock.due_at));
    if (clock.due_provisional) due.title = gettext("Provisional: the year's official holiday schedule is not published yet.");
    td.append(due);
  } else {
    td.append(el("span", "wb-muted", gettext("No deadline")));
  }
  if (clock.overdue) td.append(el("span", "wb-chip over", gettext("Overdue")));
  if (clock.level) td.append(el("span", "wb-chip level-" + clock.level, clock.level_label || levelLabel(clock.level)));
  return td;
}

function renderRow(row) {
  const tr = el("tr", "");
  tr.dataset.key = row.key;
  if (row.clock && row.clock.level) tr.classList.add("level-" + row.clock.level);
  else if (row.clock && row.clock.overdue) tr.classList.add("overdue");
  if (CONFIG.may_urge) {
    const td = cell("wb-check");
    const box = el("input", "");
    box.type = "checkbox";
    const ids = urgeableIds(row);
    box.disabled = ids.length === 0;
    box.checked = ids.length > 0 && ids.every(function (id) { return state.selected.has(id); });
    box.dataset.ids = ids.join(",");
    box.setAttribute("aria-label", fmt(gettext("Select %(number)s"), { number: row.ticket.number }));
    box.addEventListener("change", function () {
      ids.forEach(function (id) { if (box.checked) state.selected.add(id); else state.selected.delete(id); });
      showSelection();
    });
    td.append(box);
    tr.append(td);
  }
  tr.append(ticketCell(row), titleCell(row), subjectCell(row), stateCell(row), agencyCell(row), callerCell(row),
    deadlineCell(row));
  return tr;
}

export function renderTable() {
  titleEl.textContent = state.mode === "search" ? gettext("Search results") : queueLabel(state.queue);
  totalEl.textContent = totalText(state.total);
  rowsEl.replaceChildren.apply(rowsEl, state.rows.map(renderRow));
  emptyEl.hidden = state.rows.length > 0;
  const last = Math.min(state.offset + state.rows.length, state.total);
  rangeEl.textContent = state.total ? fmt(gettext("%(first)s–%(last)s of %(total)s"),
    { first: state.offset + 1, last: last, total: state.total }) : countText(0);
  prevEl.disabled = state.offset === 0;
  nextEl.disabled = state.offset + PAGE_SIZE >= state.total;
  showSelection();
}

export function showSelection() {
  if (!CONFIG.may_urge) return;
  selectedEl.textContent = fmt(gettext("%(count)s selected"), { count: state.selected.size });
  urgeButton.disabled = state.selected.size === 0;
  const boxes = Array.prototype.slice.call(rowsEl.querySelectorAll("input[type=checkbox]:not([disabled])"));
  checkAllEl.checked = boxes.length > 0 && boxes.every(function (box) { return box.checked; });
  checkAllEl.disabled = boxes.length === 0;
}

export function bindTable() {
  prevEl.addEventListener("click", function () {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    loadTable(false);
  });
  nextEl.addEventListener("click", function () {
    state.offset += PAGE_SIZE;
    loadTable(false);
  });
  if (checkAllEl) {
    checkAllEl.addEventListener("change", function () {
      rowsEl.querySelectorAll("input[type=checkbox]:not([disabled])").forEach(function (box) {
        box.checked = checkAllEl.checked;
        box.dataset.ids.split(",").filter(Boolean).forEach(function (id) {
          if (checkAllEl.checked) state.selected.add(Number(id)); else state.selected.delete(Number(id));
        });
      });
      showSelection();
    });
  }
}
