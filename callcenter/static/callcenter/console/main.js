/*
 * The operator console (/console/), as native ES modules in this folder (no bundler):
 *
 *   main.js       this file: the keyboard shortcuts and the start
 *   helpers.js    DOM, text and time helpers, the JSON API wrapper
 *   state.js      configuration, labels, lookups and the shared state object
 *   intake.js     left: the intake form
 *   call.js       left: the caller's screen pop (calls) and earlier tickets
 *   map.js        middle: the map, the pin and the opened ticket's marker
 *   geocode.js    middle: address search and shared coordinates
 *   routing.js    middle: the live routing proposal
 *   ticket.js     middle: the opened ticket with its possible duplicates (merge)
 *   dispatch.js   middle: the dispatch form
 *   knowledge.js  right: the knowledge base ("resolve directly")
 *   queue.js      right: the operator's own tickets of today
 *   live.js       the live event stream
 *
 * The panels call each other (the imports go round in circles), so a module's top level only defines
 * things and reads helpers.js and state.js; everything else runs from here once every module is loaded.
 * gettext, interpolate (Django's JS catalog), HotlineLive (realtime/live.js) and Leaflet's L are globals.
 *
 * Every server string is put on the page with textContent, never as HTML. Coordinates are kept in WGS84
 * and sent with coordinate_system "wgs84"; the map shows them in the tiles' system (config
 * tile_coordinate_system, default wgs84), and coordinates in other systems are converted by the server.
 */

import { $ } from "./helpers.js";
import { state } from "./state.js";
import { bindForm, fields, fillOptions, form, setDefaults, submitIntake } from "./intake.js";
import { bindCallBanner } from "./call.js";
import { initMap, renderPinSummary } from "./map.js";
import { bindMapTools } from "./geocode.js";
import { renderRouting } from "./routing.js";
import { bindTicketPanel, renderTicket } from "./ticket.js";
import { bindDispatch, submitDispatch } from "./dispatch.js";
import { bindKnowledge, submitResolve } from "./knowledge.js";
import { loadQueue, pruneOldDays, renderQueue } from "./queue.js";
import { connectLive } from "./live.js";

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
