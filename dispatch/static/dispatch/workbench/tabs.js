/*
 * Workbench: the queue tabs with their live counts (GET /api/queues/), and the search results' tab.
 */

import { $, api, el, fmt, gettext } from "../inbox/helpers.js";
import { hooks } from "./hooks.js";
import { state } from "./state.js";

const tabsEl = $("wb-tabs");
let countsTimer = null;
let countsSeq = 0;

export async function refreshCounts() {
  const seq = ++countsSeq;
  let data;
  try {
    data = await api("GET", "/api/queues/");
  } catch (problem) {
    return;  // the tabs keep their last counts; the next event or reconnect tries again
  }
  if (seq !== countsSeq) return;
  state.counts = data.queues || [];
  if (state.queue === null && state.mode === "queue" && state.counts.length) state.queue = firstBusyQueue();
  renderTabs();
}

// Debounced: a burst of live events costs one request.
export function scheduleCounts(delay) {
  clearTimeout(countsTimer);
  countsTimer = setTimeout(refreshCounts, delay === undefined ? 800 : delay);
}

function firstBusyQueue() {
  const busy = state.counts.find(function (q) { return q.count > 0; });
  return (busy || state.counts[0]).name;
}

function tab(id, label, count, selected, onClick) {
  const button = el("button", "wb-tab" + (selected ? " selected" : ""));
  button.type = "button";
  button.id = id;
  button.setAttribute("role", "tab");
  button.setAttribute("aria-selected", selected ? "true" : "false");
  button.append(el("span", "wb-tab-label", label));
  if (count !== null) {
    const badge = el("span", "count" + (count > 0 ? " busy" : ""), count);
    badge.dataset.count = String(count);
    button.append(badge);
  }
  button.addEventListener("click", onClick);
  return button;
}

export function renderTabs() {
  const children = state.counts.map(function (queue) {
    const selected = state.mode === "queue" && state.queue === queue.name;
    const button = tab("wb-tab-" + queue.name, queue.label, queue.count, selected, function () {
      hooks.openQueue(queue.name);
    });
    button.dataset.queue = queue.name;
    button.classList.add("kind-" + queue.kind, "queue-" + queue.name);
    return button;
  });
  if (state.searched) {
    children.push(tab("wb-tab-search", gettext("Search results"), state.mode === "search" ? state.total : null,
      state.mode === "search", function () { hooks.openSearch(); }));
  }
  tabsEl.replaceChildren.apply(tabsEl, children);
  if (!state.counts.length) tabsEl.append(el("span", "wb-muted", gettext("No queues for your role.")));
}

export function queueLabel(name) {
  const queue = state.counts.find(function (q) { return q.name === name; });
  return queue ? queue.label : name;
}

export function totalText(total) {
  return fmt(gettext("%(count)s in all"), { count: total });
}
