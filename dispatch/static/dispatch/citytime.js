/*
 * Times in the city's time zone (the screen's configuration, time_zone; Asia/Shanghai by default) whatever the
 * browser's zone: showing an instant, reading and filling datetime-local inputs typed as city time, and
 * durations. Shared by the screens' ES modules (the agency inbox, the ticket page); no page state.
 */

const gettext = window.gettext || function (s) { return s; };  // Django's JavaScriptCatalog
const fmt = function (template, values) {
  return window.interpolate ? window.interpolate(template, values, true)
    : template.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
};
const configNode = document.getElementById("screen-config");
export const TIME_ZONE = (configNode && JSON.parse(configNode.textContent).time_zone) || "Asia/Shanghai";

const lang = document.documentElement.lang || "zh-hans";
let dateFormat;
try {
  dateFormat = new Intl.DateTimeFormat(lang, { timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false });
} catch (error) {
  dateFormat = new Intl.DateTimeFormat(undefined, { timeZone: TIME_ZONE, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}
/** An instant (ISO 8601) as the city's date and time; "" when there is none. */
export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return isNaN(date) ? "" : dateFormat.format(date);
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
/** An instant as a datetime-local input's value in city time ("2026-11-25T18:00"). */
export function isoToLocalInput(iso) {
  const p = zoneParts(new Date(iso).getTime());
  return p.year + "-" + p.month + "-" + p.day + "T" + p.hour + ":" + p.minute;
}
/** A length of time as people read it: "2 d 3 h", "3 h 5 min", "5 min 12 s". */
export function duration(ms) {
  const s = Math.floor(ms / 1000);
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days > 0) return fmt(gettext("%(days)s d %(hours)s h"), { days: days, hours: hours });
  if (hours > 0) return fmt(gettext("%(hours)s h %(minutes)s min"), { hours: hours, minutes: minutes });
  return fmt(gettext("%(minutes)s min %(seconds)s s"), { minutes: minutes, seconds: s % 60 });
}
