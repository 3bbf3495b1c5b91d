/*
 * Emergency layer of the commander's map: incidents and their affected areas on the map, the incident list
 * beside it and its filters (state, level, type), the incident and area layer switches. See emergency.js.
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
  const TERMINAL = S.TERMINAL;
  const LEVEL_COLOURS = S.LEVEL_COLOURS;
  const LEVEL_ORDER = S.LEVEL_ORDER;
  const incidentTypeNames = S.incidentTypeNames;
  const levelNames = S.levelNames;
  const incidentStateNames = S.incidentStateNames;
  const incidents = S.incidents;
  const incidentShapes = new Map(); // id -> {marker, area}

  const incidentList = document.getElementById("emg-incident-list");
  const incidentCount = document.getElementById("emg-inc-count");
  const fIncState = document.getElementById("emg-f-state");
  const fIncLevel = document.getElementById("emg-f-level");
  const fIncType = document.getElementById("emg-f-type");
  const lIncidents = document.getElementById("emg-l-incidents");
  const lAreas = document.getElementById("emg-l-areas");
  const newButton = document.getElementById("emg-new");

  // --- incidents on the map -----------------------------------------------------------------------------

  function incidentVisible(inc) {
    if (fIncState.value === "active" && TERMINAL.indexOf(inc.state) >= 0) return false;
    if (fIncLevel.value && inc.level !== fIncLevel.value) return false;
    if (fIncType.value && inc.type !== fIncType.value) return false;
    return true;
  }

  function incidentLabel(inc) {
    return [inc.number, incidentTypeNames.get(inc.type) || inc.type, levelNames.get(inc.level) || inc.level,
      incidentStateNames.get(inc.state) || inc.state, inc.title].filter(Boolean).join(" · ");
  }

  function areaLayer(inc) {
    const colour = LEVEL_COLOURS[inc.level] || "#64748b";
    const style = { pane: "emg-areas", color: colour, weight: 2, opacity: 0.9, fillColor: colour, fillOpacity: 0.15, dashArray: TERMINAL.indexOf(inc.state) >= 0 ? "4 4" : null, interactive: false };
    if (inc.area_kind === "circle" && inc.area_radius_m) return L.circle(S.toMap(inc.latitude, inc.longitude), Object.assign({ radius: inc.area_radius_m }, style));
    if (inc.area_kind === "polygon" && inc.area_geojson) {
      return L.geoJSON(inc.area_geojson, { pane: "emg-areas", interactive: false, coordsToLatLng: S.coordsToLatLng, style: function () { return style; } });
    }
    return null;
  }

  function drawIncident(inc) {
    const old = incidentShapes.get(inc.id);
    if (old) {
      S.layers.incidents.removeLayer(old.marker);
      if (old.area) S.layers.areas.removeLayer(old.area);
      incidentShapes.delete(inc.id);
    }
    if (!incidentVisible(inc) || inc.latitude === null || inc.longitude === null) return;
    const marker = L.marker(S.toMap(inc.latitude, inc.longitude), {
      pane: "emg-incidents",
      keyboard: true,
      title: incidentLabel(inc),
      icon: L.divIcon({ className: "emg-incident", html: "<span class=\"emg-incident-mark\"></span>", iconSize: [30, 30], iconAnchor: [15, 15] }),
    });
    marker.on("add", function () {
      const node = marker.getElement();
      decorateIncident(node, inc);
      node.addEventListener("keydown", function (e) {
        if (e.key !== "Enter" && e.key !== " ") return;
        e.preventDefault();
        S.selectIncident(inc.id, false);
      });
    });
    marker.on("click", function () { S.selectIncident(inc.id, false); });
    S.layers.incidents.addLayer(marker);
    const area = areaLayer(inc);
    if (area) S.layers.areas.addLayer(area);
    incidentShapes.set(inc.id, { marker: marker, area: area });
  }

  function decorateIncident(node, inc) {
    if (!node) return;
    node.classList.add("emg-level-" + inc.level);
    node.classList.toggle("emg-finished", TERMINAL.indexOf(inc.state) >= 0);
    node.classList.toggle("emg-selected", S.selectedIncident === inc.id);
    node.dataset.incidentId = String(inc.id);
    node.dataset.state = inc.state;
    node.setAttribute("aria-label", incidentLabel(inc));
    node.firstChild.textContent = inc.level;
  }

  function drawIncidents() {
    if (!S.map()) return;
    S.layers.incidents.clearLayers();
    S.layers.areas.clearLayers();
    incidentShapes.clear();
    incidents.forEach(drawIncident);
  }

  // The selected incident changed: mark it (and its units) on the map and in the list.
  function refreshSelection() {
    incidentShapes.forEach(function (shape, id) {
      const inc = incidents.get(id);
      if (inc) decorateIncident(shape.marker.getElement(), inc);
    });
    S.decorateUnits();
    renderIncidentList();
  }

  function upsertIncident(inc) {
    incidents.set(inc.id, inc);
    if (S.map()) drawIncident(inc);
    renderIncidentList();
  }

  function removeIncident(id) {
    incidents.delete(id);
    const old = incidentShapes.get(id);
    if (old) {
      S.layers.incidents.removeLayer(old.marker);
      if (old.area) S.layers.areas.removeLayer(old.area);
      incidentShapes.delete(id);
    }
    renderIncidentList();
  }

  function renderIncidentList() {
    const rows = Array.from(incidents.values()).filter(incidentVisible).sort(function (a, b) {
      const byLevel = (LEVEL_ORDER[a.level] || 9) - (LEVEL_ORDER[b.level] || 9);
      return byLevel || b.id - a.id;
    });
    const hadFocus = incidentList.contains(document.activeElement) ? document.activeElement.dataset.incidentId : null;
    const scrolled = incidentList.scrollTop;
    clear(incidentList);
    incidentCount.textContent = fmt(gettext("%(count)s shown"), { count: rows.length });
    if (!rows.length) {
      incidentList.appendChild(el("li", { class: "cmd-hint", text: gettext("No incidents.") }));
      return;
    }
    rows.forEach(function (inc) {
      const button = el("button", {
        type: "button",
        class: "emg-item",
        dataset: { incidentId: String(inc.id) },
        "aria-current": S.selectedIncident === inc.id ? "true" : null,
      },
      el("span", { class: "emg-level emg-level-" + inc.level, text: inc.level, title: levelNames.get(inc.level) || inc.level }),
      el("span", { class: "emg-item-main" },
        el("span", { class: "emg-item-title", text: inc.title || incidentTypeNames.get(inc.type) || inc.number }),
        el("span", { class: "emg-item-sub", text: [inc.number, incidentTypeNames.get(inc.type), incidentStateNames.get(inc.state)].filter(Boolean).join(" · ") })));
      button.addEventListener("click", function () { S.selectIncident(inc.id, true); });
      incidentList.appendChild(el("li", null, button));
      if (hadFocus === String(inc.id)) button.focus({ preventScroll: true });
    });
    incidentList.scrollTop = scrolled;
  }

  function loadIncidents() {
    const params = new URLSearchParams({ limit: "500" });
    if (fIncState.value === "active") params.set("state", "active");
    return api("GET", "/api/incidents/?" + params.toString()).then(function (data) {
      incidents.clear();
      (data.results || data).forEach(function (inc) { incidents.set(inc.id, inc); });
      drawIncidents();
      renderIncidentList();
    });
  }

  // An incident event: fetch the incident again (events carry a summary without the area).
  const incidentRefreshes = new Map();
  function refreshIncidentSoon(id) {
    if (incidentRefreshes.has(id)) return;
    incidentRefreshes.set(id, setTimeout(function () {
      incidentRefreshes.delete(id);
      api("GET", "/api/incidents/" + id + "/").then(function (inc) {
        upsertIncident(inc);
      }).catch(function (problem) {
        if (problem.status === 404) removeIncident(id);
      });
    }, 250));
  }

  // --- wiring -------------------------------------------------------------------------------------------

  function toggleLayer(checkbox, layer) {
    const map = S.map();
    if (!map) return;
    if (checkbox.checked) map.addLayer(layer);
    else map.removeLayer(layer);
  }

  (E.incident_levels || []).forEach(function (l) { fIncLevel.appendChild(el("option", { value: l.code, text: l.name })); });
  (E.incident_types || []).forEach(function (t) { fIncType.appendChild(el("option", { value: t.code, text: t.name })); });
  fIncState.addEventListener("change", function () { loadIncidents().catch(function () { /* the list says so */ }); });
  [fIncLevel, fIncType].forEach(function (select) {
    select.addEventListener("change", function () {
      drawIncidents();
      renderIncidentList();
    });
  });
  lIncidents.addEventListener("change", function () { toggleLayer(lIncidents, S.layers.incidents); });
  lAreas.addEventListener("change", function () { toggleLayer(lAreas, S.layers.areas); });
  if (E.may_report) {
    newButton.hidden = false;
    newButton.addEventListener("click", function () { S.startNewIncident(null); });
  }

  S.upsertIncident = upsertIncident;
  S.refreshSelection = refreshSelection;
  S.loadIncidents = loadIncidents;
  S.refreshIncidentSoon = refreshIncidentSoon;
})();
