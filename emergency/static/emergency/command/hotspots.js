/*
 * Commander's map: the hot-spot choropleth (tickets counted per grid or district under the current
 * filters), its layer on the map and its part of the legend.
 */

import { clear, el, fmt, getJSON, gettext, setMapStatus } from "./helpers.js";
import { display, HOT_COLOURS, state } from "./state.js";
import { currentFilters, filterParams, lHot } from "./filters.js";

let hotLayer = null;
let hotBreaks = [];
let hotGeneration = 0;
let legendHot = null;

// The legend's hot-spot scale (the legend itself is map.js's).
export function makeHotLegend() {
  legendHot = el("div", { class: "cmd-legend-hot", hidden: true });
  return legendHot;
}

function hotClass(count) {
  for (let i = hotBreaks.length - 1; i >= 0; i -= 1) if (count >= hotBreaks[i]) return i;
  return 0;
}

function hotStyle(feature) {
  return {
    color: "#7f1d1d",
    weight: 0.5,
    opacity: 0.5,
    fillColor: HOT_COLOURS[hotClass(feature.properties.count)],
    fillOpacity: 0.6,
  };
}

// The choropleth's layer, in its own pane under the outlines (map.js makes the panes).
export function addHotLayer(map) {
  const hotRenderer = L.canvas({ pane: "cmd-hot", padding: 0.3 });
  hotLayer = L.geoJSON(null, {
    pane: "cmd-hot",
    renderer: hotRenderer,
    style: hotStyle,
    onEachFeature: function (feature, layer) {
      layer.bindTooltip(el("span", {
        text: fmt(gettext("%(name)s: %(count)s tickets"), { name: feature.properties.name, count: feature.properties.count }),
      }), { sticky: true });
    },
  }).addTo(map);
}

function updateHotLegend(level, total) {
  if (!legendHot) return;
  clear(legendHot);
  if (!level || !hotBreaks.length) {
    legendHot.hidden = true;
    return;
  }
  legendHot.hidden = false;
  legendHot.appendChild(el("div", { class: "cmd-legend-title", text: fmt(gettext("Hot spots (%(total)s tickets)"), { total: total }) }));
  const row = el("div", { class: "cmd-hot-scale" });
  hotBreaks.forEach(function (low, i) {
    const high = i + 1 < hotBreaks.length ? hotBreaks[i + 1] - 1 : null;
    const text = high === null ? "≥" + low : low === high ? String(low) : low + "–" + high;
    row.appendChild(el("span", { class: "cmd-hot-step", style: "background:" + HOT_COLOURS[i], text: text }));
  });
  legendHot.appendChild(row);
}

export function loadHotspots() {
  const level = lHot.value;
  const generation = ++hotGeneration;
  if (!state.map) return Promise.resolve();
  if (!level) {
    hotLayer.clearLayers();
    hotBreaks = [];
    updateHotLegend("", 0);
    return Promise.resolve();
  }
  const params = filterParams(currentFilters());
  params.set("level", level);
  params.set("coordinate_system", display.system);  // the polygons come back in the tiles' system
  return getJSON("/api/geo/hotspots/?" + params.toString()).then(function (data) {
    if (generation !== hotGeneration) return;
    const counts = (data.features || []).map(function (f) { return f.properties.count; });
    const max = counts.length ? Math.max.apply(null, counts) : 0;
    hotBreaks = [];
    if (max > 0) {
      const steps = Math.min(HOT_COLOURS.length, max);
      for (let i = 0; i < steps; i += 1) {
        const low = Math.max(1, Math.floor(1 + (max * i) / steps));
        if (!hotBreaks.length || low > hotBreaks[hotBreaks.length - 1]) hotBreaks.push(low);
      }
    }
    hotLayer.clearLayers();
    hotLayer.addData(data);
    updateHotLegend(level, data.total || 0);
  }).catch(function (error) {
    if (generation !== hotGeneration) return;
    setMapStatus(fmt(gettext("Could not load the hot spots (%(error)s)."), { error: error.message }));
  });
}
