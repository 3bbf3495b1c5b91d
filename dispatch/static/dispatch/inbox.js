/*
 * Agency inbox (/inbox/): the agency's open work orders with live countdowns, the selected one's
 * details, and its actions (sign, return, progress note, reply, extension request, supervision answer).
 *
 * Data: GET /api/work-orders/?state=... for the list, GET /api/work-orders/{id}/ per row, the ticket and
 * its timeline for the details. Live: HotlineLive events refresh rows; a snapshot reloads the list.
 * Server text only ever reaches the page through textContent.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("screen-config").textContent);
  const AGENCY_ID = config.user.agency_id;
  const TIME_ZONE = config.time_zone || "Asia/Shanghai";
  const OPEN_STATES = ["pending_sign", "handling", "replied"];
  const PAGE = 200;
  const WARN_SHARE = 0.2;
  const gettext = window.gettext || function (s) { return s; };  // Django's JavaScriptCatalog
  const fmt = function (template, values) {
    return window.interpolate ? window.interpolate(template, values, true)
      : template.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
  };

  // --- labels ---------------------------------------------------------------------------------------
  const labels = {};
  document.querySelectorAll("#inbox-labels [data-key]").forEach(function (el) {
    labels[el.dataset.key] = el.textContent.trim();
  });
  (config.work_order_states || []).forEach(function (s) { labels["state." + s.code] = s.name; });
  const workflowLabels = {};  // "machine.action" -> label, from /api/workflow/ (translated by the server)
  const appealTypes = {};
  function label(kind, code) {
    if (!code) return "";
    return labels[kind + "." + code] || code;
  }
  function actionLabel(machine, action) {
    return workflowLabels[machine + "." + action] || labels["action." + action] || action;
  }

  // --- elements -------------------------------------------------------------------------------------
  const $ = function (id) { return document.getElementById(id); };
  const listEl = $("inbox-rows");
  const countEl = $("inbox-count");
  const emptyEl = $("inbox-empty");
  const loadingEl = $("inbox-loading");
  const listErrorEl = $("inbox-list-error");
  const filterState = $("inbox-filter-state");
  const searchEl = $("inbox-search");
  const badge = $("new-badge");
  const badgeCount = $("new-badge-count");
  const soundToggle = $("sound-toggle");
  let sound = null;  // the Audio element, made on first use so that it never delays the page's load
  const toastEl = $("inbox-toast");
  const baseTitle = document.title;

  // --- state ----------------------------------------------------------------------------------------
  const rows = new Map();  // id -> {wo, el, stamp, unseen, arrived}
  const removedAt = new Map();  // id -> stamp of the removal (so an older list load cannot resurrect it)
  let stampCounter = 0;
  let order = [];  // ids in display order (after filter)
  let cursorId = null;  // the row the keyboard is on
  let selectedId = null;  // the row whose details are open
  let detail = null;  // {wo, ticket, timeline, revealed}
  let detailSeq = 0;
  let listSeq = 0;
  let firstLoadDone = false;
  let clockOffset = 0;  // server time minus browser time, ms (from the Date header)
  let arrivals = 0;

  // --- time -----------------------------------------------------------------------------------------
  function now() { return Date.now() + clockOffset; }
  function noteServerDate(response) {
    const header = response.headers.get("Date");
    const server = header ? Date.parse(header) : NaN;
    if (isNaN(server)) return;
    const offset = server - Date.now();
    // The header has a resolution of one second: ignore differences smaller than that.
    clockOffset = Math.abs(offset) > 2000 ? offset : 0;
  }
  const lang = document.documentElement.lang || "zh-hans";
  let dateFormat;
  try {
    dateFormat = new Intl.DateTimeFormat(lang, { timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hour12: false });
  } catch (error) {
    dateFormat = new Intl.DateTimeFormat(undefined, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  }
  function formatTime(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return isNaN(date) ? iso : dateFormat.format(date);
  }
  // Wall-clock parts of an instant in the city's time zone.
  function zoneParts(ms) {
    const parts = {};
    new Intl.DateTimeFormat("en-US", { timeZone: TIME_ZONE, hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(new Date(ms)).forEach(function (p) { parts[p.type] = p.value; });
    return parts;
  }
  function zoneOffsetMinutes(ms) {
    const p = zoneParts(ms);
    const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
    return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
  }
  // "2026-11-25T18:00" typed as city time -> "2026-11-25T18:00:00+08:00"
  function localInputToIso(value) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
    if (!m) return null;
    const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
    const offset = zoneOffsetMinutes(guess - zoneOffsetMinutes(guess) * 60000);
    const sign = offset >= 0 ? "+" : "-";
    const abs = Math.abs(offset);
    const pad = function (n) { return String(n).padStart(2, "0"); };
    return m[1] + "-" + m[2] + "-" + m[3] + "T" + m[4] + ":" + m[5] + ":00" + sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
  }
  function isoToLocalInput(iso) {
    const p = zoneParts(new Date(iso).getTime());
    return p.year + "-" + p.month + "-" + p.day + "T" + p.hour + ":" + p.minute;
  }
  function duration(ms) {
    const s = Math.floor(ms / 1000);
    const days = Math.floor(s / 86400);
    const hours = Math.floor((s % 86400) / 3600);
    const minutes = Math.floor((s % 3600) / 60);
    const seconds = s % 60;
    if (days > 0) return fmt(gettext("%(days)s d %(hours)s h"), { days: days, hours: hours });
    if (hours > 0) return fmt(gettext("%(hours)s h %(minutes)s min"), { hours: hours, minutes: minutes });
    return fmt(gettext("%(minutes)s min %(seconds)s s"), { minutes: minutes, seconds: seconds });
  }
  function runningClock(wo) {
    const clocks = (wo.clocks || []).filter(function (c) { return !c.stopped_at; });
    return clocks.length ? clocks[clocks.length - 1] : null;
  }
  // {text, cls, title} of the running clock's countdown
  function countdown(wo) {
    const clock = runningClock(wo);
    if (!clock) return { text: gettext("No running deadline"), cls: "none", title: "" };
    if (!clock.due_at) {
      return { text: gettext("No deadline"), cls: "none", title: clock.due_error || "" };
    }
    const due = Date.parse(clock.due_at);
    const left = due - now();
    const title = dueText(clock) + (clock.due_provisional ? " - " + PROVISIONAL_HINT : "");
    const mark = clock.due_provisional ? " " + gettext("(provisional)") : "";
    if (left < 0) return { text: fmt(gettext("%(time)s overdue"), { time: duration(-left) }) + mark, cls: "over", title: title };
    const total = due - Date.parse(clock.started_at);
    // The policy's warning point when the server set one, else a share of the time.
    const warn = clock.warn_at ? now() >= Date.parse(clock.warn_at) : total > 0 && left < total * WARN_SHARE;
    return { text: fmt(gettext("%(time)s left"), { time: duration(left) }) + mark, cls: warn ? "warn" : "ok", title: title };
  }
  // A deadline computed on the provisional calendar of a year whose holiday schedule is not published yet.
  const PROVISIONAL_HINT = gettext("Provisional: the year's official holiday schedule is not published yet. The deadline never moves earlier when it is.");
  function dueText(clock) {
    const text = fmt(gettext("Due %(time)s"), { time: formatTime(clock.due_at) });
    return clock.due_provisional ? text + " " + gettext("(provisional)") : text;
  }
  // 预警 / 黄牌 / 红牌: the escalation ladder's levels as the screens name them
  function escalationLabel(level) {
    if (level === "serious") return gettext("Red card");
    if (level === "overdue") return gettext("Yellow card");
    return gettext("Warning");
  }
  function dueSortKey(wo) {
    const clock = runningClock(wo);
    return clock && clock.due_at ? Date.parse(clock.due_at) : Infinity;
  }

  // --- network --------------------------------------------------------------------------------------
  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  async function api(method, url, body) {
    const init = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = csrfToken();
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw { status: 0, code: "network", message: gettext("The server cannot be reached. Check the connection and try again."), fields: {} };
    }
    noteServerDate(response);
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) {
      const problem = { status: response.status, code: "error", message: "", fields: {} };
      if (data && typeof data === "object") {
        problem.code = data.code || problem.code;
        problem.message = typeof data.message === "string" ? data.message : "";
        problem.fields = data.fields && typeof data.fields === "object" ? data.fields : {};
      }
      if (!problem.message) problem.message = fmt(gettext("The request failed (HTTP %(status)s)."), { status: response.status });
      throw problem;
    }
    return data;
  }
  async function fetchAll(url) {
    const results = [];
    let next = url;
    while (next) {
      const page = await api("GET", next);
      results.push.apply(results, page.results || []);
      // follow `next` on this page's own origin (a proxy may make the server name another scheme or host)
      next = page.next ? (function (u) { return u.pathname + u.search; })(new URL(page.next, window.location.href)) : null;
    }
    return results;
  }

  // --- toast, badge, sound --------------------------------------------------------------------------
  let toastTimer = null;
  function toast(text) {
    toastEl.textContent = text;
    toastEl.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toastEl.classList.remove("show"); }, 4000);
  }
  function unseenIds() {
    const ids = [];
    rows.forEach(function (row, id) { if (row.unseen) ids.push(id); });
    return ids;
  }
  function updateBadge() {
    const n = unseenIds().length;
    badgeCount.textContent = String(n);
    badge.hidden = n === 0;
    document.title = n > 0 ? "(" + n + ") " + baseTitle : baseTitle;
  }
  let soundOn = localStorage.getItem("hotline.inbox.sound") !== "off";
  function showSoundState() {
    soundToggle.setAttribute("aria-pressed", soundOn ? "true" : "false");
  }
  let lastSound = 0;
  function audio() {
    if (!sound && window.Audio && soundToggle.dataset.sound) {
      sound = new Audio(soundToggle.dataset.sound);
      sound.preload = "auto";
    }
    return sound;
  }
  function ding() {
    if (!soundOn || !audio() || Date.now() - lastSound < 1500) return;
    lastSound = Date.now();
    try {
      sound.currentTime = 0;
      const played = sound.play();
      // Browsers refuse to play before the user has interacted with the page: stay silent then.
      if (played && played.catch) played.catch(function () {});
    } catch (error) { /* no sound: the badge and highlight still show the arrival */ }
  }

  // --- list -----------------------------------------------------------------------------------------
  function subjectShort(path) {
    const parts = String(path || "").split(">").map(function (s) { return s.trim(); }).filter(Boolean);
    return parts.slice(-2).join(" › ");
  }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function buildRow(row) {
    const wo = row.wo;
    const li = row.el || el("li");
    li.replaceChildren();
    li.id = "wo-row-" + wo.id;
    li.dataset.id = String(wo.id);
    li.setAttribute("role", "option");
    li.tabIndex = -1;
    const urgency = wo.ticket.urgency;
    li.appendChild(el("span", "row-urgency urgency-" + urgency, label("urgency", urgency)));
    const main = el("span", "row-main");
    const line1 = el("span", "row-line1");
    if (row.unseen) line1.appendChild(el("span", "row-new", gettext("New")));
    line1.appendChild(el("span", "row-number", wo.number));
    const subject = el("span", "row-subject", subjectShort(wo.ticket.subject));
    subject.title = wo.ticket.subject || "";
    line1.appendChild(subject);
    if (wo.urge_count > 0) line1.appendChild(el("span", "row-urge", fmt(gettext("Urged %(n)s×"), { n: wo.urge_count })));
    if (wo.escalation_level) {
      const card = el("span", "row-escalation esc-" + wo.escalation_level, escalationLabel(wo.escalation_level));
      line1.appendChild(card);
    }
    ["warning", "overdue", "serious"].forEach(function (level) {
      li.classList.toggle("esc-" + level, wo.escalation_level === level);
    });
    const line2 = el("span", "row-line2");
    line2.appendChild(el("span", "row-title", wo.ticket.title || gettext("(no title)")));
    if (wo.ticket.address) line2.appendChild(el("span", "row-address", wo.ticket.address));
    line2.title = [wo.ticket.title, wo.ticket.address].filter(Boolean).join(" — ");
    main.append(line1, line2);
    li.appendChild(main);
    const stateCell = el("span");
    stateCell.appendChild(el("span", "chip state-" + wo.state, label("state", wo.state)));
    li.appendChild(stateCell);
    const due = el("span", "row-due");
    const clock = runningClock(wo);
    due.appendChild(el("span", "stage", clock ? label("stage", clock.stage) : ""));
    due.appendChild(el("span", "countdown"));
    li.appendChild(due);
    row.el = li;
    row.countEl = due.lastChild;
    row.lastCount = null;
    paintCountdown(row);
    li.classList.toggle("unseen", !!row.unseen);
    const name = [wo.number, label("urgency", urgency), wo.ticket.title, wo.ticket.address, label("state", wo.state)];
    li.setAttribute("aria-label", name.filter(Boolean).join(", "));
    return li;
  }
  function paintCountdown(row) {
    const c = countdown(row.wo);
    const key = c.text + "|" + c.cls;
    if (row.lastCount === key) return;
    row.lastCount = key;
    row.countEl.textContent = c.text;
    row.countEl.className = "countdown " + c.cls;
    row.countEl.title = c.title;
  }
  function matchesFilter(wo) {
    if (filterState.value && wo.state !== filterState.value) return false;
    const q = searchEl.value.trim().toLowerCase();
    if (!q) return true;
    return [wo.number, wo.ticket.number, wo.ticket.title, wo.ticket.address, wo.ticket.subject]
      .some(function (v) { return v && String(v).toLowerCase().indexOf(q) !== -1; });
  }
  function renderList() {
    const all = Array.from(rows.values());
    all.sort(function (a, b) {
      if (a.unseen !== b.unseen) return a.unseen ? -1 : 1;
      if (a.unseen) return b.arrived - a.arrived;  // newest arrival on top
      const d = dueSortKey(a.wo) - dueSortKey(b.wo);
      if (d !== 0 && !isNaN(d)) return d;
      return a.wo.id - b.wo.id;
    });
    const shown = all.filter(function (row) { return matchesFilter(row.wo); });
    order = shown.map(function (row) { return row.wo.id; });
    const hadFocus = listEl.contains(document.activeElement);
    // Move only the nodes that are out of place, so focus and running highlights survive.
    const wanted = new Set();
    shown.forEach(function (row, index) {
      if (!row.el) buildRow(row);
      wanted.add(row.el);
      row.el.setAttribute("aria-selected", row.wo.id === selectedId ? "true" : "false");
      const here = listEl.children[index];
      if (here !== row.el) listEl.insertBefore(row.el, here || null);
    });
    Array.from(listEl.children).forEach(function (child) { if (!wanted.has(child)) child.remove(); });
    if (cursorId === null || order.indexOf(cursorId) === -1) {
      cursorId = order.indexOf(selectedId) !== -1 ? selectedId : (order.length ? order[0] : null);
    }
    paintCursor(hadFocus);
    countEl.textContent = rows.size ? "(" + (shown.length === rows.size ? rows.size : shown.length + "/" + rows.size) + ")" : "";
    loadingEl.hidden = firstLoadDone;
    emptyEl.hidden = !firstLoadDone || shown.length > 0;
    emptyEl.textContent = rows.size ? gettext("No work order matches the filter.") : gettext("No open work orders.");
    updateBadge();
  }
  function paintCursor(focus) {
    listEl.querySelectorAll("li.cursor").forEach(function (li) { li.classList.remove("cursor"); li.tabIndex = -1; });
    const row = rows.get(cursorId);
    const first = listEl.firstElementChild;
    if (row && row.el && row.el.parentNode === listEl) {
      row.el.classList.add("cursor");
      row.el.tabIndex = 0;
      if (focus) row.el.focus({ preventScroll: true });
      row.el.scrollIntoView({ block: "nearest" });
    } else if (first) {
      first.tabIndex = 0;
    }
  }
  function moveCursor(delta) {
    if (!order.length) return;
    let index = order.indexOf(cursorId);
    index = index === -1 ? 0 : Math.max(0, Math.min(order.length - 1, index + delta));
    cursorId = order[index];
    paintCursor(true);
  }
  function putRow(wo, options) {
    options = options || {};
    stampCounter += 1;
    let row = rows.get(wo.id);
    if (!row) {
      row = { wo: wo, el: null, stamp: stampCounter, unseen: !!options.unseen, arrived: ++arrivals };
      rows.set(wo.id, row);
    } else {
      row.wo = wo;
      row.stamp = stampCounter;
      if (options.unseen) { row.unseen = true; row.arrived = ++arrivals; }
    }
    removedAt.delete(wo.id);
    buildRow(row);
    if (options.highlight) {
      row.el.classList.remove("fresh");
      void row.el.offsetWidth;  // restart the animation
      row.el.classList.add("fresh");
      row.el.addEventListener("animationend", function () { row.el.classList.remove("fresh"); }, { once: true });
    }
    return row;
  }
  function dropRow(id) {
    stampCounter += 1;
    removedAt.set(id, stampCounter);
    const row = rows.get(id);
    if (!row) return false;
    rows.delete(id);
    if (row.el) row.el.remove();
    if (cursorId === id) {
      const index = order.indexOf(id);
      const rest = order.filter(function (x) { return x !== id; });
      cursorId = rest.length ? rest[Math.min(index, rest.length - 1)] : null;
    }
    return true;
  }
  function markSeen(id) {
    const row = rows.get(id);
    if (row && row.unseen) {
      row.unseen = false;
      buildRow(row);
      return true;
    }
    return false;
  }

  async function reloadList() {
    const seq = ++listSeq;
    const startStamp = stampCounter;
    try {
      const lists = await Promise.all(OPEN_STATES.map(function (state) {
        return fetchAll("/api/work-orders/?state=" + encodeURIComponent(state) + "&limit=" + PAGE);
      }));
      if (seq !== listSeq) return;  // a newer load is under way
      const fetched = new Map();
      lists.forEach(function (list) { list.forEach(function (wo) { fetched.set(wo.id, wo); }); });
      let fresh = 0;
      fetched.forEach(function (wo, id) {
        if ((removedAt.get(id) || 0) > startStamp) return;  // removed by a newer event
        const existing = rows.get(id);
        if (existing && existing.stamp > startStamp) return;  // refreshed by a newer event
        const isNew = firstLoadDone && !existing && wo.agency.id === AGENCY_ID;
        if (isNew) fresh += 1;
        putRow(wo, { unseen: isNew, highlight: isNew });
      });
      Array.from(rows.keys()).forEach(function (id) {
        if (!fetched.has(id) && rows.get(id).stamp <= startStamp) dropRow(id);
      });
      firstLoadDone = true;
      listErrorEl.hidden = true;
      renderList();
      if (fresh) {
        ding();
        toast(fmt(gettext("%(n)s new work orders arrived while the connection was down."), { n: fresh }));
      }
    } catch (problem) {
      if (seq !== listSeq) return;
      listErrorEl.textContent = fmt(gettext("The list could not be loaded: %(message)s"), { message: problem.message || "" });
      listErrorEl.hidden = false;
      firstLoadDone = true;
      renderList();
    }
  }

  // --- refreshing single rows -----------------------------------------------------------------------
  const refreshTimers = new Map();
  function scheduleRefresh(id, options) {
    const pending = refreshTimers.get(id);
    const merged = Object.assign({}, pending ? pending.options : {}, options || {});
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(function () {
      refreshTimers.delete(id);
      refreshRow(id, merged);
    }, 150);
    refreshTimers.set(id, { timer: timer, options: merged });
  }
  async function refreshRow(id, options) {
    let wo;
    try {
      wo = await api("GET", "/api/work-orders/" + id + "/");
    } catch (problem) {
      if (problem.status === 404) {
        dropRow(id);
        renderList();
      }
      return;
    }
    applyWorkOrder(wo, options);
  }
  function applyWorkOrder(wo, options) {
    options = options || {};
    const open = OPEN_STATES.indexOf(wo.state) !== -1 && wo.agency.id === AGENCY_ID;
    if (open) {
      const isNew = !rows.has(wo.id) && !!options.arrival;
      putRow(wo, { unseen: isNew, highlight: isNew || options.highlight });
      if (isNew) {
        ding();
        toast(fmt(gettext("New work order: %(title)s"), { title: wo.ticket.title || wo.number }));
      }
    } else {
      dropRow(wo.id);
    }
    renderList();
    if (selectedId === wo.id) updateDetailWorkOrder(wo);
  }

  // --- live -----------------------------------------------------------------------------------------
  function onEvent(event) {
    const payload = event.payload || {};
    const wo = payload.work_order;
    if (event.type === "work_order.created" && wo && wo.agency_id === AGENCY_ID) {
      if (OPEN_STATES.indexOf(wo.state) !== -1) scheduleRefresh(wo.id, { arrival: true });
    } else if (event.type === "work_order.changed" && wo && wo.agency_id === AGENCY_ID) {
      if (OPEN_STATES.indexOf(wo.state) === -1) {
        // closed, cancelled, returned or approved: it leaves the inbox
        const had = dropRow(wo.id);
        if (had) renderList();
        if (selectedId === wo.id) scheduleDetailReload();
      } else {
        // redo brings an approved work order back: that is new work too
        scheduleRefresh(wo.id, { arrival: payload.action === "redo", highlight: payload.action === "urge" });
        if (payload.action === "urge") {
          toast(fmt(gettext("The centre urged work order %(number)s."), { number: wo.number }));
        }
        if (selectedId === wo.id) scheduleDetailReload();
      }
    } else if (event.type === "work_order.escalated" && payload.agency_id === AGENCY_ID) {
      // The timer worker fired steps of the ladder (one event per batch): the rows turn yellow or red at once.
      const cards = [];
      (payload.escalations || []).forEach(function (step) {
        if (!step.work_order_id) return;
        scheduleRefresh(step.work_order_id, { highlight: true });
        if (step.level !== "warning") cards.push(step);
        if (selectedId === step.work_order_id) scheduleDetailReload();
      });
      if (cards.length === 1) {
        const step = cards[0];
        const number = rows.has(step.work_order_id) ? rows.get(step.work_order_id).wo.number : step.work_order_id;
        toast(fmt(gettext("%(card)s for work order %(number)s."), { card: escalationLabel(step.level), number: number }));
      } else if (cards.length > 1) {
        toast(fmt(gettext("%(count)s work orders got a yellow or red card."), { count: cards.length }));
      }
    } else if (event.type === "work_order.deadlines_recomputed" && payload.agency_id === AGENCY_ID) {
      // The centre published a year's holiday schedule: provisional deadlines became official (maybe later).
      (payload.deadlines || []).forEach(function (item) {
        if (!item.work_order_id) return;
        scheduleRefresh(item.work_order_id, { highlight: item.moved });
        if (selectedId === item.work_order_id) scheduleDetailReload();
      });
      const moved = (payload.deadlines || []).filter(function (item) { return item.moved; }).length;
      toast(fmt(gettext("The %(year)s holiday schedule is published: %(count)s deadlines are official now, %(moved)s of them later."),
        { year: payload.year, count: (payload.deadlines || []).length, moved: moved }));
    } else if (event.type === "ticket.changed" || event.type === "ticket.merged") {
      if (detail && detail.wo && event.ticket_id === detail.wo.ticket.id) scheduleDetailReload();
    }
  }
  function onSnapshot() {
    reloadList();
    if (selectedId !== null) scheduleDetailReload();
  }

  // --- details --------------------------------------------------------------------------------------
  const d = {
    placeholder: $("detail-placeholder"), body: $("detail-body"), title: $("detail-title"), state: $("detail-state"),
    urgency: $("detail-urgency"), responsibility: $("detail-responsibility"), stage: $("detail-stage"),
    countdown: $("detail-countdown"), dueAt: $("detail-due-at"), gone: $("detail-gone"), notices: $("detail-notices"),
    actions: $("detail-actions"), formHost: $("detail-form-host"), ticket: $("detail-ticket"),
    subject: $("detail-subject"), address: $("detail-address"), caller: $("detail-caller"),
    revealButton: $("reveal-button"), revealNote: $("reveal-note"), revealHost: $("reveal-form-host"),
    created: $("detail-created"), instructions: $("detail-instructions"),
    instructionsLabel: $("detail-instructions-label"), description: $("detail-description"),
    replyBlock: $("detail-reply-block"), reply: $("detail-reply"), clocks: $("detail-clocks"),
    extensionsBlock: $("detail-extensions-block"), extensions: $("detail-extensions"),
    supervisionBlock: $("detail-supervision-block"), supervision: $("detail-supervision"),
    timeline: $("detail-timeline"),
  };
  let openForm = null;  // {action, form, button}
  let detailTimer = null;

  function scheduleDetailReload() {
    clearTimeout(detailTimer);
    detailTimer = setTimeout(function () { if (selectedId !== null) loadDetail(selectedId); }, 200);
  }
  function selectRow(id, options) {
    options = options || {};
    if (selectedId !== id) closeForm(false);
    selectedId = id;
    cursorId = id;
    const changed = markSeen(id);
    renderList();
    if (changed) updateBadge();
    loadDetail(id);
    if (options.focusDetail) d.title.focus({ preventScroll: true });
  }
  async function loadDetail(id) {
    const seq = ++detailSeq;
    const sameObject = detail && detail.wo && detail.wo.id === id;
    if (!sameObject) {
      d.placeholder.hidden = false;
      d.placeholder.textContent = gettext("Loading…");
      d.body.hidden = true;
    }
    let wo;
    try {
      wo = await api("GET", "/api/work-orders/" + id + "/");
    } catch (problem) {
      if (seq !== detailSeq) return;
      d.placeholder.hidden = false;
      d.body.hidden = true;
      d.placeholder.textContent = problem.status === 404 ? gettext("This work order is no longer visible to your agency.")
        : fmt(gettext("The details could not be loaded: %(message)s"), { message: problem.message });
      if (problem.status === 404) { dropRow(id); renderList(); }
      return;
    }
    let ticket = null;
    let timeline = [];
    const both = await Promise.allSettled([
      api("GET", "/api/tickets/" + wo.ticket.id + "/"),
      api("GET", "/api/tickets/" + wo.ticket.id + "/timeline/"),
    ]);
    if (seq !== detailSeq) return;
    if (both[0].status === "fulfilled") ticket = both[0].value;
    if (both[1].status === "fulfilled") timeline = both[1].value || [];
    const revealed = sameObject && detail.revealed ? detail.revealed : null;
    detail = { wo: wo, ticket: ticket, timeline: timeline, revealed: revealed };
    // keep the list row in step with what the details show
    if (rows.has(wo.id) || (OPEN_STATES.indexOf(wo.state) !== -1 && wo.agency.id === AGENCY_ID)) {
      if (OPEN_STATES.indexOf(wo.state) !== -1) putRow(wo); else dropRow(wo.id);
      renderList();
    }
    renderDetail();
  }
  function updateDetailWorkOrder(wo) {
    if (!detail || !detail.wo || detail.wo.id !== wo.id) return;
    detail.wo = wo;
    renderDetail();
  }
  function renderDetail() {
    const wo = detail.wo;
    const ticket = detail.ticket;
    d.placeholder.hidden = true;
    d.body.hidden = false;
    d.title.textContent = wo.number;
    d.state.textContent = label("state", wo.state);
    d.state.className = "chip state-" + wo.state;
    d.urgency.textContent = label("urgency", wo.ticket.urgency);
    d.urgency.className = "chip urgency-" + wo.ticket.urgency;
    d.responsibility.textContent = label("responsibility", wo.responsibility);
    const inList = rows.has(wo.id);
    d.gone.hidden = inList || OPEN_STATES.indexOf(wo.state) !== -1;
    d.gone.textContent = fmt(gettext("This work order has left the inbox (now: %(state)s)."), { state: label("state", wo.state) });
    paintDetailCountdown();

    // notices
    d.notices.replaceChildren();
    const notice = function (text, warn) { d.notices.appendChild(el("li", warn ? "warn" : "", text)); };
    if (wo.urge_count > 0) notice(fmt(gettext("The centre has urged this work order %(n)s times."), { n: wo.urge_count }), true);
    if (wo.redo_count > 0) notice(fmt(gettext("Sent back for redo %(n)s times."), { n: wo.redo_count }), true);
    const pending = (wo.extension_requests || []).filter(function (x) { return x.state === "pending"; })[0];
    if (pending) notice(fmt(gettext("Extension to %(time)s requested; awaiting the centre's decision."), { time: formatTime(pending.requested_due_at) }), false);
    const openCase = (wo.supervision_cases || []).filter(function (x) { return x.state === "open"; })[0];
    if (openCase) {
      notice(openCase.answer_due_at
        ? fmt(gettext("Supervision case open: a written answer is due %(time)s."), { time: formatTime(openCase.answer_due_at) })
        : gettext("Supervision case open: a written answer is needed."), true);
    }

    // actions: only what the API offers, minus those whose guard surely fails
    const offered = (wo.available_actions || []).filter(function (action) {
      if (!document.getElementById("form-" + action)) return false;
      if (action === "answer_supervision") return !!openCase;
      if (action === "request_extension") {
        const clock = runningClock(wo);
        return !pending && !!clock && clock.stage === "handle" && (!clock.due_at || Date.parse(clock.due_at) > now());
      }
      if (action === "reply" || action === "return") return !pending;
      return true;
    });
    // An open form survives a refresh as long as its action is still offered (the user may be typing).
    const openAction = openForm && offered.indexOf(openForm.action) !== -1 ? openForm.action : null;
    if (openForm && !openAction) closeForm(false);
    d.actions.replaceChildren();
    offered.forEach(function (action) {
      const button = el("button", action === "sign" || action === "reply" ? "primary" : "", actionLabel("work_order", action));
      button.type = "button";
      button.dataset.action = action;
      button.setAttribute("aria-expanded", action === openAction ? "true" : "false");
      button.setAttribute("aria-controls", "detail-form-host");
      button.addEventListener("click", function () { toggleForm(action, button); });
      d.actions.appendChild(button);
      if (action === openAction) openForm.button = button;
    });
    if (!offered.length) d.actions.appendChild(el("span", "muted", gettext("No actions for you in this state.")));

    // facts
    d.ticket.textContent = wo.ticket.number + " · " + label("ticket", wo.ticket.state);
    const appeal = ticket && ticket.appeal_type ? (appealTypes[ticket.appeal_type] || ticket.appeal_type) : "";
    d.subject.textContent = [wo.ticket.subject, appeal].filter(Boolean).join(" · ");
    d.address.textContent = wo.ticket.address || "—";
    renderCaller();
    d.created.textContent = formatTime(wo.created_at);
    d.instructions.textContent = wo.instructions || "";
    d.instructions.hidden = !wo.instructions;
    d.instructionsLabel.hidden = !wo.instructions;
    d.description.textContent = ticket ? (ticket.description || "") : gettext("The ticket could not be loaded.");
    d.replyBlock.hidden = !wo.reply_text;
    d.reply.textContent = wo.reply_text ? "[" + label("outcome", wo.reply_outcome) + "] " + wo.reply_text : "";

    // clocks
    d.clocks.replaceChildren();
    (wo.clocks || []).forEach(function (clock) {
      const tr = el("tr", clock.stopped_at ? "" : "running");
      tr.appendChild(el("td", "", label("stage", clock.stage)));
      tr.appendChild(el("td", "", formatTime(clock.started_at)));
      const due = el("td", "", clock.due_at ? formatTime(clock.due_at) + (clock.due_provisional ? " " + gettext("(provisional)") : "") : (clock.due_error || gettext("No deadline")));
      if (clock.due_provisional) due.title = PROVISIONAL_HINT;
      const end = clock.stopped_at ? Date.parse(clock.stopped_at) : now();
      if (clock.due_at && end > Date.parse(clock.due_at)) due.className = "over";
      tr.appendChild(due);
      tr.appendChild(el("td", "", clock.stopped_at ? formatTime(clock.stopped_at) : gettext("running")));
      d.clocks.appendChild(tr);
    });

    // extension requests and supervision cases
    d.extensions.replaceChildren();
    (wo.extension_requests || []).forEach(function (x) {
      const li = el("li");
      li.appendChild(el("strong", "", label("extension", x.state) + " "));
      li.appendChild(document.createTextNode(fmt(gettext("to %(time)s, asked %(asked)s: "), {
        time: formatTime(x.requested_due_at), asked: formatTime(x.requested_at) })));
      li.appendChild(el("span", "pre", x.reason));
      if (x.decision_note) li.appendChild(el("div", "muted pre", x.decision_note));
      d.extensions.appendChild(li);
    });
    d.extensionsBlock.hidden = !(wo.extension_requests || []).length;
    d.supervision.replaceChildren();
    (wo.supervision_cases || []).forEach(function (x) {
      const li = el("li");
      li.appendChild(el("strong", "", label("supervision", x.state) + " "));
      li.appendChild(el("span", "pre", x.instruction));
      if (x.answer) li.appendChild(el("div", "muted pre", fmt(gettext("Answer (%(time)s): "), { time: formatTime(x.answered_at) }) + x.answer));
      d.supervision.appendChild(li);
    });
    d.supervisionBlock.hidden = !(wo.supervision_cases || []).length;

    // timeline
    d.timeline.replaceChildren();
    detail.timeline.forEach(function (entry) {
      const li = el("li");
      li.appendChild(el("span", "when", formatTime(entry.created_at)));
      li.appendChild(el("span", "what", actionLabel(entry.machine, entry.action)));
      if (entry.to_state && entry.to_state !== entry.from_state) {
        const kind = entry.machine === "work_order" ? "state" : "ticket";
        li.appendChild(el("span", "muted", " → " + label(kind, entry.to_state)));
      }
      const who = [entry.actor_agency, entry.actor].filter(Boolean).join(" · ");
      if (who) li.appendChild(el("span", "who", who));
      if (entry.work_order && entry.work_order !== detail.wo.number) li.appendChild(el("span", "who", entry.work_order));
      const extra = [];
      const data = entry.data || {};
      if (data.outcome) extra.push(label("outcome", data.outcome));
      if (data.legal_basis) extra.push(fmt(gettext("Legal basis: %(text)s"), { text: data.legal_basis }));
      if (data.requested_due_at) extra.push(fmt(gettext("Requested deadline: %(time)s"), { time: formatTime(data.requested_due_at) }));
      if (data.granted_due_at) extra.push(fmt(gettext("Granted deadline: %(time)s"), { time: formatTime(data.granted_due_at) }));
      const text = [entry.note].concat(extra).filter(Boolean).join("\n");
      if (text) li.appendChild(el("span", "note", text));
      d.timeline.appendChild(li);
    });
    if (!detail.timeline.length) d.timeline.appendChild(el("li", "muted", gettext("No entries.")));
  }
  function paintDetailCountdown() {
    if (!detail || !detail.wo || d.body.hidden) return;
    const wo = detail.wo;
    const clock = runningClock(wo);
    d.stage.textContent = clock ? label("stage", clock.stage) : "";
    const c = countdown(wo);
    if (d.countdown.textContent !== c.text) d.countdown.textContent = c.text;
    d.countdown.className = "countdown " + c.cls;
    d.dueAt.textContent = clock && clock.due_at ? dueText(clock) : (clock && clock.due_error) || "";
    d.dueAt.title = clock && clock.due_provisional ? PROVISIONAL_HINT : "";
  }
  function renderCaller() {
    const ticket = detail.ticket;
    d.revealHost.replaceChildren();
    if (detail.revealed) {
      const r = detail.revealed;
      d.caller.textContent = [r.caller_name, r.phone].filter(Boolean).join(" ") || gettext("No number on record");
      d.revealButton.hidden = true;
      d.revealNote.hidden = false;
      return;
    }
    d.revealNote.hidden = true;
    if (!ticket) { d.caller.textContent = "—"; d.revealButton.hidden = true; return; }
    const name = ticket.caller_name || "";
    const phone = ticket.caller_phone || "";
    d.caller.textContent = [name, phone].filter(Boolean).join(" ") || gettext("No number on record");
    d.revealButton.hidden = !phone;
    d.revealButton.setAttribute("aria-expanded", "false");
  }

  // --- forms ----------------------------------------------------------------------------------------
  function cloneForm(action) {
    const template = document.getElementById("form-" + action);
    return template.content.firstElementChild.cloneNode(true);
  }
  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach(function (n) { n.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (n) {
      n.removeAttribute("aria-invalid");
      n.removeAttribute("aria-describedby");
    });
    const top = form.querySelector(".form-error");
    top.textContent = "";
    top.hidden = true;
  }
  function showErrors(form, problem) {
    clearErrors(form);
    const leftovers = [];
    let first = null;
    const fields = problem.fields || {};
    Object.keys(fields).forEach(function (name) {
      const messages = [].concat(fields[name]).map(function (m) { return typeof m === "string" ? m : JSON.stringify(m); });
      const control = form.elements.namedItem(name);
      if (control && control.closest && control.closest(".field")) {
        const error = el("p", "field-error", messages.join(" "));
        error.id = control.id + "-error";
        control.closest(".field").appendChild(error);
        control.setAttribute("aria-invalid", "true");
        control.setAttribute("aria-describedby", error.id);
        if (!first) first = control;
      } else {
        leftovers.push(messages.join(" "));
      }
    });
    const top = form.querySelector(".form-error");
    top.textContent = [problem.message].concat(leftovers).filter(Boolean).join(" ");
    top.hidden = !top.textContent;
    (first || form.querySelector("textarea, input, select")).focus();
  }
  function requiredMissing(form) {
    const fields = {};
    form.querySelectorAll("[required]").forEach(function (control) {
      if (!String(control.value || "").trim()) fields[control.name] = [gettext("This field is required.")];
    });
    return Object.keys(fields).length ? fields : null;
  }
  function formValues(form) {
    const values = {};
    Array.from(form.elements).forEach(function (control) {
      if (control.name) values[control.name] = control.value;
    });
    return values;
  }
  function closeForm(restoreFocus) {
    if (!openForm) return;
    const current = openForm;
    openForm = null;
    current.form.remove();
    if (current.button) {
      current.button.setAttribute("aria-expanded", "false");
      if (restoreFocus && document.body.contains(current.button)) current.button.focus();
    }
  }
  function toggleForm(action, button) {
    if (openForm && openForm.action === action) { closeForm(true); return; }
    closeForm(false);
    const form = cloneForm(action);
    openForm = { action: action, form: form, button: button };
    button.setAttribute("aria-expanded", "true");
    d.actions.querySelectorAll("button[data-action]").forEach(function (b) {
      if (b !== button) b.setAttribute("aria-expanded", "false");
    });
    if (action === "request_extension") prepareExtensionForm(form);
    form.addEventListener("submit", function (event) { event.preventDefault(); submitAction(action, form); });
    form.querySelector("[data-cancel]").addEventListener("click", function () { closeForm(true); });
    d.formHost.appendChild(form);
    const firstField = form.querySelector("textarea, input, select");
    if (firstField) firstField.focus();
  }
  function prepareExtensionForm(form) {
    const clock = runningClock(detail.wo);
    const input = form.elements.namedItem("requested_due_at");
    const hint = form.querySelector("[data-hint=requested_due_at]");
    if (clock && clock.due_at) {
      input.min = isoToLocalInput(clock.due_at);
      hint.textContent = fmt(gettext("Current deadline: %(time)s"), { time: formatTime(clock.due_at) });
    }
  }
  async function submitAction(action, form) {
    const wo = detail && detail.wo;
    if (!wo) return;
    const missing = requiredMissing(form);
    if (missing) { showErrors(form, { message: "", fields: missing }); return; }
    const values = formValues(form);
    if (action === "request_extension") {
      const iso = localInputToIso(values.requested_due_at);
      if (!iso) {
        showErrors(form, { message: "", fields: { requested_due_at: [gettext("Enter a date and time.")] } });
        return;
      }
      values.requested_due_at = iso;
    }
    const buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    try {
      const updated = await api("POST", "/api/work-orders/" + wo.id + "/" + action + "/", values);
      closeForm(false);
      toast(fmt(gettext("Done: %(action)s · %(number)s"), { action: actionLabel("work_order", action), number: updated.number }));
      const stillOpen = OPEN_STATES.indexOf(updated.state) !== -1;
      const index = order.indexOf(updated.id);
      applyWorkOrder(updated);
      if (!stillOpen && order.length) {
        // it left the inbox: go on with the next one
        const next = order[Math.min(Math.max(index, 0), order.length - 1)];
        selectRow(next);
        paintCursor(true);
      } else {
        loadDetail(updated.id);
        d.title.focus({ preventScroll: true });
      }
    } catch (problem) {
      if (!document.body.contains(form)) return;
      buttons.forEach(function (b) { b.disabled = false; });
      showErrors(form, problem);
      if (problem.status === 409 || problem.status === 404) scheduleDetailReload();
    }
  }

  // reveal the caller's number: asks for a reason, which the server records
  d.revealButton.addEventListener("click", function () {
    if (d.revealHost.firstChild) {
      d.revealHost.replaceChildren();
      d.revealButton.setAttribute("aria-expanded", "false");
      return;
    }
    const form = cloneForm("reveal");
    d.revealButton.setAttribute("aria-expanded", "true");
    form.querySelector("[data-cancel]").addEventListener("click", function () {
      d.revealHost.replaceChildren();
      d.revealButton.setAttribute("aria-expanded", "false");
      d.revealButton.focus();
    });
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const missing = requiredMissing(form);
      if (missing) { showErrors(form, { message: "", fields: missing }); return; }
      const ticketId = detail.wo.ticket.id;
      const woId = detail.wo.id;
      const buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      try {
        const result = await api("POST", "/api/tickets/" + ticketId + "/reveal/", formValues(form));
        if (!detail || detail.wo.id !== woId) return;
        detail.revealed = { phone: result.phone || "", caller_name: result.caller_name || "" };
        renderCaller();
        d.caller.setAttribute("tabindex", "-1");
        d.caller.focus();
      } catch (problem) {
        buttons.forEach(function (b) { b.disabled = false; });
        showErrors(form, problem);
      }
    });
    d.revealHost.appendChild(form);
    form.querySelector("input").focus();
  });

  // --- keyboard and pointer -------------------------------------------------------------------------
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  listEl.addEventListener("click", function (event) {
    const li = event.target.closest("li[data-id]");
    if (!li) return;
    selectRow(Number(li.dataset.id));
  });
  listEl.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const key = event.key;
    if (key === "ArrowDown") { moveCursor(1); event.preventDefault(); }
    else if (key === "ArrowUp") { moveCursor(-1); event.preventDefault(); }
    else if (key === "Home") { moveCursor(-Infinity); event.preventDefault(); }
    else if (key === "End") { moveCursor(Infinity); event.preventDefault(); }
    else if (key === "PageDown") { moveCursor(10); event.preventDefault(); }
    else if (key === "PageUp") { moveCursor(-10); event.preventDefault(); }
    else if ((key === "Enter" || key === " ") && cursorId !== null) {
      selectRow(cursorId);
      paintCursor(true);
      event.preventDefault();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape") {
      if (openForm) { closeForm(true); event.preventDefault(); }
      else if (d.revealHost.firstChild) { d.revealHost.replaceChildren(); d.revealButton.focus(); }
      return;
    }
    if (typing(event.target)) return;
    if (event.key === "j") { moveCursor(1); event.preventDefault(); }
    else if (event.key === "k") { moveCursor(-1); event.preventDefault(); }
    else if (event.key === "n") { showFirstNew(); event.preventDefault(); }
    else if (event.key === "/") { searchEl.focus(); event.preventDefault(); }
    else if (event.key === "Enter" && event.target === document.body && cursorId !== null) { selectRow(cursorId); }
  });
  function showFirstNew() {
    const ids = unseenIds();
    if (!ids.length) return;
    ids.sort(function (a, b) { return rows.get(b).arrived - rows.get(a).arrived; });
    if (filterState.value || searchEl.value) { filterState.value = ""; searchEl.value = ""; }
    selectRow(ids[0]);
    paintCursor(true);
  }
  badge.addEventListener("click", showFirstNew);
  filterState.addEventListener("change", renderList);
  searchEl.addEventListener("input", renderList);
  searchEl.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "Enter") { event.preventDefault(); paintCursor(true); }
  });
  soundToggle.addEventListener("click", function () {
    soundOn = !soundOn;
    localStorage.setItem("hotline.inbox.sound", soundOn ? "on" : "off");
    showSoundState();
    if (soundOn) { lastSound = 0; ding(); }  // a preview, and the click lets the browser play later sounds
  });
  // The first interaction unlocks audio in browsers that need a gesture: prime the element silently.
  function primeAudio() {
    document.removeEventListener("pointerdown", primeAudio, true);
    document.removeEventListener("keydown", primeAudio, true);
    if (!soundOn || !audio()) return;
    try {
      sound.muted = true;
      const p = sound.play();
      const unmute = function () { sound.pause(); sound.currentTime = 0; sound.muted = false; };
      if (p && p.then) p.then(unmute, function () { sound.muted = false; }); else unmute();
    } catch (error) { sound.muted = false; }
  }
  document.addEventListener("pointerdown", primeAudio, true);
  document.addEventListener("keydown", primeAudio, true);

  // --- clocks tick ----------------------------------------------------------------------------------
  setInterval(function () {
    rows.forEach(function (row) { if (row.countEl) paintCountdown(row); });
    paintDetailCountdown();
  }, 1000);

  // --- start ----------------------------------------------------------------------------------------
  showSoundState();
  api("GET", "/api/workflow/").then(function (table) {
    (table || []).forEach(function (row) { workflowLabels[row.machine + "." + row.action] = row.label; });
    if (detail && detail.wo) renderDetail();
  }, function () {});
  api("GET", "/api/appeal-types/").then(function (types) {
    (types || []).forEach(function (type) { appealTypes[type.code] = type.name; });
  }, function () {});
  reloadList();
  if (window.HotlineLive) {
    window.HotlineLive.connect({
      onEvent: onEvent,
      onSnapshot: onSnapshot,
      onState: function (state) { if (window.showLiveState) window.showLiveState(state); },
    });
  }
})();
