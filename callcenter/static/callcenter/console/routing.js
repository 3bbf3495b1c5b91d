/*
 * Operator console: the routing proposal, live for the draft being typed (pin + subject), or the opened
 * ticket's (then with the dispatch form, dispatch.js).
 */

import { $, api, clear, debounce, el, errorText, fmt, show } from "./helpers.js";
import { state } from "./state.js";
import { currentSubject } from "./fields.js";
import { placementNames, renderPinSummary } from "./map.js";
import { renderDispatch } from "./dispatch.js";
import { checkDraftDuplicates } from "./duplicates.js";

let routeSeq = 0;
export const requestRouting = debounce(async function () {
  const seq = ++routeSeq;
  const subject = currentSubject();
  checkDraftDuplicates();
  if (!state.pin || state.submitted) {
    state.proposal = null;
    renderRouting();
    return;
  }
  $("routing-status").textContent = gettext("Updating…");
  try {
    if (subject) {
      const data = await api("POST", "/api/geo/route/", {
        latitude: state.pin.latitude,
        longitude: state.pin.longitude,
        coordinate_system: "wgs84",
        subject: subject.code,
      });
      if (seq !== routeSeq) return;
      state.proposal = data;
      state.placement = data.placement;
    } else {
      // No subject yet: say where the pin is (and whether it is near a boundary) without a proposal.
      const data = await api(
        "GET",
        "/api/geo/reverse/?latitude=" + state.pin.latitude + "&longitude=" + state.pin.longitude + "&coordinate_system=wgs84"
      );
      if (seq !== routeSeq) return;
      state.proposal = null;
      state.placement = data;
    }
    $("routing-status").textContent = "";
  } catch (error) {
    if (seq !== routeSeq) return;
    state.proposal = null;
    $("routing-status").textContent = errorText(error);
  }
  renderPinSummary();
  renderRouting();
}, 250);

function agencyName(agency) {
  return agency ? agency.name : "";
}

/** Proposal panel: for the opened ticket (with dispatch) or else for the draft being typed. */
export function renderRouting() {
  const ticketMode = Boolean(state.ticket) && state.routingView === "ticket";
  const proposal = ticketMode ? state.ticketProposal : state.proposal;
  const placement = ticketMode ? (proposal && proposal.placement) || null : state.placement;
  $("routing-heading").textContent = ticketMode
    ? fmt(gettext("Routing of %(number)s"), { number: state.ticket.number })
    : gettext("Routing proposal");
  const warning = $("boundary-warning");
  const near = Boolean((proposal && proposal.near_boundary) || (placement && placement.near_boundary));
  const outside = Boolean((proposal && proposal.outside_service_area) || (placement && placement.outside_service_area));
  show(warning, near || outside);
  clear(warning);
  if (outside) {
    // Outside every city's service area: nothing is routed (the intake may be refused, by setting).
    warning.appendChild(
      el("strong", { text: "⚠ " + gettext("Outside every service area: this place is not routed. Check the location.") })
    );
  } else if (near) {
    warning.appendChild(el("strong", { text: "⚠ " + gettext("Near a jurisdiction boundary: please confirm the location") }));
    const neighbours = ((placement && placement.near) || []).map(
      (n) => n.name + (n.metres !== undefined ? " (" + Math.round(n.metres) + " m)" : "")
    );
    if (neighbours.length) warning.appendChild(el("span", { text: " " + gettext("Next to:") + " " + neighbours.join("、") }));
  }
  const hasProposal = Boolean(proposal);
  show($("routing-empty"), !hasProposal);
  show($("routing-body"), hasProposal);
  if (!hasProposal) {
    $("routing-empty").textContent = ticketMode
      ? state.ticket.latitude === null
        ? gettext("This ticket has no location: choose the lead agency yourself.")
        : gettext("No proposal for this ticket.")
      : placement
        ? gettext("Choose a subject to see who should handle it.")
        : gettext("Choose a subject and place the pin to see who should handle it.");
  } else {
    $("placement-line").textContent = placementNames(proposal.placement) || gettext("Outside every jurisdiction");
    const lead = $("proposal-lead");
    clear(lead);
    if (proposal.lead) lead.appendChild(el("strong", { text: proposal.lead.name }));
    else lead.appendChild(el("span", { class: "warn", text: gettext("No agency found: choose one by hand.") }));
    const co = $("proposal-co");
    co.textContent = (proposal.co_handlers || []).map(agencyName).join("、") || gettext("none");
    const reasons = $("proposal-reasons");
    clear(reasons);
    for (const reason of proposal.reasons || []) {
      reasons.appendChild(el("li", { class: "reason-" + reason.code, text: reason.text || reason.code }));
    }
  }
  renderDispatch();
}
