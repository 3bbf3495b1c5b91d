/*
 * Ticket page: the canned-phrase picker (callcenter/phrases.js) in the forms that have one: a work order's
 * reply (reply phrases) and the ticket's revisit note (revisit phrases), for the ticket's subject, with its
 * address, subject and number (and the work order's agency) filled in.
 */

import { attachPhrasePicker } from "../../callcenter/phrases.js";
import { state, workOrder } from "./state.js";

const PICKERS = { "work_order:reply": ["reply", "reply"], "ticket:revisit": ["revisit", "note"] };

export function bindFormPhrases(form, machine, action, workOrderId) {
  const picker = PICKERS[machine + ":" + action];
  const ticket = state.data;
  if (!picker || !ticket) return;
  const wo = workOrderId ? workOrder(workOrderId) : null;
  attachPhrasePicker(form.elements.namedItem(picker[1]), {
    kind: picker[0],
    subject: function () { return ticket.subject ? ticket.subject.code : null; },
    values: function () {
      return {
        address: ticket.address || "",
        subject: ticket.subject ? ticket.subject.name : "",
        number: ticket.number,
        agency: wo && wo.agency ? wo.agency.name : "",
      };
    },
  });
}
