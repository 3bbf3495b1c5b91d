/*
 * Operator console: calls and the caller's history (screen pop). A call answered at this operator's
 * extension fills in the number and shows the caller's earlier tickets; a call that arrives while another
 * intake is half typed waits in the banner.
 */

import {
  $, api, clear, debounce, el, errorText, fmt, nationalNumber, plausiblePhone, shortTime, show,
} from "./helpers.js";
import { CALL_STATE_LABELS, hooks, state, stateBadge, TERMINAL, user } from "./state.js";
import { fields, form, setFieldError } from "./fields.js";

function isMyCall(call) {
  if (!call) return false;
  if (call.operator_id !== null && call.operator_id !== undefined && call.operator_id === user.id) return true;
  return Boolean(user.extension) && call.extension === user.extension;
}

export function setCall(call) {
  state.call = call;
  state.callId = call ? call.id : null;
  renderCallBanner();
}

export function renderCallBanner() {
  const banner = $("call-banner");
  const call = state.pendingCall || state.call;
  show(banner, Boolean(call));
  if (!call) return;
  banner.dataset.state = call.state || "";
  $("call-state").textContent = state.pendingCall
    ? gettext("New call")
    : CALL_STATE_LABELS[call.state] || call.state || "";
  $("call-number").textContent = nationalNumber(call.phone) || gettext("number withheld");
  show($("call-load"), Boolean(state.pendingCall));
  show($("call-unlink"), !state.pendingCall && Boolean(state.callId) && !state.submitted);
}

export async function onCallEvent(event) {
  const call = event.payload && event.payload.call;
  if (!isMyCall(call)) return;
  if (event.type === "call.ringing") {
    if (!state.call || state.call.id !== call.id) {
      if (!state.call || state.call.state === "ended" || state.submitted) {
        // Shown while it rings; the number comes with the answer.
        if (!state.pendingCall) {
          $("call-banner").dataset.state = "ringing";
          show($("call-banner"), true);
          $("call-state").textContent = CALL_STATE_LABELS.ringing;
          $("call-number").textContent = "";
          show($("call-load"), false);
          show($("call-unlink"), false);
        }
      }
    }
    return;
  }
  if (event.type === "call.ended") {
    if (state.call && state.call.id === call.id) {
      state.call = Object.assign({}, state.call, { state: "ended" });
    } else if (state.pendingCall && state.pendingCall.id === call.id) {
      state.pendingCall = Object.assign({}, state.pendingCall, { state: "ended" });
    }
    renderCallBanner(); // also takes away the "ringing" of a call that was never answered here
    return;
  }
  if (event.type !== "call.answered" || state.handledCalls.has(call.id)) return;
  state.handledCalls.add(call.id);
  let detail;
  try {
    detail = await api("GET", "/api/calls/" + encodeURIComponent(call.id) + "/");
  } catch (error) {
    $("form-error").textContent = fmt(gettext("Could not load the call: %(error)s"), { error: errorText(error) });
    return;
  }
  // Replayed after a reconnect: a call long over, or one already turned into a ticket, is history.
  if (detail.ticket_id || (event.replayed && detail.state === "ended")) return;
  popCall(detail);
}

function popCall(call) {
  const typedOther =
    state.dirty && !state.submitted && fields.phone.value.trim() && fields.phone.value.trim() !== nationalNumber(call.phone);
  if (typedOther) {
    // Do not overwrite a half-typed intake: offer the call instead.
    state.pendingCall = call;
    renderCallBanner();
    return;
  }
  takeCall(call);
}

function takeCall(call) {
  state.pendingCall = null;
  const wasPristine = !state.dirty || Boolean(state.submitted);
  if (state.submitted) hooks.resetIntake({ keepCall: true, keepView: true });
  setCall(call);
  fields.phone.value = nationalNumber(call.phone);
  setFieldError("phone", "");
  lookupHistoryDebounced.cancel();
  state.historyPhone = fields.phone.value;
  renderHistory({ phone: call.phone, tickets: call.history || [] }, fields.phone.value.trim());
  if (wasPristine && (document.activeElement === document.body || !document.activeElement || form.contains(document.activeElement))) {
    fields.caller_name.focus();
  }
}

export const lookupHistoryDebounced = debounce(function () {
  lookupHistory(false);
}, 450);

export async function lookupHistory(now) {
  const phone = fields.phone.value.trim();
  if (!plausiblePhone(phone)) {
    if (now && phone) setFieldError("phone", gettext("This does not look like a complete phone number."));
    return;
  }
  if (phone === state.historyPhone) return;
  state.historyPhone = phone;
  $("history-summary").textContent = gettext("Looking up…");
  try {
    const data = await api("POST", "/api/callers/history/", { phone: phone });
    if (fields.phone.value.trim() !== phone) {
      if (state.historyPhone === phone) state.historyPhone = null; // typed on meanwhile
      return;
    }
    renderHistory(data, phone);
  } catch (error) {
    if (state.historyPhone === phone) state.historyPhone = null;
    if (fields.phone.value.trim() !== phone) return;
    $("history-summary").textContent = "";
    setFieldError("phone", error.code === "invalid_input" ? (error.fields.phone || [error.message]).join(" ") : errorText(error));
  }
}

export function renderHistory(data, shownFor) {
  state.historyShownFor = data ? shownFor || null : null;
  const list = $("history-list");
  clear(list);
  const summary = $("history-summary");
  const empty = $("history-empty");
  $("history").classList.remove("has-open");
  if (!data) {
    summary.textContent = "";
    show(empty, true);
    empty.textContent = gettext("Enter the caller's number or take a call to see earlier tickets.");
    return;
  }
  // A lookup answered after acceptance would list the ticket just taken as "earlier": leave it out.
  const tickets = (data.tickets || []).filter((t) => !(state.submitted && t.id === state.submitted.id));
  const open = tickets.filter((t) => !TERMINAL.has(t.state));
  summary.textContent = tickets.length
    ? fmt(gettext("%(n)s earlier, %(open)s open"), { n: tickets.length, open: open.length })
    : "";
  $("history").classList.toggle("has-open", open.length > 0);
  show(empty, tickets.length === 0);
  if (!tickets.length) {
    empty.textContent = fmt(gettext("No earlier tickets from %(phone)s: a first-time caller."), { phone: nationalNumber(data.phone) });
    return;
  }
  for (const ticket of tickets.slice(0, 50)) {
    const subjectName = ticket.subject ? ticket.subject.name : "";
    list.appendChild(
      el("li", { class: TERMINAL.has(ticket.state) ? "done" : "open", title: ticket.address || "" }, [
        el("div", { class: "line" }, [
          el("span", { class: "number", text: ticket.number }),
          stateBadge(ticket.state),
          el("span", { class: "time", text: shortTime(ticket.created_at) }),
        ]),
        el("div", { class: "line sub" }, [
          el("span", { class: "subject", text: subjectName }),
          el("span", { class: "title", text: ticket.title || "" }),
        ]),
      ])
    );
  }
}

export function bindCallBanner() {
  $("call-load").addEventListener("click", function () {
    if (!state.pendingCall) return;
    if (state.dirty && !window.confirm(gettext("Discard what has been typed in this intake?"))) return;
    const call = state.pendingCall;
    hooks.resetIntake({ keepCall: true });
    takeCall(call);
  });
  $("call-unlink").addEventListener("click", function () {
    setCall(null);
  });
}
