/*
 * HotlineLive: the browser side of /ws/events/.
 *
 * - connects with the last event id it applied, so the server replays what it missed;
 * - applies every event exactly once (by id), whatever order or repetition the network brings;
 * - accepts a snapshot (the server's answer when the client is too far behind) and resets to it;
 * - reconnects with capped exponential backoff and jitter, and reports its state:
 *   "connecting", "replaying", "live", "offline";
 * - pings every 20 s and treats 45 s of silence as a dead connection.
 *
 * Usage:
 *   const live = HotlineLive.connect({
 *     onEvent(event) {...},          // {id, type, at, ticket_id, payload}, one call per event
 *     onSnapshot(snapshot) {...},    // {as_of, tickets: [...], work_orders: [...]}
 *     onState(state) {...},
 *     storageKey: "console",         // optional: remembers the last id across page loads
 *   });
 *   live.lastEventId(); live.close();
 */
(function (global) {
  "use strict";

  const PING_MS = 20000;
  const SILENCE_MS = 45000;
  const MAX_BACKOFF_MS = 15000;

  function connect(options) {
    const onEvent = options.onEvent || function () {};
    const onSnapshot = options.onSnapshot || function () {};
    const onState = options.onState || function () {};
    const storage = options.storageKey ? "hotline.last_event_id." + options.storageKey : null;
    const applied = new Set();
    let lastId = storage && global.sessionStorage ? Number(global.sessionStorage.getItem(storage)) || null : null;
    let socket = null;
    let attempts = 0;
    let closedByUs = false;
    let pingTimer = null;
    let silenceTimer = null;
    let reconnectTimer = null;

    function setState(state) {
      onState(state);
    }

    function remember(id) {
      if (lastId === null || id > lastId) {
        lastId = id;
        if (storage && global.sessionStorage) global.sessionStorage.setItem(storage, String(id));
      }
    }

    function heard() {
      clearTimeout(silenceTimer);
      silenceTimer = setTimeout(function () {
        if (socket) socket.close();
      }, SILENCE_MS);
    }

    function url() {
      const scheme = global.location.protocol === "https:" ? "wss://" : "ws://";
      const query = lastId === null ? "" : "?last_event_id=" + encodeURIComponent(lastId);
      return scheme + global.location.host + "/ws/events/" + query;
    }

    function handle(message) {
      if (message.kind === "events") {
        // Several events the server sent together (a burst): each is an "event" message, in id order.
        message.events.forEach(handle);
      } else if (message.kind === "event") {
        if (applied.has(message.id)) return;  // a replay overlapping live delivery: apply once
        applied.add(message.id);
        if (applied.size > 50000) applied.clear();
        // Every id applied, in order: lets a test (or a curious operator) check "each event exactly once".
        appliedLog.push(message.id);
        if (appliedLog.length > 100000) appliedLog.splice(0, 50000);
        remember(message.id);
        onEvent(message);
      } else if (message.kind === "snapshot") {
        applied.clear();
        lastId = null;
        remember(message.as_of);
        onSnapshot(message);
      } else if (message.kind === "live") {
        if (message.last_event_id) remember(message.last_event_id);
        attempts = 0;
        setState("live");
      } else if (message.kind === "hello") {
        setState("replaying");
      }
    }

    function open() {
      closedByUs = false;
      setState("connecting");
      socket = new WebSocket(url());
      socket.onmessage = function (raw) {
        heard();
        let message;
        try {
          message = JSON.parse(raw.data);
        } catch (error) {
          return;
        }
        handle(message);
      };
      socket.onopen = function () {
        heard();
        clearInterval(pingTimer);
        pingTimer = setInterval(function () {
          if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
        }, PING_MS);
      };
      socket.onclose = function (closeEvent) {
        clearInterval(pingTimer);
        clearTimeout(silenceTimer);
        socket = null;
        setState("offline");
        // 4001 (not signed in) and 4003 (access revoked) will not get better by retrying.
        if (closedByUs || closeEvent.code === 4001 || closeEvent.code === 4003) return;
        attempts += 1;
        const backoff = Math.min(MAX_BACKOFF_MS, 500 * Math.pow(2, attempts - 1));
        reconnectTimer = setTimeout(open, backoff / 2 + Math.random() * backoff / 2);
      };
    }

    open();
    return {
      lastEventId: function () {
        return lastId;
      },
      reconnectNow: function () {
        clearTimeout(reconnectTimer);
        if (socket) socket.close();
        else open();
      },
      close: function () {
        closedByUs = true;
        clearTimeout(reconnectTimer);
        if (socket) socket.close();
      },
    };
  }

  const appliedLog = [];
  global.HotlineLive = { connect: connect, applied: appliedLog };
})(window);
