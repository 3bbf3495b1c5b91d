/*
 * Operator console: small helpers shared by every panel (DOM, text, time, phone numbers) and the JSON API
 * wrapper. Nothing here knows about the page's state. gettext and interpolate are Django's JS catalog
 * (globals).
 */

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      // A style goes through the CSSOM: the Content-Security-Policy refuses style attributes set as markup.
      else if (key === "style") node.style.cssText = String(value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children || []) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export function show(node, visible) {
  node.hidden = !visible;
}

export function fmt(template, values) {
  return interpolate(template, values, true);
}

export function debounce(fn, ms) {
  let timer = null;
  const wrapped = function () {
    const args = arguments;
    clearTimeout(timer);
    timer = setTimeout(function () {
      fn.apply(null, args);
    }, ms);
  };
  wrapped.cancel = function () {
    clearTimeout(timer);
  };
  return wrapped;
}

export function uuid() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  // crypto.randomUUID needs a secure context; getRandomValues does not.
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
}

// Days and times are the city's (Asia/Shanghai, from the page's configuration), whatever the browser's zone.
const TIME_ZONE = (function () {
  const node = document.getElementById("screen-config");
  try {
    return (node && JSON.parse(node.textContent).time_zone) || "Asia/Shanghai";
  } catch (error) {
    return "Asia/Shanghai";
  }
})();
const zoneParts = new Intl.DateTimeFormat("en-CA", {
  timeZone: TIME_ZONE, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
});
function parts(d) {
  const out = {};
  zoneParts.formatToParts(d).forEach(function (p) { out[p.type] = p.value; });
  return out;
}

export function localDay(date) {
  const p = parts(date || new Date());
  return p.year + "-" + p.month + "-" + p.day;
}

export function shortTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "";
  const p = parts(d);
  const hm = p.hour + ":" + p.minute;
  if (localDay(d) === localDay()) return hm;
  return p.year + "-" + p.month + "-" + p.day + " " + hm;
}

/** +8613812341234 -> 13812341234, +867722801234 -> 07722801234 (as dialled in China). */
export function nationalNumber(phone) {
  if (!phone) return "";
  if (phone.startsWith("+86")) {
    const rest = phone.slice(3);
    return rest.startsWith("1") ? rest : "0" + rest;
  }
  return phone;
}

/** Worth a history lookup: a mobile (11 digits), a fixed line with its area code, or an international number. */
export function plausiblePhone(raw) {
  const value = (raw || "").trim();
  const digits = value.replace(/\D/g, "");
  if (value.startsWith("+")) return digits.length >= 10 && digits.length <= 15;
  if (digits.startsWith("1")) return digits.length === 11;
  if (digits.startsWith("0")) return digits.length >= 10 && digits.length <= 12;
  return false;
}

// --- API --------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || gettext("The request failed."));
    this.status = status;
    this.code = (body && body.code) || "error";
    this.fields = (body && body.fields) || {};
  }
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const hidden = document.querySelector("input[name=csrfmiddlewaretoken]");
  return hidden ? hidden.value : "";
}

export async function api(method, url, body, extraHeaders) {
  const headers = Object.assign(
    { Accept: "application/json", "Accept-Language": document.documentElement.lang || "zh-hans" },
    extraHeaders || {}
  );
  const init = { method: method, headers: headers, credentials: "same-origin" };
  if (body instanceof FormData) {
    init.body = body; // multipart: the browser writes the Content-Type with its boundary
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, { code: "network", message: gettext("Network error: check the connection and try again.") });
  }
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (!response.ok) {
    if (response.status === 401 || (response.status === 403 && data && data.code === "not_authenticated")) {
      throw new ApiError(response.status, {
        code: "not_authenticated",
        message: gettext("Your session has ended: please log in again."),
      });
    }
    throw new ApiError(
      response.status,
      data && data.message ? data : { code: "http_" + response.status, message: fmt(gettext("The server answered %(status)s."), { status: response.status }) }
    );
  }
  return data;
}

export function errorText(error) {
  return error instanceof ApiError ? error.message : String(error && error.message ? error.message : error);
}
