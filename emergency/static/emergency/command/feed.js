/*
 * Commander's map, side panel: the live feed, one translated line per event (the emergency layer writes
 * the lines of its own events); a click opens the ticket (or the incident).
 */

import { el, fmt, formatTime, gettext } from "./helpers.js";
import { actionName, agencyById, emergencyHooks, FEED_MAX, stateName, subjectById, urgencyName } from "./state.js";
import { selectTicket } from "./details.js";

export const feedList = document.getElementById("cmd-feed-list");

// --- live feed -------------------------------------------------------------------------------------

function feedText(event) {
  const p = event.payload || {};
  const t = p.ticket || {};
  switch (event.type) {
    case "ticket.created": {
      const subject = subjectById.get(t.subject_id);
      let text = fmt(gettext("%(number)s %(state)s"), { number: t.number, state: stateName(t.state) });
      if (subject) text += " · " + subject.name;
      if (t.urgency && t.urgency !== "normal") text += " · " + urgencyName(t.urgency);
      return text;
    }
    case "ticket.changed":
      if (p.action === "merge") return null;  // ticket.merged says it better
      if (p.from_state === p.to_state) {
        return fmt(gettext("%(number)s %(action)s"), { number: t.number, action: actionName("ticket", p.action) });
      }
      return fmt(gettext("%(number)s %(state)s"), { number: t.number, state: stateName(p.to_state || t.state) });
    case "ticket.merged":
      return fmt(gettext("%(duplicate)s merged into %(number)s"), { duplicate: p.duplicate_number, number: t.number });
    case "work_order.created": {
      const wo = p.work_order || {};
      const agency = agencyById.get(wo.agency_id);
      return fmt(gettext("%(number)s sent to %(agency)s"), {
        number: wo.number,
        agency: agency ? agency.name : "#" + wo.agency_id,
      });
    }
    case "work_order.changed": {
      const wo = p.work_order || {};
      const agency = agencyById.get(wo.agency_id);
      return fmt(gettext("%(number)s %(agency)s: %(action)s"), {
        number: wo.number,
        agency: agency ? agency.name : "#" + wo.agency_id,
        action: actionName("work_order", p.action),
      });
    }
    case "work_order.escalated": {
      const agency = agencyById.get(p.agency_id);
      const agencyName = agency ? agency.name : gettext("the centre");
      const steps = p.escalations || [];
      const cardName = function (level) {
        return level === "serious" ? gettext("Red card") : level === "overdue" ? gettext("Yellow card") : gettext("Warning");
      };
      if (steps.length === 1) {
        const step = steps[0];
        return fmt(gettext("%(card)s: %(agency)s, %(stage)s stage of ticket #%(ticket)s"), {
          card: cardName(step.level),
          agency: agencyName,
          stage: ({ sign: gettext("sign"), handle: gettext("handle"), review: gettext("review"), revisit: gettext("revisit") })[step.stage] || step.stage,
          ticket: step.ticket_id,
        });
      }
      // A batch: one line per agency, counted by level.
      const counts = {};
      steps.forEach(function (step) { counts[step.level] = (counts[step.level] || 0) + 1; });
      const parts = ["serious", "overdue", "warning"].filter(function (level) { return counts[level]; }).map(function (level) {
        return fmt(gettext("%(card)s × %(count)s"), { card: cardName(level), count: counts[level] });
      });
      return fmt(gettext("%(cards)s: %(agency)s"), { cards: parts.join(", "), agency: agencyName });
    }
    default:
      return null;
  }
}

// The emergency layer writes the lines of its own events (incidents, unit statuses): {text, open, className}.
const feedContext = {
  actionName: actionName,
  agencyName: function (id) { const agency = agencyById.get(id); return agency ? agency.name : ""; },
};
function hookedFeedLine(event) {
  for (let i = 0; i < emergencyHooks.length; i += 1) {
    const line = emergencyHooks[i].feedLine ? emergencyHooks[i].feedLine(event, feedContext) : null;
    if (line) return line;
  }
  return null;
}

export function addFeedLine(event) {
  const hooked = hookedFeedLine(event);
  const text = hooked ? hooked.text : feedText(event);
  if (!text) return;
  const empty = feedList.querySelector(".cmd-feed-empty");
  if (empty) empty.remove();
  const time = el("time", { datetime: event.at, text: formatTime(event.at) });
  const p = event.payload || {};
  const urgency = (p.ticket && p.ticket.urgency) || "";
  let body;
  const open = hooked ? hooked.open : event.ticket_id ? function () { selectTicket(event.ticket_id, true); } : null;
  if (open) {
    // One tab stop for the whole feed (the newest line, or the one the user is on); arrows move within.
    const userInFeed = feedList.contains(document.activeElement);
    body = el("button", { type: "button", class: "cmd-link", text: text, tabindex: userInFeed ? "-1" : "0" });
    if (!userInFeed) feedList.querySelectorAll("button[tabindex='0']").forEach(function (b) { b.tabIndex = -1; });
    body.addEventListener("click", open);
  } else {
    body = el("span", { text: text });
  }
  const item = el("li", { class: "cmd-feed-item cmd-new" + (urgency && urgency !== "normal" ? " cmd-feed-" + urgency : "") + (hooked && hooked.className ? " " + hooked.className : "") },
    time, " ", body);
  feedList.insertBefore(item, feedList.firstChild);
  setTimeout(function () { item.classList.remove("cmd-new"); }, 2500);
  while (feedList.children.length > FEED_MAX) feedList.removeChild(feedList.lastChild);
}

export function onFeedKey(e) {
  const buttons = Array.prototype.slice.call(feedList.querySelectorAll("button"));
  const at = buttons.indexOf(document.activeElement);
  if (at < 0) return;
  let next = null;
  if (e.key === "ArrowDown") next = Math.min(buttons.length - 1, at + 1);
  else if (e.key === "ArrowUp") next = Math.max(0, at - 1);
  else if (e.key === "Home") next = 0;
  else if (e.key === "End") next = buttons.length - 1;
  if (next === null) return;
  e.preventDefault();
  buttons[at].tabIndex = -1;
  buttons[next].tabIndex = 0;
  buttons[next].focus();
}
