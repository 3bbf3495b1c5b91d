/*
 * Agency inbox: time in the city's time zone (display, datetime-local inputs) and the deadlines: the
 * running clock of a work order, its countdown, the escalation cards' names.
 */

import { fmt, gettext, now } from "./helpers.js";
import { TIME_ZONE, WARN_SHARE } from "./state.js";

const lang = document.documentElement.lang || "zh-hans";
let dateFormat;
try {
  dateFormat = new Intl.DateTimeFormat(lang, { timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false });
} catch (error) {
  dateFormat = new Intl.DateTimeFormat(undefined, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}
export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return isNaN(date) ? iso : dateFormat.format(date);
}
// Wall-clock parts of an instant in the city's time zone.
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
// "2026-11-25T18:00" typed as city time -> "2026-11-25T18:00:00+08:00"
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
  const seconds = s % 60;
  if (days > 0) return fmt(gettext("%(days)s d %(hours)s h"), { days: days, hours: hours });
  if (hours > 0) return fmt(gettext("%(hours)s h %(minutes)s min"), { hours: hours, minutes: minutes });
  return fmt(gettext("%(minutes)s min %(seconds)s s"), { minutes: minutes, seconds: seconds });
}
export function runningClock(wo) {
  const clocks = (wo.clocks || []).filter(function (c) { return !c.stopped_at; });
  return clocks.length ? clocks[clocks.length - 1] : null;
}
// {text, cls, title} of the running clock's countdown
export function countdown(wo) {
  const clock = runningClock(wo);
  if (!clock) return { text: gettext("No running deadline"), cls: "none", title: "" };
  if (!clock.due_at) {
    return { text: gettext("No deadline"), cls: "none", title: clock.due_error || "" };
  }
  const due = Date.parse(clock.due_at);
  const left = due - now();
  const title = dueText(clock) + (clock.due_provisional ? " - " + PROVISIONAL_HINT : "");
  const mark = clock.due_provisional ? " " + gettext("(provisional)") : "";
  if (left < 0) return { text: fmt(gettext("%(time)s overdue"), { time: duration(-left) }) + mark, cls: "over", title: title };
  const total = due - Date.parse(clock.started_at);
  // The policy's warning point when the server set one, else a share of the time.
  const warn = clock.warn_at ? now() >= Date.parse(clock.warn_at) : total > 0 && left < total * WARN_SHARE;
  return { text: fmt(gettext("%(time)s left"), { time: duration(left) }) + mark, cls: warn ? "warn" : "ok", title: title };
}
// A deadline computed on the provisional calendar of a year whose holiday schedule is not published yet.
export const PROVISIONAL_HINT = gettext("Provisional: the year's official holiday schedule is not published yet. The deadline never moves earlier when it is.");
export function dueText(clock) {
  const text = fmt(gettext("Due %(time)s"), { time: formatTime(clock.due_at) });
  return clock.due_provisional ? text + " " + gettext("(provisional)") : text;
}
// 预警 / 黄牌 / 红牌: the escalation ladder's levels as the screens name them
export function escalationLabel(level) {
  if (level === "serious") return gettext("Red card");
  if (level === "overdue") return gettext("Yellow card");
  return gettext("Warning");
}
export function dueSortKey(wo) {
  const clock = runningClock(wo);
  return clock && clock.due_at ? Date.parse(clock.due_at) : Infinity;
}
