/*
 * The incident details panel of the commander's map (emergency.js holds the shared namespace; see its list
 * of modules). The panel takes over the command map's details box (HotlineCommand.releaseDetails) and shows the
 * incident's state, level and type, the workflow buttons the API allows, linked agencies with their tasks,
 * the assigned units, the recommended units (emergency-assign.js), sending to a partner centre
 * (emergency-eido.js), the command timeline and the CAP export link, all kept current by live events. The
 * forms live in emergency-forms.js.
 */
(function () {
  "use strict";

  const S = window.HotlineEmergency;
  if (!S) return;
  const E = S.E;
  const el = S.el;
  const clear = S.clear;
  const fmt = S.fmt;
  const gettext = S.gettext;
  const api = S.api;
  const throttle = S.throttle;  // live events come in bursts

  const detailsBox = document.getElementById("cmd-details");
  const detailsBody = document.getElementById("cmd-details-body");
  const detailsTitle = document.getElementById("cmd-details-title");
  const ticketTitle = detailsTitle.textContent;

  const COMMAND_ACTIONS = ["confirm", "dispatch", "arrive", "control", "close", "cancel"];
  const TIMING_KEYS = [
    ["call_to_dispatch_seconds", gettext("Call to dispatch")],
    ["dispatch_to_en_route_seconds", gettext("Dispatch to en route")],
    ["dispatch_to_scene_seconds", gettext("Dispatch to scene")],
    ["call_to_scene_seconds", gettext("Call to scene")],
    ["time_on_scene_seconds", gettext("Time on scene")],
  ];

  const workflowLabels = new Map();
  const workflowLoaded = api("GET", "/api/workflow/").then(function (rows) {
    rows.forEach(function (r) { workflowLabels.set(r.machine + ":" + r.action, r.label); });
  }).catch(function () { /* labels only make the text nicer */ });

  let panel = null;    // the open incident panel: {id, generation, nodes...}

  function actionLabel(machine, action) {
    const plain = machine === "unit" ? action.replace(/^unit_/, "") : action;
    return workflowLabels.get(machine + ":" + plain) || workflowLabels.get(machine + ":" + action) || action;
  }

  function stateName(machine, code) {
    if (machine === "incident") return S.incidentStateNames.get(code) || code;
    if (machine === "incident_task") return S.taskStatusNames.get(code) || code;
    if (machine === "unit") return S.unitStatusNames.get(code) || code;
    return code;
  }

  function button(text, attrs, onClick) {
    const node = el("button", Object.assign({ type: "button", text: text }, attrs || {}));
    if (onClick) node.addEventListener("click", onClick);
    return node;
  }

  function setStatus(node, text, isError) {
    if (!node) return;
    node.textContent = text || "";
    node.classList.toggle("cmd-error", Boolean(isError));
  }

  // Field errors under their inputs ([data-field]); the message (and errors of fields the form does not
  // show) on the form's status line.
  function showProblem(form, problem) {
    form.querySelectorAll(".emg-field-error").forEach(function (node) { node.remove(); });
    const elsewhere = [];
    Object.keys(problem.fields || {}).forEach(function (name) {
      const text = [].concat(problem.fields[name]).join(" ");
      const holder = form.querySelector("[data-field=\"" + name + "\"]");
      if (holder) holder.appendChild(el("span", { class: "emg-field-error cmd-error", text: text }));
      else elsewhere.push(name + ": " + text);
    });
    setStatus(form.querySelector(".emg-form-status"), [problem.message].concat(elsewhere).join(" "), true);
  }

  function field(label, name, control) {
    return el("label", { class: "emg-field", dataset: { field: name } }, el("span", { text: label }), control);
  }


  // --- taking the details box over and giving it back ------------------------------------------------------

  function takeDetails(title) {
    S.stopPicking();
    if (window.HotlineCommand) window.HotlineCommand.releaseDetails();
    detailsTitle.textContent = title;
    detailsBox.parentNode.classList.add("emg-panel-open");
    clear(detailsBody);
  }

  function letGo() {
    S.stopPicking();
    panel = null;
    if (S.selectedIncident !== null) {
      S.selectedIncident = null;
      S.refreshSelection();
    }
    detailsTitle.textContent = ticketTitle;
    detailsBox.parentNode.classList.remove("emg-panel-open");
  }

  function closePanel() {
    letGo();
    clear(detailsBody);
    detailsBody.appendChild(el("p", { class: "cmd-hint", text: gettext("Select a ticket on the map or in the live feed.") }));
  }

  // --- the incident panel ------------------------------------------------------------------------------------

  function selectIncident(id, pan) {
    takeDetails(gettext("Incident details"));
    S.selectedIncident = id;
    S.refreshSelection();
    panel = buildPanel(id);
    refreshPanel();
    const inc = S.incidents.get(id);
    const map = S.map();
    if (pan && inc && map) map.setView(S.toMap(inc.latitude, inc.longitude), Math.max(map.getZoom(), 14));
  }

  function buildPanel(id) {
    const p = { id: id, generation: 0, assignedUnitIds: new Set(), linkForm: null };
    p.number = el("h3", { class: "cmd-number", id: "emg-inc-number", text: "…" });
    const zoomTo = button(gettext("Zoom to"), null, function () {
      const inc = S.incidents.get(id);
      const map = S.map();
      if (inc && map) map.setView(S.toMap(inc.latitude, inc.longitude), Math.max(map.getZoom(), 15));
    });
    const cap = el("a", {
      class: "emg-cap",
      href: "/api/incidents/" + id + "/cap/",
      target: "_blank",
      rel: "noopener",
      text: gettext("CAP alert"),
      title: gettext("Export as a Common Alerting Protocol 1.2 alert"),
    });
    const close = button(S.pgettext("details panel", "Close"), { "aria-label": gettext("Close the incident details") }, closePanel);
    detailsBody.appendChild(el("div", { class: "cmd-details-head" }, p.number, el("div", { class: "cmd-details-actions" }, zoomTo, cap, close)));
    p.badges = el("p", { class: "cmd-badges" });
    p.title = el("p", { class: "cmd-title" });
    p.status = el("p", { class: "emg-status", role: "status", "aria-live": "polite" });
    p.actions = el("div", { class: "emg-actions", id: "emg-actions" });
    p.summary = el("dl", { class: "cmd-dl" });
    p.description = el("p", { class: "cmd-description", hidden: true });
    [p.badges, p.title, p.status, p.actions, p.summary, p.description].forEach(function (n) { detailsBody.appendChild(n); });

    p.linkButton = button(gettext("Link agency"), { id: "emg-link", hidden: true }, function () { S.openLinkForm(p); });
    detailsBody.appendChild(el("div", { class: "emg-section-head" }, el("h3", { class: "cmd-subtitle", text: gettext("Linked agencies") }), p.linkButton));
    p.linkHost = el("div");
    p.agencies = el("ul", { class: "emg-agencies", id: "emg-agencies" });
    detailsBody.appendChild(p.linkHost);
    detailsBody.appendChild(p.agencies);

    detailsBody.appendChild(el("h3", { class: "cmd-subtitle", text: gettext("Assigned units") }));
    p.assigned = el("ul", { class: "emg-assigned", id: "emg-assigned" });
    detailsBody.appendChild(p.assigned);

    p.recsSection = el("div", { hidden: true });
    p.assignAll = button(gettext("Assign all recommended"), { id: "emg-assign-all", class: "emg-primary" }, function () {
      const ids = (p.assignAll.dataset.unitIds || "").split(",").filter(Boolean).map(Number);
      if (ids.length) S.assignUnits(p, ids, p.assignAll);
    });
    p.recsSection.appendChild(el("div", { class: "emg-section-head" }, el("h3", { class: "cmd-subtitle", text: gettext("Recommended units") }), p.assignAll));
    p.recs = el("div", { class: "emg-recs", id: "emg-recs" });
    p.recsSection.appendChild(p.recs);
    detailsBody.appendChild(p.recsSection);

    p.sendHost = el("div", { class: "emg-send", id: "emg-send", hidden: true });  // emergency-eido.js
    detailsBody.appendChild(p.sendHost);

    detailsBody.appendChild(el("h3", { class: "cmd-subtitle", text: gettext("Command timeline") }));
    p.timeline = el("ol", { class: "cmd-timeline", id: "emg-timeline" });
    detailsBody.appendChild(p.timeline);
    p.refreshSoon = throttle(function () { refreshPanel(); }, 300);
    p.refreshRecsSoon = throttle(function () { S.loadRecommendations(p); }, 1500);
    p.refreshRecsLater = throttle(function () { S.loadRecommendations(p); }, 5000);
    return p;
  }

  function refreshPanel() {
    const p = panel;
    if (!p) return;
    const generation = ++p.generation;
    Promise.all([
      api("GET", "/api/incidents/" + p.id + "/"),
      api("GET", "/api/incidents/" + p.id + "/assignments/").catch(function () { return null; }),
      workflowLoaded,
    ]).then(function (results) {
      if (panel !== p || generation !== p.generation) return;
      const detail = results[0];
      S.upsertIncident(detail);
      fillPanel(p, detail, results[1]);
      const live = S.TERMINAL.indexOf(detail.state) < 0;
      p.recsSection.hidden = !(E.may_assign && live);
      if (E.may_assign && live) S.loadRecommendations(p);
    }).catch(function (problem) {
      if (panel !== p || generation !== p.generation) return;
      if (problem.status === 404) {
        closePanel();
        return;
      }
      setStatus(p.status, fmt(gettext("Could not load the incident (%(error)s)."), { error: problem.message }), true);
    });
  }

  function fillPanel(p, d, assignments) {
    p.number.textContent = d.number;
    clear(p.badges);
    p.badges.appendChild(el("span", { class: "cmd-badge emg-state emg-state-" + d.state, id: "emg-inc-state", dataset: { state: d.state }, text: S.incidentStateNames.get(d.state) || d.state }));
    p.badges.appendChild(document.createTextNode(" "));
    p.badges.appendChild(el("span", { class: "cmd-badge", style: "background:" + (S.LEVEL_COLOURS[d.level] || "#64748b"), text: S.levelNames.get(d.level) || d.level }));
    p.badges.appendChild(document.createTextNode(" "));
    p.badges.appendChild(el("span", { class: "cmd-badge cmd-badge-urgency", text: S.incidentTypeNames.get(d.type) || d.type }));
    if (d.public_alert) {
      p.badges.appendChild(document.createTextNode(" "));
      p.badges.appendChild(el("span", { class: "cmd-badge emg-alert-badge", text: gettext("Public alert") }));
    }
    p.title.textContent = d.title || "";

    clear(p.actions);
    if (E.may_command) {
      COMMAND_ACTIONS.filter(function (a) { return (d.available_actions || []).indexOf(a) >= 0; }).forEach(function (action) {
        const node = button(actionLabel("incident", action), { class: "emg-action emg-action-" + action, dataset: { action: action } }, function () { runAction(p, action, node); });
        p.actions.appendChild(node);
      });
    }

    clear(p.summary);
    function row(label, value) {
      if (value === null || value === undefined || value === "") return;
      p.summary.appendChild(el("dt", { text: label }));
      p.summary.appendChild(el("dd", { text: String(value) }));
    }
    row(gettext("Address"), d.address);
    row(gettext("District"), d.district_name);
    if (d.area_kind === "circle") row(gettext("Affected area"), fmt(gettext("Circle, radius %(r)s"), { r: S.formatDistance(d.area_radius_m) }));
    else if (d.area_kind === "polygon") row(gettext("Affected area"), gettext("Polygon"));
    row(gettext("Reported"), S.formatDateTime(d.reported_at));
    row(gettext("Commander"), d.commander && d.commander.name);
    row(gettext("Reports"), (d.tickets || []).map(function (t) { return t.number; }).join(", "));
    if (d.merged_into) row(gettext("Merged into"), d.merged_into.number);
    p.description.hidden = !d.description;
    p.description.textContent = d.description || "";

    p.linkButton.hidden = !(E.may_command && S.TERMINAL.indexOf(d.state) < 0);
    clear(p.agencies);
    (d.agencies || []).forEach(function (link) {
      const item = el("li", { dataset: { agencyId: String(link.agency.id), status: link.status } },
        el("div", { class: "emg-agency-head" },
          el("strong", { text: link.agency.name }),
          el("span", { class: "emg-task-status emg-task-" + link.status, text: S.taskStatusNames.get(link.status) || link.status })),
        el("div", { class: "emg-task", text: link.task }));
      const extra = [];
      if (link.people_count) extra.push(fmt(gettext("%(n)s people"), { n: link.people_count }));
      if (link.contact_name) extra.push(link.contact_name);
      if (link.contact_phone) extra.push(link.contact_phone);
      if (extra.length) item.appendChild(el("div", { class: "cmd-muted", text: extra.join(" · ") }));
      if (link.decline_reason) item.appendChild(el("div", { class: "cmd-note", text: link.decline_reason }));
      p.agencies.appendChild(item);
    });
    if (!p.agencies.children.length) p.agencies.appendChild(el("li", { class: "cmd-hint", text: gettext("No agency linked yet.") }));

    clear(p.assigned);
    p.assignedUnitIds = new Set();
    ((assignments && assignments.assignments) || []).forEach(function (a) {
      p.assignedUnitIds.add(a.unit);
      const unit = S.units.get(a.unit);
      const status = a.cleared_at ? "returning" : (unit ? unit.status : a.unit_status);
      const go = button(a.call_sign, { class: "cmd-link", dataset: { unitId: String(a.unit) } }, function () { S.centreOnUnit(a.unit); });
      const item = el("li", { class: a.cleared_at ? "emg-cleared" : "", dataset: { unitId: String(a.unit), status: status } },
        el("span", { class: "emg-unit-chip emg-status-" + status, text: S.TYPE_LETTERS[a.unit_type] || "?" }), " ", go, " ",
        el("span", { class: "emg-unit-status", text: a.cleared_at ? gettext("Cleared") : (S.unitStatusNames.get(status) || status) }));
      const when = [];
      if (a.eta_seconds !== null && a.eta_seconds !== undefined && !a.on_scene_at && !a.cleared_at) when.push(fmt(gettext("ETA %(t)s"), { t: S.formatDuration(a.eta_seconds) }));
      if (a.on_scene_at && a.dispatched_at) when.push(fmt(gettext("on scene after %(t)s"), { t: S.formatDuration((Date.parse(a.on_scene_at) - Date.parse(a.dispatched_at)) / 1000) }));
      if (when.length) item.appendChild(el("span", { class: "cmd-muted", text: " · " + when.join(" · ") }));
      p.assigned.appendChild(item);
    });
    if (!p.assigned.children.length) {
      // Forces marked as sent by hand (the command step, e.g. a linked agency sent its own) are not units
      // of this map: say so rather than "none sent yet" under a state that says they were.
      const sentByHand = ["dispatched", "on_scene", "controlled"].indexOf(d.state) >= 0;
      p.assigned.appendChild(el("li", { class: "cmd-hint", text: sentByHand ? gettext("No units of this map assigned; the forces were sent outside it.") : gettext("No units assigned yet.") }));
    }

    clear(p.timeline);
    (d.timeline || []).slice().reverse().forEach(function (t) {
      let what = actionLabel(t.machine, t.action);
      const data = t.data || {};
      if (t.machine === "unit" && data.call_sign) what = data.call_sign + " · " + what;
      const to = t.machine === "unit" ? data.unit_to : t.to_state;
      const from = t.machine === "unit" ? data.unit_from : t.from_state;
      if (to && to !== from) what += " → " + stateName(t.machine, to);
      const item = el("li", { dataset: { action: t.action } },
        el("time", { datetime: t.created_at, text: S.formatDateTime(t.created_at) }), " ", el("strong", { text: what }));
      const who = [t.actor, t.agency].filter(Boolean).join(" · ");
      if (who) item.appendChild(el("div", { class: "cmd-muted", text: who }));
      const timings = TIMING_KEYS.filter(function (k) { return data[k[0]] !== null && data[k[0]] !== undefined; })
        .map(function (k) { return k[1] + " " + S.formatDuration(data[k[0]]); });
      if (data.distance_m !== null && data.distance_m !== undefined) timings.push(fmt(gettext("distance %(d)s"), { d: S.formatDistance(data.distance_m) }));
      if (timings.length) item.appendChild(el("div", { class: "emg-timing", text: timings.join(" · ") }));
      if (t.note) item.appendChild(el("div", { class: "cmd-note", text: t.note }));
      p.timeline.appendChild(item);
    });
    if (!p.timeline.children.length) p.timeline.appendChild(el("li", { class: "cmd-hint", text: gettext("No entries.") }));
    S.fillSendToPartner(p, d);
  }

  function runAction(p, action, node) {
    let note = "";
    if (action === "cancel") {
      // Cancelling needs a reason on the command timeline.
      note = (window.prompt(gettext("Why is this incident cancelled?")) || "").trim();
      if (!note) return;
    }
    node.disabled = true;
    setStatus(p.status, gettext("Working…"));
    api("POST", "/api/incidents/" + p.id + "/" + action + "/", { note: note }).then(function () {
      setStatus(p.status, "");
      refreshPanel();
    }).catch(function (problem) {
      node.disabled = false;
      setStatus(p.status, problem.message, true);
    });
  }

  // --- live events -----------------------------------------------------------------------------------

  function onPanelEvent(event) {
    const p = panel;
    if (!p) return;
    const payload = event.payload || {};
    if (event.type.indexOf("incident.") === 0) {
      if ((payload.incident && payload.incident.id === p.id) || payload.merged_id === p.id) p.refreshSoon();
      return;
    }
    const unit = payload.unit;
    if (!unit) return;
    if (unit.incident_id === p.id || p.assignedUnitIds.has(unit.id)) {
      if (event.type === "unit.status_changed") p.refreshSoon();
      else p.refreshRecsLater();
    } else if (event.type === "unit.status_changed") {
      p.refreshRecsSoon();  // a unit became (un)available
    } else if (unit.status === "available") {
      p.refreshRecsLater();  // distances changed
    }
  }

  // --- wiring ---------------------------------------------------------------------------------------------

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape" || e.defaultPrevented || (!panel && !S.isPicking())) return;
    const map = S.map();
    const inside = detailsBox.contains(document.activeElement) || (map && map.getContainer().contains(document.activeElement));
    if (inside) closePanel();
  });

  S.ui = { button: button, setStatus: setStatus, showProblem: showProblem, field: field };
  S.takeDetails = takeDetails;
  S.closePanel = closePanel;
  S.refreshPanel = refreshPanel;
  S.currentPanel = function () { return panel; };
  // Another form takes the details box: the incident panel (if any) is gone.
  S.dropPanel = function () {
    panel = null;
    if (S.selectedIncident !== null) {
      S.selectedIncident = null;
      S.refreshSelection();
    }
  };
  S.selectIncident = selectIncident;
  S.onPanelEvent = onPanelEvent;
  S.reloadPanel = function () { if (panel) refreshPanel(); };
  S.onTicketSelected = function () { if (panel || S.isPicking() || S.selectedIncident !== null) letGo(); };
})();
