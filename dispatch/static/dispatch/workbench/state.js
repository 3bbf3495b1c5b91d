/*
 * Workbench: the page's configuration (from the server, json_script), the shared state and times in the
 * city's zone. Imports only the inbox's generic helpers (gettext, DOM, the JSON API wrapper).
 */

import { $, fmt, gettext } from "../inbox/helpers.js";

export const CONFIG = JSON.parse($("screen-config").textContent);
export const TIME_ZONE = CONFIG.time_zone || "Asia/Shanghai";
export const PAGE_SIZE = 50;

export const state = {
  mode: "queue",          // "queue": a queue's rows; "search": the search results
  queue: null,            // the open queue's name
  counts: [],             // [{name, label, kind, count}] from GET /api/queues/
  query: "",              // the last valid search, as a query string without limit/offset
  searched: false,        // a search ran on this page
  offset: 0,
  total: 0,
  rows: [],               // the page's rows as the API gave them
  selected: new Set(),    // work order ids chosen for bulk urge
  loading: 0,             // sequence number of the latest table request (older answers are dropped)
};

// --- time in the city's zone -----------------------------------------------------------------------
const lang = document.documentElement.lang || "zh-hans";
let dateFormat;
try {
  dateFormat = new Intl.DateTimeFormat(lang, { timeZone: TIME_ZONE, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
} catch (error) {
  dateFormat = new Intl.DateTimeFormat(undefined, { timeZone: TIME_ZONE, month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit" });
}
export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return isNaN(date) ? iso : dateFormat.format(date);
}
// Minutes east of UTC of the city's zone at an instant.
function zoneOffsetMinutes(ms) {
  const parts = {};
  new Intl.DateTimeFormat("en-US", { timeZone: TIME_ZONE, hourCycle: "h23", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(new Date(ms)).forEach(function (p) { parts[p.type] = p.value; });
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}
// "2026-03-02T09:30" typed as city time -> "2026-03-02T09:30:00+08:00" (the API refuses times without an offset)
export function localInputToIso(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
  if (!m) return "";
  const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  const offset = zoneOffsetMinutes(guess - zoneOffsetMinutes(guess) * 60000);
  const pad = function (n) { return String(n).padStart(2, "0"); };
  const abs = Math.abs(offset);
  return m[1] + "-" + m[2] + "-" + m[3] + "T" + m[4] + ":" + m[5] + ":00" + (offset >= 0 ? "+" : "-") +
    pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
}
export function isoToLocalInput(iso) {
  const date = new Date(iso);
  if (isNaN(date)) return "";
  const local = new Date(date.getTime() + zoneOffsetMinutes(date.getTime()) * 60000);
  return local.toISOString().slice(0, 16);
}

// 预警 / 黄牌 / 红牌
export function levelLabel(level) {
  if (level === "serious") return gettext("Red card");
  if (level === "overdue") return gettext("Yellow card");
  if (level === "warning") return gettext("Warning");
  return "";
}
export function countText(n) {
  return fmt(gettext("%(count)s rows"), { count: n });
}
