/*
 * E-supervision board (/supervision/).
 *
 * Left: live red and yellow cards, warnings, open supervision cases and the reprimand list
 * (GET /api/supervision/escalations/), re-read whenever the event stream reports a work-order or
 * ticket change (debounced), so a card appears or leaves without a reload.
 * Right: the KPI table for a period (GET /api/supervision/kpis/), every number a button that opens
 * the drill-down panel with exactly the tickets behind it (GET /api/supervision/kpis/drilldown/);
 * a daily trend chart and a ranking chart drawn as SVG here (no chart library, no CDN).
 * Server text only ever reaches the page through textContent.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("screen-config").textContent);
  const TIME_ZONE = config.time_zone || "Asia/Shanghai";
  const SVG = "http://www.w3.org/2000/svg";
  const gettext = window.gettext || function (s) { return s; };
  const fmt = function (template, values) {
    return window.interpolate ? window.interpolate(template, values, true)
      : template.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
  };
  const $ = function (id) { return document.getElementById(id); };

  const metrics = config.metrics || [];
  const metricByCode = {};
  metrics.forEach(function (m) { metricByCode[m.code] = m; });
  const stageNames = {};
  (config.stages || []).forEach(function (s) { stageNames[s.code] = s.name; });
  const levelNames = {};
  (config.levels || []).forEach(function (l) { levelNames[l.code] = l.name; });

  // --- helpers --------------------------------------------------------------------------------------
  function localDate(date) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit" })
      .format(date);
  }
  function addDays(iso, days) {
    const d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }
  function when(iso) {
    if (!iso) return "";
    return new Intl.DateTimeFormat(document.documentElement.lang || "zh-hans", {
      timeZone: TIME_ZONE, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    }).format(new Date(iso));
  }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "className") node.className = attrs[key];
      else if (key === "dataset") Object.assign(node.dataset, attrs[key]);
      else node.setAttribute(key, attrs[key]);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  function percent(value) {
    return value === null || value === undefined ? "–" : (value * 100).toFixed(1) + "%";
  }
  function shown(metric, figure) {
    if (metric.kind === "count") return String(figure.denominator);
    if (metric.kind === "mean_hours") return figure.value === null ? "–" : fmt(gettext("%(h)s h"), { h: figure.value.toFixed(1) });
    return percent(figure.value);
  }
  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const body = await response.json().catch(function () { return {}; });
    if (!response.ok) {
      const fields = body.fields ? Object.keys(body.fields).map(function (k) { return k + ": " + body.fields[k]; }).join("; ") : "";
      throw new Error((body.message || response.status) + (fields ? " (" + fields + ")" : ""));
    }
    return body;
  }
  function showError(id, error) {
    const node = $(id);
    if (!error) { node.hidden = true; node.textContent = ""; return; }
    node.hidden = false;
    node.textContent = error.message || String(error);
  }

  // --- the period -----------------------------------------------------------------------------------
  const fromInput = $("sv-from");
  const toInput = $("sv-to");
  const minVolumeInput = $("sv-min-volume");
  const tomorrow = addDays(localDate(new Date()), 1);
  toInput.value = tomorrow;
  fromInput.value = addDays(tomorrow, -(config.default_period_days || 30));
  minVolumeInput.value = config.min_volume;
  function periodParams() {
    const params = new URLSearchParams({ from: fromInput.value, to: toInput.value });
    if (minVolumeInput.value !== "") params.set("min_volume", minVolumeInput.value);
    return params;
  }

  // --- KPI table ------------------------------------------------------------------------------------
  let lastKpis = null;
  let drillState = null;

  function numberButton(metric, agency, part, text) {
    const button = el("button", {
      type: "button", className: "sv-num",
      dataset: { metric: metric.code, agency: String(agency.id), part: part },
      title: part === "numerator" ? gettext("Show the tickets counted in the numerator")
        : gettext("Show the tickets counted in the denominator"),
    }, text);
    return button;
  }

  function renderKpis(body) {
    lastKpis = body;
    const head = $("sv-kpi-head");
    head.replaceChildren(el("th", { scope: "col" }, gettext("Agency")));
    metrics.forEach(function (m) { head.appendChild(el("th", { scope: "col" }, m.label)); });
    const ranked = new Set((body.ranking ? body.ranking.ranking : []).map(function (r) { return r.agency.id; }));
    const rows = body.agencies.map(function (row) {
      const tr = el("tr", { className: ranked.has(row.agency.id) ? "ranked" : "unranked", dataset: { agency: String(row.agency.id) } });
      tr.appendChild(el("td", {}, row.agency.name));
      metrics.forEach(function (m) {
        const figure = row[m.code];
        const td = el("td", {});
        td.appendChild(numberButton(m, row.agency, m.kind === "count" ? "denominator" : "numerator", shown(m, figure)));
        if (m.kind === "rate") {
          const frac = el("span", { className: "sv-frac" });
          frac.appendChild(numberButton(m, row.agency, "numerator", figure.numerator));
          frac.appendChild(document.createTextNode("/"));
          frac.appendChild(numberButton(m, row.agency, "denominator", figure.denominator));
          td.appendChild(frac);
        } else if (m.kind === "mean_hours") {
          td.appendChild(el("span", { className: "sv-frac" }, "n=" + figure.denominator));
        }
        tr.appendChild(td);
      });
      return tr;
    });
    if (!rows.length) {
      const empty = el("tr", {});
      empty.appendChild(el("td", { colspan: String(metrics.length + 1) }, gettext("No work orders in this period.")));
      rows.push(empty);
    }
    $("sv-kpi-body").replaceChildren.apply($("sv-kpi-body"), rows);
    if (body.ranking) renderRanking(body.ranking);
  }

  async function loadKpis() {
    try {
      const [kpis, trend] = await Promise.all([
        getJSON("/api/supervision/kpis/?" + periodParams()),
        getJSON("/api/supervision/trend/?" + new URLSearchParams({ from: fromInput.value, to: toInput.value })),
      ]);
      showError("sv-kpi-error", null);
      renderKpis(kpis);
      renderTrend(trend.days);
    } catch (error) {
      showError("sv-kpi-error", error);
    }
  }

  $("sv-period").addEventListener("submit", function (event) {
    event.preventDefault();
    loadKpis();
  });
  $("sv-kpi-body").addEventListener("click", function (event) {
    const button = event.target.closest("button.sv-num");
    if (!button) return;
    openDrill(button.dataset.metric, Number(button.dataset.agency), button.dataset.part);
  });

  // --- drill-down -----------------------------------------------------------------------------------
  const drill = $("sv-drill");
  function agencyName(id) {
    const found = (config.agencies || []).find(function (a) { return a.id === id; });
    return found ? found.name : String(id);
  }
  async function openDrill(metricCode, agencyId, part) {
    const metric = metricByCode[metricCode];
    drillState = { metric: metricCode, agency: agencyId, part: part };
    drill.hidden = false;
    $("sv-drill-title").textContent = fmt(gettext("%(metric)s · %(agency)s · %(part)s"), {
      metric: metric.label, agency: agencyName(agencyId),
      part: part === "numerator" ? gettext("numerator") : gettext("denominator"),
    });
    $("sv-drill-title").focus();
    $("sv-drill-summary").textContent = gettext("Loading…");
    $("sv-drill-body").replaceChildren();
    try {
      const params = new URLSearchParams({ from: fromInput.value, to: toInput.value, metric: metricCode, part: part, agency: agencyId });
      const body = await getJSON("/api/supervision/kpis/drilldown/?" + params);
      renderDrill(body);
    } catch (error) {
      $("sv-drill-summary").textContent = error.message;
    }
  }
  function ticketLink(id, number) {
    return el("a", { href: "/tickets/id/" + id + "/", target: "_blank", rel: "noopener" }, number);
  }
  function renderDrill(body) {
    $("sv-drill-summary").textContent = body.unit === "ticket"
      ? fmt(gettext("%(n)s tickets"), { n: body.count }) : fmt(gettext("%(n)s work orders"), { n: body.count });
    const head = $("sv-drill-headrow");
    const rows = [];
    if (body.unit === "ticket") {
      head.replaceChildren.apply(head, [gettext("Ticket"), gettext("State"), gettext("Title"), gettext("Latest satisfaction"), gettext("Resolved")]
        .map(function (t) { return el("th", { scope: "col" }, t); }));
      body.items.forEach(function (item) {
        const tr = el("tr", { dataset: { ticket: String(item.ticket_id) } });
        const first = el("td", {});
        first.appendChild(ticketLink(item.ticket_id, item.ticket_number));
        tr.appendChild(first);
        tr.appendChild(el("td", {}, (config.ticket_states || {})[item.ticket_state] || item.ticket_state));
        tr.appendChild(el("td", {}, item.title));
        tr.appendChild(el("td", {}, (config.satisfaction || {})[item.latest_satisfaction] || item.latest_satisfaction || ""));
        tr.appendChild(el("td", {}, item.latest_resolved === null ? "" : item.latest_resolved ? gettext("yes") : gettext("no")));
        rows.push(tr);
      });
    } else {
      head.replaceChildren.apply(head, [gettext("Ticket"), gettext("Work order"), gettext("State"), gettext("Dispatched at"),
        gettext("Signed at"), gettext("Replied at"), gettext("Hours")].map(function (t) { return el("th", { scope: "col" }, t); }));
      body.items.forEach(function (item) {
        const tr = el("tr", { dataset: { ticket: String(item.ticket_id), workOrder: String(item.work_order_id) } });
        const first = el("td", {});
        first.appendChild(ticketLink(item.ticket_id, item.ticket_number));
        tr.appendChild(first);
        tr.appendChild(el("td", {}, item.work_order_number));
        tr.appendChild(el("td", {}, (config.work_order_states || {})[item.state] || item.state));
        tr.appendChild(el("td", {}, when(item.dispatched_at)));
        tr.appendChild(el("td", {}, when(item.signed_at)));
        tr.appendChild(el("td", {}, when(item.replied_at)));
        tr.appendChild(el("td", {}, item.handling_hours === null ? "" : item.handling_hours));
        rows.push(tr);
      });
    }
    $("sv-drill-body").replaceChildren.apply($("sv-drill-body"), rows);
  }
  $("sv-drill-close").addEventListener("click", function () { drill.hidden = true; drillState = null; });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !drill.hidden) { drill.hidden = true; drillState = null; }
  });

  // --- exports: the link is built when clicked, from what the board shows -----------------------------
  document.addEventListener("click", function (event) {
    const link = event.target.closest("a.sv-export");
    if (!link) return;
    const table = link.dataset.table;
    let params = new URLSearchParams();
    if (["kpis", "ranking", "trend"].indexOf(table) >= 0) params = periodParams();
    if (table === "drilldown") {
      if (!drillState) { event.preventDefault(); return; }
      params = new URLSearchParams({ from: fromInput.value, to: toInput.value, metric: drillState.metric,
        part: drillState.part, agency: drillState.agency });
    }
    link.href = "/api/supervision/export/" + table + "." + link.dataset.ext + "?" + params;
  });

  // --- charts (hand-written SVG) --------------------------------------------------------------------
  function renderTrend(days) {
    const host = $("sv-trend");
    const W = 460, H = 190, L = 34, R = 8, T = 10, B = 34;
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": gettext("Daily on-time rates") });
    for (let p = 0; p <= 100; p += 25) {
      const y = T + (H - T - B) * (1 - p / 100);
      root.appendChild(svg("line", { x1: L, x2: W - R, y1: y, y2: y, stroke: "#e3e8ee" }));
      root.appendChild(svg("text", { x: L - 4, y: y + 4, "text-anchor": "end" }, p + "%"));
    }
    const n = Math.max(days.length, 1);
    const step = (W - L - R) / Math.max(n - 1, 1);
    const series = [
      { code: "on_time_sign_rate", color: "#0b4f8a" },
      { code: "on_time_completion_rate", color: "#c0392b" },
    ];
    series.forEach(function (s, index) {
      let path = "";
      days.forEach(function (day, i) {
        const figure = day[s.code];
        if (figure.value === null) return;
        const x = L + i * step, y = T + (H - T - B) * (1 - figure.value);
        path += (path ? " L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
        const dot = svg("circle", { cx: x, cy: y, r: 2.5, fill: s.color });
        dot.appendChild(svg("title", {}, day.day + " " + metricByCode[s.code].label + " " + percent(figure.value)
          + " (" + figure.numerator + "/" + figure.denominator + ")"));
        root.appendChild(dot);
      });
      if (path) root.appendChild(svg("path", { d: path, fill: "none", stroke: s.color, "stroke-width": 1.5 }));
      const lx = L + index * 190;
      root.appendChild(svg("rect", { x: lx, y: H - 12, width: 10, height: 3, fill: s.color }));
      root.appendChild(svg("text", { x: lx + 14, y: H - 8 }, metricByCode[s.code].label));
    });
    const every = Math.ceil(n / 6);
    days.forEach(function (day, i) {
      if (i % every !== 0) return;
      root.appendChild(svg("text", { x: L + i * step, y: H - B + 14, "text-anchor": "middle" }, day.day.slice(5)));
    });
    host.replaceChildren(root);
  }

  function renderRanking(ranking) {
    const host = $("sv-ranking");
    $("sv-ranking-note").textContent = fmt(gettext("agencies with at least %(n)s work orders; %(x)s left out"), {
      n: ranking.min_volume, x: ranking.excluded.length,
    });
    const rows = ranking.ranking.slice(0, 12);
    const W = 460, barH = 14, gap = 4, L = 130, T = 4;
    const H = Math.max(40, T * 2 + rows.length * (barH + gap));
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": gettext("Ranking") });
    if (!rows.length) root.appendChild(svg("text", { x: 8, y: 20 }, gettext("No agency reaches the minimum volume.")));
    rows.forEach(function (row, i) {
      const figure = row[ranking.by];
      const y = T + i * (barH + gap);
      const width = (W - L - 50) * (figure.value || 0);
      root.appendChild(svg("text", { x: L - 6, y: y + barH - 3, "text-anchor": "end" }, row.rank + ". " + row.agency.name));
      const bar = svg("rect", { x: L, y: y, width: Math.max(width, 1), height: barH, fill: "#0b4f8a" });
      bar.appendChild(svg("title", {}, metricByCode[ranking.by].label + " " + percent(figure.value)
        + " (" + figure.numerator + "/" + figure.denominator + ")"));
      root.appendChild(bar);
      root.appendChild(svg("text", { x: L + width + 4, y: y + barH - 3 }, percent(figure.value)));
    });
    host.replaceChildren(root);
  }

  // --- live cards -----------------------------------------------------------------------------------
  let knownCardIds = null;  // ids shown before the last refresh; new ones flash
  function card(item, kind) {
    const level = item.level || "case";
    const li = el("li", { className: "sv-card " + (kind === "case" ? "case" : "level-" + level),
      dataset: { id: String(item.id), ticket: String(item.ticket_id || ""), kind: kind } });
    const title = el("div", {});
    if (item.ticket_id) title.appendChild(ticketLink(item.ticket_id, item.work_order_number || item.ticket_number));
    else title.textContent = item.work_order_number || "";
    title.appendChild(document.createTextNode(" · " + (item.agency ? item.agency.name : gettext("Centre"))));
    li.appendChild(title);
    if (kind === "escalation") {
      li.appendChild(el("div", { className: "meta" }, fmt(gettext("%(stage)s · due %(due)s · fired %(fired)s"), {
        stage: stageNames[item.stage] || item.stage, due: when(item.due_at), fired: when(item.fired_at),
      })));
      if (item.provisional) {
        li.appendChild(el("div", { className: "provisional", title: gettext("Computed on the provisional calendar: the year's holiday schedule is not published yet.") },
          gettext("Provisional deadline")));
      }
    } else if (kind === "case") {
      li.appendChild(el("div", { className: "meta" }, fmt(gettext("opened %(at)s"), { at: when(item.opened_at) })));
      li.appendChild(el("div", {}, item.instruction));
    } else {
      li.appendChild(el("div", { className: "meta" }, fmt(gettext("listed %(at)s"), { at: when(item.listed_at) })));
    }
    const key = kind + ":" + item.id;
    if (knownCardIds !== null && !knownCardIds.has(key)) li.classList.add("arrived");
    return li;
  }
  function renderMatrix(summary) {
    const byAgency = new Map();
    summary.forEach(function (entry) {
      if (entry.level === "warning") return;
      const key = entry.agency_id;
      if (!byAgency.has(key)) byAgency.set(key, {});
      const cell = byAgency.get(key);
      cell[entry.stage] = cell[entry.stage] || { serious: 0, overdue: 0 };
      cell[entry.stage][entry.level] += entry.count;
    });
    const rows = [];
    byAgency.forEach(function (cells, agencyId) {
      const tr = el("tr", {});
      tr.appendChild(el("td", {}, agencyId === null ? gettext("Centre") : agencyName(agencyId)));
      (config.stages || []).forEach(function (stage) {
        const td = el("td", {});
        const c = cells[stage.code];
        if (c && c.serious) td.appendChild(el("span", { className: "red", title: levelNames.serious || "" }, c.serious));
        if (c && c.serious && c.overdue) td.appendChild(document.createTextNode(" "));
        if (c && c.overdue) td.appendChild(el("span", { className: "yellow", title: levelNames.overdue || "" }, c.overdue));
        tr.appendChild(td);
      });
      rows.push(tr);
    });
    $("sv-matrix").replaceChildren.apply($("sv-matrix"), rows);
  }
  // Deadlines on the provisional calendar of a year not published yet: say which years and how to publish them.
  function renderCalendarBanner(provisional) {
    const banner = $("sv-calendar-banner");
    banner.hidden = !provisional || !provisional.count;
    if (banner.hidden) return;
    $("sv-calendar-text").textContent = fmt(ngettext(
      "The official holiday schedule of %(years)s is not published yet: %(count)s open deadline runs on the provisional calendar (weekends and statutory holidays only) and is marked provisional.",
      "The official holiday schedule of %(years)s is not published yet: %(count)s open deadlines run on the provisional calendar (weekends and statutory holidays only) and are marked provisional.",
      provisional.count), { years: provisional.years.join("、"), count: provisional.count });
  }
  async function loadLive() {
    try {
      const body = await getJSON("/api/supervision/escalations/");
      showError("sv-live-error", null);
      const seen = new Set();
      [["sv-red", body.red, "escalation"], ["sv-yellow", body.yellow, "escalation"], ["sv-warning", body.warning, "escalation"],
        ["sv-cases", body.cases, "case"], ["sv-reprimands", body.reprimands, "reprimand"]].forEach(function (part) {
        const items = part[1].map(function (item) { seen.add(part[2] + ":" + item.id); return card(item, part[2]); });
        $(part[0]).replaceChildren.apply($(part[0]), items);
        $(part[0] + "-count").textContent = String(items.length);
      });
      renderMatrix(body.by_agency_stage);
      renderCalendarBanner(body.provisional_deadlines);
      knownCardIds = seen;
    } catch (error) {
      showError("sv-live-error", error);
    }
  }
  let liveTimer = null;
  function scheduleLive() {
    clearTimeout(liveTimer);
    liveTimer = setTimeout(loadLive, 300);
  }

  HotlineLive.connect({
    storageKey: "supervision",
    onEvent: function (event) {
      // Escalations, supervision cases and stopped clocks all arrive as work-order or ticket events.
      if (event.type.indexOf("work_order.") === 0 || event.type.indexOf("ticket.") === 0 || event.type === "calendar.year_published") scheduleLive();
    },
    onSnapshot: scheduleLive,
    onState: function (state) {
      window.showLiveState(state);
      if (state === "live") scheduleLive();
    },
  });
  loadLive();
  loadKpis();
})();
