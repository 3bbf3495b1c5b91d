/*
 * The agency inbox (/inbox/): the agency's open work orders with live countdowns, the selected one's
 * details, and its actions (sign, return, progress note, reply, extension request, supervision answer).
 * Native ES modules in this folder (no bundler), listed from the bottom up: a module imports only the
 * ones listed before it, never one after it.
 *
 *   helpers.js  gettext, DOM helpers, the server clock, the JSON API wrapper
 *   state.js    configuration, labels, the shared state object and the hooks (below)
 *   time.js     times in the city's zone, deadlines and countdowns
 *   notify.js   toast, "new" badge, sound
 *   list.js     left: the work order list
 *   map.js      right: the ticket's place on a small map (realtime/basemap.js)
 *   photos.js   right: photos on the note and reply forms, the files in the details (../attachments.js)
 *   detail.js   right: the selected work order's details (on a phone: over the list, with a way back)
 *   forms.js    right: the action forms and revealing the caller's number
 *   live.js     live events and snapshots
 *   main.js     this file: the hooks, keyboard and pointer, the clocks' tick, the start
 *
 * Where a lower panel must make a higher one act (the list refreshes the details, the details open and
 * close the forms), it calls state.js's hooks, which this file fills in first. A module's top level only
 * defines things; everything runs from here once every module is loaded.
 *
 * Data: GET /api/work-orders/?state=... for the list, GET /api/work-orders/{id}/ per row, the ticket and
 * its timeline for the details. Live: HotlineLive events refresh rows; a snapshot reloads the list.
 * Server text only ever reaches the page through textContent.
 */

import { api } from "./helpers.js";
import { appealTypes, hooks, state, workflowLabels } from "./state.js";
import { badge, bindSound, showSoundState, unseenIds } from "./notify.js";
import {
  filterState, listEl, moveCursor, paintCountdown, paintCursor, reloadList, renderList, searchEl,
} from "./list.js";
import { closePane, d, NARROW, paintDetailCountdown, renderDetail, selectRow, updateDetailWorkOrder } from "./detail.js";
import { bindReveal, closeForm, toggleForm } from "./forms.js";
import { onEvent, onSnapshot } from "./live.js";

// --- hooks: the calls from a lower panel up to a higher one ---------------------------------------
Object.assign(hooks, {
  updateDetailWorkOrder: updateDetailWorkOrder,
  closeForm: closeForm,
  toggleForm: toggleForm,
});

bindReveal();
d.back.addEventListener("click", function () { closeForm(false); closePane(); });

// --- keyboard and pointer -------------------------------------------------------------------------
function typing(target) {
  return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}
listEl.addEventListener("click", function (event) {
  const li = event.target.closest("li[data-id]");
  if (!li) return;
  selectRow(Number(li.dataset.id));
});
listEl.addEventListener("keydown", function (event) {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  const key = event.key;
  if (key === "ArrowDown") { moveCursor(1); event.preventDefault(); }
  else if (key === "ArrowUp") { moveCursor(-1); event.preventDefault(); }
  else if (key === "Home") { moveCursor(-Infinity); event.preventDefault(); }
  else if (key === "End") { moveCursor(Infinity); event.preventDefault(); }
  else if (key === "PageDown") { moveCursor(10); event.preventDefault(); }
  else if (key === "PageUp") { moveCursor(-10); event.preventDefault(); }
  else if ((key === "Enter" || key === " ") && state.cursorId !== null) {
    selectRow(state.cursorId);
    paintCursor(true);
    event.preventDefault();
  }
});
document.addEventListener("keydown", function (event) {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.key === "Escape") {
    if (state.openForm) { closeForm(true); event.preventDefault(); }
    else if (d.revealHost.firstChild) { d.revealHost.replaceChildren(); d.revealButton.focus(); }
    else if (NARROW.matches && closePane()) event.preventDefault();  // a phone's details pane: back to the list
    return;
  }
  if (typing(event.target)) return;
  if (event.key === "j") { moveCursor(1); event.preventDefault(); }
  else if (event.key === "k") { moveCursor(-1); event.preventDefault(); }
  else if (event.key === "n") { showFirstNew(); event.preventDefault(); }
  else if (event.key === "/") { searchEl.focus(); event.preventDefault(); }
  else if (event.key === "Enter" && event.target === document.body && state.cursorId !== null) { selectRow(state.cursorId); }
});
function showFirstNew() {
  const ids = unseenIds();
  if (!ids.length) return;
  ids.sort(function (a, b) { return state.rows.get(b).arrived - state.rows.get(a).arrived; });
  if (filterState.value || searchEl.value) { filterState.value = ""; searchEl.value = ""; }
  selectRow(ids[0]);
  paintCursor(true);
}
badge.addEventListener("click", showFirstNew);
filterState.addEventListener("change", renderList);
searchEl.addEventListener("input", renderList);
searchEl.addEventListener("keydown", function (event) {
  if (event.key === "ArrowDown" || event.key === "Enter") { event.preventDefault(); paintCursor(true); }
});
bindSound();

// --- clocks tick ----------------------------------------------------------------------------------
setInterval(function () {
  state.rows.forEach(function (row) { if (row.countEl) paintCountdown(row); });
  paintDetailCountdown();
}, 1000);

// --- start ----------------------------------------------------------------------------------------
showSoundState();
api("GET", "/api/workflow/").then(function (table) {
  (table || []).forEach(function (row) { workflowLabels[row.machine + "." + row.action] = row.label; });
  if (state.detail && state.detail.wo) renderDetail();
}, function () {});
api("GET", "/api/appeal-types/").then(function (types) {
  (types || []).forEach(function (type) { appealTypes[type.code] = type.name; });
}, function () {});
reloadList();
if (window.HotlineLive) {
  window.HotlineLive.connect({
    onEvent: onEvent,
    onSnapshot: onSnapshot,
    onState: function (liveState) { if (window.showLiveState) window.showLiveState(liveState); },
  });
}
