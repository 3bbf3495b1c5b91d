/*
 * "Send to a partner centre" in the incident panel of the commander's map (emergency.js holds the shared
 * namespace; see its list of modules): the command desk picks one of the configured partner centres
 * (GET /api/eido/partners/) and queues the incident's NENA EIDO for it through the outbox
 * (POST /api/incidents/<id>/eido/send/); the line under the control says it was queued and the delivery's
 * state. No partner configured (or a role that may not send): no control.
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

  const DELIVERY_STATES = {
    pending: gettext("waiting to be delivered"),
    delivered: gettext("delivered"),
    parked: gettext("parked after failed attempts"),
  };

  let partnersLoaded = null;  // one request per page; retried after a failure

  function loadPartners() {
    if (!partnersLoaded) {
      partnersLoaded = api("GET", "/api/eido/partners/").catch(function () {
        partnersLoaded = null;
        return [];
      });
    }
    return partnersLoaded;
  }

  function buildForm(p, partners) {
    const ui = S.ui;
    const select = el("select", { id: "emg-send-partner", name: "partner" });
    partners.forEach(function (partner) { select.appendChild(el("option", { value: partner.key, text: partner.name })); });
    const submit = ui.button(gettext("Send"), { id: "emg-send-submit", type: "submit" });
    const status = el("p", { class: "emg-form-status", id: "emg-send-status", role: "status", "aria-live": "polite" });
    const form = el("form", { class: "emg-send-form", id: "emg-send-form" },
      ui.field(gettext("Partner centre"), "partner", select), submit, status);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      send(p, form, select, submit, status);
    });
    p.sendHost.appendChild(el("h3", { class: "cmd-subtitle", text: gettext("Send to a partner centre") }));
    p.sendHost.appendChild(el("p", { class: "cmd-muted", text: gettext("The incident goes as a NENA EIDO; callers' data never leaves.") }));
    p.sendHost.appendChild(form);
    p.sendHost.hidden = false;
  }

  function send(p, form, select, submit, status) {
    const name = select.options[select.selectedIndex] ? select.options[select.selectedIndex].textContent : "";
    form.querySelectorAll(".emg-field-error").forEach(function (node) { node.remove(); });
    submit.disabled = true;
    S.ui.setStatus(status, gettext("Sending…"));
    api("POST", "/api/incidents/" + p.id + "/eido/send/", { partner: select.value }).then(function (answer) {
      submit.disabled = false;
      status.dataset.delivery = answer.delivery;
      status.dataset.state = answer.state;
      S.ui.setStatus(status, fmt(gettext("Queued for %(partner)s (%(state)s)."), {
        partner: name,
        state: DELIVERY_STATES[answer.state] || gettext("state unknown"),
      }));
      if (S.currentPanel() === p) S.refreshPanel();  // the timeline shows the sending
    }).catch(function (problem) {
      submit.disabled = false;
      delete status.dataset.state;
      S.ui.showProblem(form, problem);
    });
  }

  // Called by the panel each time it fills in the incident; the control is built once per panel.
  function fillSendToPartner(p) {
    if (!E.may_command || !p.sendHost || p.sendBuilt) return;
    p.sendBuilt = true;
    loadPartners().then(function (partners) {
      if (S.currentPanel() !== p) return;
      clear(p.sendHost);
      if (partners && partners.length) buildForm(p, partners);
      else p.sendBuilt = false;  // nothing to offer (yet): ask again with the next refresh
    });
  }

  S.fillSendToPartner = fillSendToPartner;
})();
