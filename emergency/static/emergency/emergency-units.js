/*
 * Emergency layer of the commander's map: units moving live with status colours (grey when their position
 * is stale), the unit status board (type x status counts), the filtered unit list and the unit layer
 * switch. Positions and statuses arrive as unit.moved / unit.status_changed summaries (emergency-live.js).
 * See emergency.js.
 */
(function () {
  "use strict";

  const S = window.HotlineEmergency;
  if (!S) return;
  const el = S.el;
  const clear = S.clear;
  const gettext = S.gettext;
  const api = S.api;
  const getAll = S.getAll;
  const throttle = S.throttle;
  const isStale = S.isStale;
  const lang = S.lang;
  const STATUS_COLOURS = S.STATUS_COLOURS;
  const STATUS_SHORT = S.STATUS_SHORT;
  const TYPE_LETTERS = S.TYPE_LETTERS;
  const unitTypeNames = S.unitTypeNames;
  const unitStatusNames = S.unitStatusNames;
  const unitTypes = S.unitTypes;
  const unitStatuses = S.unitStatuses;
  const units = S.units;
  const unitMarkers = new Map();    // id -> L.marker

  const lUnits = document.getElementById("emg-l-units");
  const board = document.getElementById("emg-board");
  const unitFilter = document.getElementById("emg-u-filter");
  const unitList = document.getElementById("emg-unit-list");

  // --- units on the map ---------------------------------------------------------------------------------

  function unitLabel(u) {
    const parts = [u.call_sign, unitTypeNames.get(u.unit_type) || u.unit_type, unitStatusNames.get(u.status) || u.status];
    if (u.agency) parts.push(u.agency.name);
    if (isStale(u)) parts.push(gettext("position stale"));
    return parts.join(" · ");
  }

  function decorateUnit(node, u) {
    if (!node) return;
    unitStatuses.forEach(function (code) { node.classList.toggle("emg-status-" + code, code === u.status); });
    node.classList.toggle("emg-stale", isStale(u));
    node.classList.toggle("emg-on-selected", S.selectedIncident !== null && u.incident_id === S.selectedIncident);
    node.dataset.unitId = String(u.id);
    node.dataset.status = u.status;
    node.dataset.type = u.unit_type;
    node.dataset.stale = isStale(u) ? "1" : "0";
    if (u.position) {
      node.dataset.lat = String(u.position.lat);
      node.dataset.lon = String(u.position.lon);
    }
    node.setAttribute("aria-label", unitLabel(u));
    node.title = unitLabel(u);
    node.firstChild.textContent = TYPE_LETTERS[u.unit_type] || "?";
  }

  function drawUnit(u) {
    let marker = unitMarkers.get(u.id);
    if (!u.position) {
      if (marker) {
        S.layers.units.removeLayer(marker);
        unitMarkers.delete(u.id);
      }
      return;
    }
    const at = S.toMap(u.position.lat, u.position.lon);
    if (!marker) {
      marker = L.marker(at, {
        pane: "emg-units",
        keyboard: false,  // the unit list beside the map is the keyboard way to a unit
        icon: L.divIcon({ className: "emg-unit", html: "<span class=\"emg-unit-letter\"></span>", iconSize: [20, 20], iconAnchor: [10, 10] }),
      });
      marker.on("add", function () { decorateUnit(marker.getElement(), units.get(u.id) || u); });
      marker.on("click", function () {
        const current = units.get(u.id);
        if (current && current.incident_id) S.selectIncident(current.incident_id, false);
        highlightUnitRow(u.id);
      });
      unitMarkers.set(u.id, marker);
      S.layers.units.addLayer(marker);
    } else {
      marker.setLatLng(at);
      decorateUnit(marker.getElement(), u);
    }
  }

  function drawUnits() {
    if (!S.map()) return;
    S.layers.units.clearLayers();
    unitMarkers.clear();
    units.forEach(drawUnit);
  }

  function centreOnUnit(id) {
    const map = S.map();
    const u = units.get(id);
    if (!u || !u.position || !map) return;
    map.setView(S.toMap(u.position.lat, u.position.lon), Math.max(map.getZoom(), 15));
    const marker = unitMarkers.get(id);
    const node = marker && marker.getElement();
    if (node) {
      node.classList.remove("emg-flash");
      void node.offsetWidth;  // restart the animation
      node.classList.add("emg-flash");
    }
  }

  function highlightUnitRow(id) {
    const button = unitList.querySelector("button[data-unit-id=\"" + id + "\"]");
    if (button) button.scrollIntoView({ block: "nearest" });
  }

  // --- unit status board and list -------------------------------------------------------------------

  function renderBoard() {
    const counts = {};
    const stale = {};
    unitTypes.forEach(function (t) {
      counts[t] = {};
      stale[t] = 0;
      unitStatuses.forEach(function (s) { counts[t][s] = 0; });
    });
    units.forEach(function (u) {
      if (!counts[u.unit_type] || counts[u.unit_type][u.status] === undefined) return;
      counts[u.unit_type][u.status] += 1;
      if (isStale(u)) stale[u.unit_type] += 1;
    });
    const caption = board.querySelector("caption");
    clear(board);
    board.appendChild(caption);
    const head = el("tr", null, el("th", { scope: "col", text: gettext("Type") }));
    unitStatuses.forEach(function (s) {
      head.appendChild(el("th", { scope: "col", title: unitStatusNames.get(s), "aria-label": unitStatusNames.get(s) },
        el("span", { class: "emg-swatch", style: "background:" + STATUS_COLOURS[s] }),
        el("span", { class: "emg-board-abbr", text: STATUS_SHORT[s] || s })));
    });
    head.appendChild(el("th", { scope: "col", title: gettext("Position stale"), text: gettext("Stale") }));
    board.appendChild(el("thead", null, head));
    const body = el("tbody");
    const totals = {};
    unitStatuses.forEach(function (s) { totals[s] = 0; });
    let staleTotal = 0;
    unitTypes.forEach(function (t) {
      const tr = el("tr", null, el("th", { scope: "row" },
        el("span", { class: "emg-type-letter", text: TYPE_LETTERS[t] }), " ", unitTypeNames.get(t) || t));
      unitStatuses.forEach(function (s) {
        const n = counts[t][s];
        totals[s] += n;
        tr.appendChild(el("td", { class: n ? "" : "emg-zero", dataset: { type: t, status: s }, text: String(n) }));
      });
      staleTotal += stale[t];
      tr.appendChild(el("td", { class: stale[t] ? "emg-stale-count" : "emg-zero", dataset: { type: t, status: "stale" }, text: String(stale[t]) }));
      body.appendChild(tr);
    });
    const totalRow = el("tr", { class: "emg-total" }, el("th", { scope: "row", text: gettext("Total") }));
    unitStatuses.forEach(function (s) { totalRow.appendChild(el("td", { dataset: { type: "all", status: s }, text: String(totals[s]) })); });
    totalRow.appendChild(el("td", { dataset: { type: "all", status: "stale" }, text: String(staleTotal) }));
    body.appendChild(totalRow);
    board.appendChild(body);
  }

  function fillUnitFilter() {
    const byType = el("optgroup", { label: gettext("By type") });
    unitTypes.forEach(function (t) { byType.appendChild(el("option", { value: "type:" + t, text: unitTypeNames.get(t) })); });
    const byStatus = el("optgroup", { label: gettext("By status") });
    unitStatuses.forEach(function (s) { byStatus.appendChild(el("option", { value: "status:" + s, text: unitStatusNames.get(s) })); });
    unitFilter.appendChild(byType);
    unitFilter.appendChild(byStatus);
    unitFilter.appendChild(el("option", { value: "stale", text: gettext("Position stale") }));
  }

  function unitMatches(u) {
    const f = unitFilter.value;
    if (!f) return true;
    if (f === "stale") return isStale(u);
    const parts = f.split(":");
    return parts[0] === "type" ? u.unit_type === parts[1] : u.status === parts[1];
  }

  function renderUnitList() {
    const rows = Array.from(units.values()).filter(unitMatches).sort(function (a, b) {
      return unitTypes.indexOf(a.unit_type) - unitTypes.indexOf(b.unit_type) || a.call_sign.localeCompare(b.call_sign, lang);
    });
    const focused = unitList.contains(document.activeElement) ? document.activeElement.dataset.unitId : null;
    const scrolled = unitList.scrollTop;
    clear(unitList);
    if (!rows.length) {
      unitList.appendChild(el("li", { class: "cmd-hint", text: gettext("No units.") }));
      return;
    }
    rows.forEach(function (u) {
      const stale = isStale(u);
      const button = el("button", {
        type: "button",
        class: "emg-item emg-unit-row" + (stale ? " emg-row-stale" : ""),
        dataset: { unitId: String(u.id), status: u.status },
        "aria-label": unitLabel(u),
        disabled: u.position ? null : true,
      },
      el("span", { class: "emg-unit-chip emg-status-" + u.status + (stale ? " emg-stale" : ""), text: TYPE_LETTERS[u.unit_type] || "?" }),
      el("span", { class: "emg-item-main" },
        el("span", { class: "emg-item-title", text: u.call_sign }),
        el("span", { class: "emg-item-sub", text: [unitStatusNames.get(u.status), u.agency && u.agency.name].filter(Boolean).join(" · ") })),
      stale ? el("span", { class: "emg-tag", text: gettext("Stale") }) : null);
      button.addEventListener("click", function () { centreOnUnit(u.id); });
      unitList.appendChild(el("li", null, button));
      if (focused === String(u.id)) button.focus({ preventScroll: true });
    });
    unitList.scrollTop = scrolled;
  }

  const renderUnitSideSoon = throttle(function () {
    renderBoard();
    renderUnitList();
  }, 200);

  function loadUnits() {
    return getAll("/api/units/?limit=500").then(function (rows) {
      units.clear();
      rows.forEach(function (u) {
        u._statusAt = u.status_changed_at ? Date.parse(u.status_changed_at) : 0;
        units.set(u.id, u);
      });
      drawUnits();
      renderBoard();
      renderUnitList();
    });
  }

  function fetchUnit(id) {
    api("GET", "/api/units/" + id + "/").then(function (u) {
      u._statusAt = u.status_changed_at ? Date.parse(u.status_changed_at) : 0;
      units.set(u.id, u);
      drawUnit(u);
      renderUnitSideSoon();
    }).catch(function () { /* not ours to see */ });
  }

  // A unit summary from unit.moved / unit.status_changed: a newer fix moves the marker; a status change
  // applies unless the unit already shows a later one (replayed events arrive after a fresh load).
  function onUnitSummary(s, event) {
    if (!s) return;
    const u = units.get(s.id);
    if (!u) {
      fetchUnit(s.id);
      return;
    }
    if (s.latitude !== null && s.longitude !== null && s.latitude !== undefined) {
      const known = u.position && u.position.fix_at ? Date.parse(u.position.fix_at) : -Infinity;
      const fix = s.fix_at ? Date.parse(s.fix_at) : Infinity;
      if (fix >= known) {
        u.position = Object.assign({}, u.position || {}, { lat: s.latitude, lon: s.longitude, heading: s.heading, speed: s.speed, fix_at: s.fix_at });
      }
    }
    const at = event.at ? Date.parse(event.at) : Infinity;
    if (event.type === "unit.status_changed" ? at >= u._statusAt : at > u._statusAt) {
      u.status = s.status;
      u.incident_id = s.incident_id;
      if (event.type === "unit.status_changed") u._statusAt = at;
    }
    drawUnit(u);
    renderUnitSideSoon();
  }

  // --- wiring -------------------------------------------------------------------------------------------

  function decorateUnits() {
    unitMarkers.forEach(function (marker, id) { decorateUnit(marker.getElement(), units.get(id)); });
  }

  fillUnitFilter();
  unitFilter.addEventListener("change", renderUnitList);
  lUnits.addEventListener("change", function () {
    const map = S.map();
    if (!map) return;
    if (lUnits.checked) map.addLayer(S.layers.units);
    else map.removeLayer(S.layers.units);
  });
  // Staleness changes with time alone: look again every 10 s.
  setInterval(function () {
    if (!S.loaded) return;
    decorateUnits();
    renderUnitSideSoon();
  }, 10000);

  S.decorateUnits = decorateUnits;
  S.centreOnUnit = centreOnUnit;
  S.loadUnits = loadUnits;
  S.onUnitSummary = onUnitSummary;
})();
