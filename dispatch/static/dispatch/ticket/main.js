/*
 * The ticket page (/tickets/<number>/): one ticket with its callers, place, work orders, deadlines, cards,
 * replies, revisits, duplicates and timeline, and a button for every action the workflow table allows this
 * user now. The server renders the ticket and its buttons (the part in #ticket-main, reloaded from
 * ?part=main); these native ES modules (no bundler) add the action forms, the timeline, the map, the
 * countdowns and the live reload. A module imports only the ones listed before it:
 *
 *   helpers.js   gettext, DOM, configuration, server clock, JSON API, city time
 *   state.js     the ticket shown, labels of codes, shared state, hooks
 *   timeline.js  the timeline (GET /api/tickets/<id>/timeline/, labels from GET /api/workflow/)
 *   map.js       the ticket's place (Leaflet)
 *   contexts.js  what a form shows beside its fields (proposal, reasons, replies, ...)
 *   files.js     the ticket's photos and documents (GET /api/tickets/<id>/attachments/)
 *   forms.js     the action forms (photos of notes and replies: ../inbox/photos.js) and revealing the
 *                caller's number
 *   main.js      this file: reload, live events, countdowns, the start
 *
 * Server text only reaches the page through textContent, or as the server's own escaped HTML (#ticket-main).
 */

import { $, countdown, gettext, noteServerDate } from "./helpers.js";
import { hooks, readTicketData, state, TICKET } from "./state.js";
import { loadTimeline } from "./timeline.js";
import { loadFiles } from "./files.js";
import { showPlace } from "./map.js";
import { applyRevealed, closeForm, toggleForm, toggleReveal } from "./forms.js";

const mainEl = $("ticket-main");

function notice(text) {
  $("ticket-notice-text").textContent = text || "";
  $("ticket-notice").hidden = !text;
}

// --- countdowns -----------------------------------------------------------------------------------
function paintCountdowns() {
  mainEl.querySelectorAll(".due[data-due]").forEach(function (due) {
    const target = due.parentNode.querySelector("[data-countdown]");
    if (!target) return;
    const c = countdown(due.dataset.due, due.dataset.started, due.dataset.warn);
    if (target.textContent !== c.text) target.textContent = c.text;
    target.className = "countdown " + c.cls;
  });
}

// --- reload ---------------------------------------------------------------------------------------
function afterRender() {
  const data = readTicketData();
  applyRevealed();
  paintCountdowns();
  if (data) showPlace(data.latitude, data.longitude);
}

/** The ticket's data in a rendering of the part (its JSON), to tell whether anything changed. */
function dataIn(html) {
  const node = new DOMParser().parseFromString(html, "text/html").getElementById("ticket-data");
  return node ? node.textContent : null;
}

let reloading = null;
let again = false;
/** Load the ticket again (the server-rendered part and the timeline). The part is swapped only when the ticket
 * changed, and never under an open form: then the page says so and refreshes once the form is closed. */
async function reload() {
  if (reloading) { again = true; return reloading; }
  reloading = (async function () {
    try {
      const response = await fetch(window.location.pathname + "?part=main", {
        credentials: "same-origin", headers: { Accept: "text/html" },
      });
      noteServerDate(response);
      if (response.status === 404) {
        notice(gettext("You can no longer see this ticket."));
      } else if (!response.ok) {
        notice(gettext("The ticket could not be refreshed. It will try again on the next change."));
      } else {
        const html = await response.text();
        const shown = $("ticket-data");
        if (shown && dataIn(html) === shown.textContent) {
          if (!state.openForm) notice("");
        } else if (state.openForm) {
          state.pendingReload = true;  // the user may be typing: keep the form, refresh once it closes
          notice(gettext("This ticket has changed. It will refresh when you close the form."));
        } else {
          state.pendingReload = false;
          mainEl.innerHTML = html;  // the server's own template output, escaped there
          notice("");
          afterRender();
        }
      }
    } catch (error) {
      notice(gettext("The ticket could not be refreshed. It will try again on the next change."));
    }
    // After the part: the timeline names agencies by the work orders it shows.
    await Promise.all([loadTimeline(), loadFiles()]);
  })();
  await reloading;
  reloading = null;
  if (again) { again = false; return reload(); }
}
hooks.reload = reload;

let scheduled = null;
function scheduleReload() {
  clearTimeout(scheduled);
  scheduled = setTimeout(reload, 250);
}

// --- pointer and keyboard -------------------------------------------------------------------------
mainEl.addEventListener("click", function (event) {
  const button = event.target.closest("button");
  if (!button || !mainEl.contains(button)) return;
  if (button.id === "reveal-button") { toggleReveal(button); return; }
  if (button.dataset.action && button.dataset.machine && !button.closest("form")) toggleForm(button);
});
document.addEventListener("keydown", function (event) {
  if (event.key === "Escape" && state.openForm) { closeForm(true); event.preventDefault(); }
});
$("ticket-notice-reload").addEventListener("click", function () {
  closeForm(false);
  reload();
});

// --- live: reload when an event names this ticket -------------------------------------------------
function concerns(event) {
  if (event.type === "caller.revealed") return false;
  if (event.ticket_id === TICKET.id) return true;
  const p = event.payload || {};
  if (p.ticket_id === TICKET.id) return true;  // attachment.added
  if ((p.ticket && p.ticket.id === TICKET.id) || (p.work_order && p.work_order.ticket_id === TICKET.id)) return true;
  if (p.duplicate_id === TICKET.id) return true;
  return (p.escalations || []).concat(p.deadlines || []).some(function (item) { return item.ticket_id === TICKET.id; });
}
if (window.HotlineLive) {
  window.HotlineLive.connect({
    onEvent: function (event) { if (concerns(event)) scheduleReload(); },
    // A snapshot starts the stream (and follows a gap): what changed before it is not replayed, so look again.
    onSnapshot: scheduleReload,
    onState: function (liveState) { if (window.showLiveState) window.showLiveState(liveState); },
  });
}

// --- start ----------------------------------------------------------------------------------------
afterRender();
loadTimeline();
loadFiles();
setInterval(paintCountdowns, 1000);
