/*
 * The commander's live map (/command/).
 *
 * Base layer: the jurisdiction polygons (districts always, streets and grids on demand), with an optional
 * tile layer from config.tile_url. Tickets are circle markers (fill = state, ring = urgency), grouped
 * into count bubbles by screen-pixel cells while zoomed out. Filters, a hot-spot choropleth, a details
 * panel with the timeline and a live feed, all kept current by HotlineLive events.
 *
 * Everything that comes from the server is put into the page with textContent, never as HTML.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("screen-config").textContent);
  const gettext = window.gettext || function (s) { return s; };
  const pgettext = window.pgettext || function (_context, s) { return gettext(s); };
  const interpolate = window.interpolate || function (f, o) { return f.replace(/%\((\w+)\)s/g, function (_m, k) { return String(o[k]); }); };
  const lang = document.documentElement.lang || "zh-hans";

  const CELL_PX = 60;              // clustering cell size in screen pixels
  const CLUSTER_MAX_ZOOM = 15;     // above this every ticket is its own marker
  const FEED_MAX = 200;
  const TERMINAL = ["closed", "merged", "cancelled"];
  const STATE_COLOURS = {
    accepted: "#2563eb",
    dispatched: "#7c3aed",
    in_progress: "#0891b2",
    returned: "#db2777",
    replied: "#0d9488",
    pending_revisit: "#ca8a04",
    revisited: "#65a30d",
    closed: "#94a3b8",
    merged: "#cbd5e1",
    cancelled: "#64748b",
  };
  const URGENCY_RING = {
    normal: { color: "#ffffff", weight: 1.5, radius: 7 },
    urgent: { color: "#f97316", weight: 3, radius: 8 },
    emergency: { color: "#dc2626", weight: 4, radius: 10 },
  };
  const HOT_COLOURS = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
  const WORK_ORDER_STATES = {
    pending_sign: gettext("Awaiting sign-off"),
    handling: gettext("Being handled"),
    replied: gettext("Replied, awaiting review"),
    approved: gettext("Reply approved"),
    returned: gettext("Returned"),
    cancelled: gettext("Cancelled"),
    closed: gettext("Closed"),
  };
  const RESPONSIBILITIES = { lead: gettext("Lead"), co: gettext("Co-handling") };
  const EXTRA_ACTIONS = { absorb_duplicate: gettext("Absorbed a duplicate") };
  // The emergency layer (emergency.js) plugs in here: it hears the map, the events and the ticket panel.
  const emergencyHooks = window.HotlineCommandHooks = window.HotlineCommandHooks || [];
  function callHooks(name, arg) {
    emergencyHooks.forEach(function (hook) { if (hook[name]) hook[name](arg); });
  }

  // --- lookups ---------------------------------------------------------------------------------------

  const stateNames = new Map((config.states || []).map(function (s) { return [s.code, s.name]; }));
  const urgencyNames = new Map((config.urgencies || []).map(function (u) { return [u.code, u.name]; }));
  const agencyByCode = new Map((config.agencies || []).map(function (a) { return [a.code, a]; }));
  const agencyById = new Map();      // id -> {code, name}, from /api/agencies/
  const subjectById = new Map();     // id -> {code, name, path}, from /api/subjects/
  const actionLabels = new Map();    // "machine:action" -> label, from /api/workflow/

  function stateName(code) { return stateNames.get(code) || WORK_ORDER_STATES[code] || code || ""; }
  function urgencyName(code) { return urgencyNames.get(code) || code || ""; }
  function actionName(machine, action) {
    return actionLabels.get(machine + ":" + action) || EXTRA_ACTIONS[action] || action;
  }

  // --- small DOM helpers -----------------------------------------------------------------------------

  function el(tag, attrs) {
    const node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        const value = attrs[key];
        if (value === undefined || value === null || value === false) return;
        if (key === "text") node.textContent = String(value);
        else if (key === "class") node.className = value;
        else node.setAttribute(key, value === true ? "" : String(value));
      });
    }
    for (let i = 2; i < arguments.length; i += 1) {
      const child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
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

  const timeFormat = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  const dateTimeFormat = new Intl.DateTimeFormat(lang, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  });
  function formatTime(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : timeFormat.format(d);
  }
  function formatDateTime(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : dateTimeFormat.format(d);
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) {
        const error = new Error("HTTP " + response.status);
        error.status = response.status;
        throw error;
      }
      return response.json();
    });
  }

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  // --- page elements ---------------------------------------------------------------------------------

  const form = document.getElementById("cmd-filters");
  const fSubject = document.getElementById("cmd-f-subject");
  const fState = document.getElementById("cmd-f-state");
  const fUrgency = document.getElementById("cmd-f-urgency");
  const fAgency = document.getElementById("cmd-f-agency");
  const fWindow = document.getElementById("cmd-f-window");
  const fSince = document.getElementById("cmd-f-since");
  const fUntil = document.getElementById("cmd-f-until");
  const lStreet = document.getElementById("cmd-l-street");
  const lGrid = document.getElementById("cmd-l-grid");
  const lHot = document.getElementById("cmd-l-hotspots");
  const countLine = document.getElementById("cmd-count");
  const mapStatus = document.getElementById("cmd-map-status");
  const detailsBox = document.getElementById("cmd-details");
  const detailsBody = document.getElementById("cmd-details-body");
  const feedList = document.getElementById("cmd-feed-list");

  function fillFilterOptions() {
    const groups = new Map();
    (config.subjects || []).forEach(function (s) {
      const parts = String(s.path || s.code).split(" > ");
      const top = parts.length > 1 ? parts[0] : "";
      const label = parts.length > 1 ? parts.slice(1).join(" › ") : parts[0];
      if (!groups.has(top)) groups.set(top, []);
      groups.get(top).push(el("option", { value: s.code, text: label }));
    });
    groups.forEach(function (options, top) {
      if (!top) options.forEach(function (o) { fSubject.appendChild(o); });
      else fSubject.appendChild(el.apply(null, ["optgroup", { label: top }].concat(options)));
    });
    (config.states || []).forEach(function (s) { fState.appendChild(el("option", { value: s.code, text: s.name })); });
    (config.urgencies || []).forEach(function (u) { fUrgency.appendChild(el("option", { value: u.code, text: u.name })); });
    (config.agencies || []).forEach(function (a) { fAgency.appendChild(el("option", { value: a.code, text: a.name })); });
  }

  // --- filters ---------------------------------------------------------------------------------------

  function localInputToISO(value) {
    if (!value) return null;
    const d = new Date(value);  // datetime-local is read in the browser's zone
    return isNaN(d) ? null : d.toISOString();
  }

  function currentFilters() {
    const allStates = (config.states || []).map(function (s) { return s.code; });
    let states;
    if (fState.value === "") states = allStates.filter(function (s) { return s !== "merged"; });
    else if (fState.value === "open") states = allStates.filter(function (s) { return TERMINAL.indexOf(s) < 0; });
    else states = [fState.value];
    let since;
    let until = null;
    if (fWindow.value === "custom") {
      since = localInputToISO(fSince.value) || new Date(Date.now() - 30 * 86400000).toISOString();
      until = localInputToISO(fUntil.value);
    } else {
      since = new Date(Date.now() - Number(fWindow.value) * 3600000).toISOString();
    }
    return {
      subject: fSubject.value,
      states: states,
      urgency: fUrgency.value,
      agency: fAgency.value,
      since: since,
      until: until,
      sinceMs: Date.parse(since),
      untilMs: until ? Date.parse(until) : null,
    };
  }

  function filterParams(f) {
    const params = new URLSearchParams();
    if (f.subject) params.set("subject", f.subject);
    params.set("state", f.states.join(","));
    if (f.urgency) params.set("urgency", f.urgency);
    if (f.agency) params.set("agency", f.agency);
    params.set("since", f.since);
    if (f.until) params.set("until", f.until);
    return params;
  }

  function timeMatches(createdMs, f) {
    if (isNaN(createdMs)) return true;
    if (createdMs < f.sinceMs) return false;
    return f.untilMs === null || createdMs <= f.untilMs;
  }

  // The checks we can make from an event payload alone.
  function quickMatches(t, f) {
    if (f.states.indexOf(t.state) < 0) return false;
    return !f.urgency || t.urgency === f.urgency;
  }

  function fullMatches(rec, f) {
    if (!quickMatches(rec, f)) return false;
    if (f.subject && rec.subject !== f.subject) return false;
    if (f.agency && !(rec.agencies && rec.agencies.indexOf(f.agency) >= 0)) return false;
    return timeMatches(rec.createdMs, f);
  }

  // --- state of the map ------------------------------------------------------------------------------

  const tickets = new Map();   // id -> record {id, number, state, urgency, subject, subjectName, lat, lon, createdMs}
  let selectedId = null;
  let map = null;
  let truncated = false;
  let bboxMode = false;
  let loadedBounds = null;
  let ticketGeneration = 0;
  let holding = true;          // events wait while the map data is (re)loaded, then apply in order
  const pendingEvents = [];
  let firstLoad = true;

  function recordFromFeature(feature) {
    const p = feature.properties;
    return {
      id: Number(feature.id),
      number: p.number,
      state: p.state,
      urgency: p.urgency,
      subject: p.subject,
      subjectName: p.subject_name,
      district: p.district,
      lat: feature.geometry.coordinates[1],
      lon: feature.geometry.coordinates[0],
      createdMs: Date.parse(p.created_at),
    };
  }

  function recordFromDetail(d) {
    return {
      id: d.id,
      number: d.number,
      state: d.state,
      urgency: d.urgency,
      subject: d.subject ? d.subject.code : "",
      subjectName: d.subject ? d.subject.name : "",
      district: d.placement && d.placement.district ? d.placement.district.name : "",
      lat: d.latitude,
      lon: d.longitude,
      createdMs: Date.parse(d.created_at),
      agencies: (d.work_orders || []).map(function (w) { return w.agency && w.agency.code; }),
    };
  }

  function setMapStatus(text) {
    mapStatus.textContent = text || "";
    mapStatus.hidden = !text;
  }

  function updateCount() {
    let text = fmt(gettext("%(count)s tickets on the map"), { count: tickets.size });
    if (truncated) text += " · " + gettext("only the newest are shown; zoom in for more");
    countLine.textContent = text;
  }

  function paddedBounds() {
    return map.getBounds().pad(0.5);
  }

  function loadTickets() {
    const generation = ++ticketGeneration;
    holding = true;
    const f = currentFilters();
    const params = filterParams(f);
    let requested = null;
    if (bboxMode && map) {
      requested = paddedBounds();
      params.set("bbox", [requested.getWest(), requested.getSouth(), requested.getEast(), requested.getNorth()]
        .map(function (v) { return v.toFixed(6); }).join(","));
    }
    setMapStatus(gettext("Loading tickets…"));
    return getJSON("/api/geo/tickets/?" + params.toString()).then(function (data) {
      if (generation !== ticketGeneration) return;
      tickets.clear();
      (data.features || []).forEach(function (feature) {
        const rec = recordFromFeature(feature);
        tickets.set(rec.id, rec);
      });
      truncated = Boolean(data.truncated);
      loadedBounds = requested;
      if (truncated && !bboxMode) bboxMode = true;
      setMapStatus("");
      if (firstLoad) {
        firstLoad = false;
        fitToTickets(true);
        if (bboxMode) return loadTickets();
      }
    }).catch(function (error) {
      if (generation !== ticketGeneration) return;
      setMapStatus(fmt(gettext("Could not load tickets (%(error)s)."), { error: error.message }));
    }).then(function () {
      if (generation !== ticketGeneration) return;
      holding = false;
      while (pendingEvents.length) applyEvent(pendingEvents.shift());
      render();
      updateCount();
    });
  }

  // Fetch one ticket and put it on the map, or take it off, according to the filters.
  const considering = new Map();  // id -> true while fetching; "again" when another look was asked for
  function considerTicket(id) {
    if (considering.has(id)) {
      considering.set(id, "again");
      return;
    }
    considering.set(id, true);
    const generation = ticketGeneration;
    getJSON("/api/tickets/" + id + "/").then(function (detail) {
      if (generation !== ticketGeneration) return;
      const rec = recordFromDetail(detail);
      if (rec.lat !== null && rec.lon !== null && fullMatches(rec, currentFilters())) tickets.set(rec.id, rec);
      else tickets.delete(rec.id);
      scheduleRender();
    }).catch(function () {
      /* not visible to us (any more): nothing to show */
    }).then(function () {
      const again = considering.get(id) === "again";
      considering.delete(id);
      if (again) considerTicket(id);
    });
  }

  // --- events ----------------------------------------------------------------------------------------

  function onTicketPayload(t, event) {
    if (!t) return;
    const located = t.latitude !== null && t.latitude !== undefined && t.longitude !== null && t.longitude !== undefined;
    const existing = tickets.get(t.id);
    const f = currentFilters();
    if (existing) {
      existing.state = t.state;
      existing.urgency = t.urgency;
      if (located) {
        existing.lat = t.latitude;
        existing.lon = t.longitude;
      }
      if (!located || !quickMatches(existing, f)) tickets.delete(t.id);
      scheduleRender();
      return;
    }
    if (!located || !quickMatches(t, f)) return;
    const subject = subjectById.get(t.subject_id);
    if (f.subject && subject && subject.code !== f.subject) return;
    if (event.type === "ticket.created") {
      if (f.agency) return;  // a new ticket has no work orders yet
      if (subject) {
        const rec = {
          id: t.id,
          number: t.number,
          state: t.state,
          urgency: t.urgency,
          subject: subject.code,
          subjectName: subject.name,
          district: "",
          lat: t.latitude,
          lon: t.longitude,
          createdMs: Date.parse(event.at),
        };
        if (timeMatches(rec.createdMs, f)) {
          tickets.set(rec.id, rec);
          scheduleRender();
        }
        return;
      }
    }
    considerTicket(t.id);
  }

  function applyEvent(event) {
    const p = event.payload || {};
    switch (event.type) {
      case "ticket.created":
      case "ticket.changed":
        onTicketPayload(p.ticket, event);
        break;
      case "ticket.merged":
        if (p.duplicate_id !== undefined && tickets.delete(p.duplicate_id)) scheduleRender();
        onTicketPayload(p.ticket, event);
        break;
      case "work_order.created": {
        const wo = p.work_order || {};
        const agency = agencyById.get(wo.agency_id);
        const f = currentFilters();
        if (f.agency && agency && agency.code === f.agency && !tickets.has(wo.ticket_id)) considerTicket(wo.ticket_id);
        break;
      }
      case "work_order.escalated": {
        // Each ticket's ring turns yellow (warning, yellow card) or red (red card), the highest level seen.
        const rank = { warning: 1, overdue: 2, serious: 3 };
        (p.escalations || []).forEach(function (step) {
          const rec = tickets.get(step.ticket_id);
          if (rec && (rank[step.level] || 0) > (rank[rec.escalation] || 0)) {
            rec.escalation = step.level;
            scheduleRender();
          }
        });
        break;
      }
      default:
        break;
    }
  }

  const refreshHotspotsSoon = debounce(function () { loadHotspots(); }, 3000);
  const refreshDetailsSoon = debounce(function () { if (selectedId !== null) showDetails(selectedId, false); }, 400);

  function onEvent(event) {
    callHooks("event", event);
    addFeedLine(event);
    if (!holding) applyEvent(event);
    else if (pendingEvents.push(event) > 5000) {
      // Something keeps the load from finishing: a fresh load (started after all of these) covers them.
      pendingEvents.length = 0;
      if (map) loadTickets();
    }
    if (event.type.indexOf("ticket.") === 0 && lHot.value) refreshHotspotsSoon();
    const p = event.payload || {};
    if (selectedId !== null && (event.ticket_id === selectedId || p.duplicate_id === selectedId)) refreshDetailsSoon();
  }

  function onSnapshot() {
    // Too far behind to replay: the snapshot tells us to start again from the server's present.
    callHooks("snapshot", null);
    pendingEvents.length = 0;
    loadTickets();
    loadHotspots();
    if (selectedId !== null) showDetails(selectedId, false);
  }

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

  function addFeedLine(event) {
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

  function onFeedKey(e) {
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

  // --- map setup -------------------------------------------------------------------------------------

  let jurisdictionRenderer = null;
  const layers = {};
  const geoCache = new Map();   // "level:zoom" -> GeoJSON promise
  let ticketLayer = null;
  const shown = new Map();      // key -> {layer, sig}
  let legendHot = null;

  function loadAssets() {
    function add(tag, attrs) {
      return new Promise(function (resolve, reject) {
        const node = document.createElement(tag);
        Object.keys(attrs).forEach(function (k) { node[k] = attrs[k]; });
        node.onload = resolve;
        node.onerror = reject;
        document.head.appendChild(node);
      });
    }
    if (window.L) return Promise.resolve();
    return Promise.all([
      add("link", { rel: "stylesheet", href: config.leaflet.css }),
      add("script", { src: config.leaflet.js }),
    ]);
  }

  function zoomBucket() {
    return Math.max(6, Math.min(16, Math.round(map.getZoom())));
  }

  function fetchLayer(level, zoom) {
    const key = level + ":" + zoom;
    if (!geoCache.has(key)) {
      const promise = getJSON("/api/geo/layers/" + level + "/?zoom=" + zoom).catch(function (error) {
        geoCache.delete(key);
        throw error;
      });
      geoCache.set(key, promise);
    }
    return geoCache.get(key);
  }

  function districtLabel(feature, layer) {
    const center = layer.getBounds().getCenter();
    const label = el("span", { text: feature.properties.name });
    return L.marker(center, {
      pane: "cmd-labels",
      interactive: false,
      keyboard: false,
      icon: L.divIcon({ className: "cmd-district-label", html: label, iconSize: null }),
    });
  }

  const layerZoom = {};
  function refreshJurisdictions(initial) {
    const zoom = zoomBucket();
    const wanted = [["district", true], ["street", lStreet.checked], ["grid", lGrid.checked]];
    const jobs = wanted.map(function (pair) {
      const level = pair[0];
      const on = pair[1];
      if (!on) {
        if (layers[level]) layers[level].clearLayers();
        layerZoom[level] = null;
        return Promise.resolve(null);
      }
      if (layerZoom[level] === zoom) return Promise.resolve(null);
      layerZoom[level] = zoom;
      return fetchLayer(level, zoom).then(function (data) {
        if (layerZoom[level] !== zoom) return null;
        layers[level].clearLayers();
        layers[level].addData(data);
        if (level === "district") {
          layers.districtFill.clearLayers();
          layers.districtFill.addData(data);
          if (initial || !layers.labels.getLayers().length) {
            layers.labels.clearLayers();
            layers.districtFill.eachLayer(function (layer) { layers.labels.addLayer(districtLabel(layer.feature, layer)); });
          }
        }
        return data;
      }).catch(function (error) {
        layerZoom[level] = null;
        setMapStatus(fmt(gettext("Could not load the map layers (%(error)s)."), { error: error.message }));
        return null;
      });
    });
    return Promise.all(jobs);
  }

  function makePane(name, zIndex, noPointer) {
    const pane = map.createPane(name);
    pane.style.zIndex = String(zIndex);
    if (noPointer) pane.style.pointerEvents = "none";
    return pane;
  }

  function buildLegend() {
    const Legend = L.Control.extend({
      options: { position: "bottomleft" },
      onAdd: function () {
        const box = el("details", { class: "cmd-legend", open: true });
        box.appendChild(el("summary", { text: gettext("Legend") }));
        const states = el("ul", { class: "cmd-legend-list cmd-legend-states", "aria-label": gettext("State") });
        (config.states || []).forEach(function (s) {
          if (s.code === "merged") return;
          states.appendChild(el("li", null,
            el("span", { class: "cmd-swatch", style: "background:" + (STATE_COLOURS[s.code] || "#888") }), " " + s.name));
        });
        const urgencies = el("ul", { class: "cmd-legend-list", "aria-label": gettext("Urgency") });
        (config.urgencies || []).forEach(function (u) {
          const ring = URGENCY_RING[u.code] || URGENCY_RING.normal;
          urgencies.appendChild(el("li", null,
            el("span", { class: "cmd-swatch cmd-ring", style: "border-color:" + (u.code === "normal" ? "#64748b" : ring.color) + ";border-width:" + Math.max(1, ring.weight - 1) + "px" }),
            " " + u.name));
        });
        urgencies.appendChild(el("li", null, el("span", { class: "cmd-swatch cmd-bubble", text: "9" }), " " + gettext("Several tickets: click to zoom in")));
        legendHot = el("div", { class: "cmd-legend-hot", hidden: true });
        box.appendChild(el("div", { class: "cmd-legend-cols" }, states, urgencies));
        box.appendChild(legendHot);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      },
    });
    map.addControl(new Legend());
  }

  function initMap() {
    map = L.map("cmd-map", {
      zoomControl: false,
      attributionControl: Boolean(config.tile_url),
      minZoom: 5,
      maxZoom: 18,
      zoomSnap: 1,
      keyboard: true,
    });
    L.control.zoom({ zoomInTitle: gettext("Zoom in"), zoomOutTitle: gettext("Zoom out") }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    makePane("cmd-base", 250, false);
    makePane("cmd-hot", 300, false);
    makePane("cmd-outlines", 380, true);
    makePane("cmd-labels", 390, true);
    makePane("cmd-tickets", 450, false);
    jurisdictionRenderer = L.canvas({ pane: "cmd-outlines", padding: 0.3 });
    const hotRenderer = L.canvas({ pane: "cmd-hot", padding: 0.3 });
    if (config.tile_url) L.tileLayer(config.tile_url, { maxZoom: 19 }).addTo(map);
    const hasTiles = Boolean(config.tile_url);
    layers.districtFill = L.geoJSON(null, {
      pane: "cmd-base",
      interactive: false,
      style: function () { return { stroke: false, fillColor: "#ffffff", fillOpacity: hasTiles ? 0.05 : 0.9 }; },
    }).addTo(map);
    layers.district = L.geoJSON(null, {
      pane: "cmd-outlines",
      renderer: jurisdictionRenderer,
      interactive: false,
      style: function () { return { color: "#0b4f8a", weight: 2, opacity: 0.9, fill: false }; },
    }).addTo(map);
    layers.street = L.geoJSON(null, {
      pane: "cmd-outlines",
      renderer: jurisdictionRenderer,
      interactive: false,
      style: function () { return { color: "#3f6f96", weight: 1.2, opacity: 0.8, dashArray: "5 4", fill: false }; },
    }).addTo(map);
    layers.grid = L.geoJSON(null, {
      pane: "cmd-outlines",
      renderer: jurisdictionRenderer,
      interactive: false,
      style: function () { return { color: "#7b93a8", weight: 0.6, opacity: 0.7, fill: false }; },
    }).addTo(map);
    layers.labels = L.layerGroup().addTo(map);
    layers.hot = L.geoJSON(null, {
      pane: "cmd-hot",
      renderer: hotRenderer,
      style: hotStyle,
      onEachFeature: function (feature, layer) {
        layer.bindTooltip(el("span", {
          text: fmt(gettext("%(name)s: %(count)s tickets"), { name: feature.properties.name, count: feature.properties.count }),
        }), { sticky: true });
      },
    }).addTo(map);
    ticketLayer = L.layerGroup().addTo(map);
    buildLegend();
    callHooks("mapReady", map);
    map.setView([0, 0], 5);  // replaced by the fit once the data is in

    map.on("zoomend", function () {
      refreshJurisdictions(false);
    });
    map.on("moveend", function () {
      render();
      if (bboxMode && !firstLoad && (!loadedBounds || !loadedBounds.contains(map.getBounds()))) loadTicketsSoon();
    });
    if (window.ResizeObserver) {
      new ResizeObserver(function () { map.invalidateSize(); }).observe(document.getElementById("cmd-map"));
    }
  }

  const loadTicketsSoon = debounce(loadTickets, 300);

  // Fit the view to the tickets (ignoring stray outliers), else to the streets, else to the districts.
  function fitToTickets(initial) {
    const recs = Array.from(tickets.values());
    if (recs.length) {
      const lats = recs.map(function (r) { return r.lat; }).sort(function (a, b) { return a - b; });
      const lons = recs.map(function (r) { return r.lon; }).sort(function (a, b) { return a - b; });
      const lo = Math.floor((recs.length - 1) * 0.02);
      const hi = Math.ceil((recs.length - 1) * 0.98);
      const bounds = L.latLngBounds([lats[lo], lons[lo]], [lats[hi], lons[hi]]);
      map.fitBounds(bounds.pad(0.1), { maxZoom: 15, animate: !initial });
      return Promise.resolve();
    }
    return fetchLayer("street", 10).then(function (data) {
      if (!data.features || !data.features.length) return fetchLayer("district", 10);
      return data;
    }).then(function (data) {
      const bounds = L.geoJSON(data).getBounds();
      if (bounds.isValid()) map.fitBounds(bounds, { animate: !initial });
    }).catch(function () { /* keep the current view */ });
  }

  // --- rendering tickets with grid clustering --------------------------------------------------------

  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(function () {
      renderQueued = false;
      render();
      updateCount();
    });
  }

  function ticketStyle(rec) {
    const ring = URGENCY_RING[rec.urgency] || URGENCY_RING.normal;
    const selected = rec.id === selectedId;
    const escalated = rec.escalation === "serious" ? "#c0392b" : rec.escalation ? "#e0a800" : null;
    return {
      pane: "cmd-tickets",
      radius: ring.radius + (selected ? 4 : 0),
      color: selected ? "#111827" : escalated || ring.color,
      weight: selected ? 4 : escalated ? Math.max(ring.weight, 4) : ring.weight,
      opacity: 1,
      fillColor: STATE_COLOURS[rec.state] || "#888888",
      fillOpacity: rec.state === "closed" || rec.state === "cancelled" ? 0.7 : 0.95,
      className: "cmd-ticket",
    };
  }

  function ticketLabel(rec) {
    return [rec.number, stateName(rec.state), urgencyName(rec.urgency), rec.subjectName].filter(Boolean).join(" · ");
  }

  function makeTicketMarker(rec) {
    const marker = L.circleMarker([rec.lat, rec.lon], ticketStyle(rec));
    marker.bindTooltip(el("span", { text: ticketLabel(rec) }), { direction: "top", offset: [0, -8] });
    marker.on("click", function () { selectTicket(rec.id, false); });
    marker.on("add", function () {
      const node = marker.getElement();
      if (!node) return;
      node.setAttribute("tabindex", "0");
      node.setAttribute("role", "button");
      node.setAttribute("aria-label", ticketLabel(rec));
      node.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          selectTicket(rec.id, false);
        }
      });
      node.addEventListener("focus", function () { marker.openTooltip(); });
      node.addEventListener("blur", function () { marker.closeTooltip(); });
    });
    return marker;
  }

  function clusterIcon(members) {
    const n = members.length;
    let level = "normal";
    members.forEach(function (m) {
      if (m.urgency === "emergency") level = "emergency";
      else if (m.urgency === "urgent" && level !== "emergency") level = "urgent";
    });
    const size = n < 10 ? 30 : n < 100 ? 38 : 46;
    return L.divIcon({
      className: "cmd-cluster cmd-cluster-" + level,
      html: el("span", { text: String(n) }),
      iconSize: [size, size],
    });
  }

  function makeCluster(members, center) {
    const label = fmt(gettext("%(count)s tickets here; press to zoom in"), { count: members.length });
    const marker = L.marker(center, { pane: "cmd-tickets", icon: clusterIcon(members), keyboard: true, title: label, riseOnHover: true });
    marker.on("add", function () {
      const node = marker.getElement();
      if (node) {
        node.setAttribute("role", "button");
        node.setAttribute("aria-label", label);
        node.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            marker.fire("click");
          }
        });
      }
    });
    marker.on("click", function () {
      const bounds = L.latLngBounds(members.map(function (m) { return [m.lat, m.lon]; }));
      const zoom = map.getZoom();
      let target = Math.max(zoom + 1, map.getBoundsZoom(bounds.pad(0.3)));
      target = Math.min(target, CLUSTER_MAX_ZOOM + 1);
      map.setView(bounds.getCenter(), target);
    });
    return marker;
  }

  function render() {
    if (!map || !ticketLayer) return;
    const zoom = map.getZoom();
    const view = map.getBounds().pad(0.2);
    const desired = new Map();
    const cells = new Map();
    tickets.forEach(function (rec) {
      const ll = L.latLng(rec.lat, rec.lon);
      if (!view.contains(ll)) return;
      if (zoom > CLUSTER_MAX_ZOOM || rec.id === selectedId) {
        desired.set("t" + rec.id, { rec: rec });
        return;
      }
      const p = map.project(ll, zoom);
      const key = Math.floor(p.x / CELL_PX) + ":" + Math.floor(p.y / CELL_PX);
      if (!cells.has(key)) cells.set(key, []);
      cells.get(key).push(rec);
    });
    cells.forEach(function (members, key) {
      if (members.length === 1) {
        desired.set("t" + members[0].id, { rec: members[0] });
        return;
      }
      let lat = 0;
      let lon = 0;
      members.forEach(function (m) { lat += m.lat; lon += m.lon; });
      desired.set("c" + zoom + ":" + key, { members: members, center: L.latLng(lat / members.length, lon / members.length) });
    });

    shown.forEach(function (entry, key) {
      if (!desired.has(key)) {
        ticketLayer.removeLayer(entry.layer);
        shown.delete(key);
      }
    });
    desired.forEach(function (want, key) {
      const entry = shown.get(key);
      if (want.rec) {
        const rec = want.rec;
        const sig = [rec.state, rec.urgency, rec.id === selectedId, rec.lat, rec.lon].join("|");
        if (entry && entry.sig === sig) return;
        if (entry) {
          entry.layer.setLatLng([rec.lat, rec.lon]);
          entry.layer.setStyle(ticketStyle(rec));
          entry.layer.setRadius(ticketStyle(rec).radius);
          entry.layer.setTooltipContent(el("span", { text: ticketLabel(rec) }));
          const node = entry.layer.getElement();
          if (node) node.setAttribute("aria-label", ticketLabel(rec));
          if (rec.id === selectedId) entry.layer.bringToFront();
          entry.sig = sig;
          return;
        }
        const marker = makeTicketMarker(rec);
        ticketLayer.addLayer(marker);
        if (rec.id === selectedId) marker.bringToFront();
        shown.set(key, { layer: marker, sig: sig });
      } else {
        const sig = want.members.map(function (m) { return m.id + m.urgency; }).join(",");
        if (entry && entry.sig === sig) return;
        if (entry) ticketLayer.removeLayer(entry.layer);
        const cluster = makeCluster(want.members, want.center);
        ticketLayer.addLayer(cluster);
        shown.set(key, { layer: cluster, sig: sig });
      }
    });
  }

  // --- hot spots -------------------------------------------------------------------------------------

  let hotBreaks = [];
  let hotGeneration = 0;

  function hotClass(count) {
    for (let i = hotBreaks.length - 1; i >= 0; i -= 1) if (count >= hotBreaks[i]) return i;
    return 0;
  }

  function hotStyle(feature) {
    return {
      color: "#7f1d1d",
      weight: 0.5,
      opacity: 0.5,
      fillColor: HOT_COLOURS[hotClass(feature.properties.count)],
      fillOpacity: 0.6,
    };
  }

  function updateHotLegend(level, total) {
    if (!legendHot) return;
    clear(legendHot);
    if (!level || !hotBreaks.length) {
      legendHot.hidden = true;
      return;
    }
    legendHot.hidden = false;
    legendHot.appendChild(el("div", { class: "cmd-legend-title", text: fmt(gettext("Hot spots (%(total)s tickets)"), { total: total }) }));
    const row = el("div", { class: "cmd-hot-scale" });
    hotBreaks.forEach(function (low, i) {
      const high = i + 1 < hotBreaks.length ? hotBreaks[i + 1] - 1 : null;
      const text = high === null ? "≥" + low : low === high ? String(low) : low + "–" + high;
      row.appendChild(el("span", { class: "cmd-hot-step", style: "background:" + HOT_COLOURS[i], text: text }));
    });
    legendHot.appendChild(row);
  }

  function loadHotspots() {
    const level = lHot.value;
    const generation = ++hotGeneration;
    if (!map) return Promise.resolve();
    if (!level) {
      layers.hot.clearLayers();
      hotBreaks = [];
      updateHotLegend("", 0);
      return Promise.resolve();
    }
    const params = filterParams(currentFilters());
    params.set("level", level);
    return getJSON("/api/geo/hotspots/?" + params.toString()).then(function (data) {
      if (generation !== hotGeneration) return;
      const counts = (data.features || []).map(function (f) { return f.properties.count; });
      const max = counts.length ? Math.max.apply(null, counts) : 0;
      hotBreaks = [];
      if (max > 0) {
        const steps = Math.min(HOT_COLOURS.length, max);
        for (let i = 0; i < steps; i += 1) {
          const low = Math.max(1, Math.floor(1 + (max * i) / steps));
          if (!hotBreaks.length || low > hotBreaks[hotBreaks.length - 1]) hotBreaks.push(low);
        }
      }
      layers.hot.clearLayers();
      layers.hot.addData(data);
      updateHotLegend(level, data.total || 0);
    }).catch(function (error) {
      if (generation !== hotGeneration) return;
      setMapStatus(fmt(gettext("Could not load the hot spots (%(error)s)."), { error: error.message }));
    });
  }

  // --- details panel ---------------------------------------------------------------------------------

  let detailsGeneration = 0;

  // The emergency layer takes the details panel over for an incident: the ticket lets go of it.
  window.HotlineCommand = {
    releaseDetails: function () {
      const previous = selectedId;
      selectedId = null;
      detailsGeneration += 1;
      if (previous !== null && map) render();
    },
  };

  function selectTicket(id, pan) {
    callHooks("ticketSelected", id);
    const previous = selectedId;
    selectedId = id;
    if (previous !== id) render();
    showDetails(id, true);
    const rec = tickets.get(id);
    if (pan && rec && map) map.setView([rec.lat, rec.lon], Math.max(map.getZoom(), CLUSTER_MAX_ZOOM + 1));
  }

  function closeDetails() {
    selectedId = null;
    detailsGeneration += 1;
    clear(detailsBody);
    detailsBody.appendChild(el("p", { class: "cmd-hint", text: gettext("Select a ticket on the map or in the live feed.") }));
    render();
  }

  function row(dl, label, value) {
    if (value === null || value === undefined || value === "") return;
    dl.appendChild(el("dt", { text: label }));
    dl.appendChild(typeof value === "string" ? el("dd", { text: value }) : el("dd", null, value));
  }

  function showDetails(id, announce) {
    const generation = ++detailsGeneration;
    if (announce) {
      clear(detailsBody);
      detailsBody.appendChild(el("p", { class: "cmd-hint", text: gettext("Loading…") }));
    }
    Promise.all([getJSON("/api/tickets/" + id + "/"), getJSON("/api/tickets/" + id + "/timeline/")]).then(function (results) {
      if (generation !== detailsGeneration) return;
      renderDetails(results[0], results[1]);
    }).catch(function (error) {
      if (generation !== detailsGeneration) return;
      clear(detailsBody);
      detailsBody.appendChild(el("p", { class: "cmd-error", text: fmt(gettext("Could not load the ticket (%(error)s)."), { error: error.message }) }));
    });
  }

  function renderDetails(d, timeline) {
    clear(detailsBody);
    const head = el("div", { class: "cmd-details-head" },
      el("h3", { class: "cmd-number", text: d.number }));
    const actions = el("div", { class: "cmd-details-actions" });
    if (d.latitude !== null && d.longitude !== null) {
      const zoomTo = el("button", { type: "button", text: gettext("Zoom to") });
      zoomTo.addEventListener("click", function () { map.setView([d.latitude, d.longitude], Math.max(map.getZoom(), CLUSTER_MAX_ZOOM + 1)); });
      actions.appendChild(zoomTo);
    }
    const close = el("button", { type: "button", text: pgettext("details panel", "Close"), "aria-label": gettext("Close the details") });
    close.addEventListener("click", closeDetails);
    actions.appendChild(close);
    head.appendChild(actions);
    detailsBody.appendChild(head);

    detailsBody.appendChild(el("p", { class: "cmd-badges" },
      el("span", { class: "cmd-badge", style: "background:" + (STATE_COLOURS[d.state] || "#888"), text: stateName(d.state) }),
      " ",
      el("span", { class: "cmd-badge cmd-badge-urgency urgency-" + d.urgency, text: urgencyName(d.urgency) })));
    if (d.title) detailsBody.appendChild(el("p", { class: "cmd-title", text: d.title }));

    const dl = el("dl", { class: "cmd-dl" });
    row(dl, gettext("Subject"), d.subject ? d.subject.path || d.subject.name : "");
    row(dl, gettext("Address"), d.address);
    if (d.placement) {
      const parts = [d.placement.district, d.placement.street, d.placement.grid]
        .map(function (p) { return p && p.name; }).filter(Boolean);
      row(dl, gettext("Jurisdiction"), parts.join(" / "));
      if (d.placement.near_boundary) row(dl, gettext("Note"), gettext("Near a jurisdiction boundary"));
    }
    row(dl, gettext("Received"), formatDateTime(d.created_at));
    if (d.closed_at) row(dl, gettext("Finished at"), formatDateTime(d.closed_at));
    if (d.master) row(dl, gettext("Merged into"), d.master);
    if (d.work_orders && d.work_orders.length) {
      const list = el("ul", { class: "cmd-wo" });
      d.work_orders.forEach(function (w) {
        list.appendChild(el("li", {
          text: [w.number, w.agency ? w.agency.name : "", RESPONSIBILITIES[w.responsibility] || w.responsibility,
            WORK_ORDER_STATES[w.state] || w.state].filter(Boolean).join(" · "),
        }));
      });
      row(dl, gettext("Work orders"), list);
    }
    detailsBody.appendChild(dl);
    if (d.description) detailsBody.appendChild(el("p", { class: "cmd-description", text: d.description }));

    detailsBody.appendChild(el("h3", { class: "cmd-subtitle", text: gettext("Timeline") }));
    const ol = el("ol", { class: "cmd-timeline" });
    (timeline || []).slice().reverse().forEach(function (t) {
      let what = actionName(t.machine, t.action);
      if (t.to_state && t.to_state !== t.from_state) what += " → " + stateName(t.to_state);
      const who = [t.actor, t.actor_agency].filter(Boolean).join(" · ");
      const item = el("li", null,
        el("time", { datetime: t.created_at, text: formatDateTime(t.created_at) }),
        " ",
        el("strong", { text: what }),
        t.work_order ? el("span", { class: "cmd-muted", text: " " + t.work_order }) : null);
      if (who) item.appendChild(el("div", { class: "cmd-muted", text: who }));
      if (t.note) item.appendChild(el("div", { class: "cmd-note", text: t.note }));
      ol.appendChild(item);
    });
    if (!ol.children.length) ol.appendChild(el("li", { class: "cmd-hint", text: gettext("No entries.") }));
    detailsBody.appendChild(ol);
    callHooks("ticketDetails", { ticket: d, body: detailsBody });
  }

  // --- wiring ----------------------------------------------------------------------------------------

  function onFiltersChanged() {
    const custom = fWindow.value === "custom";
    form.querySelectorAll(".cmd-custom").forEach(function (node) { node.hidden = !custom; });
    if (custom && !fSince.value) {
      const d = new Date(Date.now() - 7 * 86400000);
      d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
      fSince.value = d.toISOString().slice(0, 16);
    }
    loadTickets();
    loadHotspots();
  }
  const onFiltersChangedSoon = debounce(onFiltersChanged, 250);

  function wireControls() {
    [fSubject, fState, fUrgency, fAgency, fWindow, fSince, fUntil].forEach(function (control) {
      control.addEventListener("change", onFiltersChangedSoon);
    });
    lStreet.addEventListener("change", function () { refreshJurisdictions(false); });
    lGrid.addEventListener("change", function () { refreshJurisdictions(false); });
    lHot.addEventListener("change", function () { loadHotspots(); });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    feedList.addEventListener("keydown", onFeedKey);
    form.addEventListener("reset", function () {
      setTimeout(function () {
        refreshJurisdictions(false);
        onFiltersChanged();
      }, 0);
    });
    document.getElementById("cmd-fit").addEventListener("click", function () { fitToTickets(false); });
    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape" || selectedId === null || e.defaultPrevented) return;
      const inside = detailsBox.contains(document.activeElement) || document.getElementById("cmd-map").contains(document.activeElement);
      if (inside) closeDetails();
    });
    // Relative windows move with the clock: drop what has slid out of them.
    setInterval(function () {
      if (fWindow.value === "custom" || holding) return;
      const f = currentFilters();
      let removed = false;
      tickets.forEach(function (rec, id) {
        if (!timeMatches(rec.createdMs, f)) {
          tickets.delete(id);
          removed = true;
        }
      });
      if (removed) scheduleRender();
    }, 60000);
  }

  function loadLookups() {
    return Promise.all([
      getJSON("/api/subjects/").then(function (rows) {
        (rows.results || rows).forEach(function (s) { subjectById.set(s.id, { code: s.code, name: s.name, path: s.path }); });
      }),
      getJSON("/api/agencies/").then(function (rows) {
        (rows.results || rows).forEach(function (a) { agencyById.set(a.id, { code: a.code, name: a.name }); });
      }),
      getJSON("/api/workflow/").then(function (rows) {
        rows.forEach(function (r) { actionLabels.set(r.machine + ":" + r.action, r.label); });
      }),
    ].map(function (p) { return p.catch(function () { /* lookups only make the text nicer */ }); }));
  }

  function start() {
    fillFilterOptions();
    wireControls();
    const lookups = loadLookups();
    // Connect at once; events wait (holding) until the map data they apply to is loaded.
    HotlineLive.connect({
      storageKey: "command",
      onEvent: function (event) {
        lookups.then(function () { onEvent(event); });
      },
      onSnapshot: function (snapshot) {
        lookups.then(function () { onSnapshot(snapshot); });
      },
      onState: function (state) {
        if (window.showLiveState) window.showLiveState(state);
      },
    });
    setMapStatus(gettext("Loading the map…"));
    loadAssets().then(function () {
      initMap();
      return lookups;
    }).then(function () {
      return loadTickets();  // fits the view on the first load
    }).then(function () {
      refreshJurisdictions(true);
      loadHotspots();
    }).catch(function (error) {
      setMapStatus(fmt(gettext("The map could not start (%(error)s)."), { error: error && error.message }));
    });
  }

  start();
})();
