/*
 * Ticket page: the ticket's photos and documents (GET /api/tickets/<id>/attachments/: the centre sees them all,
 * an agency the ticket's own intake files and its own work orders' files), shown as the shared gallery of
 * dispatch/attachments.js. Reloaded with the ticket (an attachment.added event names the ticket).
 */

import { $, gettext } from "./helpers.js";
import { TICKET } from "./state.js";
import { listAttachments, renderAttachments } from "../attachments.js";

let loading = null;
let again = false;
export async function loadFiles() {
  if (loading) { again = true; return loading; }
  const box = $("ticket-attachments");
  const error = $("attachments-error");
  loading = (async function () {
    try {
      renderAttachments(box, await listAttachments("/api/tickets/" + TICKET.id + "/attachments/"), { thumbSize: 96 });
      error.hidden = true;
    } catch (problem) {
      error.textContent = (problem && problem.message) || gettext("The files could not be loaded.");
      error.hidden = false;
    }
    box.removeAttribute("aria-busy");
  })();
  await loading;
  loading = null;
  if (again) { again = false; return loadFiles(); }
}
