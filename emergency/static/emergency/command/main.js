/*
 * The commander's live map (/command/), as native ES modules in this folder (no bundler), listed from the
 * bottom up: a module imports only the ones listed before it, never one after it.
 *
 *   helpers.js   gettext, DOM helpers, time formats, GET JSON, debounce, the status line
 *   state.js     configuration, colours, names, the emergency layer's hooks, the shared state object and
 *                the hooks between the parts (below)
 *   filters.js   side: the filters and layer switches, and the checks a ticket must pass
 *   markers.js   ticket markers and count bubbles (grid clustering), the count line
 *   hotspots.js  the hot-spot choropleth
 *   map.js       the Leaflet map, jurisdiction polygons, legend
 *   tickets.js   the tickets on the map: loading, applying live events, fitting the view
 *   details.js   side: the ticket details panel with its timeline
 *   feed.js      side: the live feed
 *   live.js      live events and snapshots
 *   main.js      this file: the hooks, wiring the controls, the lookups, the start
 *
 * Base layer: the jurisdiction polygons (districts always, streets and grids on demand), over the tiles of
 * the shared base map (realtime/basemap.js, README "Base map"); on GCJ-02 tiles everything drawn is
 * shifted into GCJ-02 and clicks are shifted back to WGS84 (state.js display, also handed to the
 * emergency layer). Tickets are circle markers (fill = state, ring = urgency), grouped
 * into count bubbles by screen-pixel cells while zoomed out. Filters, a hot-spot choropleth, a details
 * panel with the timeline and a live feed, all kept current by HotlineLive events.
 *
 * Where a lower part must make a higher one act (a marker click opens the details, moving the map may
 * load tickets), it calls state.js's hooks, which this file fills in first. A module's top level only
 * defines things; everything runs from here once every module is loaded. The emergency layer
 * (emergency*.js, plain scripts that run before these deferred modules) plugs in through
 * window.HotlineCommandHooks and window.HotlineCommand.
 *
 * Everything that comes from the server is put into the page with textContent, never as HTML.
 */

import { debounce, fmt, getJSON, gettext, setMapStatus } from "./helpers.js";
import { actionLabels, agencyById, hooks, state, subjectById } from "./state.js";
import {
  currentFilters, fAgency, fillFilterOptions, form, fSince, fState, fSubject, fUntil, fUrgency, fWindow,
  lGrid, lHot, lStreet, timeMatches,
} from "./filters.js";
import { scheduleRender } from "./markers.js";
import { loadHotspots } from "./hotspots.js";
import { initMap, loadAssets, refreshJurisdictions } from "./map.js";
import { fitToTickets, loadTickets, loadTicketsSoon } from "./tickets.js";
import { closeDetails, detailsBox, selectTicket } from "./details.js";
import { feedList, onFeedKey } from "./feed.js";
import { onEvent, onSnapshot } from "./live.js";

// --- hooks: the calls from a lower part up to a higher one -----------------------------------------

Object.assign(hooks, {
  selectTicket: selectTicket,
  loadTicketsSoon: loadTicketsSoon,
});

// --- wiring ----------------------------------------------------------------------------------------

// A change of filters reloads the map.
function onFiltersChanged() {
  const custom = fWindow.value === "custom";
  form.querySelectorAll(".cmd-custom").forEach(function (node) { node.hidden = !custom; });
  if (custom && !fSince.value) {
    const d = new Date(Date.now() - 7 * 86400000);
    d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
    fSince.value = d.toISOString().slice(0, 16);
  }
  loadTickets();
  loadHotspots();
}
const onFiltersChangedSoon = debounce(onFiltersChanged, 250);

function wireControls() {
  [fSubject, fState, fUrgency, fAgency, fWindow, fSince, fUntil].forEach(function (control) {
    control.addEventListener("change", onFiltersChangedSoon);
  });
  lStreet.addEventListener("change", function () { refreshJurisdictions(false); });
  lGrid.addEventListener("change", function () { refreshJurisdictions(false); });
  lHot.addEventListener("change", function () { loadHotspots(); });
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  feedList.addEventListener("keydown", onFeedKey);
  form.addEventListener("reset", function () {
    setTimeout(function () {
      refreshJurisdictions(false);
      onFiltersChanged();
    }, 0);
  });
  document.getElementById("cmd-fit").addEventListener("click", function () { fitToTickets(false); });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape" || state.selectedId === null || e.defaultPrevented) return;
    const inside = detailsBox.contains(document.activeElement) || document.getElementById("cmd-map").contains(document.activeElement);
    if (inside) closeDetails();
  });
  // Relative windows move with the clock: drop what has slid out of them.
  setInterval(function () {
    if (fWindow.value === "custom" || state.holding) return;
    const f = currentFilters();
    let removed = false;
    state.tickets.forEach(function (rec, id) {
      if (!timeMatches(rec.createdMs, f)) {
        state.tickets.delete(id);
        removed = true;
      }
    });
    if (removed) scheduleRender();
  }, 60000);
}

function loadLookups() {
  return Promise.all([
    getJSON("/api/subjects/").then(function (rows) {
      (rows.results || rows).forEach(function (s) { subjectById.set(s.id, { code: s.code, name: s.name, path: s.path }); });
    }),
    getJSON("/api/agencies/").then(function (rows) {
      (rows.results || rows).forEach(function (a) { agencyById.set(a.id, { code: a.code, name: a.name }); });
    }),
    getJSON("/api/workflow/").then(function (rows) {
      rows.forEach(function (r) { actionLabels.set(r.machine + ":" + r.action, r.label); });
    }),
  ].map(function (p) { return p.catch(function () { /* lookups only make the text nicer */ }); }));
}

function start() {
  fillFilterOptions();
  wireControls();
  const lookups = loadLookups();
  // Connect at once; events wait (holding) until the map data they apply to is loaded.
  HotlineLive.connect({
    storageKey: "command",
    onEvent: function (event) {
      lookups.then(function () { onEvent(event); });
    },
    onSnapshot: function (snapshot) {
      lookups.then(function () { onSnapshot(snapshot); });
    },
    onState: function (liveState) {
      if (window.showLiveState) window.showLiveState(liveState);
    },
  });
  setMapStatus(gettext("Loading the map…"));
  loadAssets().then(function () {
    initMap();
    return lookups;
  }).then(function () {
    return loadTickets();  // fits the view on the first load
  }).then(function () {
    refreshJurisdictions(true);
    loadHotspots();
  }).catch(function (error) {
    setMapStatus(fmt(gettext("The map could not start (%(error)s)."), { error: error && error.message }));
  });
}

start();
