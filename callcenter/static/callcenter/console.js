/*
 * The operator console (/console/).
 *
 * Left: the intake form, with the caller's screen pop (a call answered at this operator's extension, or a
 * number typed in, shows the caller's earlier tickets). Middle: the map (click, drag, address search or
 * shared coordinates place the pin), the live routing proposal, and once accepted, the ticket with its
 * possible duplicates (merge) and the dispatch. Right: the knowledge base ("resolve directly") and the
 * operator's own tickets of today, kept current by the live event stream.
 *
 * Every server string is put on the page with textContent, never as HTML. Coordinates are kept in WGS84
 * and sent with coordinate_system "wgs84"; the map shows them in the tiles' system (config
 * tile_coordinate_system, default wgs84), and coordinates in other systems are converted by the server.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("screen-config").textContent);
  const user = config.user || {};
  const $ = (id) => document.getElementById(id);
  const MAP_SYSTEM = config.tile_coordinate_system || "wgs84";
  const TERMINAL = new Set(["closed", "merged", "cancelled"]);

  // ---------------------------------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === "text") node.textContent = value;
        else if (key === "class") node.className = value;
        else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children || []) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function fmt(template, values) {
    return interpolate(template, values, true);
  }

  function debounce(fn, ms) {
    let timer = null;
    const wrapped = function () {
      const args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () {
        fn.apply(null, args);
      }, ms);
    };
    wrapped.cancel = function () {
      clearTimeout(timer);
    };
    return wrapped;
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    // crypto.randomUUID needs a secure context; getRandomValues does not.
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function localDay(date) {
    const d = date || new Date();
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
  }

  function shortTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    const hm = String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
    if (localDay(d) === localDay()) return hm;
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0") + " " + hm;
  }

  /** +8613812341234 -> 13812341234, +867722801234 -> 07722801234 (as dialled in China). */
  function nationalNumber(phone) {
    if (!phone) return "";
    if (phone.startsWith("+86")) {
      const rest = phone.slice(3);
      return rest.startsWith("1") ? rest : "0" + rest;
    }
    return phone;
  }

  /** Worth a history lookup: a mobile (11 digits), a fixed line with its area code, or an international number. */
  function plausiblePhone(raw) {
    const value = (raw || "").trim();
    const digits = value.replace(/\D/g, "");
    if (value.startsWith("+")) return digits.length >= 10 && digits.length <= 15;
    if (digits.startsWith("1")) return digits.length === 11;
    if (digits.startsWith("0")) return digits.length >= 10 && digits.length <= 12;
    return false;
  }

  const STATE_LABELS = {
    accepted: gettext("Accepted"),
    dispatched: gettext("Dispatched"),
    in_progress: gettext("In progress"),
    returned: gettext("Returned, awaiting re-dispatch"),
    replied: gettext("Replied, awaiting review"),
    pending_revisit: gettext("Awaiting revisit"),
    revisited: gettext("Revisited"),
    closed: gettext("Closed"),
    merged: gettext("Merged into another ticket"),
    cancelled: gettext("Cancelled"),
  };
  const CALL_STATE_LABELS = {
    ringing: gettext("Ringing"),
    answered: gettext("On the call"),
    ended: gettext("Call ended"),
  };
  const urgencyNames = Object.fromEntries((config.urgencies || []).map((u) => [u.code, u.name]));

  function stateBadge(state) {
    return el("span", { class: "state state-" + state, text: STATE_LABELS[state] || state });
  }

  // ---------------------------------------------------------------------------------------------
  // API
  // ---------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || gettext("The request failed."));
      this.status = status;
      this.code = (body && body.code) || "error";
      this.fields = (body && body.fields) || {};
    }
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const hidden = document.querySelector("input[name=csrfmiddlewaretoken]");
    return hidden ? hidden.value : "";
  }

  async function api(method, url, body, extraHeaders) {
    const headers = Object.assign(
      { Accept: "application/json", "Accept-Language": document.documentElement.lang || "zh-hans" },
      extraHeaders || {}
    );
    const init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw new ApiError(0, { code: "network", message: gettext("Network error: check the connection and try again.") });
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) {
      if (response.status === 401 || (response.status === 403 && data && data.code === "not_authenticated")) {
        throw new ApiError(response.status, {
          code: "not_authenticated",
          message: gettext("Your session has ended: please log in again."),
        });
      }
      throw new ApiError(
        response.status,
        data && data.message ? data : { code: "http_" + response.status, message: fmt(gettext("The server answered %(status)s."), { status: response.status }) }
      );
    }
    return data;
  }

  function errorText(error) {
    return error instanceof ApiError ? error.message : String(error && error.message ? error.message : error);
  }

  // ---------------------------------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------------------------------

  const state = {
    idempotencyKey: uuid(),
    submitting: false,
    submitted: null, // the ticket this form created (the form is locked until "new intake")
    dirty: false,
    callId: null, // the Call pk this intake is taken from
    call: null,
    pendingCall: null, // a call that arrived while another intake was half typed
    handledCalls: new Set(),
    routingView: "draft", // the routing panel shows the draft being typed, or the opened ticket
    live: "connecting",
    pin: null, // {latitude, longitude} in WGS84
    placement: null,
    proposal: null, // live proposal for the draft
    ticket: null, // the ticket shown in the ticket panel (detail)
    ticketProposal: null, // the server's current proposal for that ticket
    duplicates: [],
    chosenArticle: null,
    queue: new Map(), // id -> list representation
    historyPhone: null, // the number last looked up (or being looked up)
    historyShownFor: null, // the number (as typed) whose history is on screen
  };

  const subjects = (config.subjects || []).map((s) => {
    const parts = String(s.path).split(/\s*>\s*/);
    return { code: s.code, path: s.path, name: parts[parts.length - 1] };
  });
  const subjectByPath = new Map(subjects.map((s) => [s.path, s]));
  const subjectByCode = new Map(subjects.map((s) => [s.code, s]));

  // ---------------------------------------------------------------------------------------------
  // Intake form
  // ---------------------------------------------------------------------------------------------

  const form = $("intake");
  const fields = {
    phone: $("f-phone"),
    caller_name: $("f-caller-name"),
    caller_confidential: $("f-confidential"),
    appeal_type: $("f-appeal-type"),
    channel: $("f-channel"),
    urgency: $("f-urgency"),
    subject: $("f-subject"),
    title: $("f-title"),
    description: $("f-description"),
    address: $("f-address"),
  };

  function fillOptions() {
    for (const type of config.appeal_types || []) {
      fields.appeal_type.appendChild(el("option", { value: type.code, text: type.name }));
    }
    for (const channel of config.channels || []) {
      fields.channel.appendChild(el("option", { value: channel.code, text: channel.name }));
    }
    for (const urgency of config.urgencies || []) {
      fields.urgency.appendChild(el("option", { value: urgency.code, text: urgency.name }));
    }
    const list = $("subject-options");
    for (const subject of subjects) list.appendChild(el("option", { value: subject.path }));
  }

  function setDefaults() {
    fields.channel.value = (config.channels || []).some((c) => c.code === "phone") ? "phone" : (config.channels[0] || {}).code || "";
    fields.urgency.value = (config.urgencies || []).some((u) => u.code === "normal") ? "normal" : (config.urgencies[0] || {}).code || "";
  }

  /** The subject the text in the field means: an exact path, or the only subject whose path contains it. */
  function matchSubjects(text) {
    const value = (text || "").trim();
    if (!value) return [];
    const exact = subjectByPath.get(value) || subjectByCode.get(value);
    if (exact) return [exact];
    const byName = subjects.filter((s) => s.name === value);
    if (byName.length) return byName;
    const needle = value.replace(/\s*>\s*/g, " > ").toLowerCase();
    return subjects.filter((s) => s.path.toLowerCase().includes(needle) || s.code.includes(needle));
  }

  function currentSubject() {
    const matches = matchSubjects(fields.subject.value);
    return matches.length === 1 ? matches[0] : null;
  }

  function renderSubjectHint() {
    const hint = $("subject-resolved");
    const value = fields.subject.value.trim();
    const matches = matchSubjects(value);
    hint.classList.remove("warn");
    if (!value) hint.textContent = "";
    else if (matches.length === 1) hint.textContent = "✓ " + matches[0].path;
    else if (matches.length === 0) {
      hint.textContent = gettext("No subject matches: pick one from the list.");
      hint.classList.add("warn");
    } else hint.textContent = fmt(gettext("%(n)s subjects match: keep typing or pick one."), { n: matches.length });
  }

  function setFieldError(name, message) {
    const box = $("err-" + name);
    const input = fields[name];
    if (box) box.textContent = message || "";
    if (input) {
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }

  function clearErrors() {
    for (const name of Object.keys(fields)) setFieldError(name, "");
    $("form-error").textContent = "";
  }

  function collect() {
    const subject = currentSubject();
    const body = {
      channel: fields.channel.value,
      phone: fields.phone.value.trim(),
      caller_name: fields.caller_name.value.trim(),
      caller_confidential: fields.caller_confidential.checked,
      appeal_type: fields.appeal_type.value,
      subject: subject ? subject.code : fields.subject.value.trim(),
      urgency: fields.urgency.value,
      title: fields.title.value.trim(),
      description: fields.description.value.trim(),
      address: fields.address.value.trim(),
      latitude: state.pin ? state.pin.latitude : null,
      longitude: state.pin ? state.pin.longitude : null,
      coordinate_system: "wgs84",
    };
    if (state.callId) body.call_id = state.callId;
    return body;
  }

  function validate(body) {
    const problems = {};
    if (!body.channel) problems.channel = gettext("Choose the channel.");
    if (!body.appeal_type) problems.appeal_type = gettext("Choose the appeal type.");
    if (!currentSubject()) problems.subject = gettext("Choose a subject from the list.");
    if (!body.description) problems.description = gettext("Describe the caller's request.");
    return problems;
  }

  function focusFirstError(names) {
    const order = ["phone", "caller_name", "appeal_type", "channel", "urgency", "subject", "title", "description", "address"];
    for (const name of order) {
      if (names.includes(name) && fields[name]) {
        fields[name].focus();
        return;
      }
    }
  }

  function setIntakeState(text) {
    $("intake-state").textContent = text || "";
  }

  function lockForm(locked) {
    for (const input of Object.values(fields)) input.disabled = locked;
    $("intake-submit").disabled = locked;
    $("address-locate").disabled = locked;
    form.classList.toggle("locked", locked);
  }

  async function submitIntake() {
    if (state.submitting || state.submitted) return;
    clearErrors();
    const body = collect();
    const problems = validate(body);
    if (Object.keys(problems).length) {
      for (const [name, message] of Object.entries(problems)) setFieldError(name, message);
      $("form-error").textContent = gettext("Some fields need attention.");
      focusFirstError(Object.keys(problems));
      return;
    }
    state.submitting = true;
    $("intake-submit").disabled = true;
    setIntakeState(gettext("Saving…"));
    try {
      // One key per form: a double submit or a retry after a lost answer returns the same ticket.
      const ticket = await api("POST", "/api/tickets/", body, { "Idempotency-Key": state.idempotencyKey });
      onTicketCreated(ticket);
    } catch (error) {
      setIntakeState("");
      const names = Object.keys(error.fields || {});
      for (const name of names) {
        const messages = error.fields[name];
        const text = Array.isArray(messages) ? messages.join(" ") : typeof messages === "string" ? messages : JSON.stringify(messages);
        if (name === "latitude" || name === "longitude" || name === "coordinate_system") setFieldError("address", text);
        else if (fields[name]) setFieldError(name, text);
      }
      if (error.fields && error.fields.call_id) {
        // The call is unknown or already has its ticket: accept without the link on the next try.
        state.callId = null;
        renderCallBanner();
      }
      const unknown = names.filter((n) => !fields[n] && !["latitude", "longitude", "coordinate_system", "call_id"].includes(n));
      $("form-error").textContent =
        error.message + (unknown.length ? " " + unknown.map((n) => n + ": " + [].concat(error.fields[n]).join(" ")).join("; ") : "");
      if (names.length) focusFirstError(names.map((n) => (n === "latitude" || n === "longitude" ? "address" : n)));
    } finally {
      state.submitting = false;
      if (!state.submitted) $("intake-submit").disabled = false;
    }
  }

  function onTicketCreated(ticket) {
    if (state.callId && state.call && state.call.id === state.callId) {
      // A call gives one ticket; a second matter of the same caller is a new intake without the link.
      state.call = Object.assign({}, state.call, { ticket_id: ticket.id });
      state.callId = null;
    }
    state.submitted = ticket;
    state.dirty = false;
    lockForm(true);
    if (pinMarker && map) map.removeLayer(pinMarker); // the ticket's own marker takes its place
    pinMarker = null;
    renderCallBanner();
    setIntakeState(fmt(gettext("Accepted as %(number)s"), { number: ticket.number }));
    rememberMine(ticket.id);
    upsertQueue(ticket);
    openTicket(ticket.id, { detail: ticket, focus: true });
    // The knowledge base is often the answer: search it with what the caller asked about.
    if (!$("kb-q").value.trim()) {
      const subject = subjectByCode.get(ticket.subject && ticket.subject.code);
      $("kb-q").value = ticket.title || (subject ? subject.name : "");
      if ($("kb-q").value) searchKnowledge();
    }
  }

  function resetIntake(options) {
    const keepCall = options && options.keepCall;
    // Still on the phone with the same caller (another matter): keep the number, not the call link.
    const activeCall = !keepCall && state.call && state.call.state !== "ended" ? state.call : null;
    form.reset();
    clearErrors();
    lockForm(false);
    setDefaults();
    state.idempotencyKey = uuid();
    state.submitted = null;
    state.dirty = false;
    state.historyPhone = null;
    if (!keepCall) setCall(null);
    clearPin();
    state.proposal = null;
    // A call popping up must not take the dispatch of the previous ticket away from under the operator.
    if (!(options && options.keepView)) state.routingView = "draft";
    lastSubjectCode = null;
    renderSubjectHint();
    renderRouting();
    renderTicket();
    renderHistory(null);
    setIntakeState("");
    $("geocode-q").value = "";
    hideGeocodeResults();
    if (activeCall) {
      state.call = activeCall;
      state.callId = activeCall.ticket_id ? null : activeCall.id;
      renderCallBanner();
      fields.phone.value = nationalNumber(activeCall.phone);
      lookupHistory(false);
    }
  }

  function markDirty() {
    if (!state.submitted) state.dirty = true;
  }

  function bindForm() {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submitIntake();
    });
    form.addEventListener("input", markDirty);
    // Enter in a one-line field must never submit the ticket; some fields give it a meaning of their own.
    form.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.ctrlKey || event.metaKey || event.isComposing) return;
      const target = event.target;
      if (target.tagName !== "INPUT") return;
      event.preventDefault();
      if (target === fields.address) locateAddress();
      else if (target === fields.phone) lookupHistory(true);
      else if (target === fields.subject) {
        const matches = matchSubjects(fields.subject.value);
        if (matches.length >= 1) chooseSubject(matches[0]);
      }
    });
    fields.subject.addEventListener("input", function () {
      renderSubjectHint();
      subjectChanged();
    });
    fields.subject.addEventListener("change", function () {
      const matches = matchSubjects(fields.subject.value);
      if (matches.length === 1 && fields.subject.value !== matches[0].path) fields.subject.value = matches[0].path;
      renderSubjectHint();
      subjectChanged();
    });
    fields.phone.addEventListener("input", function () {
      setFieldError("phone", "");
      const value = fields.phone.value.trim();
      // The history on screen belongs to another number now: take it away until the new one is read.
      if (state.historyShownFor !== null && value !== state.historyShownFor) renderHistory(null);
      if (value !== state.historyPhone) state.historyPhone = null;
      lookupHistoryDebounced();
    });
    $("address-locate").addEventListener("click", locateAddress);
    $("intake-reset").addEventListener("click", function () {
      if (state.dirty && !window.confirm(gettext("Discard what has been typed in this intake?"))) return;
      resetIntake();
      fields.phone.focus();
    });
  }

  function chooseSubject(subject) {
    fields.subject.value = subject.path;
    renderSubjectHint();
    subjectChanged();
  }

  let lastSubjectCode = null;
  function subjectChanged() {
    const subject = currentSubject();
    const code = subject ? subject.code : null;
    if (code === lastSubjectCode) return;
    lastSubjectCode = code;
    if (!state.submitted) {
      state.routingView = "draft";
      renderTicket();
      requestRouting();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Calls and caller history (screen pop)
  // ---------------------------------------------------------------------------------------------

  function isMyCall(call) {
    if (!call) return false;
    if (call.operator_id !== null && call.operator_id !== undefined && call.operator_id === user.id) return true;
    return Boolean(user.extension) && call.extension === user.extension;
  }

  function setCall(call) {
    state.call = call;
    state.callId = call ? call.id : null;
    renderCallBanner();
  }

  function renderCallBanner() {
    const banner = $("call-banner");
    const call = state.pendingCall || state.call;
    show(banner, Boolean(call));
    if (!call) return;
    banner.dataset.state = call.state || "";
    $("call-state").textContent = state.pendingCall
      ? gettext("New call")
      : CALL_STATE_LABELS[call.state] || call.state || "";
    $("call-number").textContent = nationalNumber(call.phone) || gettext("number withheld");
    show($("call-load"), Boolean(state.pendingCall));
    show($("call-unlink"), !state.pendingCall && Boolean(state.callId) && !state.submitted);
  }

  async function onCallEvent(event) {
    const call = event.payload && event.payload.call;
    if (!isMyCall(call)) return;
    if (event.type === "call.ringing") {
      if (!state.call || state.call.id !== call.id) {
        if (!state.call || state.call.state === "ended" || state.submitted) {
          // Shown while it rings; the number comes with the answer.
          if (!state.pendingCall) {
            $("call-banner").dataset.state = "ringing";
            show($("call-banner"), true);
            $("call-state").textContent = CALL_STATE_LABELS.ringing;
            $("call-number").textContent = "";
            show($("call-load"), false);
            show($("call-unlink"), false);
          }
        }
      }
      return;
    }
    if (event.type === "call.ended") {
      if (state.call && state.call.id === call.id) {
        state.call = Object.assign({}, state.call, { state: "ended" });
      } else if (state.pendingCall && state.pendingCall.id === call.id) {
        state.pendingCall = Object.assign({}, state.pendingCall, { state: "ended" });
      }
      renderCallBanner(); // also takes away the "ringing" of a call that was never answered here
      return;
    }
    if (event.type !== "call.answered" || state.handledCalls.has(call.id)) return;
    state.handledCalls.add(call.id);
    let detail;
    try {
      detail = await api("GET", "/api/calls/" + encodeURIComponent(call.id) + "/");
    } catch (error) {
      $("form-error").textContent = fmt(gettext("Could not load the call: %(error)s"), { error: errorText(error) });
      return;
    }
    // Replayed after a reconnect: a call long over, or one already turned into a ticket, is history.
    if (detail.ticket_id || (event.replayed && detail.state === "ended")) return;
    popCall(detail);
  }

  function popCall(call) {
    const typedOther =
      state.dirty && !state.submitted && fields.phone.value.trim() && fields.phone.value.trim() !== nationalNumber(call.phone);
    if (typedOther) {
      // Do not overwrite a half-typed intake: offer the call instead.
      state.pendingCall = call;
      renderCallBanner();
      return;
    }
    takeCall(call);
  }

  function takeCall(call) {
    state.pendingCall = null;
    const wasPristine = !state.dirty || Boolean(state.submitted);
    if (state.submitted) resetIntake({ keepCall: true, keepView: true });
    setCall(call);
    fields.phone.value = nationalNumber(call.phone);
    setFieldError("phone", "");
    lookupHistoryDebounced.cancel();
    state.historyPhone = fields.phone.value;
    renderHistory({ phone: call.phone, tickets: call.history || [] }, fields.phone.value.trim());
    if (wasPristine && (document.activeElement === document.body || !document.activeElement || form.contains(document.activeElement))) {
      fields.caller_name.focus();
    }
  }

  const lookupHistoryDebounced = debounce(function () {
    lookupHistory(false);
  }, 450);

  async function lookupHistory(now) {
    const phone = fields.phone.value.trim();
    if (!plausiblePhone(phone)) {
      if (now && phone) setFieldError("phone", gettext("This does not look like a complete phone number."));
      return;
    }
    if (phone === state.historyPhone) return;
    state.historyPhone = phone;
    $("history-summary").textContent = gettext("Looking up…");
    try {
      const data = await api("POST", "/api/callers/history/", { phone: phone });
      if (fields.phone.value.trim() !== phone) {
        if (state.historyPhone === phone) state.historyPhone = null; // typed on meanwhile
        return;
      }
      renderHistory(data, phone);
    } catch (error) {
      if (state.historyPhone === phone) state.historyPhone = null;
      if (fields.phone.value.trim() !== phone) return;
      $("history-summary").textContent = "";
      setFieldError("phone", error.code === "invalid_input" ? (error.fields.phone || [error.message]).join(" ") : errorText(error));
    }
  }

  function renderHistory(data, shownFor) {
    state.historyShownFor = data ? shownFor || null : null;
    const list = $("history-list");
    clear(list);
    const summary = $("history-summary");
    const empty = $("history-empty");
    $("history").classList.remove("has-open");
    if (!data) {
      summary.textContent = "";
      show(empty, true);
      empty.textContent = gettext("Enter the caller's number or take a call to see earlier tickets.");
      return;
    }
    // A lookup answered after acceptance would list the ticket just taken as "earlier": leave it out.
    const tickets = (data.tickets || []).filter((t) => !(state.submitted && t.id === state.submitted.id));
    const open = tickets.filter((t) => !TERMINAL.has(t.state));
    summary.textContent = tickets.length
      ? fmt(gettext("%(n)s earlier, %(open)s open"), { n: tickets.length, open: open.length })
      : "";
    $("history").classList.toggle("has-open", open.length > 0);
    show(empty, tickets.length === 0);
    if (!tickets.length) {
      empty.textContent = fmt(gettext("No earlier tickets from %(phone)s: a first-time caller."), { phone: nationalNumber(data.phone) });
      return;
    }
    for (const ticket of tickets.slice(0, 50)) {
      const subjectName = ticket.subject ? ticket.subject.name : "";
      list.appendChild(
        el("li", { class: TERMINAL.has(ticket.state) ? "done" : "open", title: ticket.address || "" }, [
          el("div", { class: "line" }, [
            el("span", { class: "number", text: ticket.number }),
            stateBadge(ticket.state),
            el("span", { class: "time", text: shortTime(ticket.created_at) }),
          ]),
          el("div", { class: "line sub" }, [
            el("span", { class: "subject", text: subjectName }),
            el("span", { class: "title", text: ticket.title || "" }),
          ]),
        ])
      );
    }
  }

  function bindCallBanner() {
    $("call-load").addEventListener("click", function () {
      if (!state.pendingCall) return;
      if (state.dirty && !window.confirm(gettext("Discard what has been typed in this intake?"))) return;
      const call = state.pendingCall;
      resetIntake({ keepCall: true });
      takeCall(call);
    });
    $("call-unlink").addEventListener("click", function () {
      setCall(null);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Map
  // ---------------------------------------------------------------------------------------------

  let map = null;
  let pinMarker = null;
  let ticketMarker = null;

  function loadLeaflet() {
    return new Promise(function (resolve, reject) {
      if (window.L) return resolve(window.L);
      const leaflet = config.leaflet || {};
      if (leaflet.css) document.head.appendChild(el("link", { rel: "stylesheet", href: leaflet.css }));
      const script = el("script", { src: leaflet.js });
      script.onload = function () {
        resolve(window.L);
      };
      script.onerror = function () {
        reject(new Error(gettext("The map library could not be loaded.")));
      };
      document.head.appendChild(script);
    });
  }

  function mapMessage(text) {
    const box = $("map-message");
    box.textContent = text || "";
    show(box, Boolean(text));
  }

  // WGS84 -> GCJ-02 / BD-09 for display on tiles in those systems (the usual published formulas).
  function outOfChina(lon, lat) {
    return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }
  function wgsToGcj(lon, lat) {
    if (outOfChina(lon, lat)) return [lon, lat];
    const a = 6378245.0;
    const ee = 0.00669342162296594323;
    const x = lon - 105.0;
    const y = lat - 35.0;
    let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    dLat += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
    dLat += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
    dLat += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
    let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    dLon += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
    dLon += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
    dLon += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
    const radLat = (lat / 180.0) * Math.PI;
    let magic = Math.sin(radLat);
    magic = 1 - ee * magic * magic;
    const sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / (((a * (1 - ee)) / (magic * sqrtMagic)) * Math.PI);
    dLon = (dLon * 180.0) / ((a / sqrtMagic) * Math.cos(radLat) * Math.PI);
    return [lon + dLon, lat + dLat];
  }
  function gcjToBd(lon, lat) {
    const xPi = (Math.PI * 3000.0) / 180.0;
    const z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * xPi);
    const theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * xPi);
    return [z * Math.cos(theta) + 0.0065, z * Math.sin(theta) + 0.006];
  }
  /** A WGS84 point as a Leaflet LatLng on this map. */
  function toMap(latitude, longitude) {
    if (MAP_SYSTEM === "wgs84") return [latitude, longitude];
    let p = wgsToGcj(longitude, latitude);
    if (MAP_SYSTEM === "bd09") p = gcjToBd(p[0], p[1]);
    return [p[1], p[0]];
  }

  function fitCity(layer, features) {
    // Fit to the cluster of jurisdictions around the median centre: one stray polygon far away
    // must not zoom the map out to a whole country.
    const centres = features
      .map(function (f) {
        const b = L.geoJSON(f).getBounds();
        return b.isValid() ? { bounds: b, centre: b.getCenter() } : null;
      })
      .filter(Boolean);
    if (!centres.length) return false;
    const median = function (values) {
      const sorted = values.slice().sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)];
    };
    const lat = median(centres.map((c) => c.centre.lat));
    const lng = median(centres.map((c) => c.centre.lng));
    let bounds = null;
    for (const c of centres) {
      if (Math.abs(c.centre.lat - lat) > 2.5 || Math.abs(c.centre.lng - lng) > 2.5) continue;
      bounds = bounds ? bounds.extend(c.bounds) : L.latLngBounds(c.bounds.getSouthWest(), c.bounds.getNorthEast());
    }
    if (!bounds) return false;
    map.fitBounds(bounds, { padding: [8, 8] });
    return true;
  }

  async function initMap() {
    try {
      await loadLeaflet();
    } catch (error) {
      mapMessage(errorText(error));
      return;
    }
    map = L.map("map", {
      zoomControl: true,
      keyboard: true,
      zoomSnap: 0.25,
      attributionControl: Boolean(config.tile_url),
    });
    map.setView([30, 110], 4);
    if (config.tile_url) {
      L.tileLayer(config.tile_url, { maxZoom: 19, attribution: config.tile_attribution || "" }).addTo(map);
    } else {
      map.getContainer().classList.add("no-tiles");
    }
    map.on("click", function (event) {
      if (state.submitted && !state.dirty) return; // the accepted ticket's place is not edited here
      placeFromMap(event.latlng.lat, event.latlng.lng);
    });
    try {
      const zoom = 10;
      const data = await api(
        "GET",
        "/api/geo/layers/district/?zoom=" + zoom + "&coordinate_system=" + encodeURIComponent(MAP_SYSTEM)
      );
      const layer = L.geoJSON(data, {
        style: function () {
          return { color: "#0b4f8a", weight: 1.2, fillColor: "#5b8fc7", fillOpacity: 0.06 };
        },
        onEachFeature: function (feature, featureLayer) {
          const label = document.createElement("span");
          label.textContent = (feature.properties && feature.properties.name) || "";
          featureLayer.bindTooltip(label, { sticky: true, direction: "top", opacity: 0.85 });
        },
        interactive: true,
      });
      layer.addTo(map); // its clicks reach the map's click handler
      addDetailLayers();
      if (!fitCity(layer, data.features || [])) mapMessage(gettext("No jurisdiction layer is loaded."));
    } catch (error) {
      mapMessage(fmt(gettext("The district layer could not be loaded: %(error)s"), { error: errorText(error) }));
    }
    if (state.pin) drawPin();
  }

  /** Street boundaries from zoom 12 and grid cells from zoom 15, fetched once when first needed. */
  function addDetailLayers() {
    const renderer = L.canvas({ padding: 0.2 });
    const levels = [
      { level: "street", minZoom: 12, style: { color: "#3d6f9e", weight: 1, dashArray: "4 3", fill: false } },
      { level: "grid", minZoom: 15, style: { color: "#8a9aab", weight: 0.7, fill: false } },
    ];
    for (const item of levels) {
      item.layer = null;
      item.loading = false;
    }
    async function update() {
      const zoom = map.getZoom();
      for (const item of levels) {
        const wanted = zoom >= item.minZoom;
        if (wanted && !item.layer && !item.loading) {
          item.loading = true;
          try {
            const data = await api(
              "GET",
              "/api/geo/layers/" + item.level + "/?zoom=" + item.minZoom + "&coordinate_system=" + encodeURIComponent(MAP_SYSTEM)
            );
            item.layer = L.geoJSON(data, { style: item.style, renderer: renderer, interactive: false });
          } catch (error) {
            item.layer = null;
          }
          item.loading = false;
        }
        if (!item.layer) continue;
        const shown = map.hasLayer(item.layer);
        if (map.getZoom() >= item.minZoom && !shown) item.layer.addTo(map);
        else if (map.getZoom() < item.minZoom && shown) map.removeLayer(item.layer);
      }
    }
    map.on("zoomend", update);
    update();
  }

  async function placeFromMap(lat, lng) {
    if (MAP_SYSTEM === "wgs84") {
      setPin({ latitude: lat, longitude: lng });
      return;
    }
    // Tiles in GCJ-02/BD-09: the server converts the clicked point to WGS84.
    try {
      const data = await api(
        "GET",
        "/api/geo/reverse/?latitude=" + lat + "&longitude=" + lng + "&coordinate_system=" + encodeURIComponent(MAP_SYSTEM)
      );
      setPin({ latitude: data.wgs84.latitude, longitude: data.wgs84.longitude });
    } catch (error) {
      mapMessage(errorText(error));
    }
  }

  function setPin(pin, options) {
    if (state.submitted) {
      // A new place after acceptance starts a new intake only when asked for; keep the ticket as it is.
      return;
    }
    state.pin = { latitude: Number(pin.latitude.toFixed(7)), longitude: Number(pin.longitude.toFixed(7)) };
    markDirty();
    state.routingView = "draft";
    renderTicket();
    drawPin();
    renderPinSummary();
    if (options && options.pan && map) map.setView(toMap(state.pin.latitude, state.pin.longitude), Math.max(map.getZoom(), 15));
    requestRouting();
  }

  function clearPin() {
    state.pin = null;
    state.placement = null;
    if (pinMarker && map) map.removeLayer(pinMarker);
    pinMarker = null;
    renderPinSummary();
  }

  function drawPin() {
    if (!map || !state.pin || state.submitted) return;
    const at = toMap(state.pin.latitude, state.pin.longitude);
    if (!pinMarker) {
      pinMarker = L.marker(at, { draggable: true, keyboard: true, title: gettext("Location pin: drag to adjust") });
      pinMarker.on("dragend", function () {
        const p = pinMarker.getLatLng();
        placeFromMap(p.lat, p.lng);
      });
      pinMarker.addTo(map);
    } else {
      pinMarker.setLatLng(at);
    }
  }

  function renderPinSummary() {
    const box = $("pin-summary");
    if (!state.pin) {
      box.textContent = gettext("No location yet: click the map, search an address, or enter coordinates.");
      return;
    }
    const where = state.placement ? placementNames(state.placement) : "";
    box.textContent =
      gettext("Location:") + " " + (where ? where + " · " : "") + "WGS84 " + state.pin.latitude.toFixed(6) + ", " + state.pin.longitude.toFixed(6);
  }

  function placementNames(placement) {
    const places = (placement && placement.places) || {};
    return ["district", "street", "grid"]
      .map((level) => (places[level] ? places[level].name : ""))
      .filter(Boolean)
      .join(" · ");
  }

  // Address search -------------------------------------------------------------------------------

  function hideGeocodeResults() {
    const list = $("geocode-results");
    clear(list);
    show(list, false);
  }

  async function geocode(query) {
    const list = $("geocode-results");
    const text = (query || "").trim();
    if (!text) return;
    clear(list);
    show(list, true);
    list.appendChild(el("li", { class: "hint", text: gettext("Searching…") }));
    let data;
    try {
      data = await api(
        "GET",
        "/api/geo/geocode/?q=" + encodeURIComponent(text.slice(0, 200)) + "&coordinate_system=wgs84"
      );
    } catch (error) {
      clear(list);
      list.appendChild(el("li", { class: "error", text: errorText(error) }));
      return;
    }
    clear(list);
    const results = data.results || [];
    if (!results.length) {
      list.appendChild(el("li", { class: "hint", text: gettext("No match: click the place on the map instead.") }));
      return;
    }
    results.slice(0, 8).forEach(function (result, index) {
      const button = el(
        "button",
        {
          type: "button",
          class: "geocode-hit",
          onclick: function () {
            setPin({ latitude: result.latitude, longitude: result.longitude }, { pan: true });
            if (!fields.address.value.trim() && !state.submitted) fields.address.value = result.name;
            hideGeocodeResults();
          },
          onkeydown: function (event) {
            if (event.key === "ArrowDown" || event.key === "ArrowUp") {
              event.preventDefault();
              const buttons = list.querySelectorAll("button");
              const next = buttons[(index + (event.key === "ArrowDown" ? 1 : buttons.length - 1)) % buttons.length];
              if (next) next.focus();
            } else if (event.key === "Escape") {
              hideGeocodeResults();
            }
          },
        },
        [
          el("span", { class: "name", text: result.name }),
          el("span", { class: "hint", text: [result.district, result.kind].filter(Boolean).join(" · ") }),
          el("span", { class: "score", text: Math.round((result.score || 0) * 100) + "%" }),
        ]
      );
      list.appendChild(el("li", null, [button]));
    });
    return results;
  }

  async function locateAddress() {
    const text = fields.address.value.trim();
    if (!text) {
      setFieldError("address", gettext("Type the address first."));
      fields.address.focus();
      return;
    }
    setFieldError("address", "");
    $("geocode-q").value = text;
    const results = await geocode(text);
    const first = $("geocode-results").querySelector("button");
    if (results && results.length && first) first.focus();
  }

  async function placeCoordinates() {
    const raw = $("coords-q").value.trim();
    const numbers = raw.split(/[\s,，;]+/).filter(Boolean).map(Number);
    if (numbers.length !== 2 || numbers.some((n) => !isFinite(n))) {
      mapMessage(gettext("Give the coordinates as: latitude, longitude"));
      return;
    }
    let lat = numbers[0];
    let lon = numbers[1];
    if (Math.abs(lat) > 90 && Math.abs(lon) <= 90) {
      // Given as longitude, latitude (as many apps copy them).
      lat = numbers[1];
      lon = numbers[0];
    }
    const system = $("coords-system").value;
    try {
      const data = await api(
        "GET",
        "/api/geo/reverse/?latitude=" + lat + "&longitude=" + lon + "&coordinate_system=" + encodeURIComponent(system)
      );
      mapMessage("");
      setPin({ latitude: data.wgs84.latitude, longitude: data.wgs84.longitude }, { pan: true });
    } catch (error) {
      mapMessage(errorText(error));
    }
  }

  function bindMapTools() {
    $("geocode-form").addEventListener("submit", function (event) {
      event.preventDefault();
      geocode($("geocode-q").value).then(function () {
        const first = $("geocode-results").querySelector("button");
        if (first) first.focus();
      });
    });
    $("coords-form").addEventListener("submit", function (event) {
      event.preventDefault();
      placeCoordinates();
    });
    $("geocode-q").addEventListener("keydown", function (event) {
      if (event.key === "Escape") hideGeocodeResults();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Routing proposal
  // ---------------------------------------------------------------------------------------------

  let routeSeq = 0;
  const requestRouting = debounce(async function () {
    const seq = ++routeSeq;
    const subject = currentSubject();
    if (!state.pin || state.submitted) {
      state.proposal = null;
      renderRouting();
      return;
    }
    $("routing-status").textContent = gettext("Updating…");
    try {
      if (subject) {
        const data = await api("POST", "/api/geo/route/", {
          latitude: state.pin.latitude,
          longitude: state.pin.longitude,
          coordinate_system: "wgs84",
          subject: subject.code,
        });
        if (seq !== routeSeq) return;
        state.proposal = data;
        state.placement = data.placement;
      } else {
        // No subject yet: say where the pin is (and whether it is near a boundary) without a proposal.
        const data = await api(
          "GET",
          "/api/geo/reverse/?latitude=" + state.pin.latitude + "&longitude=" + state.pin.longitude + "&coordinate_system=wgs84"
        );
        if (seq !== routeSeq) return;
        state.proposal = null;
        state.placement = data;
      }
      $("routing-status").textContent = "";
    } catch (error) {
      if (seq !== routeSeq) return;
      state.proposal = null;
      $("routing-status").textContent = errorText(error);
    }
    renderPinSummary();
    renderRouting();
  }, 250);

  function agencyName(agency) {
    return agency ? agency.name : "";
  }

  /** Proposal panel: for the opened ticket (with dispatch) or else for the draft being typed. */
  function renderRouting() {
    const ticketMode = Boolean(state.ticket) && state.routingView === "ticket";
    const proposal = ticketMode ? state.ticketProposal : state.proposal;
    const placement = ticketMode ? (proposal && proposal.placement) || null : state.placement;
    $("routing-heading").textContent = ticketMode
      ? fmt(gettext("Routing of %(number)s"), { number: state.ticket.number })
      : gettext("Routing proposal");
    const warning = $("boundary-warning");
    const near = Boolean((proposal && proposal.near_boundary) || (placement && placement.near_boundary));
    show(warning, near);
    clear(warning);
    if (near) {
      warning.appendChild(el("strong", { text: "⚠ " + gettext("Near a jurisdiction boundary: please confirm the location") }));
      const neighbours = ((placement && placement.near) || []).map(
        (n) => n.name + (n.metres !== undefined ? " (" + Math.round(n.metres) + " m)" : "")
      );
      if (neighbours.length) warning.appendChild(el("span", { text: " " + gettext("Next to:") + " " + neighbours.join("、") }));
    }
    const hasProposal = Boolean(proposal);
    show($("routing-empty"), !hasProposal);
    show($("routing-body"), hasProposal);
    if (!hasProposal) {
      $("routing-empty").textContent = ticketMode
        ? state.ticket.latitude === null
          ? gettext("This ticket has no location: choose the lead agency yourself.")
          : gettext("No proposal for this ticket.")
        : placement
          ? gettext("Choose a subject to see who should handle it.")
          : gettext("Choose a subject and place the pin to see who should handle it.");
    } else {
      $("placement-line").textContent = placementNames(proposal.placement) || gettext("Outside every jurisdiction");
      const lead = $("proposal-lead");
      clear(lead);
      if (proposal.lead) lead.appendChild(el("strong", { text: proposal.lead.name }));
      else lead.appendChild(el("span", { class: "warn", text: gettext("No agency found: choose one by hand.") }));
      const co = $("proposal-co");
      co.textContent = (proposal.co_handlers || []).map(agencyName).join("、") || gettext("none");
      const reasons = $("proposal-reasons");
      clear(reasons);
      for (const reason of proposal.reasons || []) {
        reasons.appendChild(el("li", { class: "reason-" + reason.code, text: reason.text || reason.code }));
      }
    }
    renderDispatch();
  }

  // ---------------------------------------------------------------------------------------------
  // The opened ticket: detail, duplicates, dispatch, merge
  // ---------------------------------------------------------------------------------------------

  let ticketSeq = 0;

  async function openTicket(id, options) {
    const seq = ++ticketSeq;
    $("ticket-error").textContent = "";
    let detail = options && options.detail;
    try {
      if (!detail) detail = await api("GET", "/api/tickets/" + id + "/");
      if (seq !== ticketSeq) return;
      state.ticket = detail;
      state.ticketProposal = null;
      state.duplicates = undefined; // loading
      state.routingView = "ticket";
      renderTicket();
      renderRouting();
      drawTicketMarker();
      if (options && options.focus) $("ticket-heading").focus();
      const [routing, duplicates] = await Promise.all([
        api("GET", "/api/tickets/" + id + "/routing/").catch((error) => ({ error: error })),
        api("GET", "/api/tickets/" + id + "/duplicates/").catch((error) => ({ error: error })),
      ]);
      if (seq !== ticketSeq) return;
      state.ticketProposal = routing && !routing.error ? routing.proposal : null;
      state.duplicates = duplicates && !duplicates.error ? duplicates.candidates || [] : null;
      if (duplicates && duplicates.error) $("dup-summary").textContent = errorText(duplicates.error);
      renderTicket();
      renderRouting();
      if (manualDispatch() && can("dispatch") && !agencyDirectory) {
        try {
          await loadAgencyDirectory();
        } catch (error) {
          $("dispatch-error").textContent = errorText(error);
        }
        if (seq === ticketSeq) renderDispatch();
      }
    } catch (error) {
      if (seq !== ticketSeq) return;
      $("ticket-error").textContent = errorText(error);
    }
  }

  async function refreshTicket() {
    if (!state.ticket) return;
    const id = state.ticket.id;
    try {
      const detail = await api("GET", "/api/tickets/" + id + "/");
      if (!state.ticket || state.ticket.id !== id) return;
      state.ticket = detail;
      upsertQueue(detail);
      renderTicket();
      renderDispatch();
    } catch (error) {
      /* the next event or a manual reopen will try again */
    }
  }
  const refreshTicketDebounced = debounce(refreshTicket, 300);

  function closeTicket() {
    ticketSeq++;
    state.ticket = null;
    state.ticketProposal = null;
    state.duplicates = [];
    state.routingView = "draft";
    if (ticketMarker && map) map.removeLayer(ticketMarker);
    ticketMarker = null;
    renderTicket();
    renderRouting();
  }

  function drawTicketMarker() {
    if (!map) return;
    if (ticketMarker) map.removeLayer(ticketMarker);
    ticketMarker = null;
    const ticket = state.ticket;
    if (!ticket || ticket.latitude === null || ticket.longitude === null) return;
    ticketMarker = L.circleMarker(toMap(ticket.latitude, ticket.longitude), {
      radius: 9,
      color: "#c0392b",
      weight: 3,
      fillColor: "#f5b7b1",
      fillOpacity: 0.7,
      interactive: false,
    }).addTo(map);
    if (!state.pin || state.submitted) map.panTo(toMap(ticket.latitude, ticket.longitude));
  }

  function can(action) {
    return Boolean(state.ticket && (state.ticket.available_actions || []).includes(action));
  }

  function renderTicket() {
    const ticket = state.ticket;
    show($("ticket-empty"), !ticket);
    show($("ticket-body"), Boolean(ticket));
    show($("ticket-close"), Boolean(ticket));
    show($("ticket-to-dispatch"), Boolean(ticket) && state.routingView !== "ticket" && can("dispatch"));
    renderResolveState();
    if (!ticket) return;
    $("ticket-number").textContent = ticket.number;
    const badge = $("ticket-state");
    badge.className = "state state-" + ticket.state;
    badge.textContent = STATE_LABELS[ticket.state] || ticket.state;
    const summary = $("ticket-summary");
    clear(summary);
    summary.appendChild(
      el("div", null, [
        el("span", { class: "subject", text: ticket.subject ? ticket.subject.path : "" }),
        ticket.urgency && ticket.urgency !== "normal"
          ? el("span", { class: "urgency-" + ticket.urgency, text: " · " + (urgencyNames[ticket.urgency] || ticket.urgency) })
          : null,
      ])
    );
    if (ticket.title) summary.appendChild(el("div", { class: "title", text: ticket.title }));
    if (ticket.address) summary.appendChild(el("div", { class: "hint", text: ticket.address }));
    const outcome = $("ticket-outcome");
    clear(outcome);
    const orders = ticket.work_orders || [];
    if (orders.length) {
      outcome.appendChild(
        el("div", {
          text:
            gettext("Dispatched to:") +
            " " +
            orders
              .map(
                (wo) =>
                  wo.agency.name + (wo.responsibility === "lead" ? gettext(" (lead)") : gettext(" (co-handling)"))
              )
              .join("、"),
        })
      );
    }
    orders.forEach(function (wo) {
      // Each work order's running deadline; a provisional one (a year not published yet) says so.
      if (!wo.deadline || !wo.deadline.due_at) return;
      const line = el("div", {
        class: "hint deadline" + (wo.deadline.due_provisional ? " provisional" : ""),
        text: fmt(gettext("%(agency)s: due %(time)s"), { agency: wo.agency.name, time: shortTime(wo.deadline.due_at) }) +
          (wo.deadline.due_provisional ? " " + gettext("(provisional)") : ""),
      });
      if (wo.deadline.due_provisional) {
        line.title = gettext("Provisional: the year's official holiday schedule is not published yet. The deadline never moves earlier when it is.");
      }
      outcome.appendChild(line);
    });
    if (ticket.state === "merged" && ticket.master) {
      outcome.appendChild(el("div", { text: fmt(gettext("Merged into %(number)s."), { number: ticket.master }) }));
    }
    if (ticket.state === "closed" && ticket.answered_by_article) {
      outcome.appendChild(el("div", { text: fmt(gettext("Resolved directly with article %(code)s."), { code: ticket.answered_by_article }) }));
    } else if (ticket.state === "closed" && ticket.resolution_note) {
      outcome.appendChild(el("div", { text: gettext("Resolved directly.") }));
    }
    renderDuplicates();
  }

  function renderDuplicates() {
    const list = $("dup-list");
    clear(list);
    const summary = $("dup-summary");
    const candidates = state.duplicates;
    if (candidates === null) return; // the error is in the summary
    if (!state.ticket) return;
    if (candidates === undefined) {
      summary.textContent = gettext("Looking up…");
      return;
    }
    summary.textContent = candidates.length
      ? fmt(gettext("%(n)s found"), { n: candidates.length })
      : gettext("none found");
    const mergeable = can("merge");
    for (const c of candidates) {
      const tags = [];
      if (c.distance_m !== null && c.distance_m !== undefined) tags.push(fmt(gettext("%(m)s m away"), { m: Math.round(c.distance_m) }));
      if (c.same_subject) tags.push(gettext("same subject"));
      if (c.same_caller) tags.push(gettext("same caller"));
      const button = el("button", {
        type: "button",
        class: "small",
        text: gettext("Merge into this one"),
        disabled: !mergeable || TERMINAL.has(c.state),
        onclick: function () {
          mergeInto(c, button);
        },
      });
      list.appendChild(
        el("li", null, [
          el("div", { class: "line" }, [
            el("span", { class: "number", text: c.number }),
            stateBadge(c.state),
            el("span", { class: "time", text: shortTime(c.created_at) }),
          ]),
          el("div", { class: "line sub" }, [el("span", { text: c.title || c.address || "" })]),
          el("div", { class: "line sub" }, [el("span", { class: "tags", text: tags.join(" · ") }), el("span", { class: "grow" }), button]),
        ])
      );
    }
  }

  async function mergeInto(candidate, button) {
    const ticket = state.ticket;
    if (!ticket || !can("merge")) return;
    if (!window.confirm(fmt(gettext("Merge %(number)s into %(master)s? The new ticket will be closed as a duplicate."), { number: ticket.number, master: candidate.number }))) return;
    button.disabled = true;
    $("ticket-error").textContent = "";
    try {
      const detail = await api("POST", "/api/tickets/" + ticket.id + "/merge/", { master_id: candidate.id });
      state.ticket = detail;
      upsertQueue(detail);
      renderTicket();
      renderDispatch();
    } catch (error) {
      $("ticket-error").textContent = errorText(error);
      button.disabled = false;
    }
  }

  // Dispatch --------------------------------------------------------------------------------------

  // Without a proposal (no location, or nothing matched) the lead is chosen from the agency directory.
  let agencyDirectory = null;
  const KIND_LABELS = {
    district: gettext("Districts and counties"),
    department: gettext("City departments"),
    street: gettext("Streets and townships"),
    utility: gettext("Utilities"),
    emergency: gettext("Emergency services"),
  };

  async function loadAgencyDirectory() {
    if (agencyDirectory) return agencyDirectory;
    const data = await api("GET", "/api/agencies/");
    const rows = Array.isArray(data) ? data : (data && data.results) || [];
    agencyDirectory = rows.filter((a) => a.active !== false && a.kind !== "centre");
    return agencyDirectory;
  }

  function manualDispatch() {
    const proposal = state.ticketProposal;
    return !proposal || (!proposal.lead && !(proposal.candidates || []).length);
  }

  function dispatchChoices() {
    const proposal = state.ticketProposal;
    const agencies = new Map();
    if (manualDispatch()) {
      for (const agency of agencyDirectory || []) agencies.set(agency.id, agency);
      return agencies;
    }
    for (const agency of (proposal && proposal.candidates) || []) agencies.set(agency.id, agency);
    if (proposal && proposal.lead) agencies.set(proposal.lead.id, proposal.lead);
    for (const agency of (proposal && proposal.co_handlers) || []) agencies.set(agency.id, agency);
    return agencies;
  }

  function renderDispatch() {
    const dispatchForm = $("dispatch-form");
    const proposal = state.ticketProposal;
    const visible = Boolean(state.ticket && state.routingView === "ticket" && can("dispatch"));
    show(dispatchForm, visible);
    if (!visible) return;
    const agencies = dispatchChoices();
    const select = $("dispatch-lead");
    const previous = select.dataset.ticket === String(state.ticket.id) ? select.value : "";
    clear(select);
    select.dataset.ticket = String(state.ticket.id);
    if (manualDispatch()) {
      select.appendChild(el("option", { value: "", text: agencies.size ? gettext("Choose the lead agency…") : gettext("Loading agencies…") }));
      const groups = new Map();
      for (const agency of agencies.values()) {
        const kind = agency.kind || "";
        if (!groups.has(kind)) groups.set(kind, el("optgroup", { label: KIND_LABELS[kind] || kind }));
        groups.get(kind).appendChild(el("option", { value: agency.id, text: agency.name }));
      }
      for (const kind of Object.keys(KIND_LABELS).concat(Array.from(groups.keys()))) {
        if (groups.has(kind)) {
          select.appendChild(groups.get(kind));
          groups.delete(kind);
        }
      }
      if (previous && agencies.has(Number(previous))) select.value = previous;
      renderCoHandlers();
      updateDispatchButton();
      return;
    }
    if (!agencies.size) {
      select.appendChild(el("option", { value: "", text: gettext("No candidate agency") }));
    }
    for (const agency of agencies.values()) {
      const proposed = proposal && proposal.lead && proposal.lead.id === agency.id;
      select.appendChild(
        el("option", { value: agency.id, text: agency.name + (proposed ? " ★ " + gettext("proposed") : "") })
      );
    }
    if (previous && agencies.has(Number(previous))) select.value = previous;
    else if (proposal && proposal.lead) select.value = String(proposal.lead.id);
    renderCoHandlers();
    updateDispatchButton();
  }

  function renderCoHandlers() {
    const box = $("dispatch-co");
    const checked = new Set(Array.from(box.querySelectorAll("input:checked")).map((i) => Number(i.value)));
    const firstRender = box.dataset.ticket !== String(state.ticket.id);
    box.dataset.ticket = String(state.ticket.id);
    clear(box);
    const proposal = state.ticketProposal;
    const proposedCo = new Set(((proposal && proposal.co_handlers) || []).map((a) => a.id));
    const lead = Number($("dispatch-lead").value);
    let count = 0;
    const choices = manualDispatch() ? new Map() : dispatchChoices(); // no co-handler list from the whole directory
    for (const agency of choices.values()) {
      if (agency.id === lead) continue;
      const id = "co-" + agency.id;
      const input = el("input", { type: "checkbox", id: id, value: agency.id });
      input.checked = firstRender ? proposedCo.has(agency.id) : checked.has(agency.id);
      input.addEventListener("change", updateDispatchButton);
      box.appendChild(el("label", { class: "check", for: id }, [input, " " + agency.name + (proposedCo.has(agency.id) ? " ★" : "")]));
      count++;
    }
    if (!count) box.appendChild(el("span", { class: "hint", text: gettext("none") }));
  }

  function dispatchDiffers() {
    const proposal = state.ticketProposal;
    const lead = Number($("dispatch-lead").value);
    const leadDiffers = !proposal || !proposal.lead || proposal.lead.id !== lead;
    const co = Array.from($("dispatch-co").querySelectorAll("input:checked")).map((i) => Number(i.value)).sort();
    const proposedCo = ((proposal && proposal.co_handlers) || []).map((a) => a.id).filter((id) => id !== lead).sort();
    return { leadDiffers: leadDiffers, coDiffers: co.join(",") !== proposedCo.join(","), co: co, lead: lead };
  }

  function updateDispatchButton() {
    if (!state.ticket) return;
    const diff = dispatchDiffers();
    const proposal = state.ticketProposal;
    // Only a lead other than the proposal needs a reason (the server asks for it then).
    const needsReason = Boolean(proposal && proposal.lead) && diff.leadDiffers;
    show($("override-box"), needsReason);
    $("dispatch-label").textContent = manualDispatch()
      ? gettext("Dispatch")
      : diff.leadDiffers || diff.coDiffers
        ? gettext("Dispatch with my changes")
        : gettext("Dispatch as proposed");
    $("dispatch-submit").disabled = !diff.lead;
  }

  async function submitDispatch() {
    const ticket = state.ticket;
    if (!ticket || !can("dispatch")) return;
    const diff = dispatchDiffers();
    const proposal = state.ticketProposal;
    const reason = $("dispatch-override").value.trim();
    $("err-override").textContent = "";
    $("dispatch-error").textContent = "";
    if (!diff.lead) return;
    if (proposal && proposal.lead && diff.leadDiffers && !reason) {
      show($("override-box"), true);
      $("err-override").textContent = gettext("Say why the ticket goes to another lead agency than proposed.");
      $("dispatch-override").focus();
      return;
    }
    const button = $("dispatch-submit");
    button.disabled = true;
    try {
      const detail = await api("POST", "/api/tickets/" + ticket.id + "/dispatch/", {
        lead_agency_id: diff.lead,
        co_agency_ids: diff.co.filter((id) => id !== diff.lead),
        instructions: $("dispatch-instructions").value.trim(),
        override_reason: diff.leadDiffers ? reason : "",
      });
      if (!state.ticket || state.ticket.id !== ticket.id) return;
      state.ticket = detail;
      $("dispatch-override").value = "";
      $("dispatch-instructions").value = "";
      upsertQueue(detail);
      renderTicket();
      renderDispatch();
      $("ticket-heading").focus();
    } catch (error) {
      if (error.fields && error.fields.override_reason) {
        show($("override-box"), true);
        $("err-override").textContent = [].concat(error.fields.override_reason).join(" ");
        $("dispatch-override").focus();
      }
      $("dispatch-error").textContent = errorText(error);
      button.disabled = false;
    }
  }

  function bindTicketPanel() {
    $("ticket-close").addEventListener("click", closeTicket);
    $("ticket-to-dispatch").addEventListener("click", function () {
      state.routingView = "ticket";
      renderTicket();
      renderRouting();
      $("dispatch-lead").focus();
    });
    $("dispatch-lead").addEventListener("change", function () {
      renderCoHandlers();
      updateDispatchButton();
    });
    $("dispatch-form").addEventListener("submit", function (event) {
      event.preventDefault();
      submitDispatch();
    });
    $("dispatch-form").addEventListener("keydown", function (event) {
      // Enter in the reason or instructions field must not dispatch by accident.
      if (event.key === "Enter" && event.target.tagName === "INPUT" && !event.ctrlKey) event.preventDefault();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Knowledge base
  // ---------------------------------------------------------------------------------------------

  let kbSeq = 0;
  async function searchKnowledge() {
    const query = $("kb-q").value.trim();
    const status = $("kb-status");
    const list = $("kb-results");
    if (!query) return;
    const seq = ++kbSeq;
    status.textContent = gettext("Searching…");
    let data;
    try {
      data = await api("GET", "/api/knowledge/?q=" + encodeURIComponent(query.slice(0, 200)));
    } catch (error) {
      if (seq === kbSeq) status.textContent = errorText(error);
      return;
    }
    if (seq !== kbSeq) return;
    clear(list);
    const results = data.results || [];
    status.textContent = results.length ? fmt(gettext("%(n)s articles"), { n: results.length }) : gettext("No article matches.");
    for (const article of results.slice(0, 20)) {
      const choose = el("button", {
        type: "button",
        class: "small",
        text: gettext("Use this answer"),
        onclick: function () {
          chooseArticle(article);
        },
      });
      const item = el("li", { "data-id": article.id }, [
        el("details", null, [
          el("summary", null, [el("span", { class: "kb-title", text: article.title })]),
          el("p", { class: "kb-body", text: article.body }),
        ]),
        el("div", { class: "line sub" }, [el("span", { class: "kb-snippet", text: article.body.slice(0, 60) + (article.body.length > 60 ? "…" : "") }), choose]),
      ]);
      if (state.chosenArticle && state.chosenArticle.id === article.id) item.classList.add("chosen");
      list.appendChild(item);
    }
  }

  function chooseArticle(article) {
    state.chosenArticle = article;
    $("resolve-answer").value = article.body;
    $("resolve-article").textContent = "· " + article.title;
    for (const item of $("kb-results").children) item.classList.toggle("chosen", item.dataset.id === String(article.id));
    renderResolveState();
    $("resolve-answer").focus();
  }

  function renderResolveState() {
    const allowed = can("resolve_directly");
    $("resolve-submit").disabled = !allowed;
    $("resolve-hint").textContent = state.ticket
      ? allowed
        ? fmt(gettext("closes %(number)s"), { number: state.ticket.number })
        : gettext("not possible in this state")
      : gettext("accept the ticket first");
  }

  async function submitResolve() {
    const ticket = state.ticket;
    const answer = $("resolve-answer").value.trim();
    $("resolve-error").textContent = "";
    if (!ticket || !can("resolve_directly")) return;
    if (!answer) {
      $("resolve-error").textContent = gettext("Write the answer given to the caller, or choose an article.");
      $("resolve-answer").focus();
      return;
    }
    const article = state.chosenArticle;
    const body = { answer: answer };
    if (article) body.article_id = article.id;
    if (!window.confirm(fmt(gettext("Close %(number)s as answered directly?"), { number: ticket.number }))) return;
    $("resolve-submit").disabled = true;
    try {
      const detail = await api("POST", "/api/tickets/" + ticket.id + "/resolve_directly/", body);
      if (state.ticket && state.ticket.id === ticket.id) state.ticket = detail;
      upsertQueue(detail);
      $("resolve-answer").value = "";
      $("resolve-article").textContent = "";
      state.chosenArticle = null;
      renderTicket();
      renderDispatch();
    } catch (error) {
      $("resolve-error").textContent = errorText(error);
      renderResolveState();
    }
  }

  function bindKnowledge() {
    $("kb-form").addEventListener("submit", function (event) {
      event.preventDefault();
      searchKnowledge();
    });
    $("resolve-form").addEventListener("submit", function (event) {
      event.preventDefault();
      submitResolve();
    });
    $("resolve-answer").addEventListener("input", function () {
      // Edited freely; the article stays the reference unless the text is cleared.
      if (!$("resolve-answer").value.trim()) {
        state.chosenArticle = null;
        $("resolve-article").textContent = "";
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // My queue: tickets this operator accepted today, kept live
  // ---------------------------------------------------------------------------------------------

  const MINE_PREFIX = "hotline.console.mine." + user.id + ".";
  const mineKey = () => MINE_PREFIX + localDay();

  function mineIds() {
    try {
      return JSON.parse(window.localStorage.getItem(mineKey()) || "[]").filter((id) => Number.isInteger(id));
    } catch (error) {
      return [];
    }
  }

  function rememberMine(id) {
    const ids = mineIds();
    if (!ids.includes(id)) ids.push(id);
    try {
      window.localStorage.setItem(mineKey(), JSON.stringify(ids.slice(-500)));
    } catch (error) {
      /* private mode: the queue still lives for this page */
    }
  }

  function pruneOldDays() {
    try {
      for (let i = window.localStorage.length - 1; i >= 0; i--) {
        const key = window.localStorage.key(i);
        if (key && key.startsWith(MINE_PREFIX) && key !== mineKey()) window.localStorage.removeItem(key);
      }
    } catch (error) {
      /* ignore */
    }
  }

  async function loadQueue() {
    // The server knows which tickets this operator accepted today; the remembered ids only fill gaps.
    try {
      const start = new Date();
      start.setHours(0, 0, 0, 0);
      const page = await api("GET", "/api/tickets/?mine=1&limit=200&since=" + encodeURIComponent(start.toISOString()));
      for (const ticket of page.results || []) {
        upsertQueue(ticket, { quiet: true });
        rememberMine(ticket.id);
      }
    } catch (error) {
      /* fall back to the remembered ids below */
    }
    const ids = mineIds().filter((id) => !state.queue.has(id));
    let index = 0;
    async function worker() {
      while (index < ids.length) {
        const id = ids[index++];
        try {
          upsertQueue(await api("GET", "/api/tickets/" + id + "/"), { quiet: true });
        } catch (error) {
          if (error.status === 404) state.queue.delete(id);
        }
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()]);
    renderQueue();
  }

  function upsertQueue(ticket, options) {
    if (!ticket || !ticket.id) return;
    const previous = state.queue.get(ticket.id);
    const changed = previous && previous.state !== ticket.state;
    state.queue.set(ticket.id, Object.assign({}, previous || {}, ticket, { _flash: changed || !previous ? Date.now() : previous._flash }));
    if (!options || !options.quiet) renderQueue();
  }

  function renderQueue() {
    const list = $("queue-list");
    clear(list);
    const today = localDay();
    const tickets = Array.from(state.queue.values())
      .filter((t) => !t.created_at || localDay(new Date(t.created_at)) === today)
      .sort((a, b) => b.id - a.id);
    show($("queue-empty"), tickets.length === 0);
    const open = tickets.filter((t) => !TERMINAL.has(t.state)).length;
    $("queue-summary").textContent = tickets.length ? fmt(gettext("%(n)s today, %(open)s open"), { n: tickets.length, open: open }) : "";
    const now = Date.now();
    for (const ticket of tickets) {
      const item = el(
        "li",
        {
          class:
            (TERMINAL.has(ticket.state) ? "done" : "open") +
            (ticket._flash && now - ticket._flash < 4000 ? " flash" : "") +
            (state.ticket && state.ticket.id === ticket.id ? " current" : ""),
        },
        [
          el(
            "button",
            {
              type: "button",
              class: "queue-item",
              title: gettext("Open this ticket"),
              onclick: function () {
                openTicket(ticket.id);
              },
            },
            [
              el("div", { class: "line" }, [
                el("span", { class: "number", text: ticket.number }),
                stateBadge(ticket.state),
                el("span", { class: "time", text: shortTime(ticket.created_at) }),
              ]),
              el("div", { class: "line sub" }, [
                ticket.urgency && ticket.urgency !== "normal"
                  ? el("span", { class: "urgency-" + ticket.urgency, text: urgencyNames[ticket.urgency] || ticket.urgency })
                  : null,
                el("span", { class: "subject", text: ticket.subject ? ticket.subject.name : "" }),
                el("span", { class: "title", text: ticket.title || ticket.address || "" }),
              ]),
            ]
          ),
        ]
      );
      list.appendChild(item);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Live events
  // ---------------------------------------------------------------------------------------------

  function onTicketEvent(event) {
    const payload = event.payload || {};
    const brief = payload.ticket;
    const ids = [];
    if (brief && brief.id) ids.push(brief.id);
    if (event.type === "ticket.merged" && payload.duplicate_id) ids.push(payload.duplicate_id);
    const mine = new Set(mineIds());
    for (const id of ids) {
      const known = state.queue.get(id);
      if (known && brief && brief.id === id) {
        upsertQueue(Object.assign({}, known, { state: brief.state, urgency: brief.urgency, number: brief.number || known.number }));
      } else if (known || mine.has(id)) {
        // The duplicate of a merge, or one of mine not loaded yet: read it whole.
        api("GET", "/api/tickets/" + id + "/").then(upsertQueue, function () {});
      }
      if (state.ticket && state.ticket.id === id) refreshTicketDebounced();
    }
  }

  function onSnapshot(snapshot) {
    const open = new Map((snapshot.tickets || []).map((t) => [t.id, t]));
    for (const [id, known] of state.queue) {
      const fresh = open.get(id);
      if (fresh) {
        if (fresh.state !== known.state) upsertQueue(Object.assign({}, known, { state: fresh.state, urgency: fresh.urgency }), { quiet: true });
      } else if (!TERMINAL.has(known.state)) {
        // Not among the open tickets any more (or beyond the snapshot's limit): read it.
        api("GET", "/api/tickets/" + id + "/").then(upsertQueue, function () {});
      }
    }
    renderQueue();
    if (state.ticket) refreshTicketDebounced();
  }

  function connectLive() {
    if (!window.HotlineLive) return;
    window.HotlineLive.connect({
      storageKey: "console." + user.id,
      onState: function (liveState) {
        state.live = liveState;
        if (typeof window.showLiveState === "function") window.showLiveState(liveState);
      },
      onSnapshot: onSnapshot,
      onEvent: function (event) {
        // Events that arrive before "live" are a replay of what was missed while away.
        const replayed = state.live !== "live";
        if (event.type && event.type.startsWith("call.")) {
          onCallEvent(Object.assign({}, event, { replayed: replayed }));
        } else if (event.type === "ticket.created" || event.type === "ticket.changed" || event.type === "ticket.merged") {
          onTicketEvent(event);
        }
      },
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Keyboard: Alt+letter shortcuts shown in the labels, Ctrl+Enter accepts the ticket
  // ---------------------------------------------------------------------------------------------

  function bindKeyboard() {
    const targets = new Map();
    for (const node of document.querySelectorAll("[data-key]")) targets.set(node.dataset.key, node);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
        if (form.contains(event.target) || event.target === document.body || event.target === $("map")) {
          event.preventDefault();
          submitIntake();
        } else if ($("dispatch-form").contains(event.target)) {
          event.preventDefault();
          submitDispatch();
        } else if ($("resolve-form").contains(event.target)) {
          event.preventDefault();
          submitResolve();
        }
        return;
      }
      if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
      const target = targets.get(event.code);
      if (!target || target.disabled || target.closest("[hidden]")) return;
      event.preventDefault();
      if (target.hasAttribute("data-key-click")) {
        target.click();
      } else {
        target.focus();
        if (typeof target.select === "function" && target.tagName === "INPUT") target.select();
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------------

  fillOptions();
  setDefaults();
  bindForm();
  bindCallBanner();
  bindMapTools();
  bindTicketPanel();
  bindKnowledge();
  bindKeyboard();
  renderPinSummary();
  renderRouting();
  renderTicket();
  pruneOldDays();
  renderQueue();
  loadQueue();
  initMap();
  connectLive();
  fields.phone.focus();

  // For tests and troubleshooting only.
  window.HotlineConsole = { state: state };
})();
