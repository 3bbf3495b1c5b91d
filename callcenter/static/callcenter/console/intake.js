/*
 * Operator console, left column: the intake form (subject hint, validation, submit with an idempotency
 * key, reset, Enter handling). Its fields and subject matching are fields.js; the caller's screen pop and
 * history live in call.js.
 */

import { $, api, el, fmt, nationalNumber, uuid } from "./helpers.js";
import { config, state, subjectByCode, subjects } from "./state.js";
import { currentSubject, fields, form, markDirty, matchSubjects, setFieldError } from "./fields.js";
import { lookupHistory, lookupHistoryDebounced, renderCallBanner, renderHistory, setCall } from "./call.js";
import { clearPin, removePinMarker } from "./map.js";
import { hideGeocodeResults, locateAddress } from "./geocode.js";
import { renderRouting, requestRouting } from "./routing.js";
import { openTicket, renderTicket } from "./ticket.js";
import { clearDraftDuplicates, checkDraftDuplicates } from "./duplicates.js";
import { clearKnowledge, searchKnowledge } from "./knowledge.js";
import { rememberMine, upsertQueue } from "./queue.js";
import { bindPhotos, resetPhotos, storePhotos } from "./photos.js";

export function fillOptions() {
  for (const type of config.appeal_types || []) {
    fields.appeal_type.appendChild(el("option", { value: type.code, text: type.name }));
  }
  for (const channel of config.channels || []) {
    fields.channel.appendChild(el("option", { value: channel.code, text: channel.name }));
  }
  for (const urgency of config.urgencies || []) {
    fields.urgency.appendChild(el("option", { value: urgency.code, text: urgency.name }));
  }
  const list = $("subject-options");
  for (const subject of subjects) list.appendChild(el("option", { value: subject.path }));
}

export function setDefaults() {
  fields.channel.value = (config.channels || []).some((c) => c.code === "phone") ? "phone" : (config.channels[0] || {}).code || "";
  fields.urgency.value = (config.urgencies || []).some((u) => u.code === "normal") ? "normal" : (config.urgencies[0] || {}).code || "";
}

function renderSubjectHint() {
  const hint = $("subject-resolved");
  const value = fields.subject.value.trim();
  const matches = matchSubjects(value);
  hint.classList.remove("warn");
  if (!value) hint.textContent = "";
  else if (matches.length === 1) hint.textContent = "✓ " + matches[0].path;
  else if (matches.length === 0) {
    hint.textContent = gettext("No subject matches: pick one from the list.");
    hint.classList.add("warn");
  } else hint.textContent = fmt(gettext("%(n)s subjects match: keep typing or pick one."), { n: matches.length });
}

function clearErrors() {
  for (const name of Object.keys(fields)) setFieldError(name, "");
  $("form-error").textContent = "";
}

function collect() {
  const subject = currentSubject();
  const body = {
    channel: fields.channel.value,
    phone: fields.phone.value.trim(),
    caller_name: fields.caller_name.value.trim(),
    caller_confidential: fields.caller_confidential.checked,
    appeal_type: fields.appeal_type.value,
    subject: subject ? subject.code : fields.subject.value.trim(),
    urgency: fields.urgency.value,
    title: fields.title.value.trim(),
    description: fields.description.value.trim(),
    address: fields.address.value.trim(),
    latitude: state.pin ? state.pin.latitude : null,
    longitude: state.pin ? state.pin.longitude : null,
    coordinate_system: "wgs84",
  };
  if (state.callId) body.call_id = state.callId;
  return body;
}

function validate(body) {
  const problems = {};
  if (!body.channel) problems.channel = gettext("Choose the channel.");
  if (!body.appeal_type) problems.appeal_type = gettext("Choose the appeal type.");
  if (!currentSubject()) problems.subject = gettext("Choose a subject from the list.");
  if (!body.description) problems.description = gettext("Describe the caller's request.");
  return problems;
}

function focusFirstError(names) {
  const order = ["phone", "caller_name", "appeal_type", "channel", "urgency", "subject", "title", "description", "address"];
  for (const name of order) {
    if (names.includes(name) && fields[name]) {
      fields[name].focus();
      return;
    }
  }
}

function setIntakeState(text) {
  $("intake-state").textContent = text || "";
}

function lockForm(locked) {
  for (const input of Object.values(fields)) input.disabled = locked;
  $("intake-submit").disabled = locked;
  $("address-locate").disabled = locked;
  form.classList.toggle("locked", locked);
}

export async function submitIntake() {
  if (state.submitting || state.submitted) return;
  clearErrors();
  const body = collect();
  const problems = validate(body);
  if (Object.keys(problems).length) {
    for (const [name, message] of Object.entries(problems)) setFieldError(name, message);
    $("form-error").textContent = gettext("Some fields need attention.");
    focusFirstError(Object.keys(problems));
    return;
  }
  state.submitting = true;
  $("intake-submit").disabled = true;
  setIntakeState(gettext("Saving…"));
  try {
    // One key per form: a double submit or a retry after a lost answer returns the same ticket.
    const ticket = await api("POST", "/api/tickets/", body, { "Idempotency-Key": state.idempotencyKey });
    onTicketCreated(ticket);
  } catch (error) {
    setIntakeState("");
    const names = Object.keys(error.fields || {});
    for (const name of names) {
      const messages = error.fields[name];
      const text = Array.isArray(messages) ? messages.join(" ") : typeof messages === "string" ? messages : JSON.stringify(messages);
      if (name === "latitude" || name === "longitude" || name === "coordinate_system") setFieldError("address", text);
      else if (fields[name]) setFieldError(name, text);
    }
    if (error.fields && error.fields.call_id) {
      // The call is unknown or already has its ticket: accept without the link on the next try.
      state.callId = null;
      renderCallBanner();
    }
    const unknown = names.filter((n) => !fields[n] && !["latitude", "longitude", "coordinate_system", "call_id"].includes(n));
    $("form-error").textContent =
      error.message + (unknown.length ? " " + unknown.map((n) => n + ": " + [].concat(error.fields[n]).join(" ")).join("; ") : "");
    if (names.length) focusFirstError(names.map((n) => (n === "latitude" || n === "longitude" ? "address" : n)));
  } finally {
    state.submitting = false;
    if (!state.submitted) $("intake-submit").disabled = false;
  }
}

function onTicketCreated(ticket) {
  if (state.callId && state.call && state.call.id === state.callId) {
    // A call gives one ticket; a second matter of the same caller is a new intake without the link.
    state.call = Object.assign({}, state.call, { ticket_id: ticket.id });
    state.callId = null;
  }
  state.submitted = ticket;
  state.dirty = false;
  // A duplicates check still on its way would list the new ticket as a duplicate of itself.
  clearDraftDuplicates();
  lockForm(true);
  removePinMarker(); // the ticket's own marker takes its place
  renderCallBanner();
  setIntakeState(fmt(gettext("Accepted as %(number)s"), { number: ticket.number }));
  rememberMine(ticket.id);
  upsertQueue(ticket);
  storePhotos(ticket); // the intake photos go onto the ticket now that it exists
  openTicket(ticket.id, { detail: ticket, focus: true });
  // The knowledge base is often the answer: search it with what the caller asked about.
  if (!$("kb-q").value.trim()) {
    const subject = subjectByCode.get(ticket.subject && ticket.subject.code);
    $("kb-q").value = ticket.title || (subject ? subject.name : "");
    if ($("kb-q").value) searchKnowledge();
  }
}

export function resetIntake(options) {
  const keepCall = options && options.keepCall;
  // Still on the phone with the same caller (another matter): keep the number, not the call link.
  const activeCall = !keepCall && state.call && state.call.state !== "ended" ? state.call : null;
  form.reset();
  clearErrors();
  lockForm(false);
  setDefaults();
  state.idempotencyKey = uuid();
  state.submitted = null;
  state.dirty = false;
  state.historyPhone = null;
  if (!keepCall) setCall(null);
  clearPin();
  state.proposal = null;
  // A call popping up must not take the dispatch of the previous ticket away from under the operator.
  if (!(options && options.keepView)) state.routingView = "draft";
  lastSubjectCode = null;
  renderSubjectHint();
  renderRouting();
  renderTicket();
  renderHistory(null);
  setIntakeState("");
  $("geocode-q").value = "";
  hideGeocodeResults();
  clearKnowledge();
  clearDraftDuplicates();
  resetPhotos();
  if (activeCall) {
    state.call = activeCall;
    state.callId = activeCall.ticket_id ? null : activeCall.id;
    renderCallBanner();
    fields.phone.value = nationalNumber(activeCall.phone);
    lookupHistory(false);
  }
}

export function bindForm() {
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submitIntake();
  });
  form.addEventListener("input", markDirty);
  // Enter in a one-line field must never submit the ticket; some fields give it a meaning of their own.
  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.ctrlKey || event.metaKey || event.isComposing) return;
    const target = event.target;
    if (target.tagName !== "INPUT") return;
    event.preventDefault();
    if (target === fields.address) locateAddress();
    else if (target === fields.phone) lookupHistory(true);
    else if (target === fields.subject) {
      const matches = matchSubjects(fields.subject.value);
      if (matches.length >= 1) chooseSubject(matches[0]);
    }
  });
  fields.subject.addEventListener("input", function () {
    renderSubjectHint();
    subjectChanged();
  });
  fields.subject.addEventListener("change", function () {
    const matches = matchSubjects(fields.subject.value);
    if (matches.length === 1 && fields.subject.value !== matches[0].path) fields.subject.value = matches[0].path;
    renderSubjectHint();
    subjectChanged();
  });
  fields.phone.addEventListener("input", function () {
    setFieldError("phone", "");
    const value = fields.phone.value.trim();
    // The history on screen belongs to another number now: take it away until the new one is read.
    if (state.historyShownFor !== null && value !== state.historyShownFor) renderHistory(null);
    if (value !== state.historyPhone) state.historyPhone = null;
    lookupHistoryDebounced();
    checkDraftDuplicates();
  });
  $("address-locate").addEventListener("click", locateAddress);
  bindPhotos();
  $("intake-reset").addEventListener("click", function () {
    if (state.dirty && !window.confirm(gettext("Discard what has been typed in this intake?"))) return;
    resetIntake();
    fields.phone.focus();
  });
}

function chooseSubject(subject) {
  fields.subject.value = subject.path;
  renderSubjectHint();
  subjectChanged();
}

let lastSubjectCode = null;
function subjectChanged() {
  const subject = currentSubject();
  const code = subject ? subject.code : null;
  if (code === lastSubjectCode) return;
  lastSubjectCode = code;
  if (!state.submitted) {
    state.routingView = "draft";
    renderTicket();
    requestRouting();
    checkDraftDuplicates();
  }
}
