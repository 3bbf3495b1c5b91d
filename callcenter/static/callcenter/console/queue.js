/*
 * Operator console, right column: my queue, the tickets this operator accepted today, kept live (live.js).
 * The ids are remembered per day in localStorage; the server's list comes first.
 */

import { $, api, clear, el, fmt, localDay, shortTime, show } from "./helpers.js";
import { hooks, state, stateBadge, TERMINAL, urgencyNames, user } from "./state.js";

const MINE_PREFIX = "hotline.console.mine." + user.id + ".";
const mineKey = () => MINE_PREFIX + localDay();

export function mineIds() {
  try {
    return JSON.parse(window.localStorage.getItem(mineKey()) || "[]").filter((id) => Number.isInteger(id));
  } catch (error) {
    return [];
  }
}

export function rememberMine(id) {
  const ids = mineIds();
  if (!ids.includes(id)) ids.push(id);
  try {
    window.localStorage.setItem(mineKey(), JSON.stringify(ids.slice(-500)));
  } catch (error) {
    /* private mode: the queue still lives for this page */
  }
}

export function pruneOldDays() {
  try {
    for (let i = window.localStorage.length - 1; i >= 0; i--) {
      const key = window.localStorage.key(i);
      if (key && key.startsWith(MINE_PREFIX) && key !== mineKey()) window.localStorage.removeItem(key);
    }
  } catch (error) {
    /* ignore */
  }
}

export async function loadQueue() {
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

export function upsertQueue(ticket, options) {
  if (!ticket || !ticket.id) return;
  const previous = state.queue.get(ticket.id);
  const changed = previous && previous.state !== ticket.state;
  state.queue.set(ticket.id, Object.assign({}, previous || {}, ticket, { _flash: changed || !previous ? Date.now() : previous._flash }));
  if (!options || !options.quiet) renderQueue();
}

export function renderQueue() {
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
              hooks.openTicket(ticket.id);
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
