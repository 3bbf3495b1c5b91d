/*
 * The incident panel's recommendations (the nearest fresh available units of each needed type) with
 * one-click assignment, and the "link agency" form. See emergency.js and emergency-panel.js.
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
  const button = S.ui.button;
  const setStatus = S.ui.setStatus;
  const showProblem = S.ui.showProblem;
  const field = S.ui.field;

  let agencyList = null;   // promise of [{id, code, name}]

  // --- recommendations and assignment -------------------------------------------------------------------

  function loadRecommendations(p) {
    if (S.currentPanel() !== p || !E.may_assign || p.recsSection.hidden) return;
    const generation = p.generation;
    api("GET", "/api/incidents/" + p.id + "/recommendations/?per_type=3").then(function (data) {
      if (S.currentPanel() !== p || generation !== p.generation) return;
      renderRecommendations(p, data);
    }).catch(function (problem) {
      if (S.currentPanel() !== p) return;
      clear(p.recs);
      p.recs.appendChild(el("p", { class: "cmd-error", text: fmt(gettext("Could not load the recommendations (%(error)s)."), { error: problem.message }) }));
    });
  }

  function renderRecommendations(p, data) {
    const focusedUnit = p.recs.contains(document.activeElement) ? document.activeElement.dataset.unitId : null;
    clear(p.recs);
    // "Assign all recommended" sends every unit listed here, as its label says (not only each type's first).
    const recommended = [];
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
        recommended.push(u.id);
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
    p.assignAll.disabled = !recommended.length;
    p.assignAll.dataset.unitIds = recommended.join(",");
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
      S.refreshPanel();
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
    const points = [S.toMap(inc.latitude, inc.longitude)];
    unitIds.forEach(function (id) {
      const u = S.units.get(id);
      if (u && u.position) points.push(S.toMap(u.position.lat, u.position.lon));
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
        S.refreshPanel();
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

  S.loadRecommendations = loadRecommendations;
  S.assignUnits = assign;
  S.openLinkForm = openLinkForm;
})();
