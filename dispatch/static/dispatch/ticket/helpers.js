/*
 * Ticket page: the page's configuration, its countdowns and its toast. The rest is shared with the other screens
 * and only passed on from here: gettext, DOM, the server clock (Date header) and the JSON API from
 * ../inbox/helpers.js (the workbench's too), times in the city's zone from ../citytime.js. Nothing here knows
 * the page's state.
 */

import { $, api, el, fmt, gettext, noteServerDate, now } from "../inbox/helpers.js";
import { duration, formatTime, isoToLocalInput, localInputToIso } from "../citytime.js";

export { $, api, el, fmt, gettext, noteServerDate, now, formatTime, isoToLocalInput, localInputToIso };

export const config = JSON.parse(document.getElementById("screen-config").textContent);

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
