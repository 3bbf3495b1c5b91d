/*
 * The emergency layer of the commander's map (/command/): incidents with their affected areas, units
 * moving live with status colours, the unit status board, incident lists and filters. The incident
 * details panel (linked agencies, command timeline, recommendations with one-click assignment, workflow
 * actions, CAP export) and the incident forms live in emergency-panel.js, loaded right after this file.
 *
 * It plugs into command.js through window.HotlineCommandHooks (the map once built, every live event,
 * snapshots, the ticket panel) and shares its state with emergency-panel.js through window.HotlineEmergency.
 * Everything that comes from the server is put into the page with textContent, never as HTML.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("screen-config").textContent);
  const E = config.emergency || {};
  const gettext = window.gettext || function (s) { return s; };
  const pgettext = window.pgettext || function (_context, s) { return gettext(s); };
  const interpolate = window.interpolate || function (f, o) { return f.replace(/%\((\w+)\)s/g, function (_m, k) { return String(o[k]); }); };
  const lang = document.documentElement.lang || "zh-hans";

  const LEVEL_COLOURS = { I: "#7f1d1d", II: "#dc2626", III: "#f97316", IV: "#2563eb" };
  const LEVEL_ORDER = { I: 0, II: 1, III: 2, IV: 3 };
  const STATUS_COLOURS = {
    available: "#16a34a",
    dispatched: "#d97706",
    en_route: "#ea580c",
    on_scene: "#dc2626",
    returning: "#0891b2",
    out_of_service: "#6b7280",
  };
  // One letter per unit type inside the marker (translated: 警 消 救 援 修 in Chinese).
  const TYPE_LETTERS = {
    police_car: pgettext("unit type letter", "P"),
    fire_engine: pgettext("unit type letter", "F"),
    ambulance: pgettext("unit type letter", "A"),
    rescue_team: pgettext("unit type letter", "R"),
    repair_crew: pgettext("unit type letter", "U"),
  };
  // Column heads of the status board (narrow): 待命 已派 途中 到场 返回 停用 in Chinese.
  const STATUS_SHORT = {
    available: pgettext("unit status, short", "Avail."),
    dispatched: pgettext("unit status, short", "Disp."),
    en_route: pgettext("unit status, short", "Route"),
    on_scene: pgettext("unit status, short", "Scene"),
    returning: pgettext("unit status, short", "Ret."),
    out_of_service: pgettext("unit status, short", "OOS"),
  };
  const TERMINAL = ["closed", "cancelled", "merged"];
  const STALE_MS = (E.unit_stale_seconds || 120) * 1000;

  function names(list) { return new Map((list || []).map(function (c) { return [c.code, c.name]; })); }
  const incidentTypeNames = names(E.incident_types);
  const levelNames = names(E.incident_levels);
  const incidentStateNames = names(E.incident_states);
  const unitTypeNames = names(E.unit_types);
  const unitStatusNames = names(E.unit_statuses);
  const taskStatusNames = names(E.task_statuses);
  const unitTypes = (E.unit_types || []).map(function (t) { return t.code; });
  const unitStatuses = (E.unit_statuses || []).map(function (s) { return s.code; });

  // --- small helpers ----------------------------------------------------------------------------------

  function el(tag, attrs) {
    const node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        const value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "text") node.textContent = value;
        else if (key === "class") node.className = value;
        else if (key === "dataset") Object.keys(value).forEach(function (k) { node.dataset[k] = value[k]; });
        else node.setAttribute(key, value === true ? "" : value);
      });
    }
    for (let i = 2; i < arguments.length; i += 1) {
      const child = arguments[i];
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function fmt(template, values) {
    return interpolate(template, values, true);
  }

  function formatDateTime(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(lang, { timeZone: config.time_zone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  function formatDistance(metres) {
    if (metres === null || metres === undefined) return "";
    if (metres < 1000) return fmt(gettext("%(m)s m"), { m: Math.round(metres) });
    return fmt(gettext("%(km)s km"), { km: (metres / 1000).toFixed(1) });
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return fmt(gettext("%(s)s s"), { s: s });
    const minutes = Math.floor(s / 60);
    if (minutes < 60) return fmt(gettext("%(m)s min %(s)s s"), { m: minutes, s: s % 60 });
    return fmt(gettext("%(h)s h %(m)s min"), { h: Math.floor(minutes / 60), m: minutes % 60 });
  }

  // Runs fn once, ms after the first call of a burst: unlike a debounce, a steady stream of unit.moved
  // events cannot postpone it for ever.
  function throttle(fn, ms) {
    let timer = null;
    return function () {
      if (timer !== null) return;
      timer = setTimeout(function () {
        timer = null;
        fn();
      }, ms);
    };
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  let serverOffsetMs = 0;   // server clock minus ours, from the Date header (for staleness)

  // A JSON request; failures reject with {status, code, message, fields} (dispatch/api_errors.py).
  function api(method, url, body) {
    const init = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = csrfToken();
      init.body = JSON.stringify(body || {});
    }
    return fetch(url, init).catch(function () {
      throw { status: 0, code: "network", message: gettext("The server cannot be reached. Check the connection and try again."), fields: {} };
    }).then(function (response) {
      const date = response.headers.get("Date");
      if (date) serverOffsetMs = Date.parse(date) + 500 - Date.now();
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.ok) return data;
        const problem = { status: response.status, code: "error", message: "", fields: {} };
        if (data && typeof data === "object") {
          problem.code = data.code || problem.code;
          problem.message = typeof data.message === "string" ? data.message : "";
          problem.fields = data.fields && typeof data.fields === "object" ? data.fields : {};
        }
        if (!problem.message) problem.message = fmt(gettext("The request failed (HTTP %(status)s)."), { status: response.status });
        throw problem;
      });
    });
  }

  // Every page of a paginated list.
  function getAll(url) {
    const rows = [];
    function page(next) {
      return api("GET", next).then(function (data) {
        if (Array.isArray(data)) return data;
        data.results.forEach(function (r) { rows.push(r); });
        if (data.next) return page(data.next);
        return rows;
      });
    }
    return page(url);
  }

  function serverNow() { return Date.now() + serverOffsetMs; }

  // --- state --------------------------------------------------------------------------------------------

  let map = null;
  const layers = {};
  const incidents = new Map();      // id -> incident (list shape)
  const incidentShapes = new Map(); // id -> {marker, area}
  const units = new Map();          // id -> unit (UnitSerializer shape) plus _statusAt (ms)
  const unitMarkers = new Map();    // id -> L.marker
  let loaded = false;
  const pendingEvents = [];

  const side = document.getElementById("emg-side");
  const incidentList = document.getElementById("emg-incident-list");
  const incidentCount = document.getElementById("emg-inc-count");
  const fIncState = document.getElementById("emg-f-state");
  const fIncLevel = document.getElementById("emg-f-level");
  const fIncType = document.getElementById("emg-f-type");
  const lIncidents = document.getElementById("emg-l-incidents");
  const lAreas = document.getElementById("emg-l-areas");
  const lUnits = document.getElementById("emg-l-units");
  const board = document.getElementById("emg-board");
  const unitFilter = document.getElementById("emg-u-filter");
  const unitList = document.getElementById("emg-unit-list");
  const newButton = document.getElementById("emg-new");

  // Shared with emergency-panel.js (the details panel), which fills in the panel functions.
  const shared = window.HotlineEmergency = {
    config: config,
    E: E,
    gettext: gettext,
    pgettext: pgettext,
    el: el,
    clear: clear,
    fmt: fmt,
    api: api,
    formatDateTime: formatDateTime,
    formatDistance: formatDistance,
    formatDuration: formatDuration,
    throttle: throttle,
    LEVEL_COLOURS: LEVEL_COLOURS,
    STATUS_COLOURS: STATUS_COLOURS,
    TYPE_LETTERS: TYPE_LETTERS,
    TERMINAL: TERMINAL,
    incidentTypeNames: incidentTypeNames,
    levelNames: levelNames,
    incidentStateNames: incidentStateNames,
    unitTypeNames: unitTypeNames,
    unitStatusNames: unitStatusNames,
    taskStatusNames: taskStatusNames,
    incidents: incidents,
    units: units,
    map: function () { return map; },
    isStale: isStale,
    upsertIncident: upsertIncident,
    centreOnUnit: centreOnUnit,
    refreshSelection: function () { refreshSelection(); },
    selectedIncident: null,     // set by the panel
    // Filled in by emergency-panel.js:
    selectIncident: function () {},
    onPanelEvent: function () {},
    reloadPanel: function () {},
    onTicketDetails: function () {},
    onTicketSelected: function () {},
    startNewIncident: function () {},
  };

  // --- staleness ----------------------------------------------------------------------------------------

  function isStale(u) {
    if (!u.position || !u.position.fix_at) return true;
    return serverNow() - Date.parse(u.position.fix_at) > STALE_MS;
  }

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
    if (inc.area_kind === "circle" && inc.area_radius_m) return L.circle([inc.latitude, inc.longitude], Object.assign({ radius: inc.area_radius_m }, style));
    if (inc.area_kind === "polygon" && inc.area_geojson) {
      return L.geoJSON(inc.area_geojson, { pane: "emg-areas", interactive: false, style: function () { return style; } });
    }
    return null;
  }

  function drawIncident(inc) {
    const old = incidentShapes.get(inc.id);
    if (old) {
      layers.incidents.removeLayer(old.marker);
      if (old.area) layers.areas.removeLayer(old.area);
      incidentShapes.delete(inc.id);
    }
    if (!incidentVisible(inc) || inc.latitude === null || inc.longitude === null) return;
    const marker = L.marker([inc.latitude, inc.longitude], {
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
        shared.selectIncident(inc.id, false);
      });
    });
    marker.on("click", function () { shared.selectIncident(inc.id, false); });
    layers.incidents.addLayer(marker);
    const area = areaLayer(inc);
    if (area) layers.areas.addLayer(area);
    incidentShapes.set(inc.id, { marker: marker, area: area });
  }

  function decorateIncident(node, inc) {
    if (!node) return;
    node.classList.add("emg-level-" + inc.level);
    node.classList.toggle("emg-finished", TERMINAL.indexOf(inc.state) >= 0);
    node.classList.toggle("emg-selected", shared.selectedIncident === inc.id);
    node.dataset.incidentId = String(inc.id);
    node.dataset.state = inc.state;
    node.setAttribute("aria-label", incidentLabel(inc));
    node.firstChild.textContent = inc.level;
  }

  function drawIncidents() {
    if (!map) return;
    layers.incidents.clearLayers();
    layers.areas.clearLayers();
    incidentShapes.clear();
    incidents.forEach(drawIncident);
  }

  // The selected incident changed: mark it (and its units) on the map and in the list.
  function refreshSelection() {
    incidentShapes.forEach(function (shape, id) {
      const inc = incidents.get(id);
      if (inc) decorateIncident(shape.marker.getElement(), inc);
    });
    unitMarkers.forEach(function (marker, id) { decorateUnit(marker.getElement(), units.get(id)); });
    renderIncidentList();
  }

  function upsertIncident(inc) {
    incidents.set(inc.id, inc);
    if (map) drawIncident(inc);
    renderIncidentList();
  }

  function removeIncident(id) {
    incidents.delete(id);
    const old = incidentShapes.get(id);
    if (old) {
      layers.incidents.removeLayer(old.marker);
      if (old.area) layers.areas.removeLayer(old.area);
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
        "aria-current": shared.selectedIncident === inc.id ? "true" : null,
      },
      el("span", { class: "emg-level emg-level-" + inc.level, text: inc.level, title: levelNames.get(inc.level) || inc.level }),
      el("span", { class: "emg-item-main" },
        el("span", { class: "emg-item-title", text: inc.title || incidentTypeNames.get(inc.type) || inc.number }),
        el("span", { class: "emg-item-sub", text: [inc.number, incidentTypeNames.get(inc.type), incidentStateNames.get(inc.state)].filter(Boolean).join(" · ") })));
      button.addEventListener("click", function () { shared.selectIncident(inc.id, true); });
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
    node.classList.toggle("emg-on-selected", shared.selectedIncident !== null && u.incident_id === shared.selectedIncident);
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
        layers.units.removeLayer(marker);
        unitMarkers.delete(u.id);
      }
      return;
    }
    const at = [u.position.lat, u.position.lon];
    if (!marker) {
      marker = L.marker(at, {
        pane: "emg-units",
        keyboard: false,  // the unit list beside the map is the keyboard way to a unit
        icon: L.divIcon({ className: "emg-unit", html: "<span class=\"emg-unit-letter\"></span>", iconSize: [20, 20], iconAnchor: [10, 10] }),
      });
      marker.on("add", function () { decorateUnit(marker.getElement(), units.get(u.id) || u); });
      marker.on("click", function () {
        const current = units.get(u.id);
        if (current && current.incident_id) shared.selectIncident(current.incident_id, false);
        highlightUnitRow(u.id);
      });
      unitMarkers.set(u.id, marker);
      layers.units.addLayer(marker);
    } else {
      marker.setLatLng(at);
      decorateUnit(marker.getElement(), u);
    }
  }

  function drawUnits() {
    if (!map) return;
    layers.units.clearLayers();
    unitMarkers.clear();
    units.forEach(drawUnit);
  }

  function centreOnUnit(id) {
    const u = units.get(id);
    if (!u || !u.position || !map) return;
    map.setView([u.position.lat, u.position.lon], Math.max(map.getZoom(), 15));
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

  // --- events -------------------------------------------------------------------------------------------

  function applyEvent(event) {
    const p = event.payload || {};
    if (event.type === "unit.moved" || event.type === "unit.status_changed") {
      onUnitSummary(p.unit, event);
    } else if (event.type.indexOf("incident.") === 0) {
      if (p.incident) refreshIncidentSoon(p.incident.id);
      if (p.merged_id) refreshIncidentSoon(p.merged_id);
    }
    shared.onPanelEvent(event);
  }

  function onEvent(event) {
    if (!event || !event.type) return;
    if (event.type.indexOf("incident.") !== 0 && event.type.indexOf("unit.") !== 0) return;
    if (!loaded) pendingEvents.push(event);
    else applyEvent(event);
  }

  function loadAll() {
    loaded = false;
    return Promise.all([loadIncidents(), loadUnits()]).then(function () {
      loaded = true;
      const queued = pendingEvents.splice(0);
      queued.forEach(applyEvent);
      shared.reloadPanel();
    }).catch(function (problem) {
      loaded = true;
      pendingEvents.length = 0;
      incidentCount.textContent = fmt(gettext("Could not load incidents and units (%(error)s)."), { error: problem.message });
    });
  }

  // --- map ----------------------------------------------------------------------------------------------

  function makePane(name, zIndex) {
    const pane = map.createPane(name);
    pane.style.zIndex = String(zIndex);
  }

  function onMapReady(leafletMap) {
    map = leafletMap;
    makePane("emg-areas", 400);
    makePane("emg-incidents", 610);
    makePane("emg-units", 620);  // a unit on scene sits on top of its incident's marker
    layers.areas = L.layerGroup().addTo(map);
    layers.incidents = L.layerGroup().addTo(map);
    layers.units = L.layerGroup().addTo(map);
    map.on("contextmenu", function (e) {
      if (E.may_report) shared.startNewIncident(e.latlng);
    });
    loadAll();
  }

  function toggleLayer(checkbox, layer) {
    if (!map) return;
    if (checkbox.checked) map.addLayer(layer);
    else map.removeLayer(layer);
  }

  function wire() {
    (E.incident_levels || []).forEach(function (l) { fIncLevel.appendChild(el("option", { value: l.code, text: l.name })); });
    (E.incident_types || []).forEach(function (t) { fIncType.appendChild(el("option", { value: t.code, text: t.name })); });
    fillUnitFilter();
    fIncState.addEventListener("change", function () { loadIncidents().catch(function () { /* the list says so */ }); });
    [fIncLevel, fIncType].forEach(function (select) {
      select.addEventListener("change", function () {
        drawIncidents();
        renderIncidentList();
      });
    });
    lIncidents.addEventListener("change", function () { toggleLayer(lIncidents, layers.incidents); });
    lAreas.addEventListener("change", function () { toggleLayer(lAreas, layers.areas); });
    lUnits.addEventListener("change", function () { toggleLayer(lUnits, layers.units); });
    unitFilter.addEventListener("change", renderUnitList);
    if (E.may_report) {
      newButton.hidden = false;
      newButton.addEventListener("click", function () { shared.startNewIncident(null); });
    }
    // Staleness changes with time alone: look again every 10 s.
    setInterval(function () {
      if (!loaded) return;
      unitMarkers.forEach(function (marker, id) { decorateUnit(marker.getElement(), units.get(id)); });
      renderUnitSideSoon();
    }, 10000);
  }

  if (!side) return;
  wire();
  window.HotlineCommandHooks = window.HotlineCommandHooks || [];
  window.HotlineCommandHooks.push({
    mapReady: onMapReady,
    event: onEvent,
    snapshot: function () { if (map) loadAll(); },
    ticketDetails: function (arg) { shared.onTicketDetails(arg.ticket, arg.body); },
    ticketSelected: function (id) { shared.onTicketSelected(id); },
  });
})();
