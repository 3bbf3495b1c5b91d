/*
 * Attachments: upload photos and documents to a ticket or a work order, and show a list of them as a small
 * gallery. An ES module for any screen (no bundler):
 *
 *   import { listAttachments, renderAttachments, uploadFiles } from "/static/dispatch/attachments.js";
 *   const url = "/api/work-orders/" + id + "/attachments/";      // or "/api/tickets/" + id + "/attachments/"
 *   const result = await uploadFiles(url, input.files, { kind: "reply", onProgress: (done, total) => ... });
 *   result.failed.forEach((f) => show(f.name + ": " + f.message + " " + (f.fields.file || []).join(" ")));
 *   renderAttachments(container, await listAttachments(url));
 *
 * One request per file (multipart, field "file", optional "kind"), one after the other, so that one refused
 * file does not hide what happened to the others. The server decides the type from the bytes, strips EXIF
 * (GPS) from photos and answers 400 with field errors for a file it refuses (API: dispatch/attachments/api.py).
 * Server text only ever reaches the page through textContent; links point at the scoped file endpoints.
 * CSS hooks: .attachments, .attachment, .attachment-image, .attachment-document, .attachment-meta.
 */

const gettext = window.gettext || function (s) { return s; };  // Django's JavaScriptCatalog
const fmt = function (template, values) {
  return window.interpolate ? window.interpolate(template, values, true)
    : template.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
};

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

async function readJson(response) {
  try {
    return await response.json();
  } catch (error) {
    return null;
  }
}

function problemOf(response, data) {
  const problem = { status: response ? response.status : 0, code: "error", message: "", fields: {} };
  if (data && typeof data === "object") {
    problem.code = data.code || problem.code;
    problem.message = typeof data.message === "string" ? data.message : "";
    problem.fields = data.fields && typeof data.fields === "object" ? data.fields : {};
  }
  if (!problem.message) {
    problem.message = response
      ? fmt(gettext("The request failed (HTTP %(status)s)."), { status: response.status })
      : gettext("The server cannot be reached. Check the connection and try again.");
  }
  return problem;
}

/**
 * Upload each file to `url`. Returns {uploaded: [attachment, ...], failed: [{name, status, code, message,
 * fields}, ...]}; never throws for a refused file.
 */
export async function uploadFiles(url, files, options) {
  const opts = options || {};
  const list = Array.from(files || []);
  const result = { uploaded: [], failed: [] };
  for (let i = 0; i < list.length; i += 1) {
    const file = list[i];
    const body = new FormData();
    body.append("file", file, file.name);
    if (opts.kind) body.append("kind", opts.kind);
    let response = null;
    let data = null;
    try {
      // No Content-Type header: the browser writes the multipart boundary itself.
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: body,
      });
      data = await readJson(response);
    } catch (error) {
      response = null;
    }
    if (response && response.ok && data) {
      result.uploaded.push(data);
    } else {
      result.failed.push(Object.assign({ name: file.name }, problemOf(response, data)));
    }
    if (typeof opts.onProgress === "function") opts.onProgress(i + 1, list.length);
  }
  return result;
}

/** The attachments listed at `url` (a ticket's or a work order's), or throws {status, code, message, fields}. */
export async function listAttachments(url) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch (error) {
    throw problemOf(null, null);
  }
  const data = await readJson(response);
  if (!response.ok) throw problemOf(response, data);
  return Array.isArray(data) ? data : [];
}

export function formatSize(bytes) {
  if (bytes >= 1024 * 1024) return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  return Math.max(1, Math.round(bytes / 1024)) + " KB";
}

function node(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined && text !== null) el.textContent = String(text);
  return el;
}

/**
 * Show `list` (attachments as the API returns them) in `container`, replacing what was there: images as
 * thumbnails opening the full picture, documents as download links. Options: {thumbSize: px (default 120),
 * showKind: true}.
 */
export function renderAttachments(container, list, options) {
  const opts = Object.assign({ thumbSize: 120, showKind: true }, options || {});
  const gallery = node("ul", "attachments");
  (list || []).forEach(function (item) {
    const li = node("li", "attachment " + (item.is_image ? "attachment-image" : "attachment-document"));
    const link = node("a");
    link.href = item.file_url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    if (item.is_image && item.thumbnail_url) {
      const img = node("img");
      img.src = item.thumbnail_url;
      img.alt = item.original_name;
      img.loading = "lazy";
      img.style.maxWidth = opts.thumbSize + "px";
      img.style.maxHeight = opts.thumbSize + "px";
      link.appendChild(img);
    } else {
      link.textContent = item.original_name;
      link.setAttribute("download", "");
    }
    li.appendChild(link);
    const parts = [];
    if (opts.showKind && item.kind_label) parts.push(item.kind_label);  // translated by the server
    parts.push(formatSize(item.size));
    if (item.uploaded_by_agency) parts.push(item.uploaded_by_agency);
    const meta = node("span", "attachment-meta", parts.join(" · "));
    meta.title = item.original_name;
    li.appendChild(meta);
    gallery.appendChild(li);
  });
  if (!gallery.childNodes.length) gallery.appendChild(node("li", "attachment muted", gettext("No files.")));
  container.replaceChildren(gallery);
  return gallery;
}
