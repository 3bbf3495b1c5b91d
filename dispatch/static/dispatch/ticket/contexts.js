/*
 * Ticket page: what an action form shows beside its fields so the decision can be made there - the routing
 * proposal (dispatch, re-dispatch), the return reasons (re-dispatch), the agencies' replies (approve, send
 * back, revisit, redo, close), the callers with their numbers (revisit: the centre sees them in full), the
 * pending extension, the open supervision case, the current deadline, possible duplicates (merge).
 */

import { api, config, el, fmt, formatTime, gettext, isoToLocalInput } from "./helpers.js";
import { label, state, TICKET, workOrder } from "./state.js";

function box(title) {
  const node = el("div", "context-box");
  if (title) node.appendChild(el("h4", "", title));
  return node;
}
function replyLine(wo) {
  const li = el("li");
  const head = [wo.agency.name, label("responsibility", wo.responsibility), wo.reply_outcome ? label("outcome", wo.reply_outcome) : ""];
  li.appendChild(el("strong", "", head.filter(Boolean).join(" · ")));
  li.appendChild(el("div", "pre", wo.reply_text));
  return li;
}

async function routing(host, form) {
  const node = box(gettext("Routing proposal"));
  const text = el("p", "muted", gettext("Loading…"));
  node.appendChild(text);
  host.appendChild(node);
  try {
    const answer = await api("GET", "/api/tickets/" + TICKET.id + "/routing/");
    const proposal = answer && answer.proposal;
    if (!proposal || !proposal.lead) {
      text.textContent = gettext("Routing has no proposal for this ticket: choose the lead agency.");
      return;
    }
    text.className = "";
    text.textContent = fmt(gettext("Proposed lead agency: %(name)s"), { name: proposal.lead.name });
    if ((proposal.co_handlers || []).length) {
      node.appendChild(el("p", "", fmt(gettext("Proposed co-handling: %(names)s"),
        { names: proposal.co_handlers.map(function (a) { return a.name; }).join("、") })));
    }
    if (proposal.near_boundary) node.appendChild(el("p", "warn", gettext("The place lies near a jurisdiction boundary: check the proposal.")));
    const reasons = el("ul", "plain");
    (proposal.reasons || []).forEach(function (reason) { if (reason && reason.text) reasons.appendChild(el("li", "muted", reason.text)); });
    if (reasons.childElementCount) node.appendChild(reasons);
    const lead = form.elements.namedItem("lead_agency_id");
    if (lead && !lead.value && lead.querySelector('option[value="' + proposal.lead.id + '"]')) lead.value = String(proposal.lead.id);
  } catch (problem) {
    text.textContent = problem.message || gettext("The routing proposal could not be loaded.");
  }
}

function returns(host) {
  const rows = (state.data.work_orders || []).filter(function (wo) { return wo.return_reason; });
  if (!rows.length) return;
  const node = box(gettext("Returned by"));
  const list = el("ul", "plain");
  rows.forEach(function (wo) {
    const li = el("li");
    li.appendChild(el("strong", "", wo.agency.name));
    li.appendChild(el("div", "pre", wo.return_reason));
    if (wo.return_legal_basis) li.appendChild(el("div", "pre muted", fmt(gettext("Legal basis: %(text)s"), { text: wo.return_legal_basis })));
    list.appendChild(li);
  });
  node.appendChild(list);
  host.appendChild(node);
}

function returnRequest(host, wo) {
  const node = box(gettext("The agency's return request"));
  if (wo && wo.return_reason) {
    node.appendChild(el("p", "pre", wo.return_reason));
    if (wo.return_legal_basis) node.appendChild(el("p", "pre muted", fmt(gettext("Legal basis: %(text)s"), { text: wo.return_legal_basis })));
  } else {
    node.appendChild(el("p", "muted", gettext("No reason given.")));
  }
  host.appendChild(node);
}

function replies(host, withCallers) {
  const rows = (state.data.work_orders || []).filter(function (wo) { return wo.reply_text; });
  const node = box(gettext("The agencies' replies"));
  const list = el("ul", "plain");
  rows.forEach(function (wo) { list.appendChild(replyLine(wo)); });
  if (!rows.length) list.appendChild(el("li", "muted", gettext("No reply yet.")));
  node.appendChild(list);
  const callers = state.data.callers || [];
  // Who to call back, with their numbers: the centre's revisit desk only (agencies never see full numbers).
  if (withCallers && config.centre && callers.length) {
    node.appendChild(el("h4", "", gettext("Callers")));
    const who = el("ul", "plain callers");
    callers.forEach(function (c) { who.appendChild(el("li", "", [c.name, c.phone].filter(Boolean).join(" "))); });
    node.appendChild(who);
  }
  host.appendChild(node);
}

function reply(host, wo) {
  const node = box(gettext("The agency's reply"));
  if (wo && wo.reply_text) {
    const list = el("ul", "plain");
    list.appendChild(replyLine(wo));
    node.appendChild(list);
  } else {
    node.appendChild(el("p", "muted", gettext("No reply yet.")));
  }
  host.appendChild(node);
}

function extension(host, wo) {
  const pending = wo && wo.pending_extension;
  const node = box(gettext("The extension request"));
  if (!pending) {
    node.appendChild(el("p", "muted", gettext("There is no pending extension request.")));
  } else {
    node.appendChild(el("p", "", fmt(gettext("Requested deadline: %(time)s"), { time: formatTime(pending.requested_due_at) })));
    if (pending.previous_due_at) node.appendChild(el("p", "muted", fmt(gettext("Deadline before the request: %(time)s"), { time: formatTime(pending.previous_due_at) })));
    node.appendChild(el("p", "pre", pending.reason));
  }
  host.appendChild(node);
}

function supervision(host, wo) {
  const c = wo && wo.open_supervision;
  const node = box(gettext("The supervision case"));
  if (!c) {
    node.appendChild(el("p", "muted", gettext("There is no open supervision case.")));
  } else {
    node.appendChild(el("p", "pre", c.instruction));
    if (c.answer_due_at) node.appendChild(el("p", "muted", fmt(gettext("Answer due: %(time)s"), { time: formatTime(c.answer_due_at) })));
  }
  host.appendChild(node);
}

function deadline(host, form, wo) {
  const clock = ((wo && wo.clocks) || []).find(function (c) { return c.stage === "handle"; });
  if (!clock || !clock.due_at) return;
  host.textContent = fmt(gettext("Current deadline: %(time)s"), { time: formatTime(clock.due_at) });
  const input = form.querySelector("[data-min=handle-due]");
  if (input) input.min = isoToLocalInput(clock.due_at);
}

async function duplicates(host, form) {
  const node = box(gettext("Possible duplicates"));
  const text = el("p", "muted", gettext("Loading…"));
  node.appendChild(text);
  host.appendChild(node);
  try {
    const answer = await api("GET", "/api/tickets/" + TICKET.id + "/duplicates/");
    const rows = (answer && answer.candidates) || [];
    if (!rows.length) { text.textContent = gettext("No similar open ticket nearby or from the same caller."); return; }
    text.remove();
    const list = el("ul", "plain");
    rows.forEach(function (row) {
      const li = el("li");
      const pick = el("button", "small", gettext("Use"));
      pick.type = "button";
      pick.addEventListener("click", function () {
        const input = form.elements.namedItem("master_number");
        input.value = row.number;
        input.focus();
      });
      li.appendChild(pick);
      li.appendChild(el("span", "", " " + row.number + " · " + (row.state_label || "") + " · " + (row.title || row.address || "")));
      const why = [row.same_caller ? gettext("same caller") : "", row.distance_m !== null && row.distance_m !== undefined
        ? fmt(gettext("%(metres)s m away"), { metres: Math.round(row.distance_m) }) : ""].filter(Boolean).join(" · ");
      if (why) li.appendChild(el("span", "muted", " (" + why + ")"));
      list.appendChild(li);
    });
    node.appendChild(list);
  } catch (problem) {
    text.textContent = problem.message || gettext("Possible duplicates could not be loaded.");
  }
}

function fillCallers(select) {
  (state.data.callers || []).forEach(function (c) {
    const option = el("option", "", [c.name, c.phone].filter(Boolean).join(" ") || gettext("Caller"));
    option.value = String(c.caller_id);
    select.appendChild(option);
  });
}
function fillRedo(fieldset) {
  const rows = (state.data.work_orders || []).filter(function (wo) { return wo.state === "approved"; });
  rows.forEach(function (wo) {
    const line = el("label", "check");
    const box = el("input");
    box.type = "checkbox";
    box.name = "work_order_ids";
    box.value = String(wo.id);
    box.dataset.type = "int-list";
    box.dataset.empty = "omit";
    line.appendChild(box);
    line.appendChild(document.createTextNode(" " + wo.number + " · " + wo.agency.name));
    fieldset.appendChild(line);
  });
  if (!rows.length) fieldset.appendChild(el("p", "muted", gettext("No approved work order.")));
}

/** Fill the form's context boxes and dynamic choices for the ticket or work order it acts on. */
export function prepare(form, workOrderId) {
  const wo = workOrderId ? workOrder(workOrderId) : null;
  form.querySelectorAll("[data-context]").forEach(function (host) {
    const kind = host.dataset.context;
    if (kind === "routing") routing(host, form);
    else if (kind === "returns") returns(host);
    else if (kind === "replies") replies(host, form.dataset.action === "revisit");
    else if (kind === "reply") reply(host, wo);
    else if (kind === "return-request") returnRequest(host, wo);
    else if (kind === "extension") extension(host, wo);
    else if (kind === "supervision") supervision(host, wo);
    else if (kind === "deadline") deadline(host, form, wo);
    else if (kind === "duplicates") duplicates(host, form);
  });
  form.querySelectorAll("[data-fill]").forEach(function (node) {
    if (node.dataset.fill === "callers") fillCallers(node);
    else if (node.dataset.fill === "redo-work-orders") fillRedo(node);
  });
}
