/*
 * Agency inbox: live events (HotlineLive, realtime/live.js) refresh rows and the open details; a snapshot
 * reloads the list.
 */

import { fmt, gettext } from "./helpers.js";
import { AGENCY_ID, OPEN_STATES, state } from "./state.js";
import { escalationLabel } from "./time.js";
import { toast } from "./notify.js";
import { dropRow, reloadList, renderList, scheduleRefresh } from "./list.js";
import { scheduleDetailReload } from "./detail.js";

// --- live -----------------------------------------------------------------------------------------
export function onEvent(event) {
  const payload = event.payload || {};
  const wo = payload.work_order;
  if (event.type === "work_order.created" && wo && wo.agency_id === AGENCY_ID) {
    if (OPEN_STATES.indexOf(wo.state) !== -1) scheduleRefresh(wo.id, { arrival: true });
  } else if (event.type === "work_order.changed" && wo && wo.agency_id === AGENCY_ID) {
    if (OPEN_STATES.indexOf(wo.state) === -1) {
      // closed, cancelled, returned or approved: it leaves the inbox
      const had = dropRow(wo.id);
      if (had) renderList();
      if (state.selectedId === wo.id) scheduleDetailReload();
    } else {
      // redo brings an approved work order back: that is new work too
      scheduleRefresh(wo.id, { arrival: payload.action === "redo", highlight: payload.action === "urge" });
      if (payload.action === "urge") {
        toast(fmt(gettext("The centre urged work order %(number)s."), { number: wo.number }));
      }
      if (state.selectedId === wo.id) scheduleDetailReload();
    }
  } else if (event.type === "work_order.escalated" && payload.agency_id === AGENCY_ID) {
    // The timer worker fired steps of the ladder (one event per batch): the rows turn yellow or red at once.
    const cards = [];
    (payload.escalations || []).forEach(function (step) {
      if (!step.work_order_id) return;
      scheduleRefresh(step.work_order_id, { highlight: true });
      if (step.level !== "warning") cards.push(step);
      if (state.selectedId === step.work_order_id) scheduleDetailReload();
    });
    if (cards.length === 1) {
      const step = cards[0];
      const number = state.rows.has(step.work_order_id) ? state.rows.get(step.work_order_id).wo.number : step.work_order_id;
      toast(fmt(gettext("%(card)s for work order %(number)s."), { card: escalationLabel(step.level), number: number }));
    } else if (cards.length > 1) {
      toast(fmt(gettext("%(count)s work orders got a yellow or red card."), { count: cards.length }));
    }
  } else if (event.type === "work_order.deadlines_recomputed" && payload.agency_id === AGENCY_ID) {
    // The centre published a year's holiday schedule: provisional deadlines became official (maybe later).
    (payload.deadlines || []).forEach(function (item) {
      if (!item.work_order_id) return;
      scheduleRefresh(item.work_order_id, { highlight: item.moved });
      if (state.selectedId === item.work_order_id) scheduleDetailReload();
    });
    const moved = (payload.deadlines || []).filter(function (item) { return item.moved; }).length;
    toast(fmt(gettext("The %(year)s holiday schedule is published: %(count)s deadlines are official now, %(moved)s of them later."),
      { year: payload.year, count: (payload.deadlines || []).length, moved: moved }));
  } else if (event.type === "ticket.changed" || event.type === "ticket.merged" || event.type === "attachment.added") {
    if (state.detail && state.detail.wo && event.ticket_id === state.detail.wo.ticket.id) scheduleDetailReload();
  }
}
export function onSnapshot() {
  reloadList();
  if (state.selectedId !== null) scheduleDetailReload();
}
