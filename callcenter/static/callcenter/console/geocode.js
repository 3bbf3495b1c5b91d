/*
 * Operator console, map tools: the address search (geocoder) and shared coordinates in any system, both of
 * which place the pin (map.js).
 */

import { $, api, clear, el, errorText, show } from "./helpers.js";
import { state } from "./state.js";
import { fields, setFieldError } from "./fields.js";
import { mapMessage, setPin } from "./map.js";

export function hideGeocodeResults() {
  const list = $("geocode-results");
  clear(list);
  show(list, false);
}

async function geocode(query) {
  const list = $("geocode-results");
  const text = (query || "").trim();
  if (!text) return;
  clear(list);
  show(list, true);
  list.appendChild(el("li", { class: "hint", text: gettext("Searching…") }));
  let data;
  try {
    data = await api(
      "GET",
      "/api/geo/geocode/?q=" + encodeURIComponent(text.slice(0, 200)) + "&coordinate_system=wgs84"
    );
  } catch (error) {
    clear(list);
    list.appendChild(el("li", { class: "error", text: errorText(error) }));
    return;
  }
  clear(list);
  const results = data.results || [];
  if (!results.length) {
    list.appendChild(el("li", { class: "hint", text: gettext("No match: click the place on the map instead.") }));
    return;
  }
  results.slice(0, 8).forEach(function (result, index) {
    const button = el(
      "button",
      {
        type: "button",
        class: "geocode-hit",
        onclick: function () {
          setPin({ latitude: result.latitude, longitude: result.longitude }, { pan: true });
          if (!fields.address.value.trim() && !state.submitted) fields.address.value = result.name;
          hideGeocodeResults();
        },
        onkeydown: function (event) {
          if (event.key === "ArrowDown" || event.key === "ArrowUp") {
            event.preventDefault();
            const buttons = list.querySelectorAll("button");
            const next = buttons[(index + (event.key === "ArrowDown" ? 1 : buttons.length - 1)) % buttons.length];
            if (next) next.focus();
          } else if (event.key === "Escape") {
            hideGeocodeResults();
          }
        },
      },
      [
        el("span", { class: "name", text: result.name }),
        el("span", { class: "hint", text: [result.district, result.kind].filter(Boolean).join(" · ") }),
        el("span", { class: "score", text: Math.round((result.score || 0) * 100) + "%" }),
      ]
    );
    list.appendChild(el("li", null, [button]));
  });
  return results;
}

export async function locateAddress() {
  const text = fields.address.value.trim();
  if (!text) {
    setFieldError("address", gettext("Type the address first."));
    fields.address.focus();
    return;
  }
  setFieldError("address", "");
  $("geocode-q").value = text;
  const results = await geocode(text);
  const first = $("geocode-results").querySelector("button");
  if (results && results.length && first) first.focus();
}

async function placeCoordinates() {
  const raw = $("coords-q").value.trim();
  const numbers = raw.split(/[\s,，;]+/).filter(Boolean).map(Number);
  if (numbers.length !== 2 || numbers.some((n) => !isFinite(n))) {
    mapMessage(gettext("Give the coordinates as: latitude, longitude"));
    return;
  }
  let lat = numbers[0];
  let lon = numbers[1];
  if (Math.abs(lat) > 90 && Math.abs(lon) <= 90) {
    // Given as longitude, latitude (as many apps copy them).
    lat = numbers[1];
    lon = numbers[0];
  }
  const system = $("coords-system").value;
  try {
    const data = await api(
      "GET",
      "/api/geo/reverse/?latitude=" + lat + "&longitude=" + lon + "&coordinate_system=" + encodeURIComponent(system)
    );
    mapMessage("");
    setPin({ latitude: data.wgs84.latitude, longitude: data.wgs84.longitude }, { pan: true });
  } catch (error) {
    mapMessage(errorText(error));
  }
}

export function bindMapTools() {
  $("geocode-form").addEventListener("submit", function (event) {
    event.preventDefault();
    geocode($("geocode-q").value).then(function () {
      const first = $("geocode-results").querySelector("button");
      if (first) first.focus();
    });
  });
  $("coords-form").addEventListener("submit", function (event) {
    event.preventDefault();
    placeCoordinates();
  });
  $("geocode-q").addEventListener("keydown", function (event) {
    if (event.key === "Escape") hideGeocodeResults();
  });
}
