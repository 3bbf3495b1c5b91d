/*
 * Agency inbox: the action forms (from the page's <template id="form-ACTION">): open and close, client-side
 * checks, submit, the server's field errors; and revealing the caller's number (with a recorded reason).
 */

import { api, el, fmt, gettext } from "./helpers.js";
import { actionLabel, OPEN_STATES, state } from "./state.js";
import { formatTime, isoToLocalInput, localInputToIso, runningClock } from "./time.js";
import { toast } from "./notify.js";
import { applyWorkOrder, paintCursor } from "./list.js";
import { d, loadDetail, renderCaller, scheduleDetailReload, selectRow } from "./detail.js";
import { bindReplyPhrases } from "./phrases.js";
import { bindPhotoInput, releasePhotoInput, uploadPhotos } from "./photos.js";

// Forms whose photos (data-role="photo-input") are stored on the work order first, as this kind of file.
const PHOTO_KINDS = { note: "note", reply: "reply" };

// --- forms ----------------------------------------------------------------------------------------
function cloneForm(action) {
  const template = document.getElementById("form-" + action);
  return template.content.firstElementChild.cloneNode(true);
}
function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach(function (n) { n.remove(); });
  form.querySelectorAll("[aria-invalid]").forEach(function (n) {
    n.removeAttribute("aria-invalid");
    n.removeAttribute("aria-describedby");
  });
  const top = form.querySelector(".form-error");
  top.textContent = "";
  top.hidden = true;
}
function showErrors(form, problem) {
  clearErrors(form);
  const leftovers = [];
  let first = null;
  const fields = problem.fields || {};
  Object.keys(fields).forEach(function (name) {
    const messages = [].concat(fields[name]).map(function (m) { return typeof m === "string" ? m : JSON.stringify(m); });
    const control = form.elements.namedItem(name);
    if (control && control.closest && control.closest(".field")) {
      const error = el("p", "field-error", messages.join(" "));
      error.id = control.id + "-error";
      control.closest(".field").appendChild(error);
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", error.id);
      if (!first) first = control;
    } else {
      leftovers.push(messages.join(" "));
    }
  });
  const top = form.querySelector(".form-error");
  top.textContent = [problem.message].concat(leftovers).filter(Boolean).join(" ");
  top.hidden = !top.textContent;
  (first || form.querySelector("textarea, input, select")).focus();
}
function requiredMissing(form) {
  const fields = {};
  form.querySelectorAll("[required]").forEach(function (control) {
    if (!String(control.value || "").trim()) fields[control.name] = [gettext("This field is required.")];
  });
  return Object.keys(fields).length ? fields : null;
}
function formValues(form) {
  const values = {};
  Array.from(form.elements).forEach(function (control) {
    if (control.name) values[control.name] = control.value;
  });
  return values;
}
export function closeForm(restoreFocus) {
  if (!state.openForm) return;
  const current = state.openForm;
  state.openForm = null;
  releasePhotoInput(current.form);
  current.form.remove();
  if (current.button) {
    current.button.setAttribute("aria-expanded", "false");
    if (restoreFocus && document.body.contains(current.button)) current.button.focus();
  }
}
export function toggleForm(action, button) {
  if (state.openForm && state.openForm.action === action) { closeForm(true); return; }
  closeForm(false);
  const form = cloneForm(action);
  state.openForm = { action: action, form: form, button: button };
  button.setAttribute("aria-expanded", "true");
  d.actions.querySelectorAll("button[data-action]").forEach(function (b) {
    if (b !== button) b.setAttribute("aria-expanded", "false");
  });
  if (action === "request_extension") prepareExtensionForm(form);
  bindPhotoInput(form);
  form.addEventListener("submit", function (event) { event.preventDefault(); submitAction(action, form); });
  form.querySelector("[data-cancel]").addEventListener("click", function () { closeForm(true); });
  d.formHost.appendChild(form);
  if (action === "reply") bindReplyPhrases(form);
  const firstField = form.querySelector("textarea, input, select");
  if (firstField) firstField.focus();
}
function prepareExtensionForm(form) {
  const clock = runningClock(state.detail.wo);
  const input = form.elements.namedItem("requested_due_at");
  const hint = form.querySelector("[data-hint=requested_due_at]");
  if (clock && clock.due_at) {
    input.min = isoToLocalInput(clock.due_at);
    hint.textContent = fmt(gettext("Current deadline: %(time)s"), { time: formatTime(clock.due_at) });
  }
}
async function submitAction(action, form) {
  const wo = state.detail && state.detail.wo;
  if (!wo) return;
  const missing = requiredMissing(form);
  if (missing) { showErrors(form, { message: "", fields: missing }); return; }
  const values = formValues(form);
  if (action === "request_extension") {
    const iso = localInputToIso(values.requested_due_at);
    if (!iso) {
      showErrors(form, { message: "", fields: { requested_due_at: [gettext("Enter a date and time.")] } });
      return;
    }
    values.requested_due_at = iso;
  }
  const buttons = form.querySelectorAll("button");
  buttons.forEach(function (b) { b.disabled = true; });
  try {
    if (PHOTO_KINDS[action]) {
      const refused = await uploadPhotos(form, wo.id, PHOTO_KINDS[action]);
      if (refused) throw refused;
    }
    const updated = await api("POST", "/api/work-orders/" + wo.id + "/" + action + "/", values);
    closeForm(false);
    toast(fmt(gettext("Done: %(action)s · %(number)s"), { action: actionLabel("work_order", action), number: updated.number }));
    const stillOpen = OPEN_STATES.indexOf(updated.state) !== -1;
    const index = state.order.indexOf(updated.id);
    applyWorkOrder(updated);
    if (!stillOpen && state.order.length) {
      // it left the inbox: go on with the next one
      const next = state.order[Math.min(Math.max(index, 0), state.order.length - 1)];
      selectRow(next);
      paintCursor(true);
    } else {
      loadDetail(updated.id);
      d.title.focus({ preventScroll: true });
    }
  } catch (problem) {
    if (!document.body.contains(form)) return;
    buttons.forEach(function (b) { b.disabled = false; });
    showErrors(form, problem);
    if (problem.status === 409 || problem.status === 404) scheduleDetailReload();
  }
}

// reveal the caller's number: asks for a reason, which the server records
export function bindReveal() {
  d.revealButton.addEventListener("click", function () {
    if (d.revealHost.firstChild) {
      d.revealHost.replaceChildren();
      d.revealButton.setAttribute("aria-expanded", "false");
      return;
    }
    const form = cloneForm("reveal");
    d.revealButton.setAttribute("aria-expanded", "true");
    form.querySelector("[data-cancel]").addEventListener("click", function () {
      d.revealHost.replaceChildren();
      d.revealButton.setAttribute("aria-expanded", "false");
      d.revealButton.focus();
    });
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const missing = requiredMissing(form);
      if (missing) { showErrors(form, { message: "", fields: missing }); return; }
      const ticketId = state.detail.wo.ticket.id;
      const woId = state.detail.wo.id;
      const buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      try {
        const result = await api("POST", "/api/tickets/" + ticketId + "/reveal/", formValues(form));
        if (!state.detail || state.detail.wo.id !== woId) return;
        state.detail.revealed = { phone: result.phone || "", caller_name: result.caller_name || "" };
        renderCaller();
        d.caller.setAttribute("tabindex", "-1");
        d.caller.focus();
      } catch (problem) {
        buttons.forEach(function (b) { b.disabled = false; });
        showErrors(form, problem);
      }
    });
    d.revealHost.appendChild(form);
    form.querySelector("input").focus();
  });
}
