/*
 * Emergency layer of the commander's map: live events and loading. Loaded last of the emergency scripts:
 * it plugs the layer into the command map (emergency/command/) through window.HotlineCommandHooks (the map once built, every live
 * event, snapshots, the ticket panel, the live feed). Events that arrive while incidents and units are
 * (re)loading wait and apply in order afterwards. See emergency.js.
 */
(function () {
  "use strict";

  const S = window.HotlineEmergency;
  if (!S) return;
  const pendingEvents = [];
  const incidentCount = document.getElementById("emg-inc-count");

  function applyEvent(event) {
    const p = event.payload || {};
    if (event.type === "unit.moved" || event.type === "unit.status_changed") {
      S.onUnitSummary(p.unit, event);
    } else if (event.type.indexOf("incident.") === 0) {
      if (p.incident) S.refreshIncidentSoon(p.incident.id);
      if (p.merged_id) S.refreshIncidentSoon(p.merged_id);
    }
    S.onPanelEvent(event);
  }

  function onEvent(event) {
    if (!event || !event.type) return;
    if (event.type.indexOf("incident.") !== 0 && event.type.indexOf("unit.") !== 0) return;
    if (!S.loaded) pendingEvents.push(event);
    else applyEvent(event);
  }

  function loadAll() {
    S.loaded = false;
    return Promise.all([S.loadIncidents(), S.loadUnits()]).then(function () {
      S.loaded = true;
      const queued = pendingEvents.splice(0);
      queued.forEach(applyEvent);
      S.reloadPanel();
    }).catch(function (problem) {
      S.loaded = true;
      pendingEvents.length = 0;
      incidentCount.textContent = S.fmt(S.gettext("Could not load incidents and units (%(error)s)."), { error: problem.message });
    });
  }

  // --- map ----------------------------------------------------------------------------------------------

  function makePane(map, name, zIndex) {
    const pane = map.createPane(name);
    pane.style.zIndex = String(zIndex);
  }

  function onMapReady(map) {
    S.setMap(map);
    makePane(map, "emg-areas", 400);
    makePane(map, "emg-incidents", 610);
    makePane(map, "emg-units", 620);  // a unit on scene sits on top of its incident's marker, tickets (640) on top of both
    S.layers.areas = L.layerGroup().addTo(map);
    S.layers.incidents = L.layerGroup().addTo(map);
    S.layers.units = L.layerGroup().addTo(map);
    map.on("contextmenu", function (e) {
      if (S.E.may_report) S.startNewIncident(e.latlng);
    });
    loadAll();
  }

  window.HotlineCommandHooks = window.HotlineCommandHooks || [];
  window.HotlineCommandHooks.push({
    basemap: function (display) {
      S.setDisplay({ toMap: display.toMap, fromMap: display.fromMap, coordsToLatLng: display.coordsToLatLng });
    },
    mapReady: onMapReady,
    event: onEvent,
    snapshot: function () { if (S.map()) loadAll(); },
    ticketDetails: function (arg) { S.onTicketDetails(arg.ticket, arg.body); },
    ticketSelected: function (id) { S.onTicketSelected(id); },
    feedLine: function (event, context) { return S.feedLine(event, context); },
  });
})();
