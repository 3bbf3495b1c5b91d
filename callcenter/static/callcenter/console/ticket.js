/*
 * Operator console: the opened ticket (detail, outcome, deadlines), its possible duplicates and merging.
 * The dispatch form is dispatch.js.
 */

import { $, api, clear, debounce, el, errorText, fmt, shortTime, show } from "./helpers.js";
import { can, state, STATE_LABELS, stateBadge, TERMINAL, urgencyNames } from "./state.js";
import { drawTicketMarker, removeTicketMarker } from "./map.js";
import { renderRouting } from "./routing.js";
import { agencyDirectoryLoaded, loadAgencyDirectory, manualDispatch, renderDispatch } from "./dispatch.js";
import { renderResolveState } from "./knowledge.js";
import { upsertQueue } from "./queue.js";

let ticketSeq = 0;

export async function openTicket(id, options) {
  const seq = ++ticketSeq;
  $("ticket-error").textContent = "";
  let detail = options && options.detail;
  try {
    if (!detail) detail = await api("GET", "/api/tickets/" + id + "/");
    if (seq !== ticketSeq) return;
    state.ticket = detail;
    state.ticketProposal = null;
    state.duplicates = undefined; // loading
    state.routingView = "ticket";
    renderTicket();
    renderRouting();
    drawTicketMarker();
    if (options && options.focus) $("ticket-heading").focus();
    const [routing, duplicates] = await Promise.all([
      api("GET", "/api/tickets/" + id + "/routing/").catch((error) => ({ error: error })),
      api("GET", "/api/tickets/" + id + "/duplicates/").catch((error) => ({ error: error })),
    ]);
    if (seq !== ticketSeq) return;
    state.ticketProposal = routing && !routing.error ? routing.proposal : null;
    state.duplicates = duplicates && !duplicates.error ? duplicates.candidates || [] : null;
    if (duplicates && duplicates.error) $("dup-summary").textContent = errorText(duplicates.error);
    renderTicket();
    renderRouting();
    if (manualDispatch() && can("dispatch") && !agencyDirectoryLoaded()) {
      try {
        await loadAgencyDirectory();
      } catch (error) {
        $("dispatch-error").textContent = errorText(error);
      }
      if (seq === ticketSeq) renderDispatch();
    }
  } catch (error) {
    if (seq !== ticketSeq) return;
    $("ticket-error").textContent = errorText(error);
  }
}

async function refreshTicket() {
  if (!state.ticket) return;
  const id = state.ticket.id;
  try {
    const detail = await api("GET", "/api/tickets/" + id + "/");
    if (!state.ticket || state.ticket.id !== id) return;
    state.ticket = detail;
    upsertQueue(detail);
    renderTicket();
    renderDispatch();
  } catch (error) {
    /* the next event or a manual reopen will try again */
  }
}
export const refreshTicketDebounced = debounce(refreshTicket, 300);

function closeTicket() {
  ticketSeq++;
  state.ticket = null;
  state.ticketProposal = null;
  state.duplicates = [];
  state.routingView = "draft";
  removeTicketMarker();
  renderTicket();
  renderRouting();
}


export function renderTicket() {
  const ticket = state.ticket;
  show($("ticket-empty"), !ticket);
  show($("ticket-body"), Boolean(ticket));
  show($("ticket-close"), Boolean(ticket));
  show($("ticket-to-dispatch"), Boolean(ticket) && state.routingView !== "ticket" && can("dispatch"));
  renderResolveState();
  if (!ticket) return;
  $("ticket-number").textContent = ticket.number;
  $("ticket-page-link").href = "/tickets/" + encodeURIComponent(ticket.number) + "/";
  $("ticket-page-link").hidden = false;
  const badge = $("ticket-state");
  badge.className = "state state-" + ticket.state;
  badge.textContent = STATE_LABELS[ticket.state] || ticket.state;
  const summary = $("ticket-summary");
  clear(summary);
  summary.appendChild(
    el("div", null, [
      el("span", { class: "subject", text: ticket.subject ? ticket.subject.path : "" }),
      ticket.urgency && ticket.urgency !== "normal"
        ? el("span", { class: "urgency-" + ticket.urgency, text: " · " + (urgencyNames[ticket.urgency] || ticket.urgency) })
        : null,
    ])
  );
  if (ticket.title) summary.appendChild(el("div", { class: "title", text: ticket.title }));
  if (ticket.address) summary.appendChild(el("div", { class: "hint", text: ticket.address }));
  const outcome = $("ticket-outcome");
  clear(outcome);
  const orders = ticket.work_orders || [];
  if (orders.length) {
    outcome.appendChild(
      el("div", {
        text:
          gettext("Dispatched to:") +
          " " +
          orders
            .map(
              (wo) =>
                wo.agency.name + (wo.responsibility === "lead" ? gettext(" (lead)") : gettext(" (co-handling)"))
            )
            .join("、"),
      })
    );
  }
  orders.forEach(function (wo) {
    // Each work order's running deadline; a provisional one (a year not published yet) says so.
    if (!wo.deadline || !wo.deadline.due_at) return;
    const line = el("div", {
      class: "hint deadline" + (wo.deadline.due_provisional ? " provisional" : ""),
      text: fmt(gettext("%(agency)s: due %(time)s"), { agency: wo.agency.name, time: shortTime(wo.deadline.due_at) }) +
        (wo.deadline.due_provisional ? " " + gettext("(provisional)") : ""),
    });
    if (wo.deadline.due_provisional) {
      line.title = gettext("Provisional: the year's official holiday schedule is not published yet. The deadline never moves earlier when it is.");
    }
    outcome.appendChild(line);
  });
  if (ticket.state === "merged" && ticket.master) {
    outcome.appendChild(el("div", { text: fmt(gettext("Merged into %(number)s."), { number: ticket.master }) }));
  }
  if (ticket.state === "closed" && ticket.answered_by_article) {
    outcome.appendChild(el("div", { text: fmt(gettext("Resolved directly with article %(code)s."), { code: ticket.answered_by_article }) }));
  } else if (ticket.state === "closed" && ticket.resolution_note) {
    outcome.appendChild(el("div", { text: gettext("Resolved directly.") }));
  }
  renderDuplicates();
}

function renderDuplicates() {
  const list = $("dup-list");
  clear(list);
  const summary = $("dup-summary");
  const candidates = state.duplicates;
  if (candidates === null) return; // the error is in the summary
  if (!state.ticket) return;
  if (candidates === undefined) {
    summary.textContent = gettext("Looking up…");
    return;
  }
  summary.textContent = candidates.length
    ? fmt(gettext("%(n)s found"), { n: candidates.length })
    : gettext("none found");
  const mergeable = can("merge");
  for (const c of candidates) {
    const tags = [];
    if (c.distance_m !== null && c.distance_m !== undefined) tags.push(fmt(gettext("%(m)s m away"), { m: Math.round(c.distance_m) }));
    if (c.same_subject) tags.push(gettext("same subject"));
    if (c.same_caller) tags.push(gettext("same caller"));
    const button = el("button", {
      type: "button",
      class: "small",
      text: gettext("Merge into this one"),
      disabled: !mergeable || TERMINAL.has(c.state),
      onclick: function () {
        mergeInto(c, button);
      },
    });
    list.appendChild(
      el("li", null, [
        el("div", { class: "line" }, [
          el("span", { class: "number", text: c.number }),
          stateBadge(c.state),
          el("span", { class: "time", text: shortTime(c.created_at) }),
        ]),
        el("div", { class: "line sub" }, [el("span", { text: c.title || c.address || "" })]),
        el("div", { class: "line sub" }, [el("span", { class: "tags", text: tags.join(" · ") }), el("span", { class: "grow" }), button]),
      ])
    );
  }
}

async function mergeInto(candidate, button) {
  const ticket = state.ticket;
  if (!ticket || !can("merge")) return;
  if (!window.confirm(fmt(gettext("Merge %(number)s into %(master)s? The new ticket will be closed as a duplicate."), { number: ticket.number, master: candidate.number }))) return;
  button.disabled = true;
  $("ticket-error").textContent = "";
  try {
    const detail = await api("POST", "/api/tickets/" + ticket.id + "/merge/", { master_id: candidate.id });
    state.ticket = detail;
    upsertQueue(detail);
    renderTicket();
    renderDispatch();
  } catch (error) {
    $("ticket-error").textContent = errorText(error);
    button.disabled = false;
  }
}

export function bindTicketPanel() {
  $("ticket-close").addEventListener("click", closeTicket);
  $("ticket-to-dispatch").addEventListener("click", function () {
    state.routingView = "ticket";
    renderTicket();
    renderRouting();
    $("dispatch-lead").focus();
  });
}
