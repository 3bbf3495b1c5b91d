/*
 * Ticket page: small helpers (gettext with a fallback, DOM), the page's configuration, the server clock (from
 * the Date header), the JSON API wrapper, and times in the city's time zone. Nothing here knows the page.
 */

export const gettext = window.gettext || function (s) { return s; };  // Django's JavaScriptCatalog
export const fmt = function (template, values) {
  return window.interpolate ? window.interpolate(template, values, true)
    : template.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
};
export const $ = function (id) { return document.getElementById(id); };
export const config = JSON.parse(document.getElementById("screen-config").textContent);
export const TIME_ZONE = config.time_zone || "Asia/Shanghai";

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// --- server clock ---------------------------------------------------------------------------------
let clockOffset = 0;  // server time minus browser time, ms
export function now() { return Date.now() + clockOffset; }
export function noteServerDate(response) {
  const header = response.headers.get("Date");
  const server = header ? Date.parse(header) : NaN;
  if (isNaN(server)) return;
  const offset = server - Date.now();
  clockOffset = Math.abs(offset) > 2000 ? offset : 0;  // the header has a resolution of one second
}

// --- network --------------------------------------------------------------------------------------
function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}
/** JSON request; a failure throws {status, code, message, fields} (the API's error shape). */
export async function api(method, url, body) {
  const init = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.headers["X-CSRFToken"] = csrfToken();
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw { status: 0, code: "network", message: gettext("The server cannot be reached. Check the connection and try again."), fields: {} };
  }
  noteServerDate(response);
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (!response.ok) {
    const problem = { status: response.status, code: "error", message: "", fields: {} };
    if (data && typeof data === "object") {
      problem.code = data.code || problem.code;
      problem.message = typeof data.message === "string" ? data.message : "";
      problem.fields = data.fields && typeof data.fields === "object" ? data.fields : {};
    }
    if (!problem.message) problem.message = fmt(gettext("The request failed (HTTP %(status)s)."), { status: response.status });
    throw problem;
  }
  return data;
}

// --- time in the city's zone ----------------------------------------------------------------------
const lang = document.documentElement.lang || "zh-hans";
let dateFormat;
try {
  dateFormat = new Intl.DateTimeFormat(lang, { timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false });
} catch (error) {
  dateFormat = new Intl.DateTimeFormat(undefined, { timeZone: TIME_ZONE, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}
export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return isNaN(date) ? "" : dateFormat.format(date);
}
function zoneParts(ms) {
  const parts = {};
  new Intl.DateTimeFormat("en-US", { timeZone: TIME_ZONE, hourCycle: "h23", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(new Date(ms)).forEach(function (p) { parts[p.type] = p.value; });
  return parts;
}
function zoneOffsetMinutes(ms) {
  const p = zoneParts(ms);
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}
/** "2026-11-25T18:00" typed as city time -> "2026-11-25T18:00:00+08:00" (null when not a date and time). */
export function localInputToIso(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
  if (!m) return null;
  const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  const offset = zoneOffsetMinutes(guess - zoneOffsetMinutes(guess) * 60000);
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  const pad = function (n) { return String(n).padStart(2, "0"); };
  return m[1] + "-" + m[2] + "-" + m[3] + "T" + m[4] + ":" + m[5] + ":00" + sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
}
export function isoToLocalInput(iso) {
  const p = zoneParts(new Date(iso).getTime());
  return p.year + "-" + p.month + "-" + p.day + "T" + p.hour + ":" + p.minute;
}
function duration(ms) {
  const s = Math.floor(ms / 1000);
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days > 0) return fmt(gettext("%(days)s d %(hours)s h"), { days: days, hours: hours });
  if (hours > 0) return fmt(gettext("%(hours)s h %(minutes)s min"), { hours: hours, minutes: minutes });
  return fmt(gettext("%(minutes)s min %(seconds)s s"), { minutes: minutes, seconds: s % 60 });
}
/** {text, cls} of a countdown to `dueIso` (warned from `warnIso`, else in the last fifth of the time). */
export function countdown(dueIso, startedIso, warnIso) {
  const due = Date.parse(dueIso);
  const left = due - now();
  if (left < 0) return { text: fmt(gettext("%(time)s overdue"), { time: duration(-left) }), cls: "over" };
  const total = due - Date.parse(startedIso);
  const warn = warnIso ? now() >= Date.parse(warnIso) : total > 0 && left < total * 0.2;
  return { text: fmt(gettext("%(time)s left"), { time: duration(left) }), cls: warn ? "warn" : "ok" };
}

let toastTimer = null;
export function toast(text) {
  const box = $("ticket-toast");
  box.textContent = text;
  box.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(function () { box.classList.remove("show"); }, 4000);
}
