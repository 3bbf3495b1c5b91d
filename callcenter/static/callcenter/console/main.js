/*
 * The operator console (/console/), as native ES modules in this folder (no bundler), listed from the
 * bottom up: a module imports only the ones listed before it, never one after it.
 *
 *   helpers.js    DOM, text and time helpers, the JSON API wrapper
 *   state.js      configuration, labels, lookups, the shared state object and the hooks (below)
 *   fields.js     left: the intake form's fields, field errors, subject matching
 *   photos.js     left: intake photos, stored on the ticket once it is accepted (attachments API)
 *   queue.js      right: the operator's own tickets of today
 *   map.js        middle: the map, the pin and the opened ticket's marker
 *   dispatch.js   middle: the dispatch form
 *   duplicates.js middle: possible duplicates of the ticket being typed (before intake)
 *   routing.js    middle: the live routing proposal
 *   knowledge.js  right: the knowledge base ("resolve directly")
 *   phrases.js    left: canned phrases for the description (the shared ../phrases.js picker)
 *   ticket.js     middle: the opened ticket with its possible duplicates (merge)
 *   geocode.js    middle: address search and shared coordinates
 *   call.js       left: the caller's screen pop (calls) and earlier tickets
 *   intake.js     left: the intake form: validation, submit, reset
 *   live.js       the live event stream
 *   main.js       this file: the hooks, the keyboard shortcuts and the start
 *
 * Where a lower panel must make a higher one act (re-show or open the ticket, ask for routing, start a
 * new intake), it calls state.js's hooks, which this file fills in first. A module's top level only
 * defines things; everything runs from here once every module is loaded.
 * gettext, interpolate (Django's JS catalog), HotlineLive (realtime/live.js) and Leaflet's L are globals.
 *
 * Every server string is put on the page with textContent, never as HTML. Coordinates are kept in WGS84
 * and sent with coordinate_system "wgs84"; the map (map.js, with the shared base map
 * realtime/basemap.js) shows them in the tiles' system (config tile_coordinate_system, default wgs84)
 * and shifts clicks back to WGS84; typed coordinates in other systems are converted by the server.
 */

import { $ } from "./helpers.js";
import { hooks, state } from "./state.js";
import { fields, form } from "./fields.js";
import { loadQueue, pruneOldDays, renderQueue } from "./queue.js";
import { initMap, renderPinSummary } from "./map.js";
import { bindDispatch, submitDispatch } from "./dispatch.js";
import { renderRouting, requestRouting } from "./routing.js";
import { bindKnowledge, submitResolve } from "./knowledge.js";
import { bindPhrases } from "./phrases.js";
import { bindTicketPanel, openTicket, renderTicket } from "./ticket.js";
import { bindMapTools } from "./geocode.js";
import { bindCallBanner } from "./call.js";
import { bindForm, fillOptions, resetIntake, setDefaults, submitIntake } from "./intake.js";
import { connectLive } from "./live.js";

// --- hooks: the calls from a lower panel up to a higher one -----------------------------------------

Object.assign(hooks, {
  renderTicket: renderTicket,
  openTicket: openTicket,
  requestRouting: requestRouting,
  resetIntake: resetIntake,
});

// --- keyboard: Alt+letter shortcuts shown in the labels, Ctrl+Enter accepts the ticket ---------------

function bindKeyboard() {
  const targets = new Map();
  for (const node of document.querySelectorAll("[data-key]")) targets.set(node.dataset.key, node);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
      if (form.contains(event.target) || event.target === document.body || event.target === $("map")) {
        event.preventDefault();
        submitIntake();
      } else if ($("dispatch-form").contains(event.target)) {
        event.preventDefault();
        submitDispatch();
      } else if ($("resolve-form").contains(event.target)) {
        event.preventDefault();
        submitResolve();
      }
      return;
    }
    if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const target = targets.get(event.code);
    if (!target || target.disabled || target.closest("[hidden]")) return;
    event.preventDefault();
    if (target.hasAttribute("data-key-click")) {
      target.click();
    } else {
      target.focus();
      if (typeof target.select === "function" && target.tagName === "INPUT") target.select();
    }
  });
}

// --- start ------------------------------------------------------------------------------------------

fillOptions();
setDefaults();
bindForm();
bindCallBanner();
bindMapTools();
bindTicketPanel();
bindDispatch();
bindKnowledge();
bindPhrases();
bindKeyboard();
renderPinSummary();
renderRouting();
renderTicket();
pruneOldDays();
renderQueue();
loadQueue();
initMap();
connectLive();
fields.phone.focus();

// For tests and troubleshooting only.
window.HotlineConsole = { state: state };
