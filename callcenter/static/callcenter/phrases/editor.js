/*
 * The centre's page of canned phrases (/phrases/): the list (filtered by use, subject and activity), and the
 * form that creates or changes one (deactivating is unticking "active"). Writes go to /api/phrases/; the
 * server's field errors are shown next to their fields. Another editor's change (a reference.changed event
 * of kind "phrase") reloads the list. gettext and interpolate are Django's JS catalog (globals).
 */

import { $, api, clear, el, fmt, shortTime } from "../console/helpers.js";

const config = JSON.parse($("screen-config").textContent);
const kindNames = new Map(config.kinds.map(function (k) { return [k.code, k.name]; }));
const form = $("ph-form");
const state = { rows: [], editing: null };

// --- list -----------------------------------------------------------------------------------------
function listUrl() {
  const params = new URLSearchParams();
  if ($("ph-filter-kind").value) params.set("kind", $("ph-filter-kind").value);
  if ($("ph-filter-subject").value) params.set("subject", $("ph-filter-subject").value);
  if ($("ph-filter-inactive").checked) params.set("include_inactive", "true");
  const query = params.toString();
  return "/api/phrases/" + (query ? "?" + query : "");
}

async function loadList() {
  const problem = $("ph-list-error");
  try {
    const data = await api("GET", listUrl());
    state.rows = data.results;
    problem.hidden = true;
  } catch (error) {
    problem.textContent = error.message;
    problem.hidden = false;
    state.rows = [];
  }
  renderList();
}

function renderList() {
  const body = $("ph-rows");
  clear(body);
  for (const row of state.rows) {
    const open = el("button", { type: "button", class: "link", text: row.title, onclick: function () { edit(row); } });
    const tr = el("tr", { class: row.active ? "" : "ph-inactive", "data-phrase": row.id }, [
      el("td", null, [open]),
      el("td", { text: kindNames.get(row.kind) || row.kind_label }),
      el("td", { text: row.subject ? row.subject.path : gettext("Any subject") }),
      el("td", { class: "ph-body", text: row.body }),
      el("td", { text: String(row.sort_order) }),
      el("td", { text: row.active ? gettext("Active") : gettext("Inactive") }),
      el("td", { text: [row.updated_by, shortTime(row.updated_at)].filter(Boolean).join(" · ") }),
    ]);
    if (state.editing && state.editing.id === row.id) tr.classList.add("ph-current");
    body.appendChild(tr);
  }
  $("ph-empty").hidden = state.rows.length > 0;
  $("ph-count").textContent = fmt(ngettext("%(n)s phrase", "%(n)s phrases", state.rows.length), { n: state.rows.length });
}

// --- form -----------------------------------------------------------------------------------------
function clearErrors() {
  form.querySelectorAll(".ph-field-error").forEach(function (n) { n.remove(); });
  form.querySelectorAll("[aria-invalid]").forEach(function (n) { n.removeAttribute("aria-invalid"); });
  $("ph-form-error").hidden = true;
}

function showErrors(error) {
  clearErrors();
  const leftovers = [];
  let first = null;
  for (const [name, messages] of Object.entries(error.fields || {})) {
    const control = form.elements.namedItem(name);
    const text = [].concat(messages).join(" ");
    if (control && control.closest(".ph-field, .ph-check")) {
      control.setAttribute("aria-invalid", "true");
      control.closest(".ph-field, .ph-check").appendChild(el("small", { class: "ph-field-error", text: text }));
      if (!first) first = control;
    } else leftovers.push(text);
  }
  const top = $("ph-form-error");
  top.textContent = [error.message].concat(leftovers).filter(Boolean).join(" ");
  top.hidden = !top.textContent;
  if (first) first.focus();
}

function fill(row) {
  state.editing = row;
  const title = $("ph-form-title");
  title.textContent = row ? title.dataset.edit : title.dataset.new;
  form.elements.namedItem("kind").value = row ? row.kind : "";
  form.elements.namedItem("subject").value = row && row.subject ? row.subject.code : "";
  form.elements.namedItem("title").value = row ? row.title : "";
  form.elements.namedItem("body").value = row ? row.body : "";
  form.elements.namedItem("sort_order").value = row ? String(row.sort_order) : "0";
  form.elements.namedItem("active").checked = row ? row.active : true;
  $("ph-meta").textContent = row && row.updated_by
    ? fmt(gettext("Last changed by %(who)s, %(when)s"), { who: row.updated_by, when: shortTime(row.updated_at) }) : "";
  clearErrors();
  renderList();
}

function edit(row) {
  fill(row);
  $("ph-saved").hidden = true;
  $("ph-title").focus();
}

function values() {
  const order = form.elements.namedItem("sort_order").value.trim();
  return {
    kind: form.elements.namedItem("kind").value,
    subject: form.elements.namedItem("subject").value || null,
    title: form.elements.namedItem("title").value,
    body: form.elements.namedItem("body").value,
    sort_order: order === "" ? 0 : Number(order),
    active: form.elements.namedItem("active").checked,
  };
}

async function save(event) {
  event.preventDefault();
  const button = $("ph-save");
  button.disabled = true;
  $("ph-saved").hidden = true;
  try {
    const saved = state.editing
      ? await api("PATCH", "/api/phrases/" + state.editing.id + "/", values())
      : await api("POST", "/api/phrases/", values());
    fill(saved);
    const notice = $("ph-saved");
    notice.textContent = fmt(gettext("Saved: %(title)s"), { title: saved.title });
    notice.hidden = false;
    await loadList();
  } catch (error) {
    showErrors(error);
  } finally {
    button.disabled = false;
  }
}

// --- start ----------------------------------------------------------------------------------------
form.addEventListener("submit", save);
$("ph-cancel").addEventListener("click", function () { fill(null); $("ph-saved").hidden = true; });
$("ph-new").addEventListener("click", function () { fill(null); $("ph-saved").hidden = true; $("ph-kind").focus(); });
$("ph-filter").addEventListener("change", loadList);
$("ph-filter").addEventListener("submit", function (event) { event.preventDefault(); loadList(); });
loadList();

let reloadTimer = null;
if (window.HotlineLive) {
  window.HotlineLive.connect({
    onEvent: function (event) {
      if (event.type === "reference.changed" && event.payload && event.payload.kind === "phrase") {
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(loadList, 300);
      }
    },
    onState: function (liveState) { if (window.showLiveState) window.showLiveState(liveState); },
  });
}
