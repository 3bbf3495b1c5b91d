/* Shows HotlineLive's connection state in the header badge, in the page's language. */
(function (global) {
  "use strict";
  global.showLiveState = function (state) {
    const badge = document.getElementById("live-state");
    if (!badge) return;
    badge.dataset.state = state;
    badge.textContent = badge.dataset["label" + state.charAt(0).toUpperCase() + state.slice(1)] || state;
  };
})(window);
