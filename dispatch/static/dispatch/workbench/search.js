/*
 * Workbench: the search form (its fields are the API's filters, so the API's field errors land next to
 * them), saved searches (kept in this browser's localStorage, per user) and the export links, which always
 * export the last search that ran.
 */

import { $, fmt, gettext } from "../inbox/helpers.js";
import { hooks } from "./hooks.js";
import { CONFIG, isoToLocalInput, localInputToIso } from "./state.js";

export const formEl = $("wb-search");
const formErrorEl = $("wb-search-error");
const savedListEl = $("wb-saved-list");
const savedNameEl = $("wb-saved-name");
const savedDeleteEl = $("wb-saved-delete");
const exportCsvEl = $("wb-export-csv");
const exportXlsxEl = $("wb-export-xlsx");
const STORAGE_KEY = "hotline.workbench.saved." + CONFIG.user.id;

// The form as the API's query string; times typed in city time get the city's offset.
export function formQuery() {
  const params = new URLSearchParams();
  Array.prototype.forEach.call(formEl.elements, function (field) {
    if (!field.name || field.disabled) return;
    const raw = (field.value || "").trim();
    if (!raw) return;
    params.set(field.name, field.hasAttribute("data-time") ? localInputToIso(raw) || raw : raw);
  });
  return params.toString();
}

export function fillForm(query) {
  const params = new URLSearchParams(query);
  Array.prototype.forEach.call(formEl.elements, function (field) {
    if (!field.name) return;
    const value = params.get(field.name) || "";
    field.value = field.hasAttribute("data-time") && value ? isoToLocalInput(value) : value;
  });
}

export function clearErrors() {
  formErrorEl.hidden = true;
  formEl.querySelectorAll("[data-error]").forEach(function (node) { node.hidden = true; node.textContent = ""; });
  formEl.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
}

// The API's answer to a bad search: each field's errors next to it, the message above the buttons.
export function showErrors(problem) {
  clearErrors();
  let placed = false;
  Object.keys(problem.fields || {}).forEach(function (name) {
    const slot = formEl.querySelector('[data-error="' + name + '"]');
    const field = formEl.elements[name];
    if (!slot) return;
    slot.textContent = [].concat(problem.fields[name]).join(" ");
    slot.hidden = false;
    if (field) field.setAttribute("aria-invalid", "true");
    placed = true;
  });
  if (!placed || problem.message) {
    formErrorEl.textContent = problem.message || gettext("The search failed.");
    formErrorEl.hidden = false;
  }
}

export function setExportLinks(query) {
  const suffix = query ? "?" + query : "";
  exportCsvEl.href = "/api/search/tickets/export.csv" + suffix;
  exportXlsxEl.href = "/api/search/tickets/export.xlsx" + suffix;
}

// --- saved searches ----------------------------------------------------------------------------------
function readSaved() {
  try {
    const saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "[]");
    return Array.isArray(saved) ? saved.filter(function (s) { return s && typeof s.name === "string"; }) : [];
  } catch (error) {
    return [];
  }
}
function writeSaved(saved) {
  try {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(saved));
  } catch (error) {
    formErrorEl.textContent = gettext("This browser does not keep saved searches.");
    formErrorEl.hidden = false;
  }
}
export function renderSaved(selectedName) {
  const first = savedListEl.options[0];
  const options = readSaved().map(function (entry) {
    const option = document.createElement("option");
    option.value = entry.name;
    option.textContent = entry.name;
    option.selected = entry.name === selectedName;
    return option;
  });
  savedListEl.replaceChildren.apply(savedListEl, [first].concat(options));
  savedDeleteEl.disabled = !savedListEl.value;
}

export function bindSaved() {
  $("wb-saved-save").addEventListener("click", function () {
    const name = savedNameEl.value.trim();
    clearErrors();
    if (!name) {
      formErrorEl.textContent = gettext("Give the search a name to save it.");
      formErrorEl.hidden = false;
      savedNameEl.focus();
      return;
    }
    const saved = readSaved().filter(function (entry) { return entry.name !== name; });
    saved.push({ name: name, query: formQuery() });
    saved.sort(function (a, b) { return a.name.localeCompare(b.name); });
    writeSaved(saved);
    savedNameEl.value = "";
    renderSaved(name);
    formErrorEl.textContent = fmt(gettext("Saved as “%(name)s”."), { name: name });
    formErrorEl.hidden = false;
  });
  savedListEl.addEventListener("change", function () {
    savedDeleteEl.disabled = !savedListEl.value;
    const entry = readSaved().find(function (s) { return s.name === savedListEl.value; });
    if (!entry) return;
    fillForm(entry.query);
    hooks.runSearch();
  });
  savedDeleteEl.addEventListener("click", function () {
    const name = savedListEl.value;
    if (!name) return;
    writeSaved(readSaved().filter(function (entry) { return entry.name !== name; }));
    renderSaved("");
  });
}

export function bindSearch() {
  formEl.addEventListener("submit", function (event) {
    event.preventDefault();
    hooks.runSearch();
  });
  formEl.addEventListener("reset", function () {
    clearErrors();
    savedListEl.value = "";
    savedDeleteEl.disabled = true;
  });
  bindSaved();
  renderSaved("");
  setExportLinks("");
}
