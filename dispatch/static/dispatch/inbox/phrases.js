/*
 * Agency inbox: the canned-phrase picker (callcenter/phrases.js) under the reply, offering the reply phrases
 * of the work order's subject, with the ticket's address, subject and number and the agency filled in.
 */

import { attachPhrasePicker } from "../../callcenter/phrases.js";
import { state } from "./state.js";

export function bindReplyPhrases(form) {
  const wo = state.detail && state.detail.wo;
  const textarea = form.elements.namedItem("reply");
  if (!wo || !textarea) return;
  attachPhrasePicker(textarea, {
    kind: "reply",
    subject: function () { return wo.ticket.subject_code || null; },
    values: function () {
      return {
        address: wo.ticket.address || "",
        subject: (wo.ticket.subject || "").split(" > ").pop(),
        number: wo.ticket.number,
        agency: wo.agency ? wo.agency.name : "",
      };
    },
  });
}
