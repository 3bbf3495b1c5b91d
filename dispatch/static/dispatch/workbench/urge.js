/*
 * Workbench: bulk urge (批量催办) of the selected rows' work orders: POST /api/search/bulk-urge/. Each work
 * order is urged in its own transaction as the workflow table allows; the answer reports each one.
 */

import { $, api, fmt, gettext } from "../inbox/helpers.js";
import { hooks } from "./hooks.js";
import { state } from "./state.js";
import { showSelection } from "./table.js";

const noteEl = $("wb-urge-note");
const buttonEl = $("wb-urge-button");
const resultEl = $("wb-urge-result");

function report(text, ok) {
  resultEl.textContent = text;
  resultEl.classList.toggle("bad", !ok);
  resultEl.hidden = false;
}

async function urgeSelected() {
  const note = noteEl.value.trim();
  if (!note) {
    report(gettext("Write a note for the agencies first."), false);
    noteEl.focus();
    return;
  }
  const ids = Array.from(state.selected);
  buttonEl.disabled = true;
  let answer;
  try {
    answer = await api("POST", "/api/search/bulk-urge/", { work_order_ids: ids, note: note });
  } catch (problem) {
    const fields = problem.fields || {};
    report([problem.message].concat(fields.work_order_ids || [], fields.note || []).join(" "), false);
    showSelection();
    return;
  }
  const refused = answer.results.filter(function (r) { return !r.ok; });
  let text = fmt(gettext("Urged %(count)s work orders."), { count: answer.urged });
  if (refused.length) {
    text += " " + fmt(gettext("Not urged: %(list)s"), {
      list: refused.map(function (r) { return (r.number || "#" + r.id) + " (" + r.message + ")"; }).join("; "),
    });
  }
  report(text, refused.length === 0);
  state.selected.clear();
  noteEl.value = "";
  hooks.reloadTable();
}

export function bindUrge() {
  if (!buttonEl) return;
  buttonEl.addEventListener("click", urgeSelected);
}
