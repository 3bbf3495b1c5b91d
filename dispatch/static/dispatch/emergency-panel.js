/*
 * The incident details panel of the commander's map and the incident forms (emergency.js holds the map
 * layers, lists and board and shares them through window.HotlineEmergency).
 *
 * The panel takes over command.js's details box (HotlineCommand.releaseDetails) and shows the incident's
 * state, level and type, the workflow buttons the API allows, linked agencies with their tasks, the
 * assigned units, the recommended units with one-click assignment, the command timeline and the CAP
 * export link, all kept current by live events. Forms: "create incident from ticket" in the ticket panel
 * and "new incident" at a point picked on the map.
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
  const TICKET_TERMINAL = ["closed", "merged", "cancelled"];
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
  let agencyList = null;   // promise of [{id, code, name}]

  let panel = null;    // the open incident panel: {id, generation, nodes...}
  let picking = null;  // the open "new incident" form: {marker, onClick}

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

  function typeSelect(value) {
    const select = el("select", { name: "type", required: true });
    select.appendChild(el("option", { value: "", text: gettext("Choose a type") }));
    (E.incident_types || []).forEach(function (t) { select.appendChild(el("option", { value: t.code, text: t.name, selected: t.code === value })); });
    return select;
  }

  function levelSelect(value) {
    const select = el("select", { name: "level" });
    (E.incident_levels || []).forEach(function (l) { select.appendChild(el("option", { value: l.code, text: l.name, selected: l.code === (value || "IV") })); });
    return select;
  }

  function areaBody(form) {
    const radius = Number(form.elements.area_radius_m.value || 0);
    return radius > 0 ? { area_kind: "circle", area_radius_m: radius } : { area_kind: "point" };
  }

  // --- taking the details box over and giving it back ------------------------------------------------------

  function takeDetails(title) {
    stopPicking();
    if (window.HotlineCommand) window.HotlineCommand.releaseDetails();
    detailsTitle.textContent = title;
    detailsBox.parentNode.classList.add("emg-panel-open");
    clear(detailsBody);
  }

  function letGo() {
    stopPicking();
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
    if (pan && inc && map) map.setView([inc.latitude, inc.longitude], Math.max(map.getZoom(), 14));
  }

  function buildPanel(id) {
    const p = { id: id, generation: 0, assignedUnitIds: new Set(), linkForm: null };
    p.number = el("h3", { class: "cmd-number", id: "emg-inc-number", text: "…" });
    const zoomTo = button(gettext("Zoom to"), null, function () {
      const inc = S.incidents.get(id);
      const map = S.map();
      if (inc && map) map.setView([inc.latitude, inc.longitude], Math.max(map.getZoom(), 15));
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

    p.linkButton = button(gettext("Link agency"), { id: "emg-link", hidden: true }, function () { openLinkForm(p); });
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
      if (ids.length) assign(p, ids, p.assignAll);
    });
    p.recsSection.appendChild(el("div", { class: "emg-section-head" }, el("h3", { class: "cmd-subtitle", text: gettext("Recommended units") }), p.assignAll));
    p.recs = el("div", { class: "emg-recs", id: "emg-recs" });
    p.recsSection.appendChild(p.recs);
    detailsBody.appendChild(p.recsSection);

    detailsBody.appendChild(el("h3", { class: "cmd-subtitle", text: gettext("Command timeline") }));
    p.timeline = el("ol", { class: "cmd-timeline", id: "emg-timeline" });
    detailsBody.appendChild(p.timeline);
    p.refreshSoon = throttle(function () { refreshPanel(); }, 300);
    p.refreshRecsSoon = throttle(function () { loadRecommendations(p); }, 1500);
    p.refreshRecsLater = throttle(function () { loadRecommendations(p); }, 5000);
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
      if (E.may_assign && live) loadRecommendations(p);
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
    if (!p.assigned.children.length) p.assigned.appendChild(el("li", { class: "cmd-hint", text: gettext("No units assigned yet.") }));

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

  // --- recommendations and assignment -------------------------------------------------------------------

  function loadRecommendations(p) {
    if (panel !== p || !E.may_assign || p.recsSection.hidden) return;
    const generation = p.generation;
    api("GET", "/api/incidents/" + p.id + "/recommendations/?per_type=3").then(function (data) {
      if (panel !== p || generation !== p.generation) return;
      renderRecommendations(p, data);
    }).catch(function (problem) {
      if (panel !== p) return;
      clear(p.recs);
      p.recs.appendChild(el("p", { class: "cmd-error", text: fmt(gettext("Could not load the recommendations (%(error)s)."), { error: problem.message }) }));
    });
  }

  function renderRecommendations(p, data) {
    const focusedUnit = p.recs.contains(document.activeElement) ? document.activeElement.dataset.unitId : null;
    clear(p.recs);
    const firstPicks = [];
    (data.types || []).forEach(function (unitType) {
      const rows = (data.recommendations || {})[unitType] || [];
      p.recs.appendChild(el("h4", { class: "emg-rec-type", text: S.unitTypeNames.get(unitType) || unitType }));
      if (!rows.length) {
        p.recs.appendChild(el("p", { class: "cmd-hint", text: gettext("No available unit of this type with a fresh position.") }));
        return;
      }
      const list = el("ul", { class: "emg-rec-list", dataset: { type: unitType } });
      rows.forEach(function (r, index) {
        const u = r.unit;
        if (index === 0) firstPicks.push(u.id);
        const go = button(u.call_sign, { class: "cmd-link" }, function () { S.centreOnUnit(u.id); });
        const assignButton = button(gettext("Assign"), {
          class: "emg-assign" + (index === 0 ? " emg-primary" : ""),
          dataset: { unitId: String(u.id) },
          "aria-label": fmt(gettext("Assign %(unit)s"), { unit: u.call_sign }),
        }, function () { assign(p, [u.id], assignButton); });
        const facts = [formatFacts(r)];
        if (u.agency) facts.unshift(u.agency.name);
        const item = el("li", { class: "emg-rec", dataset: { unitId: String(u.id) } },
          el("span", { class: "emg-unit-chip emg-status-" + u.status + (u.stale ? " emg-stale" : ""), text: S.TYPE_LETTERS[u.unit_type] || "?" }),
          el("span", { class: "emg-rec-main" },
            go,
            el("span", { class: "emg-rec-facts", text: facts.join(" · ") }),
            r.in_district ? el("span", { class: "emg-tag emg-tag-district", text: gettext("In district") }) : null,
            u.stale ? el("span", { class: "emg-tag", text: gettext("Stale") }) : null),
          assignButton);
        list.appendChild(item);
        if (focusedUnit === String(u.id)) assignButton.focus();
      });
      p.recs.appendChild(list);
    });
    if (!(data.types || []).length) p.recs.appendChild(el("p", { class: "cmd-hint", text: gettext("No unit types are needed for this incident type.") }));
    p.assignAll.disabled = !firstPicks.length;
    p.assignAll.dataset.unitIds = firstPicks.join(",");
  }

  function formatFacts(r) {
    const parts = [S.formatDistance(r.distance_m)];
    if (r.eta_seconds !== null && r.eta_seconds !== undefined) parts.push(fmt(gettext("ETA %(t)s"), { t: S.formatDuration(r.eta_seconds) }));
    return parts.join(" · ");
  }

  function assign(p, unitIds, node) {
    node.disabled = true;
    setStatus(p.status, gettext("Assigning…"));
    api("POST", "/api/incidents/" + p.id + "/assign/", { unit_ids: unitIds }).then(function (data) {
      const signs = ((data && data.assignments) || []).map(function (a) { return a.call_sign; }).join(", ");
      setStatus(p.status, fmt(gettext("Assigned: %(units)s"), { units: signs }));
      showIncidentWithUnits(p.id, unitIds);
      refreshPanel();
    }).catch(function (problem) {
      node.disabled = false;
      setStatus(p.status, problem.message, true);
      loadRecommendations(p);
    });
  }

  // Frame the incident and the units just sent to it, so that the commander can follow them in.
  function showIncidentWithUnits(incidentId, unitIds) {
    const map = S.map();
    const inc = S.incidents.get(incidentId);
    if (!map || !inc) return;
    const points = [[inc.latitude, inc.longitude]];
    unitIds.forEach(function (id) {
      const u = S.units.get(id);
      if (u && u.position) points.push([u.position.lat, u.position.lon]);
    });
    map.fitBounds(L.latLngBounds(points).pad(0.25), { maxZoom: 16 });
  }

  // --- linking an agency --------------------------------------------------------------------------------

  function agencies() {
    if (!agencyList) {
      agencyList = api("GET", "/api/agencies/?limit=500").then(function (data) { return data.results || data; }).catch(function (problem) {
        agencyList = null;
        throw problem;
      });
    }
    return agencyList;
  }

  function openLinkForm(p) {
    if (p.linkForm) {
      p.linkForm.querySelector("select").focus();
      return;
    }
    const select = el("select", { name: "agency_id", required: true }, el("option", { value: "", text: gettext("Choose an agency") }));
    const task = el("input", { name: "task", type: "text", maxlength: "500", required: true });
    const submit = el("button", { type: "submit", class: "emg-primary", text: gettext("Link") });
    const cancel = button(gettext("Cancel"), null, function () { closeLinkForm(p); });
    const form = el("form", { class: "emg-form", id: "emg-link-form" },
      field(gettext("Agency"), "agency_id", select),
      field(gettext("Task"), "task", task),
      el("p", { class: "emg-form-status", role: "status" }),
      el("div", { class: "emg-form-buttons" }, submit, cancel));
    p.linkForm = form;
    p.linkHost.appendChild(form);
    const suggestedTasks = new Map();
    Promise.all([
      api("GET", "/api/incidents/" + p.id + "/suggested-agencies/").catch(function () { return []; }),
      agencies().catch(function () { return []; }),
    ]).then(function (results) {
      const suggested = results[0].filter(function (s) { return !s.linked; });
      const group = el("optgroup", { label: gettext("Suggested for this incident") });
      suggested.forEach(function (s) {
        suggestedTasks.set(String(s.agency.id), s.task);
        group.appendChild(el("option", { value: String(s.agency.id), text: s.agency.name }));
      });
      if (suggested.length) select.appendChild(group);
      const others = el("optgroup", { label: gettext("All agencies") });
      results[1].forEach(function (a) {
        if (!suggestedTasks.has(String(a.id))) others.appendChild(el("option", { value: String(a.id), text: a.name }));
      });
      select.appendChild(others);
    });
    select.addEventListener("change", function () {
      const text = suggestedTasks.get(select.value);
      if (text && !task.value) task.value = text;
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      submit.disabled = true;
      api("POST", "/api/incidents/" + p.id + "/agencies/", { agency_id: Number(select.value), task: task.value }).then(function () {
        closeLinkForm(p);
        refreshPanel();
      }).catch(function (problem) {
        submit.disabled = false;
        showProblem(form, problem);
      });
    });
    select.focus();
  }

  function closeLinkForm(p) {
    if (p.linkForm) p.linkForm.remove();
    p.linkForm = null;
    p.linkButton.focus();
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

  // --- "create incident from ticket" --------------------------------------------------------------------

  function onTicketDetails(ticket, body) {
    if (!E.may_report || TICKET_TERMINAL.indexOf(ticket.state) >= 0) return;
    const box = el("div", { class: "emg-escalate" });
    const open = button(gettext("Create incident from this ticket"), { id: "emg-escalate", class: "emg-primary" }, function () {
      open.hidden = true;
      box.appendChild(escalateForm(ticket, function () { open.hidden = false; open.focus(); }));
    });
    box.appendChild(open);
    const after = body.querySelector(".cmd-dl");
    if (after && after.nextSibling) body.insertBefore(box, after.nextSibling);
    else body.appendChild(box);
  }

  function escalateForm(ticket, onCancel) {
    const join = el("select", { name: "incident_id" }, el("option", { value: "", text: gettext("A new incident") }));
    Array.from(S.incidents.values()).filter(function (i) { return S.TERMINAL.indexOf(i.state) < 0; }).forEach(function (i) {
      join.appendChild(el("option", { value: String(i.id), text: i.number + " · " + (i.title || S.incidentTypeNames.get(i.type)) }));
    });
    const type = typeSelect("");
    const level = levelSelect("IV");
    const radius = el("input", { name: "area_radius_m", type: "number", min: "0", step: "50", value: "200" });
    const title = el("input", { name: "title", type: "text", maxlength: "120", value: ticket.title || "" });
    const newOnly = el("div", { class: "emg-grid" },
      field(gettext("Incident type"), "type", type),
      field(gettext("Level"), "level", level),
      field(gettext("Affected radius (m, 0 = point)"), "area_radius_m", radius),
      field(gettext("Title"), "title", title));
    const submit = el("button", { type: "submit", class: "emg-primary", id: "emg-escalate-submit", text: gettext("Create incident") });
    const form = el("form", { class: "emg-form", id: "emg-escalate-form" },
      field(gettext("Report into"), "incident_id", join),
      newOnly,
      el("p", { class: "emg-form-status", role: "status" }),
      el("div", { class: "emg-form-buttons" }, submit, button(gettext("Cancel"), null, function () {
        form.remove();
        onCancel();
      })));
    join.addEventListener("change", function () {
      newOnly.hidden = Boolean(join.value);
      type.required = !join.value;
      submit.textContent = join.value ? gettext("Add to incident") : gettext("Create incident");
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      const body = join.value
        ? { incident_id: Number(join.value) }
        : Object.assign({ type: type.value, level: level.value, title: title.value }, areaBody(form));
      submit.disabled = true;
      api("POST", "/api/tickets/" + ticket.id + "/escalate/", body).then(function (result) {
        S.upsertIncident(result.incident);
        selectIncident(result.incident.id, true);
        detailsBox.focus();
      }).catch(function (problem) {
        submit.disabled = false;
        showProblem(form, problem);
      });
    });
    setTimeout(function () { type.focus(); }, 0);
    return form;
  }

  // --- "new incident" at a point on the map ----------------------------------------------------------

  function stopPicking() {
    if (!picking) return;
    const map = S.map();
    if (map) {
      map.off("click", picking.onClick);
      map.removeLayer(picking.marker);
      map.getContainer().classList.remove("emg-picking");
    }
    picking = null;
  }

  function startNewIncident(latlng) {
    const map = S.map();
    if (!map) return;
    takeDetails(gettext("New incident"));
    panel = null;
    if (S.selectedIncident !== null) {
      S.selectedIncident = null;
      S.refreshSelection();
    }
    const at = latlng || map.getCenter();
    const lat = el("input", { name: "latitude", type: "number", step: "any", min: "-90", max: "90", value: at.lat.toFixed(6), required: true });
    const lon = el("input", { name: "longitude", type: "number", step: "any", min: "-180", max: "180", value: at.lng.toFixed(6), required: true });
    const type = typeSelect("");
    const level = levelSelect("IV");
    const radius = el("input", { name: "area_radius_m", type: "number", min: "0", step: "50", value: "200" });
    const title = el("input", { name: "title", type: "text", maxlength: "120" });
    const address = el("input", { name: "address", type: "text", maxlength: "200" });
    const description = el("textarea", { name: "description", rows: "3" });
    const submit = el("button", { type: "submit", class: "emg-primary", id: "emg-new-submit", text: gettext("Report incident") });
    const form = el("form", { class: "emg-form", id: "emg-new-form" },
      el("p", { class: "cmd-hint", text: gettext("Click the map to place the incident, or type its coordinates (WGS84).") }),
      el("div", { class: "emg-grid" },
        field(gettext("Incident type"), "type", type),
        field(gettext("Level"), "level", level),
        field(gettext("Latitude"), "latitude", lat),
        field(gettext("Longitude"), "longitude", lon),
        field(gettext("Affected radius (m, 0 = point)"), "area_radius_m", radius)),
      field(gettext("Title"), "title", title),
      field(gettext("Address"), "address", address),
      field(gettext("Description"), "description", description),
      el("p", { class: "emg-form-status", role: "status" }),
      el("div", { class: "emg-form-buttons" }, submit, button(gettext("Cancel"), null, closePanel)));
    detailsBody.appendChild(form);

    const marker = L.marker(at, {
      pane: "emg-incidents",
      keyboard: false,
      interactive: false,
      icon: L.divIcon({ className: "emg-new-mark", html: "", iconSize: [18, 18], iconAnchor: [9, 9] }),
    }).addTo(map);
    function onClick(e) {
      lat.value = e.latlng.lat.toFixed(6);
      lon.value = e.latlng.lng.toFixed(6);
      marker.setLatLng(e.latlng);
    }
    picking = { marker: marker, onClick: onClick };
    map.on("click", onClick);
    map.getContainer().classList.add("emg-picking");
    [lat, lon].forEach(function (input) {
      input.addEventListener("change", function () {
        const point = [Number(lat.value), Number(lon.value)];
        if (isFinite(point[0]) && isFinite(point[1])) marker.setLatLng(point);
      });
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      const body = Object.assign({
        type: type.value,
        level: level.value,
        title: title.value,
        address: address.value,
        description: description.value,
        latitude: Number(lat.value),
        longitude: Number(lon.value),
        coordinate_system: "wgs84",
      }, areaBody(form));
      submit.disabled = true;
      api("POST", "/api/incidents/", body).then(function (incident) {
        S.upsertIncident(incident);
        selectIncident(incident.id, false);
        detailsBox.focus();
      }).catch(function (problem) {
        submit.disabled = false;
        showProblem(form, problem);
      });
    });
    type.focus();
  }

  // --- wiring ---------------------------------------------------------------------------------------------

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape" || e.defaultPrevented || (!panel && !picking)) return;
    const map = S.map();
    const inside = detailsBox.contains(document.activeElement) || (map && map.getContainer().contains(document.activeElement));
    if (inside) closePanel();
  });

  S.selectIncident = selectIncident;
  S.onPanelEvent = onPanelEvent;
  S.reloadPanel = function () { if (panel) refreshPanel(); };
  S.onTicketDetails = onTicketDetails;
  S.onTicketSelected = function () { if (panel || picking || S.selectedIncident !== null) letGo(); };
  S.startNewIncident = startNewIncident;
})();
