/*
 * Agency inbox, right: the selected work order's details: facts, notices, deadlines, extension requests,
 * supervision cases, the ticket's timeline, the caller (revealed on request, forms.js) and the buttons of
 * the actions the API offers (their forms: forms.js, which sits above this module: reached through hooks).
 */

import { $, api, el, fmt, gettext, now } from "./helpers.js";
import { actionLabel, AGENCY_ID, appealTypes, hooks, label, OPEN_STATES, state } from "./state.js";
import { countdown, dueText, formatTime, PROVISIONAL_HINT, runningClock } from "./time.js";
import { updateBadge } from "./notify.js";
import { dropRow, markSeen, putRow, renderList } from "./list.js";
import { refreshMapSize, showPlace } from "./map.js";
import { renderFiles } from "./photos.js";

// --- details --------------------------------------------------------------------------------------
export const d = {
  placeholder: $("detail-placeholder"), body: $("detail-body"), title: $("detail-title"), state: $("detail-state"),
  urgency: $("detail-urgency"), responsibility: $("detail-responsibility"), stage: $("detail-stage"),
  countdown: $("detail-countdown"), dueAt: $("detail-due-at"), gone: $("detail-gone"), notices: $("detail-notices"),
  actions: $("detail-actions"), formHost: $("detail-form-host"), ticket: $("detail-ticket"),
  subject: $("detail-subject"), address: $("detail-address"), caller: $("detail-caller"),
  revealButton: $("reveal-button"), revealNote: $("reveal-note"), revealHost: $("reveal-form-host"),
  created: $("detail-created"), instructions: $("detail-instructions"),
  instructionsLabel: $("detail-instructions-label"), description: $("detail-description"),
  replyBlock: $("detail-reply-block"), reply: $("detail-reply"), clocks: $("detail-clocks"),
  extensionsBlock: $("detail-extensions-block"), extensions: $("detail-extensions"),
  supervisionBlock: $("detail-supervision-block"), supervision: $("detail-supervision"),
  timeline: $("detail-timeline"), files: $("detail-files"), back: $("detail-back"),
};
let detailSeq = 0;
let detailTimer = null;

export function scheduleDetailReload() {
  clearTimeout(detailTimer);
  detailTimer = setTimeout(function () { if (state.selectedId !== null) loadDetail(state.selectedId); }, 200);
}
export function selectRow(id, options) {
  options = options || {};
  if (state.selectedId !== id) hooks.closeForm(false);
  state.selectedId = id;
  state.cursorId = id;
  const changed = markSeen(id);
  renderList();
  if (changed) updateBadge();
  openPane();
  loadDetail(id);
  if (options.focusDetail) d.title.focus({ preventScroll: true });
}
// On a narrow screen (a phone) the details open over the list (inbox.css); "back" returns to it.
export const NARROW = window.matchMedia("(max-width: 760px)");  // the width in inbox.css
export function openPane() {
  const wasOpen = document.body.classList.contains("inbox-detail-open");
  document.body.classList.add("inbox-detail-open");
  if (!wasOpen) {
    $("inbox-detail").scrollTop = 0;
    refreshMapSize();
  }
}
export function closePane() {
  if (!document.body.classList.contains("inbox-detail-open")) return false;
  document.body.classList.remove("inbox-detail-open");
  const row = state.selectedId !== null ? document.getElementById("wo-row-" + state.selectedId) : null;
  if (row) row.focus({ preventScroll: false });
  return true;
}
export async function loadDetail(id) {
  const seq = ++detailSeq;
  const sameObject = state.detail && state.detail.wo && state.detail.wo.id === id;
  if (!sameObject) {
    d.placeholder.hidden = false;
    d.placeholder.textContent = gettext("Loading…");
    d.body.hidden = true;
  }
  let wo;
  try {
    wo = await api("GET", "/api/work-orders/" + id + "/");
  } catch (problem) {
    if (seq !== detailSeq) return;
    d.placeholder.hidden = false;
    d.body.hidden = true;
    d.placeholder.textContent = problem.status === 404 ? gettext("This work order is no longer visible to your agency.")
      : fmt(gettext("The details could not be loaded: %(message)s"), { message: problem.message });
    if (problem.status === 404) { dropRow(id); renderList(); }
    return;
  }
  let ticket = null;
  let timeline = [];
  let files = null;
  const both = await Promise.allSettled([
    api("GET", "/api/tickets/" + wo.ticket.id + "/"),
    api("GET", "/api/tickets/" + wo.ticket.id + "/timeline/"),
    // the ticket's own photos and this agency's work-order files (the API leaves out the rest)
    api("GET", "/api/tickets/" + wo.ticket.id + "/attachments/"),
  ]);
  if (seq !== detailSeq) return;
  if (both[0].status === "fulfilled") ticket = both[0].value;
  if (both[1].status === "fulfilled") timeline = both[1].value || [];
  if (both[2].status === "fulfilled") files = both[2].value || [];
  const revealed = sameObject && state.detail.revealed ? state.detail.revealed : null;
  state.detail = { wo: wo, ticket: ticket, timeline: timeline, revealed: revealed, files: files };
  // keep the list row in step with what the details show
  if (state.rows.has(wo.id) || (OPEN_STATES.indexOf(wo.state) !== -1 && wo.agency.id === AGENCY_ID)) {
    if (OPEN_STATES.indexOf(wo.state) !== -1) putRow(wo); else dropRow(wo.id);
    renderList();
  }
  renderDetail();
}
export function updateDetailWorkOrder(wo) {
  if (!state.detail || !state.detail.wo || state.detail.wo.id !== wo.id) return;
  state.detail.wo = wo;
  renderDetail();
}
export function renderDetail() {
  const wo = state.detail.wo;
  const ticket = state.detail.ticket;
  d.placeholder.hidden = true;
  d.body.hidden = false;
  d.title.textContent = wo.number;
  d.state.textContent = label("state", wo.state);
  d.state.className = "chip state-" + wo.state;
  d.urgency.textContent = label("urgency", wo.ticket.urgency);
  d.urgency.className = "chip urgency-" + wo.ticket.urgency;
  d.responsibility.textContent = label("responsibility", wo.responsibility);
  const inList = state.rows.has(wo.id);
  d.gone.hidden = inList || OPEN_STATES.indexOf(wo.state) !== -1;
  d.gone.textContent = fmt(gettext("This work order has left the inbox (now: %(state)s)."), { state: label("state", wo.state) });
  paintDetailCountdown();

  // notices
  d.notices.replaceChildren();
  const notice = function (text, warn) { d.notices.appendChild(el("li", warn ? "warn" : "", text)); };
  if (wo.urge_count > 0) notice(fmt(gettext("The centre has urged this work order %(n)s times."), { n: wo.urge_count }), true);
  if (wo.redo_count > 0) notice(fmt(gettext("Sent back for redo %(n)s times."), { n: wo.redo_count }), true);
  const pending = (wo.extension_requests || []).filter(function (x) { return x.state === "pending"; })[0];
  if (pending) notice(fmt(gettext("Extension to %(time)s requested; awaiting the centre's decision."), { time: formatTime(pending.requested_due_at) }), false);
  const openCase = (wo.supervision_cases || []).filter(function (x) { return x.state === "open"; })[0];
  if (openCase) {
    notice(openCase.answer_due_at
      ? fmt(gettext("Supervision case open: a written answer is due %(time)s."), { time: formatTime(openCase.answer_due_at) })
      : gettext("Supervision case open: a written answer is needed."), true);
  }

  // actions: only what the API offers, minus those whose guard surely fails
  const offered = (wo.available_actions || []).filter(function (action) {
    if (!document.getElementById("form-" + action)) return false;
    if (action === "answer_supervision") return !!openCase;
    if (action === "request_extension") {
      const clock = runningClock(wo);
      return !pending && !!clock && clock.stage === "handle" && (!clock.due_at || Date.parse(clock.due_at) > now());
    }
    if (action === "reply" || action === "return") return !pending;
    return true;
  });
  // An open form survives a refresh as long as its action is still offered (the user may be typing).
  const openAction = state.openForm && offered.indexOf(state.openForm.action) !== -1 ? state.openForm.action : null;
  if (state.openForm && !openAction) hooks.closeForm(false);
  d.actions.replaceChildren();
  offered.forEach(function (action) {
    const button = el("button", action === "sign" || action === "reply" ? "primary" : "", actionLabel("work_order", action));
    button.type = "button";
    button.dataset.action = action;
    button.setAttribute("aria-expanded", action === openAction ? "true" : "false");
    button.setAttribute("aria-controls", "detail-form-host");
    button.addEventListener("click", function () { hooks.toggleForm(action, button); });
    d.actions.appendChild(button);
    if (action === openAction) state.openForm.button = button;
  });
  if (!offered.length) d.actions.appendChild(el("span", "muted", gettext("No actions for you in this state.")));

  // facts
  d.ticket.textContent = wo.ticket.number + " · " + label("ticket", wo.ticket.state);
  const appeal = ticket && ticket.appeal_type ? (appealTypes[ticket.appeal_type] || ticket.appeal_type) : "";
  d.subject.textContent = [wo.ticket.subject, appeal].filter(Boolean).join(" · ");
  d.address.textContent = wo.ticket.address || "—";
  renderCaller();
  d.created.textContent = formatTime(wo.created_at);
  d.instructions.textContent = wo.instructions || "";
  d.instructions.hidden = !wo.instructions;
  d.instructionsLabel.hidden = !wo.instructions;
  d.description.textContent = ticket ? (ticket.description || "") : gettext("The ticket could not be loaded.");
  d.replyBlock.hidden = !wo.reply_text;
  d.reply.textContent = wo.reply_text ? "[" + label("outcome", wo.reply_outcome) + "] " + wo.reply_text : "";
  showPlace(wo.id, ticket ? ticket.latitude : null, ticket ? ticket.longitude : null);
  if (state.detail.files) renderFiles(d.files, state.detail.files);
  else d.files.replaceChildren(el("p", "muted", gettext("The files could not be loaded.")));

  // clocks
  d.clocks.replaceChildren();
  (wo.clocks || []).forEach(function (clock) {
    const tr = el("tr", clock.stopped_at ? "" : "running");
    tr.appendChild(el("td", "", label("stage", clock.stage)));
    tr.appendChild(el("td", "", formatTime(clock.started_at)));
    const due = el("td", "", clock.due_at ? formatTime(clock.due_at) + (clock.due_provisional ? " " + gettext("(provisional)") : "") : (clock.due_error || gettext("No deadline")));
    if (clock.due_provisional) due.title = PROVISIONAL_HINT;
    const end = clock.stopped_at ? Date.parse(clock.stopped_at) : now();
    if (clock.due_at && end > Date.parse(clock.due_at)) due.className = "over";
    tr.appendChild(due);
    tr.appendChild(el("td", "", clock.stopped_at ? formatTime(clock.stopped_at) : gettext("running")));
    d.clocks.appendChild(tr);
  });

  // extension requests and supervision cases
  d.extensions.replaceChildren();
  (wo.extension_requests || []).forEach(function (x) {
    const li = el("li");
    li.appendChild(el("strong", "", label("extension", x.state) + " "));
    li.appendChild(document.createTextNode(fmt(gettext("to %(time)s, asked %(asked)s: "), {
      time: formatTime(x.requested_due_at), asked: formatTime(x.requested_at) })));
    li.appendChild(el("span", "pre", x.reason));
    if (x.decision_note) li.appendChild(el("div", "muted pre", x.decision_note));
    d.extensions.appendChild(li);
  });
  d.extensionsBlock.hidden = !(wo.extension_requests || []).length;
  d.supervision.replaceChildren();
  (wo.supervision_cases || []).forEach(function (x) {
    const li = el("li");
    li.appendChild(el("strong", "", label("supervision", x.state) + " "));
    li.appendChild(el("span", "pre", x.instruction));
    if (x.answer) li.appendChild(el("div", "muted pre", fmt(gettext("Answer (%(time)s): "), { time: formatTime(x.answered_at) }) + x.answer));
    d.supervision.appendChild(li);
  });
  d.supervisionBlock.hidden = !(wo.supervision_cases || []).length;

  // timeline
  d.timeline.replaceChildren();
  state.detail.timeline.forEach(function (entry) {
    const li = el("li");
    li.appendChild(el("span", "when", formatTime(entry.created_at)));
    li.appendChild(el("span", "what", actionLabel(entry.machine, entry.action)));
    if (entry.to_state && entry.to_state !== entry.from_state) {
      const kind = entry.machine === "work_order" ? "state" : "ticket";
      li.appendChild(el("span", "muted", " → " + label(kind, entry.to_state)));
    }
    const who = [entry.actor_agency, entry.actor].filter(Boolean).join(" · ");
    if (who) li.appendChild(el("span", "who", who));
    if (entry.work_order && entry.work_order !== state.detail.wo.number) li.appendChild(el("span", "who", entry.work_order));
    const extra = [];
    const data = entry.data || {};
    if (data.outcome) extra.push(label("outcome", data.outcome));
    if (data.legal_basis) extra.push(fmt(gettext("Legal basis: %(text)s"), { text: data.legal_basis }));
    if (data.requested_due_at) extra.push(fmt(gettext("Requested deadline: %(time)s"), { time: formatTime(data.requested_due_at) }));
    if (data.granted_due_at) extra.push(fmt(gettext("Granted deadline: %(time)s"), { time: formatTime(data.granted_due_at) }));
    const text = [entry.note].concat(extra).filter(Boolean).join("\n");
    if (text) li.appendChild(el("span", "note", text));
    d.timeline.appendChild(li);
  });
  if (!state.detail.timeline.length) d.timeline.appendChild(el("li", "muted", gettext("No entries.")));
}
export function paintDetailCountdown() {
  if (!state.detail || !state.detail.wo || d.body.hidden) return;
  const wo = state.detail.wo;
  const clock = runningClock(wo);
  d.stage.textContent = clock ? label("stage", clock.stage) : "";
  const c = countdown(wo);
  if (d.countdown.textContent !== c.text) d.countdown.textContent = c.text;
  d.countdown.className = "countdown " + c.cls;
  d.dueAt.textContent = clock && clock.due_at ? dueText(clock) : (clock && clock.due_error) || "";
  d.dueAt.title = clock && clock.due_provisional ? PROVISIONAL_HINT : "";
}
export function renderCaller() {
  const ticket = state.detail.ticket;
  d.revealHost.replaceChildren();
  if (state.detail.revealed) {
    const r = state.detail.revealed;
    d.caller.textContent = [r.caller_name, r.phone].filter(Boolean).join(" ") || gettext("No number on record");
    d.revealButton.hidden = true;
    d.revealNote.hidden = false;
    return;
  }
  d.revealNote.hidden = true;
  if (!ticket) { d.caller.textContent = "—"; d.revealButton.hidden = true; return; }
  const name = ticket.caller_name || "";
  const phone = ticket.caller_phone || "";
  d.caller.textContent = [name, phone].filter(Boolean).join(" ") || gettext("No number on record");
  d.revealButton.hidden = !phone;
  d.revealButton.setAttribute("aria-expanded", "false");
}
