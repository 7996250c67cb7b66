/* Shared helpers for the console pages: CSRF-protected JSON calls, WebSockets. */
"use strict";
const Cobrador = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, url, body) {
    const opts = { method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, opts);
    } catch (err) {
      return { ok: false, status: 0, data: { reason: String(err) } };
    }
    let data = {};
    try { data = await res.json(); } catch (_) { data = {}; }
    return { ok: res.ok, status: res.status, data };
  }

  function socket(path, onMessage, onStatus) {
    let backoff = 500;
    function connect() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(proto + "//" + location.host + path);
      ws.onopen = () => { backoff = 500; onStatus(true); };
      ws.onmessage = (ev) => {
        if (ev.data === "pong") return;
        let msg;
        try { msg = JSON.parse(ev.data); } catch (_) { return; }
        onMessage(msg);
      };
      ws.onclose = () => {
        onStatus(false);
        setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 10000);
      };
    }
    connect();
  }

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const mm = String(m).padStart(2, "0"), ss = String(s).padStart(2, "0");
    return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  // A moment (epoch seconds) as a person reads it: date and time in the browser's zone,
  // with that zone's name, in the page's language (times shown carry their zone).
  function when(epochSeconds) {
    return new Date(epochSeconds * 1000).toLocaleString(document.documentElement.lang || "es", {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      timeZoneName: "short",
    });
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  return { api, socket, clock, el, when };
})();
