/*
 * Incident and unit lines in the commander's live feed. the command map (emergency/command/) asks every hook for a feed line
 * (hook.feedLine(event, context)) before its own ticket and work-order lines; this module answers for
 * incident.* events and unit status changes: one translated line and what a click opens (the incident's
 * panel, or the unit on the map when it works on no incident). Unit moves never reach the feed: AVL fixes
 * arrive every few seconds per unit and would drown everything else. See emergency.js.
 */
(function () {
  "use strict";

  const S = window.HotlineEmergency;
  if (!S) return;
  const fmt = S.fmt;
  const gettext = S.gettext;
  const SAID_ELSEWHERE = ["merge", "absorb"];  // incident.merged says it better
  const EXTRA_ACTIONS = { transfer: gettext("Transferred to an emergency line") };
  const fed = new Set();  // event ids already given a line: each event at most once

  function incidentNumber(id) {
    const inc = S.incidents.get(id);
    return inc ? inc.number : "#" + id;
  }

  function openIncident(id) {
    return function () { S.selectIncident(id, true); };
  }

  function incidentLine(event, context) {
    const p = event.payload || {};
    const inc = p.incident || {};
    const number = inc.number || incidentNumber(inc.id);
    const line = { open: openIncident(inc.id), className: "emg-feed-incident emg-feed-level-" + (inc.level || "") };
    const agency = p.task ? context.agencyName(p.task.agency_id) || "#" + p.task.agency_id : "";
    switch (event.type) {
      case "incident.created":
        line.text = fmt(gettext("New incident %(number)s: %(type)s, level %(level)s"), {
          number: number,
          type: S.incidentTypeNames.get(inc.type) || inc.type,
          level: inc.level,
        });
        if (inc.title) line.text += " · " + inc.title;
        return line;
      case "incident.changed":
        if (SAID_ELSEWHERE.indexOf(p.action) >= 0) return null;
        if (String(p.action).indexOf("unit_") === 0) return null;  // unit.status_changed says it, with the unit
        if (p.from_state !== p.to_state) {
          line.text = fmt(gettext("Incident %(number)s: %(state)s"), { number: number, state: S.incidentStateNames.get(p.to_state) || p.to_state });
        } else {
          const action = context.actionName("incident", p.action);
          line.text = fmt(gettext("Incident %(number)s: %(action)s"), { number: number, action: action === p.action ? EXTRA_ACTIONS[p.action] || action : action });
        }
        return line;
      case "incident.linked":
        line.text = fmt(gettext("Incident %(number)s: %(agency)s linked"), { number: number, agency: agency });
        return line;
      case "incident.agency_changed": {
        const status = p.from_state !== p.to_state
          ? S.taskStatusNames.get(p.to_state) || p.to_state
          : context.actionName("incident_task", p.action);
        line.text = fmt(gettext("Incident %(number)s: %(agency)s %(status)s"), { number: number, agency: agency, status: status });
        return line;
      }
      case "incident.merged":
        line.text = fmt(gettext("Incident %(duplicate)s merged into %(number)s"), { duplicate: p.merged_number, number: number });
        return line;
      default:
        return null;
    }
  }

  function unitLine(event) {
    const p = event.payload || {};
    const u = p.unit || {};
    const status = S.unitStatusNames.get(p.to_state || u.status) || p.to_state || u.status;
    const line = { className: "emg-feed-unit" };
    if (u.incident_id) {
      const number = incidentNumber(u.incident_id);
      line.open = openIncident(u.incident_id);
      line.text = p.action === "dispatch"
        ? fmt(gettext("%(unit)s assigned to incident %(number)s"), { unit: u.call_sign, number: number })
        : fmt(gettext("%(unit)s %(status)s · incident %(number)s"), { unit: u.call_sign, status: status, number: number });
    } else {
      line.open = function () { S.centreOnUnit(u.id); };
      line.text = fmt(gettext("%(unit)s: %(status)s"), { unit: u.call_sign, status: status });
    }
    return line;
  }

  // A feed line {text, open, className} for an emergency event, or null (not ours, a unit move, said before).
  function feedLine(event, context) {
    if (!event || !event.type || fed.has(event.id)) return null;
    let line = null;
    if (event.type.indexOf("incident.") === 0) line = incidentLine(event, context);
    else if (event.type === "unit.status_changed") line = unitLine(event);
    if (!line || !line.text) return null;
    if (fed.size > 50000) fed.clear();
    fed.add(event.id);
    return line;
  }

  S.feedLine = feedLine;
})();
