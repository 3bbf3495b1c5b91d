/*
 * Agency inbox: photos from the phone's camera (or its gallery) on the progress-note and reply forms, and
 * the files shown in the details. Uploads go through the attachments layer (dispatch/attachments.js and its
 * API, dispatch/attachments/api.py): one request per photo to the work order, kind "note" or "reply" (the
 * proof of work). The server checks each file, strips EXIF (GPS) and answers field errors for a refused one.
 *
 * The photos are uploaded before the note or reply itself is sent: an agency may add files only while it may
 * write a progress note (the work order is being handled), and a reply ends that. A photo uploaded once is
 * not sent again when the form is submitted again (after a refused reply, say).
 *
 * The form's input: <input type="file" accept="image/*" capture="environment" multiple data-role="photo-input">
 * (no name: its value never reaches the action's JSON body), with a .photo-preview and a .photo-status beside it.
 */

import { el, fmt, gettext } from "./helpers.js";
import { renderAttachments, uploadFiles } from "../attachments.js";

const ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
const uploadedByForm = new WeakMap();  // form -> Set of File objects already stored
const PREVIEW_MAX_BYTES = 15 * 1024 * 1024;  // larger photos are listed by name only

function input(form) {
  return form.querySelector("[data-role=photo-input]");
}
function chosen(form) {
  const field = input(form);
  return field ? Array.from(field.files || []) : [];
}
function pending(form) {
  const done = uploadedByForm.get(form) || new Set();
  return chosen(form).filter(function (file) { return !done.has(file); });
}
function setStatus(form, text, isError) {
  const status = form.querySelector(".photo-status");
  if (!status) return;
  status.textContent = text || "";
  status.classList.toggle("photo-error", !!isError);
  status.hidden = !text;
}

// A data: URL (the pages' Content-Security-Policy allows images from the site and data: only, not blob:).
function previewInto(item, file) {
  const reader = new FileReader();
  reader.onload = function () {
    const img = el("img");
    img.src = String(reader.result);
    img.alt = file.name;
    item.replaceChildren(img);
  };
  reader.readAsDataURL(file);
}
function showPreview(form) {
  const box = form.querySelector(".photo-preview");
  if (!box) return;
  box.replaceChildren();
  chosen(form).forEach(function (file) {
    const item = el("li", "", file.name);
    item.title = file.name;
    if (/^image\/(jpeg|png|webp|gif)$/.test(file.type) && file.size <= PREVIEW_MAX_BYTES) previewInto(item, file);
    box.appendChild(item);
  });
  const count = chosen(form).length;
  setStatus(form, count ? fmt(ngettext("%(n)s photo chosen.", "%(n)s photos chosen.", count), { n: count }) : "", false);
}

/** Wire a freshly cloned action form's photo input (if it has one). */
export function bindPhotoInput(form) {
  const field = input(form);
  if (!field) return;
  uploadedByForm.set(form, new Set());
  field.addEventListener("change", function () { showPreview(form); });
}

/** Forget the form's photos (the form is being removed). */
export function releasePhotoInput(form) {
  uploadedByForm.delete(form);
}

/**
 * Upload the form's chosen photos that are not stored yet to work order `workOrderId` as `kind`.
 * Returns null when all are stored, else a problem {message, fields} for the form (nothing else is sent).
 */
export async function uploadPhotos(form, workOrderId, kind) {
  const files = pending(form);
  if (!files.length) return null;
  const done = uploadedByForm.get(form) || new Set();
  uploadedByForm.set(form, done);
  const url = "/api/work-orders/" + workOrderId + "/attachments/";
  const failed = [];
  for (let i = 0; i < files.length; i += 1) {
    setStatus(form, fmt(gettext("Uploading photos… (%(done)s of %(total)s)"), { done: i, total: files.length }), false);
    // One file per call, so that a refused one is known by its File (phones name every photo "image.jpg").
    const result = await uploadFiles(url, [files[i]], { kind: kind });
    if (result.uploaded.length) done.add(files[i]);
    else failed.push.apply(failed, result.failed);
  }
  if (!failed.length) {
    setStatus(form, fmt(ngettext("%(n)s photo stored.", "%(n)s photos stored.", done.size), { n: done.size }), false);
    return null;
  }
  const lines = failed.map(function (f) {
    const why = [f.message].concat((f.fields && f.fields.file) || []).filter(Boolean).join(" ");
    return f.name + ": " + why;
  });
  setStatus(form, lines.join("\n"), true);
  return {
    status: failed[0].status,
    message: gettext("Some photos could not be stored, so nothing else was sent. Choose the photos again (or none) and send again."),
    fields: {},
  };
}

/** The files of the work order shown (the ticket's own intake photos and this agency's work-order files). */
export function renderFiles(container, list) {
  renderAttachments(container, list, { thumbSize: 96 });
}
