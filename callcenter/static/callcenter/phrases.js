/*
 * The canned-phrase picker (常用语), shared by the console, the agency inbox and the ticket page.
 *
 *   import { attachPhrasePicker } from ".../callcenter/phrases.js";
 *   attachPhrasePicker(textarea, {
 *     kind: "intake" | "reply" | "revisit",
 *     subject: function () { return "subject-code" or null },   // asked each time the list opens
 *     values: function () { return { address: "...", subject: "...", number: "...", agency: "..." } },
 *   });
 *
 * A "Canned phrases" button after the textarea opens a list of the active phrases of that kind for the
 * current subject (those of any subject, of the subject and of the branches above it; every subject's when
 * none is chosen yet), with a filter box. Choosing one inserts its text at the cursor, with the placeholders
 * the screen knows filled in ({date} is today in the city's zone), selects the first placeholder left to
 * type over, and fires "input" so the form notices. Server text is put on the page with textContent only.
 * gettext and interpolate are Django's JS catalog (globals).
 */

const gettext = window.gettext || function (s) { return s; };
const PLACEHOLDER = /\{([^{}\s]{1,30})\}/g;
let counter = 0;

function cityZone() {
  const node = document.getElementById("screen-config");
  try {
    return (node && JSON.parse(node.textContent).time_zone) || "Asia/Shanghai";
  } catch (error) {
    return "Asia/Shanghai";
  }
}

/** Today in the city's zone, written the Chinese way (2026年3月1日); English pages get 2026-03-01. */
export function cityToday() {
  const zone = cityZone();
  const parts = {};
  new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "numeric", day: "numeric" })
    .formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
  if ((document.documentElement.lang || "zh").toLowerCase().startsWith("zh")) {
    return parts.year + "年" + Number(parts.month) + "月" + Number(parts.day) + "日";
  }
  return parts.year + "-" + parts.month.padStart(2, "0") + "-" + parts.day.padStart(2, "0");
}

/** The text with the placeholders that have a value filled in; the others stay as they are. */
export function fillPlaceholders(text, values) {
  return text.replace(PLACEHOLDER, function (whole, name) {
    const value = values[name];
    return value === undefined || value === null || value === "" ? whole : String(value);
  });
}

function ensureStyles() {
  if (document.getElementById("phrase-picker-css")) return;
  const link = document.createElement("link");
  link.id = "phrase-picker-css";
  link.rel = "stylesheet";
  link.href = new URL("./phrases.css", import.meta.url).href;
  document.head.appendChild(link);
}

function node(tag, className, text) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text !== undefined && text !== null) n.textContent = String(text);
  return n;
}

async function fetchPhrases(kind, subject) {
  const params = new URLSearchParams({ kind: kind });
  if (subject) params.set("subject", subject);
  const response = await fetch("/api/phrases/?" + params.toString(), {
    credentials: "same-origin",
    headers: { Accept: "application/json", "Accept-Language": document.documentElement.lang || "zh-hans" },
  });
  const data = await response.json().catch(function () { return null; });
  if (!response.ok) throw new Error((data && data.message) || gettext("The phrases could not be loaded."));
  return (data && data.results) || [];
}

function insert(textarea, text) {
  const start = textarea.selectionStart === undefined ? textarea.value.length : textarea.selectionStart;
  const end = textarea.selectionEnd === undefined ? start : textarea.selectionEnd;
  const before = textarea.value.slice(0, start);
  textarea.value = before + text + textarea.value.slice(end);
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
  textarea.focus();
  PLACEHOLDER.lastIndex = 0;
  const left = PLACEHOLDER.exec(text);
  if (left) textarea.setSelectionRange(start + left.index, start + left.index + left[0].length);
  else textarea.setSelectionRange(start + text.length, start + text.length);
}

/** Adds the picker after the textarea; returns {close()}. Attaching twice to one textarea does nothing. */
export function attachPhrasePicker(textarea, options) {
  if (!textarea || textarea.dataset.phrasePicker) return null;
  ensureStyles();
  textarea.dataset.phrasePicker = options.kind;
  const id = "phrase-panel-" + (++counter);
  const box = node("div", "phrase-picker");
  const toggle = node("button", "phrase-toggle", gettext("Canned phrases"));
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", id);
  const panel = node("div", "phrase-panel");
  panel.id = id;
  panel.hidden = true;
  const filter = node("input", "phrase-filter");
  filter.type = "search";
  filter.placeholder = gettext("Filter the phrases");
  filter.setAttribute("aria-label", gettext("Filter the phrases"));
  const list = node("ul", "phrase-options");
  const note = node("p", "phrase-note");
  note.setAttribute("role", "status");
  panel.append(filter, list, note);
  box.append(toggle, panel);
  textarea.insertAdjacentElement("afterend", box);

  let phrases = [];
  let selection = null;  // where the cursor was when the list opened

  function render() {
    const needle = filter.value.trim().toLowerCase();
    list.replaceChildren();
    const shown = phrases.filter(function (p) {
      return !needle || (p.title + " " + p.body).toLowerCase().includes(needle);
    });
    shown.forEach(function (phrase) {
      const button = node("button", "phrase-option");
      button.type = "button";
      button.dataset.phrase = String(phrase.id);
      button.append(node("strong", null, phrase.title), node("span", "phrase-preview", phrase.body));
      if (phrase.subject) button.append(node("small", "phrase-subject", phrase.subject.name));
      button.addEventListener("click", function () { choose(phrase); });
      const item = node("li");
      item.appendChild(button);
      list.appendChild(item);
    });
    note.textContent = shown.length ? "" : gettext("No canned phrases for this subject.");
    note.hidden = shown.length > 0;
  }

  function choose(phrase) {
    const values = Object.assign({ date: cityToday() }, (options.values && options.values()) || {});
    close(false);
    if (selection) textarea.setSelectionRange(selection[0], selection[1]);
    insert(textarea, fillPlaceholders(phrase.body, values));
  }

  async function open() {
    selection = [textarea.selectionStart, textarea.selectionEnd];
    panel.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    list.replaceChildren();
    note.hidden = false;
    note.textContent = gettext("Loading…");
    try {
      phrases = await fetchPhrases(options.kind, options.subject ? options.subject() : null);
      render();
    } catch (error) {
      phrases = [];
      list.replaceChildren();
      note.textContent = error.message;
    }
    filter.focus();
  }

  function close(restoreFocus) {
    panel.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    filter.value = "";
    if (restoreFocus) toggle.focus();
  }

  toggle.addEventListener("click", function () {
    if (panel.hidden) open();
    else close(true);
  });
  filter.addEventListener("input", render);
  filter.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {  // Enter takes the first phrase shown; it never submits the form
      event.preventDefault();
      const first = list.querySelector("button");
      if (first) first.click();
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      const first = list.querySelector("button");
      if (first) first.focus();
    }
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close(true);
    } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && event.target.classList.contains("phrase-option")) {
      event.preventDefault();
      const buttons = Array.from(list.querySelectorAll("button"));
      const at = buttons.indexOf(event.target) + (event.key === "ArrowDown" ? 1 : -1);
      if (at < 0) filter.focus();
      else if (buttons[at]) buttons[at].focus();
    }
  });
  document.addEventListener("click", function outside(event) {
    if (!box.isConnected) document.removeEventListener("click", outside);  // its form was closed
    else if (!panel.hidden && !box.contains(event.target)) close(false);
  });
  return { close: function () { close(false); } };
}
