/*
 * Operator console: dispatching the opened ticket (lead agency, co-handlers, override reason,
 * instructions). Without a proposal the lead is chosen from the agency directory.
 */

import { $, api, clear, el, errorText, show } from "./helpers.js";
import { can, hooks, state } from "./state.js";
import { upsertQueue } from "./queue.js";

// Without a proposal (no location, or nothing matched) the lead is chosen from the agency directory.
let agencyDirectory = null;
const KIND_LABELS = {
  district: gettext("Districts and counties"),
  department: gettext("City departments"),
  street: gettext("Streets and townships"),
  utility: gettext("Utilities"),
  emergency: gettext("Emergency services"),
};

export function agencyDirectoryLoaded() {
  return Boolean(agencyDirectory);
}

export async function loadAgencyDirectory() {
  if (agencyDirectory) return agencyDirectory;
  const data = await api("GET", "/api/agencies/");
  const rows = Array.isArray(data) ? data : (data && data.results) || [];
  agencyDirectory = rows.filter((a) => a.active !== false && a.kind !== "centre");
  return agencyDirectory;
}

export function manualDispatch() {
  const proposal = state.ticketProposal;
  return !proposal || (!proposal.lead && !(proposal.candidates || []).length);
}

function dispatchChoices() {
  const proposal = state.ticketProposal;
  const agencies = new Map();
  if (manualDispatch()) {
    for (const agency of agencyDirectory || []) agencies.set(agency.id, agency);
    return agencies;
  }
  for (const agency of (proposal && proposal.candidates) || []) agencies.set(agency.id, agency);
  if (proposal && proposal.lead) agencies.set(proposal.lead.id, proposal.lead);
  for (const agency of (proposal && proposal.co_handlers) || []) agencies.set(agency.id, agency);
  return agencies;
}

export function renderDispatch() {
  const dispatchForm = $("dispatch-form");
  const proposal = state.ticketProposal;
  const visible = Boolean(state.ticket && state.routingView === "ticket" && can("dispatch"));
  show(dispatchForm, visible);
  if (!visible) return;
  const agencies = dispatchChoices();
  const select = $("dispatch-lead");
  const previous = select.dataset.ticket === String(state.ticket.id) ? select.value : "";
  clear(select);
  select.dataset.ticket = String(state.ticket.id);
  if (manualDispatch()) {
    select.appendChild(el("option", { value: "", text: agencies.size ? gettext("Choose the lead agency…") : gettext("Loading agencies…") }));
    const groups = new Map();
    for (const agency of agencies.values()) {
      const kind = agency.kind || "";
      if (!groups.has(kind)) groups.set(kind, el("optgroup", { label: KIND_LABELS[kind] || kind }));
      groups.get(kind).appendChild(el("option", { value: agency.id, text: agency.name }));
    }
    for (const kind of Object.keys(KIND_LABELS).concat(Array.from(groups.keys()))) {
      if (groups.has(kind)) {
        select.appendChild(groups.get(kind));
        groups.delete(kind);
      }
    }
    if (previous && agencies.has(Number(previous))) select.value = previous;
    renderCoHandlers();
    updateDispatchButton();
    return;
  }
  if (!agencies.size) {
    select.appendChild(el("option", { value: "", text: gettext("No candidate agency") }));
  }
  for (const agency of agencies.values()) {
    const proposed = proposal && proposal.lead && proposal.lead.id === agency.id;
    select.appendChild(
      el("option", { value: agency.id, text: agency.name + (proposed ? " ★ " + gettext("proposed") : "") })
    );
  }
  if (previous && agencies.has(Number(previous))) select.value = previous;
  else if (proposal && proposal.lead) select.value = String(proposal.lead.id);
  renderCoHandlers();
  updateDispatchButton();
}

function renderCoHandlers() {
  const box = $("dispatch-co");
  const checked = new Set(Array.from(box.querySelectorAll("input:checked")).map((i) => Number(i.value)));
  const firstRender = box.dataset.ticket !== String(state.ticket.id);
  box.dataset.ticket = String(state.ticket.id);
  clear(box);
  const proposal = state.ticketProposal;
  const proposedCo = new Set(((proposal && proposal.co_handlers) || []).map((a) => a.id));
  const lead = Number($("dispatch-lead").value);
  let count = 0;
  const choices = manualDispatch() ? new Map() : dispatchChoices(); // no co-handler list from the whole directory
  for (const agency of choices.values()) {
    if (agency.id === lead) continue;
    const id = "co-" + agency.id;
    const input = el("input", { type: "checkbox", id: id, value: agency.id });
    input.checked = firstRender ? proposedCo.has(agency.id) : checked.has(agency.id);
    input.addEventListener("change", updateDispatchButton);
    box.appendChild(el("label", { class: "check", for: id }, [input, " " + agency.name + (proposedCo.has(agency.id) ? " ★" : "")]));
    count++;
  }
  if (!count) box.appendChild(el("span", { class: "hint", text: gettext("none") }));
}

function dispatchDiffers() {
  const proposal = state.ticketProposal;
  const lead = Number($("dispatch-lead").value);
  const leadDiffers = !proposal || !proposal.lead || proposal.lead.id !== lead;
  const co = Array.from($("dispatch-co").querySelectorAll("input:checked")).map((i) => Number(i.value)).sort();
  const proposedCo = ((proposal && proposal.co_handlers) || []).map((a) => a.id).filter((id) => id !== lead).sort();
  return { leadDiffers: leadDiffers, coDiffers: co.join(",") !== proposedCo.join(","), co: co, lead: lead };
}

function updateDispatchButton() {
  if (!state.ticket) return;
  const diff = dispatchDiffers();
  const proposal = state.ticketProposal;
  // Only a lead other than the proposal needs a reason (the server asks for it then).
  const needsReason = Boolean(proposal && proposal.lead) && diff.leadDiffers;
  show($("override-box"), needsReason);
  $("dispatch-label").textContent = manualDispatch()
    ? gettext("Dispatch")
    : diff.leadDiffers || diff.coDiffers
      ? gettext("Dispatch with my changes")
      : gettext("Dispatch as proposed");
  $("dispatch-submit").disabled = !diff.lead;
}

export async function submitDispatch() {
  const ticket = state.ticket;
  if (!ticket || !can("dispatch")) return;
  const diff = dispatchDiffers();
  const proposal = state.ticketProposal;
  const reason = $("dispatch-override").value.trim();
  $("err-override").textContent = "";
  $("dispatch-error").textContent = "";
  if (!diff.lead) return;
  if (proposal && proposal.lead && diff.leadDiffers && !reason) {
    show($("override-box"), true);
    $("err-override").textContent = gettext("Say why the ticket goes to another lead agency than proposed.");
    $("dispatch-override").focus();
    return;
  }
  const button = $("dispatch-submit");
  button.disabled = true;
  try {
    const detail = await api("POST", "/api/tickets/" + ticket.id + "/dispatch/", {
      lead_agency_id: diff.lead,
      co_agency_ids: diff.co.filter((id) => id !== diff.lead),
      instructions: $("dispatch-instructions").value.trim(),
      override_reason: diff.leadDiffers ? reason : "",
    });
    if (!state.ticket || state.ticket.id !== ticket.id) return;
    state.ticket = detail;
    $("dispatch-override").value = "";
    $("dispatch-instructions").value = "";
    upsertQueue(detail);
    hooks.renderTicket();
    renderDispatch();
    $("ticket-heading").focus();
  } catch (error) {
    if (error.fields && error.fields.override_reason) {
      show($("override-box"), true);
      $("err-override").textContent = [].concat(error.fields.override_reason).join(" ");
      $("dispatch-override").focus();
    }
    $("dispatch-error").textContent = errorText(error);
    button.disabled = false;
  }
}

export function bindDispatch() {
  $("dispatch-lead").addEventListener("change", function () {
    renderCoHandlers();
    updateDispatchButton();
  });
  $("dispatch-form").addEventListener("submit", function (event) {
    event.preventDefault();
    submitDispatch();
  });
  $("dispatch-form").addEventListener("keydown", function (event) {
    // Enter in the reason or instructions field must not dispatch by accident.
    if (event.key === "Enter" && event.target.tagName === "INPUT" && !event.ctrlKey) event.preventDefault();
  });
}
