/*
 * Agency inbox: small helpers shared by every panel (gettext with a fallback, DOM), the server clock (from
 * the Date header) and the JSON API wrapper. Nothing here knows about the page's state.
 */

export const gettext = window.gettext || function (s) { return s; };  // Django's JavaScriptCatalog
export const fmt = function (template, values) {
  return window.interpolate ? window.interpolate(template, values, true)
    : template.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
};

export const $ = function (id) { return document.getElementById(id); };

// --- server clock ---------------------------------------------------------------------------------
let clockOffset = 0;  // server time minus browser time, ms (from the Date header)
export function now() { return Date.now() + clockOffset; }
export function noteServerDate(response) {
  const header = response.headers.get("Date");
  const server = header ? Date.parse(header) : NaN;
  if (isNaN(server)) return;
  const offset = server - Date.now();
  // The header has a resolution of one second: ignore differences smaller than that.
  clockOffset = Math.abs(offset) > 2000 ? offset : 0;
}

// --- network --------------------------------------------------------------------------------------
function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}
export async function api(method, url, body) {
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
export async function fetchAll(url) {
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

// --- DOM ------------------------------------------------------------------------------------------
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
