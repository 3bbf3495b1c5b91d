/*
 * Ticket page: the ticket's place on a small map (realtime/placemap.js: Leaflet served by the app itself,
 * the screens' shared base map, the marker shifted onto GCJ-02 tiles).
 */

import { $, config } from "./helpers.js";
import { placeMap } from "../../realtime/placemap.js";

let place = null;

/** Show the ticket's place, or say that it has none. */
export function showPlace(latitude, longitude) {
  if (!place) {
    place = placeMap($("ticket-map"), config, {
      note: function (text) {
        const box = $("map-message");
        box.textContent = text || "";
        box.hidden = !text;
      },
    });
  }
  return place.show("ticket", latitude, longitude);
}
