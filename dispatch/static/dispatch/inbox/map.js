/*
 * Agency inbox, details: the work order's place on a small map (realtime/placemap.js: Leaflet served by the
 * app itself, the screens' shared base map, the marker shifted onto GCJ-02 tiles), made once and reused for
 * every work order shown.
 */

import { $ } from "./helpers.js";
import { config } from "./state.js";
import { placeMap } from "../../realtime/placemap.js";

let place = null;

function theMap() {
  if (!place) {
    place = placeMap($("detail-map"), config, {
      note: function (text) {
        const box = $("detail-map-note");
        box.textContent = text || "";
        box.hidden = !text;
      },
      keyboard: false, // the inbox's own keys (j / k / n) keep working while the map has focus
      scrollWheelZoom: false,
      markerClass: "inbox-map-marker",
    });
  }
  return place;
}

/** Show the place of work order `key`, or say that it has none. */
export function showPlace(key, latitude, longitude) {
  return theMap().show(key, latitude, longitude);
}

/** The details pane opened again on a phone: let Leaflet measure the map. */
export function refreshMapSize() {
  if (place) place.refreshSize();
}

/** The map, its marker and the display converters (for troubleshooting and tests); nulls before first use. */
export function mapView() {
  return theMap().view();
}
