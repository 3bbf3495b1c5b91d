/*
 * The workbench (/work/): the viewer's queues (待办) with live counts, a queue's rows by deadline, ticket
 * search with saved searches, export and bulk urge. Native ES modules in this folder (no bundler), from the
 * bottom up; a module imports only the ones listed before it:
 *
 *   hooks.js   the hooks below
 *   state.js   configuration, shared state, times in the city's zone
 *   tabs.js    the queue tabs and their counts (GET /api/queues/)
 *   table.js   the table, its pager and the selection
 *   search.js  the search form, saved searches (localStorage, per user), export links
 *   urge.js    bulk urge of the selected rows
 *   main.js    this file: the hooks, live events, the start
 *
 * Live: any ticket or work-order event (HotlineLive, realtime/live.js) re-fetches the counts and the open
 * queue's page, debounced; a snapshot (after a long disconnection) does the same.
 */

import { api } from "../inbox/helpers.js";
import { hooks } from "./hooks.js";
import { state } from "./state.js";
import { refreshCounts, renderTabs, scheduleCounts } from "./tabs.js";
import { bindTable, loadTable, renderTable } from "./table.js";
import { bindSearch, clearErrors, formEl, formQuery, setExportLinks, showErrors } from "./search.js";
import { bindUrge } from "./urge.js";

function openQueue(name) {
  if (state.mode !== "queue" || state.queue !== name) {
    state.mode = "queue";
    state.queue = name;
    state.offset = 0;
    state.rows = [];
    renderTable();
  }
  renderTabs();
  loadTable(false);
}

function openSearch() {
  state.mode = "search";
  state.offset = 0;
  renderTabs();
  loadTable(false);
}

// Runs the form's search: a bad filter shows the API's field errors and keeps the table as it was.
async function runSearch() {
  const query = formQuery();
  clearErrors();
  const submit = formEl.querySelector("[type=submit]");
  submit.disabled = true;
  try {
    await api("GET", "/api/search/tickets/?" + (query ? query + "&" : "") + "limit=1");
  } catch (problem) {
    submit.disabled = false;
    showErrors(problem);
    return;
  }
  submit.disabled = false;
  state.query = query;
  state.searched = true;
  setExportLinks(query);
  openSearch();
}

hooks.openQueue = openQueue;
hooks.openSearch = openSearch;
hooks.runSearch = runSearch;
hooks.reloadTable = function () {
  scheduleCounts(0);
  loadTable(true);
};

// --- live ---------------------------------------------------------------------------------------------
let tableTimer = null;
function somethingChanged() {
  scheduleCounts();
  if (state.mode !== "queue") return;  // search results stay as searched; the user searches again
  clearTimeout(tableTimer);
  tableTimer = setTimeout(function () { loadTable(true); }, 800);
}
function onEvent(event) {
  const type = event.type || "";
  if (type.indexOf("ticket.") === 0 || type.indexOf("work_order.") === 0 || type === "calendar.year_published") {
    somethingChanged();
  }
}

// --- start --------------------------------------------------------------------------------------------
bindTable();
bindSearch();
bindUrge();
refreshCounts().then(function () {
  if (state.mode === "queue") loadTable(false);
});
if (window.HotlineLive) {
  window.HotlineLive.connect({
    onEvent: onEvent,
    onSnapshot: somethingChanged,
    onState: function (liveState) { if (window.showLiveState) window.showLiveState(liveState); },
  });
}
