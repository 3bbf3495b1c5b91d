/*
 * Commander's map, side panel: the selected ticket's details with its timeline. The emergency layer adds
 * to the panel (hooks) and takes it over for an incident (window.HotlineCommand.releaseDetails).
 */

import { clear, el, fmt, formatDateTime, getJSON, gettext, pgettext } from "./helpers.js";
import {
  actionName, callHooks, CLUSTER_MAX_ZOOM, display, recordLatLng, RESPONSIBILITIES, state, STATE_COLOURS, stateName,
  urgencyName, WORK_ORDER_STATES,
} from "./state.js";
import { render } from "./markers.js";

export const detailsBox = document.getElementById("cmd-details");
const detailsBody = document.getElementById("cmd-details-body");

// --- details panel ---------------------------------------------------------------------------------

let detailsGeneration = 0;

// The emergency layer takes the details panel over for an incident: the ticket lets go of it.
window.HotlineCommand = {
  releaseDetails: function () {
    const previous = state.selectedId;
    state.selectedId = null;
    detailsGeneration += 1;
    if (previous !== null && state.map) render();
  },
};

export function selectTicket(id, pan) {
  callHooks("ticketSelected", id);
  const previous = state.selectedId;
  state.selectedId = id;
  if (previous !== id) render();
  showDetails(id, true);
  const rec = state.tickets.get(id);
  if (pan && rec && state.map) state.map.setView(recordLatLng(rec), Math.max(state.map.getZoom(), CLUSTER_MAX_ZOOM + 1));
}

export function closeDetails() {
  state.selectedId = null;
  detailsGeneration += 1;
  clear(detailsBody);
  detailsBody.appendChild(el("p", { class: "cmd-hint", text: gettext("Select a ticket on the map or in the live feed.") }));
  render();
}

function row(dl, label, value) {
  if (value === null || value === undefined || value === "") return;
  dl.appendChild(el("dt", { text: label }));
  dl.appendChild(typeof value === "string" ? el("dd", { text: value }) : el("dd", null, value));
}

export function showDetails(id, announce) {
  const generation = ++detailsGeneration;
  if (announce) {
    clear(detailsBody);
    detailsBody.appendChild(el("p", { class: "cmd-hint", text: gettext("Loading…") }));
  }
  Promise.all([getJSON("/api/tickets/" + id + "/"), getJSON("/api/tickets/" + id + "/timeline/")]).then(function (results) {
    if (generation !== detailsGeneration) return;
    renderDetails(results[0], results[1]);
  }).catch(function (error) {
    if (generation !== detailsGeneration) return;
    clear(detailsBody);
    detailsBody.appendChild(el("p", { class: "cmd-error", text: fmt(gettext("Could not load the ticket (%(error)s)."), { error: error.message }) }));
  });
}

function renderDetails(d, timeline) {
  clear(detailsBody);
  const head = el("div", { class: "cmd-details-head" },
    el("h3", { class: "cmd-number", text: d.number }));
  const actions = el("div", { class: "cmd-details-actions" });
  // Every action on the ticket is on its own page (the workflow table decides the buttons there).
  actions.appendChild(el("a", { class: "button", href: "/tickets/" + encodeURIComponent(d.number) + "/", target: "_blank", rel: "noopener", text: gettext("Open the ticket page") }));
  if (d.latitude !== null && d.longitude !== null) {
    const zoomTo = el("button", { type: "button", text: gettext("Zoom to") });
    zoomTo.addEventListener("click", function () {
      state.map.setView(display.toMap(d.latitude, d.longitude), Math.max(state.map.getZoom(), CLUSTER_MAX_ZOOM + 1));
    });
    actions.appendChild(zoomTo);
  }
  const close = el("button", { type: "button", text: pgettext("details panel", "Close"), "aria-label": gettext("Close the details") });
  close.addEventListener("click", closeDetails);
  actions.appendChild(close);
  head.appendChild(actions);
  detailsBody.appendChild(head);

  detailsBody.appendChild(el("p", { class: "cmd-badges" },
    el("span", { class: "cmd-badge", style: "background:" + (STATE_COLOURS[d.state] || "#888"), text: stateName(d.state) }),
    " ",
    el("span", { class: "cmd-badge cmd-badge-urgency urgency-" + d.urgency, text: urgencyName(d.urgency) })));
  if (d.title) detailsBody.appendChild(el("p", { class: "cmd-title", text: d.title }));

  const dl = el("dl", { class: "cmd-dl" });
  row(dl, gettext("Subject"), d.subject ? d.subject.path || d.subject.name : "");
  row(dl, gettext("Address"), d.address);
  if (d.placement) {
    const parts = [d.placement.district, d.placement.street, d.placement.grid]
      .map(function (p) { return p && p.name; }).filter(Boolean);
    row(dl, gettext("Jurisdiction"), parts.join(" / "));
    if (d.placement.near_boundary) row(dl, gettext("Note"), gettext("Near a jurisdiction boundary"));
  }
  row(dl, gettext("Received"), formatDateTime(d.created_at));
  if (d.closed_at) row(dl, gettext("Finished at"), formatDateTime(d.closed_at));
  if (d.master) row(dl, gettext("Merged into"), d.master);
  if (d.work_orders && d.work_orders.length) {
    const list = el("ul", { class: "cmd-wo" });
    d.work_orders.forEach(function (w) {
      list.appendChild(el("li", {
        text: [w.number, w.agency ? w.agency.name : "", RESPONSIBILITIES[w.responsibility] || w.responsibility,
          WORK_ORDER_STATES[w.state] || w.state].filter(Boolean).join(" · "),
      }));
    });
    row(dl, gettext("Work orders"), list);
  }
  detailsBody.appendChild(dl);
  if (d.description) detailsBody.appendChild(el("p", { class: "cmd-description", text: d.description }));

  detailsBody.appendChild(el("h3", { class: "cmd-subtitle", text: gettext("Timeline") }));
  const ol = el("ol", { class: "cmd-timeline" });
  (timeline || []).slice().reverse().forEach(function (t) {
    let what = actionName(t.machine, t.action);
    if (t.to_state && t.to_state !== t.from_state) what += " → " + stateName(t.to_state);
    const who = [t.actor, t.actor_agency].filter(Boolean).join(" · ");
    const item = el("li", null,
      el("time", { datetime: t.created_at, text: formatDateTime(t.created_at) }),
      " ",
      el("strong", { text: what }),
      t.work_order ? el("span", { class: "cmd-muted", text: " " + t.work_order }) : null);
    if (who) item.appendChild(el("div", { class: "cmd-muted", text: who }));
    if (t.note) item.appendChild(el("div", { class: "cmd-note", text: t.note }));
    ol.appendChild(item);
  });
  if (!ol.children.length) ol.appendChild(el("li", { class: "cmd-hint", text: gettext("No entries.") }));
  detailsBody.appendChild(ol);
  callHooks("ticketDetails", { ticket: d, body: detailsBody });
}
