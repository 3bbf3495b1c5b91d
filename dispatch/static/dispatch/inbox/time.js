/*
 * Agency inbox: time in the city's time zone (display, datetime-local inputs) and the deadlines: the
 * running clock of a work order, its countdown, the escalation cards' names.
 */

import { fmt, gettext, now } from "./helpers.js";
import { WARN_SHARE } from "./state.js";
// Display, datetime-local inputs and durations in the city's zone: shared with the ticket page.
import { duration, formatTime, isoToLocalInput, localInputToIso } from "../citytime.js";

export { formatTime, isoToLocalInput, localInputToIso };

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
