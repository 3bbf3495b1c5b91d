/*
 * The incident forms of the commander's map: "create incident from ticket" in the ticket panel (or add the
 * ticket to a live incident) and "new incident" at a point picked on the map. The form's coordinates are
 * WGS84 (sent as such): a point picked on the map is shifted back from the tiles' system (S.fromMap) and
 * typed coordinates are shown through S.toMap. See emergency.js.
 */
(function () {
  "use strict";

  const S = window.HotlineEmergency;
  if (!S) return;
  const E = S.E;
  const el = S.el;
  const gettext = S.gettext;
  const api = S.api;
  const button = S.ui.button;
  const showProblem = S.ui.showProblem;
  const field = S.ui.field;

  const detailsBox = document.getElementById("cmd-details");
  const detailsBody = document.getElementById("cmd-details-body");
  const TICKET_TERMINAL = ["closed", "merged", "cancelled"];

  let picking = null;  // the open "new incident" form: {marker, onClick}

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
        S.selectIncident(result.incident.id, true);
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
    S.takeDetails(gettext("New incident"));
    S.dropPanel();
    const at = latlng || map.getCenter();  // on the map, in the tiles' system
    const point = S.fromMap(at);           // the same point in WGS84
    const lat = el("input", { name: "latitude", type: "number", step: "any", min: "-90", max: "90", value: point.latitude.toFixed(6), required: true });
    const lon = el("input", { name: "longitude", type: "number", step: "any", min: "-180", max: "180", value: point.longitude.toFixed(6), required: true });
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
      el("div", { class: "emg-form-buttons" }, submit, button(gettext("Cancel"), null, S.closePanel)));
    detailsBody.appendChild(form);

    const marker = L.marker(at, {
      pane: "emg-incidents",
      keyboard: false,
      interactive: false,
      icon: L.divIcon({ className: "emg-new-mark", html: "", iconSize: [18, 18], iconAnchor: [9, 9] }),
    }).addTo(map);
    function onClick(e) {
      const picked = S.fromMap(e.latlng);
      lat.value = picked.latitude.toFixed(6);
      lon.value = picked.longitude.toFixed(6);
      marker.setLatLng(e.latlng);
    }
    picking = { marker: marker, onClick: onClick };
    map.on("click", onClick);
    map.getContainer().classList.add("emg-picking");
    [lat, lon].forEach(function (input) {
      input.addEventListener("change", function () {
        const typed = [Number(lat.value), Number(lon.value)];
        if (isFinite(typed[0]) && isFinite(typed[1])) marker.setLatLng(S.toMap(typed[0], typed[1]));
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
        S.selectIncident(incident.id, false);
        detailsBox.focus();
      }).catch(function (problem) {
        submit.disabled = false;
        showProblem(form, problem);
      });
    });
    type.focus();
  }

  S.onTicketDetails = onTicketDetails;
  S.startNewIncident = startNewIncident;
  S.stopPicking = stopPicking;
  S.isPicking = function () { return picking !== null; };
})();
