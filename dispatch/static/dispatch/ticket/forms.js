/*
 * Ticket page: the action forms. A button (rendered by the server for each action the workflow table allows
 * this user now) opens its form from <template id="form-MACHINE-ACTION"> (or the generic confirmation) under
 * its button group; the form is checked, sent to the action's existing endpoint, and the API's field errors
 * are shown next to their fields. Also revealing the caller's number (agencies; the reason is recorded).
 */

import { api, el, fmt, gettext, localInputToIso, toast } from "./helpers.js";
import { actionLabel, hooks, state, TICKET } from "./state.js";
import { prepare } from "./contexts.js";
import { loadTimeline } from "./timeline.js";
import { bindFormPhrases } from "./phrases.js";
import { bindPhotoInput, releasePhotoInput, uploadPhotos } from "../inbox/photos.js";

// Work-order forms whose photos (data-role="photo-input") are stored on the work order first, as this kind of
// file: an agency may add files only while it handles the work order, and a reply ends that.
const PHOTO_KINDS = { note: "note", reply: "reply" };

function main() { return document.getElementById("ticket-main"); }

// --- errors ---------------------------------------------------------------------------------------
function controlFor(form, name) {
  return form.querySelector('[data-errors-for="' + name + '"]') || form.elements.namedItem(name);
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
export function showErrors(form, problem) {
  clearErrors(form);
  const leftovers = [];
  let first = null;
  const fields = problem.fields || {};
  Object.keys(fields).forEach(function (name) {
    const messages = [].concat(fields[name]).map(function (m) { return typeof m === "string" ? m : Object.values(m || {}).join(" "); });
    let control = controlFor(form, name);
    if (control && !control.closest && control.length) control = control[0];  // a group of checkboxes
    const field = control && control.closest ? (control.classList.contains("field") ? control : control.closest(".field")) : null;
    if (field) {
      const error = el("p", "field-error", messages.join(" "));
      error.id = "err-" + name;
      field.appendChild(error);
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
  const target = first && first.focus ? first : form.querySelector("textarea, input, select, button[type=submit]");
  if (target) target.focus();
}
function requiredMissing(form) {
  const fields = {};
  form.querySelectorAll("[required]").forEach(function (control) {
    if (!String(control.value || "").trim()) fields[control.name] = [gettext("This field is required.")];
  });
  return Object.keys(fields).length ? fields : null;
}

// --- values ---------------------------------------------------------------------------------------
/** The request body from the form's controls, typed by their data-type; {fields} when a value is not valid. */
async function collect(form) {
  const body = {};
  const errors = {};
  const lists = {};
  for (const control of Array.from(form.elements)) {
    if (!control.name || control.disabled || control.type === "submit" || control.type === "button") continue;
    const type = control.dataset.type || "text";
    const name = control.dataset.sendAs || control.name;
    const value = control.value;
    if (type === "int") {
      body[name] = value === "" ? null : Number(value);
    } else if (type === "int-or-null") {
      body[name] = value === "" ? null : Number(value);
    } else if (type === "bool-or-null") {
      body[name] = value === "" ? null : value === "true";
    } else if (type === "int-list") {
      if (!lists[name]) lists[name] = { values: [], omitEmpty: control.dataset.empty === "omit" };
      if (control.tagName === "SELECT") {
        Array.from(control.selectedOptions).forEach(function (o) { lists[name].values.push(Number(o.value)); });
      } else if (control.checked) {
        lists[name].values.push(Number(value));
      }
    } else if (type === "datetime" || type === "datetime-or-null") {
      if (!value && type === "datetime-or-null") { body[name] = null; continue; }
      const iso = localInputToIso(value);
      if (!iso) errors[control.name] = [gettext("Enter a date and time.")];
      body[name] = iso;
    } else if (type === "omit-empty") {
      if (value.trim() !== "") body[name] = value.trim();
    } else if (type === "float-omit-empty") {
      if (value.trim() === "") continue;
      const number = Number(value.trim().replace(",", "."));
      if (isNaN(number)) errors[control.name] = [gettext("Enter a number.")];
      else body[name] = number;
    } else if (type === "ticket-number") {
      const found = await api("GET", "/api/tickets/?number=" + encodeURIComponent(value.trim()));
      const row = ((found && found.results) || [])[0];
      if (!row) errors[name] = [gettext("No ticket with this number that you may see.")];
      else body[name] = row.id;
    } else {
      body[name] = value;
    }
  }
  Object.keys(lists).forEach(function (name) {
    if (lists[name].values.length || !lists[name].omitEmpty) body[name] = lists[name].values;
  });
  return Object.keys(errors).length ? { fields: errors } : { body: body };
}

// --- open, close, submit --------------------------------------------------------------------------
export function closeForm(restoreFocus) {
  const current = state.openForm;
  if (!current) return;
  state.openForm = null;
  releasePhotoInput(current.form);
  current.form.remove();
  current.button.setAttribute("aria-expanded", "false");
  if (restoreFocus && document.body.contains(current.button)) current.button.focus();
  if (state.pendingReload && hooks.reload) hooks.reload();
}

export function toggleForm(button) {
  const machine = button.dataset.machine;
  const action = button.dataset.action;
  const workOrderId = button.dataset.workOrder ? Number(button.dataset.workOrder) : null;
  const key = machine + ":" + action + ":" + (workOrderId || "");
  if (state.openForm && state.openForm.key === key) { closeForm(true); return; }
  closeForm(false);
  const hostName = workOrderId ? "wo-" + workOrderId : "ticket";
  const host = main().querySelector('[data-form-host="' + hostName + '"]');
  host.querySelectorAll(".blocked-note").forEach(function (n) { n.remove(); });
  if (button.getAttribute("aria-disabled") === "true") {
    // The table allows the action, but its guard fails now: say why instead of opening the form.
    const note = el("p", "notice warn blocked-note", button.dataset.blocked || "");
    note.setAttribute("role", "status");
    host.appendChild(note);
    return;
  }
  const template = document.getElementById("form-" + machine + "-" + action) || document.getElementById("form-generic");
  const form = template.content.firstElementChild.cloneNode(true);
  if (!form.dataset.action) {
    form.dataset.action = action;
    form.querySelector("[data-fill=action-label]").textContent = button.textContent;
  }
  form.dataset.machine = machine;
  state.openForm = { key: key, machine: machine, action: action, workOrderId: workOrderId, form: form, button: button };
  button.setAttribute("aria-expanded", "true");
  prepare(form, workOrderId);
  bindPhotoInput(form);
  form.addEventListener("submit", function (event) { event.preventDefault(); submit(form); });
  form.querySelector("[data-cancel]").addEventListener("click", function () { closeForm(true); });
  host.appendChild(form);
  bindFormPhrases(form, machine, action, workOrderId);
  const first = form.querySelector("textarea, input, select") || form.querySelector("button[type=submit]");
  if (first) first.focus();
}

function actionUrl(current) {
  if (current.machine === "work_order") return "/api/work-orders/" + current.workOrderId + "/" + current.action + "/";
  return "/api/tickets/" + TICKET.id + "/" + current.action + "/";
}

async function submit(form) {
  const current = state.openForm;
  if (!current || current.form !== form) return;
  const missing = requiredMissing(form);
  if (missing) { showErrors(form, { message: "", fields: missing }); return; }
  const buttons = form.querySelectorAll("button");
  buttons.forEach(function (b) { b.disabled = true; });
  try {
    const collected = await collect(form);
    if (collected.fields) {
      buttons.forEach(function (b) { b.disabled = false; });
      showErrors(form, { message: "", fields: collected.fields });
      return;
    }
    const kind = current.machine === "work_order" ? PHOTO_KINDS[current.action] : null;
    const refused = kind ? await uploadPhotos(form, current.workOrderId, kind) : null;
    if (refused) {
      buttons.forEach(function (b) { b.disabled = false; });
      showErrors(form, refused);
      return;
    }
    await api("POST", actionUrl(current), collected.body);
    state.pendingReload = false;
    closeForm(false);
    toast(fmt(gettext("Done: %(action)s"), { action: actionLabel(current.machine, current.action) }));
    if (hooks.reload) await hooks.reload();
    const heading = document.getElementById("ticket-number");
    if (heading) heading.focus({ preventScroll: false });
  } catch (problem) {
    if (!document.body.contains(form)) return;
    buttons.forEach(function (b) { b.disabled = false; });
    showErrors(form, problem);
    if (problem.status === 404 || problem.code === "transition_not_allowed") {
      // Someone else acted first: the buttons are out of date; refresh once this form is closed.
      state.pendingReload = true;
    }
  }
}

// --- revealing the caller's number (agency staff; the server records who, when and why) -----------
export function applyRevealed() {
  const revealed = state.revealed;
  const button = document.getElementById("reveal-button");
  if (!revealed) return;
  const rows = document.querySelectorAll("#ticket-callers li");
  rows.forEach(function (li, index) {
    const id = li.dataset.caller ? Number(li.dataset.caller) : null;
    const match = (revealed.callers || []).find(function (c) { return c.caller_id === id; });
    const person = match || (index === 0 && !id ? { name: revealed.caller_name, phone: revealed.phone } : null);
    if (!person) return;
    li.querySelector(".caller-name").textContent = person.name || "—";
    li.querySelector(".caller-phone").textContent = person.phone || "";
  });
  // Typed numbers in the free texts (title, description, work orders' texts), masked for agencies until now.
  const texts = revealed.texts || {};
  Object.entries(texts.ticket || {}).forEach(function ([key, text]) { showText(key, text); });
  Object.entries(texts.work_orders || {}).forEach(function ([id, fields]) {
    Object.entries(fields).forEach(function ([key, text]) { showText("wo:" + id + ":" + key, text); });
  });
  if (button) button.hidden = true;
  const note = document.getElementById("reveal-note");
  if (note) note.hidden = false;
}

function showText(key, text) {
  document.querySelectorAll("[data-text]").forEach(function (node) {
    if (node.dataset.text === key) node.textContent = text;
  });
}

export function toggleReveal(button) {
  const host = document.getElementById("reveal-form-host");
  if (host.firstChild) {
    host.replaceChildren();
    button.setAttribute("aria-expanded", "false");
    return;
  }
  const form = document.getElementById("form-reveal").content.firstElementChild.cloneNode(true);
  button.setAttribute("aria-expanded", "true");
  form.querySelector("[data-cancel]").addEventListener("click", function () {
    host.replaceChildren();
    button.setAttribute("aria-expanded", "false");
    button.focus();
  });
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const missing = requiredMissing(form);
    if (missing) { showErrors(form, { message: "", fields: missing }); return; }
    const buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    try {
      state.revealed = await api("POST", "/api/tickets/" + TICKET.id + "/reveal/", { reason: form.elements.namedItem("reason").value });
      host.replaceChildren();
      applyRevealed();
      if (Object.keys(state.revealed.texts?.timeline || {}).length) loadTimeline();
      const list = document.getElementById("ticket-callers");
      list.setAttribute("tabindex", "-1");
      list.focus();
    } catch (problem) {
      buttons.forEach(function (b) { b.disabled = false; });
      showErrors(form, problem);
    }
  });
  host.appendChild(form);
  form.querySelector("input").focus();
}
