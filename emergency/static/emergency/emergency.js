/*
 * The emergency layer of the commander's map (/command/), in plain scripts loaded in this order (no bundler):
 *
 *   emergency.js            the shared namespace window.HotlineEmergency: lookups, helpers, the API, state
 *   emergency-incidents.js  incidents and their affected areas on the map, the incident list and its filters
 *   emergency-units.js      units moving live with status colours, the unit status board and the unit list
 *   emergency-panel.js      the incident details panel (takes over the command map's details box)
 *   emergency-assign.js     recommendations with one-click assignment, linking an agency
 *   emergency-eido.js       the incident panel's "send to a partner centre" (NENA EIDO through the outbox)
 *   emergency-forms.js      "create incident from ticket" and "new incident" at a point on the map
 *   emergency-feed.js       incident and unit lines in the live feed
 *   emergency-live.js       live events, loading, the map panes; plugs everything into the command map (emergency/command/)
 *
 * Each module reads and fills in window.HotlineEmergency ("S"); calls between modules go through S at call
 * time, so the order only matters for this file (first) and emergency-live.js (last, registers the hooks).
 * Positions are WGS84 everywhere (the API, events, the forms); what is drawn goes through S.toMap(lat, lon)
 * and a point clicked on the map through S.fromMap(latlng), the command map's base map converters
 * (realtime/basemap.js), which shift into GCJ-02 and back on GCJ-02 tiles.
 * Everything that comes from the server is put into the page with textContent, never as HTML.
 */
(function () {
  "use strict";

  if (!document.getElementById("emg-side")) return;

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
        // A style goes through the CSSOM: the Content-Security-Policy refuses style attributes set as markup.
        else if (key === "style") node.style.cssText = String(value);
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

  function isStale(u) {
    if (!u.position || !u.position.fix_at) return true;
    return serverNow() - Date.parse(u.position.fix_at) > STALE_MS;
  }

  function noop() {}

  // The display converters until the command map hands over its base map's (hook "basemap").
  const display = {
    toMap: function (lat, lon) { return L.latLng(lat, lon); },
    fromMap: function (latlng) {
      const at = L.latLng(latlng);
      return { latitude: at.lat, longitude: at.lng };
    },
    coordsToLatLng: function (coords) { return L.latLng(coords[1], coords[0]); },
  };

  window.HotlineEmergency = {
    config: config,
    E: E,
    lang: lang,
    gettext: gettext,
    pgettext: pgettext,
    el: el,
    clear: clear,
    fmt: fmt,
    api: api,
    getAll: getAll,
    formatDateTime: formatDateTime,
    formatDistance: formatDistance,
    formatDuration: formatDuration,
    throttle: throttle,
    LEVEL_COLOURS: LEVEL_COLOURS,
    LEVEL_ORDER: LEVEL_ORDER,
    STATUS_COLOURS: STATUS_COLOURS,
    STATUS_SHORT: STATUS_SHORT,
    TYPE_LETTERS: TYPE_LETTERS,
    TERMINAL: TERMINAL,
    incidentTypeNames: incidentTypeNames,
    levelNames: levelNames,
    incidentStateNames: incidentStateNames,
    unitTypeNames: unitTypeNames,
    unitStatusNames: unitStatusNames,
    taskStatusNames: taskStatusNames,
    unitTypes: unitTypes,
    unitStatuses: unitStatuses,
    isStale: isStale,
    map: function () { return map; },
    setMap: function (leafletMap) { map = leafletMap; },
    toMap: function (lat, lon) { return display.toMap(lat, lon); },        // WGS84 -> LatLng on the tiles
    fromMap: function (latlng) { return display.fromMap(latlng); },         // a LatLng -> {latitude, longitude}
    coordsToLatLng: function (coords) { return display.coordsToLatLng(coords); },  // for WGS84 GeoJSON
    setDisplay: function (converters) { Object.assign(display, converters); },
    layers: {},                 // areas, incidents, units: Leaflet layer groups (emergency-live.js)
    incidents: new Map(),       // id -> incident (list shape)
    units: new Map(),           // id -> unit (UnitSerializer shape) plus _statusAt (ms)
    loaded: false,              // incidents and units loaded: live events apply at once
    selectedIncident: null,     // set by the panel
    // Filled in by the modules (see above):
    upsertIncident: noop,
    refreshSelection: noop,
    loadIncidents: noop,
    refreshIncidentSoon: noop,
    decorateUnits: noop,
    centreOnUnit: noop,
    loadUnits: noop,
    onUnitSummary: noop,
    selectIncident: noop,
    onPanelEvent: noop,
    fillSendToPartner: noop,
    reloadPanel: noop,
    onTicketDetails: noop,
    onTicketSelected: noop,
    startNewIncident: noop,
    stopPicking: noop,
    isPicking: function () { return false; },
    feedLine: function () { return null; },
  };
})();
