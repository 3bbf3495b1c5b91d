/*
 * Commander's map: small helpers shared by every part (gettext with fallbacks, DOM, time formats, GET
 * JSON, debounce, the status line over the map). Nothing here knows about the page's state.
 */

export const gettext = window.gettext || function (s) { return s; };
export const pgettext = window.pgettext || function (_context, s) { return gettext(s); };
const interpolate = window.interpolate || function (f, o) { return f.replace(/%\((\w+)\)s/g, function (_m, k) { return String(o[k]); }); };
const lang = document.documentElement.lang || "zh-hans";

// --- small DOM helpers -----------------------------------------------------------------------------

export function el(tag, attrs) {
  const node = document.createElement(tag);
  if (attrs) {
    Object.keys(attrs).forEach(function (key) {
      const value = attrs[key];
      if (value === undefined || value === null || value === false) return;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      // A style goes through the CSSOM: the Content-Security-Policy refuses style attributes set as markup.
      else if (key === "style") node.style.cssText = String(value);
      else node.setAttribute(key, value === true ? "" : String(value));
    });
  }
  for (let i = 2; i < arguments.length; i += 1) {
    const child = arguments[i];
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export function fmt(template, values) {
  return interpolate(template, values, true);
}

// Times are the city's (the page's time_zone, Asia/Shanghai), whatever the browser's zone.
const TIME_ZONE = (function () {
  try {
    return JSON.parse(document.getElementById("screen-config").textContent).time_zone || "Asia/Shanghai";
  } catch (error) {
    return "Asia/Shanghai";
  }
})();
const timeFormat = new Intl.DateTimeFormat(lang, {
  timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
const dateTimeFormat = new Intl.DateTimeFormat(lang, {
  timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
});
export function formatTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : timeFormat.format(d);
}
export function formatDateTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : dateTimeFormat.format(d);
}

export function getJSON(url) {
  return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
    if (!response.ok) {
      const error = new Error("HTTP " + response.status);
      error.status = response.status;
      throw error;
    }
    return response.json();
  });
}

// The status line over the map (loading, errors); empty text hides it.
const mapStatus = document.getElementById("cmd-map-status");
export function setMapStatus(text) {
  mapStatus.textContent = text || "";
  mapStatus.hidden = !text;
}

export function debounce(fn, ms) {
  let timer = null;
  return function () {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}
