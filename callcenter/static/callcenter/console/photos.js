/*
 * Operator console, left: intake photos (the caller's pictures, sent by WeChat or mail, or a photo taken at
 * the counter). The input <input type="file" accept="image/*" capture="environment" multiple
 * data-role="photo-input"> sits in the intake form; nothing is sent while the ticket is being typed. When the
 * ticket is accepted, the chosen photos are stored on it one by one, kind "intake"; photos chosen after that
 * go to the accepted ticket at once (and so does a second try after a refused one).
 *
 * The files go to the attachments HTTP API (POST /api/tickets/{id}/attachments/, multipart, field "file";
 * dispatch/attachments/api.py), which checks each file, strips EXIF (GPS) and answers field errors for a
 * refused one. The console only talks to it over HTTP: callcenter sits below dispatch.
 */

import { $, api, el, errorText, fmt } from "./helpers.js";
import { state, TERMINAL } from "./state.js";

const input = $("f-photos");
const preview = $("photos-preview");
const statusBox = $("photos-status");
let stored = new WeakSet(); // File objects already on the accepted ticket
const PREVIEW_MAX_BYTES = 15 * 1024 * 1024; // larger photos are listed by name only
let queue = Promise.resolve(); // uploads run one after the other, whatever triggers them

function chosen() {
  return Array.from(input.files || []);
}

function setStatus(text, isError) {
  statusBox.textContent = text || "";
  statusBox.classList.toggle("field-error", Boolean(isError));
}

// A data: URL (the pages' Content-Security-Policy allows images from the site and data: only, not blob:).
function previewInto(item, file) {
  const reader = new FileReader();
  reader.onload = () => item.replaceChildren(el("img", { src: String(reader.result), alt: file.name }));
  reader.readAsDataURL(file);
}

function renderPreview() {
  preview.replaceChildren();
  for (const file of chosen()) {
    const item = el("li", { class: stored.has(file) ? "stored" : "", title: file.name }, [el("span", { text: file.name })]);
    if (/^image\/(jpeg|png|webp|gif)$/.test(file.type) && file.size <= PREVIEW_MAX_BYTES) previewInto(item, file);
    preview.appendChild(item);
  }
}

function markStored() {
  const files = chosen();
  Array.from(preview.children).forEach((item, i) => item.classList.toggle("stored", Boolean(files[i]) && stored.has(files[i])));
}

async function storeOn(ticket) {
  const files = chosen().filter((file) => !stored.has(file));
  if (!files.length || !ticket) return;
  const failed = [];
  let done = 0;
  for (const file of files) {
    setStatus(fmt(gettext("Storing photos on %(number)s… (%(done)s of %(total)s)"), { number: ticket.number, done: done, total: files.length }));
    const body = new FormData();
    body.append("file", file, file.name);
    body.append("kind", "intake");
    try {
      await api("POST", "/api/tickets/" + ticket.id + "/attachments/", body);
      stored.add(file);
      done += 1;
    } catch (error) {
      const details = (error.fields && error.fields.file) || [];
      failed.push(file.name + ": " + [errorText(error)].concat(details).join(" "));
    }
  }
  markStored();
  const total = chosen().filter((file) => stored.has(file)).length;
  if (failed.length) {
    setStatus(
      failed.join("\n") + "\n" + gettext("Choose the refused photos again to store them on the ticket."),
      true
    );
  } else {
    setStatus(fmt(ngettext("%(n)s photo stored on %(number)s.", "%(n)s photos stored on %(number)s.", total), { n: total, number: ticket.number }));
  }
}

/** Store the chosen photos that are not stored yet on the ticket just accepted. Resolves when done. */
export function storePhotos(ticket) {
  queue = queue.then(() => storeOn(ticket)).catch(() => {});
  return queue;
}

/** A new intake: no photos chosen, nothing stored. */
export function resetPhotos() {
  input.value = "";
  stored = new WeakSet();
  renderPreview();
  setStatus("");
}

export function bindPhotos() {
  input.addEventListener("change", function () {
    renderPreview();
    const count = chosen().length;
    const ticket = state.submitted;
    if (ticket && !TERMINAL.has(ticket.state)) {
      storePhotos(ticket);
    } else {
      setStatus(count ? fmt(ngettext("%(n)s photo chosen.", "%(n)s photos chosen.", count), { n: count }) : "");
    }
  });
}
