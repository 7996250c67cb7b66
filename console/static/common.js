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

  // Every time shown to a person carries its zone, named as every page names a zone:
  // by its city ("Ciudad de México", "Mexico City" in English), never "GMT-6" or "CST".
  // The reader's zone is the browser's; the server names it (console/debtor_locale.py
  // zone_label, GET /api/zone), once per page. If it cannot, the browser's short name
  // is said instead (a time is never shown bare), and the server is asked again next time.
  const lang = () => document.documentElement.lang || "es";
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  let zoneAsked = null;
  function zoneLabel() {
    if (!browserZone) return Promise.resolve(null);
    if (!zoneAsked) {
      zoneAsked = api("GET", "/api/zone?tz=" + encodeURIComponent(browserZone)).then((r) => {
        if (r.ok && r.data.zone_label) return r.data.zone_label;
        zoneAsked = null;
        return null;
      });
    }
    return zoneAsked;
  }
  function shortZone(at) {
    const parts = new Intl.DateTimeFormat(lang(), { timeZoneName: "short" }).formatToParts(at);
    return (parts.find((p) => p.type === "timeZoneName") || {}).value || "";
  }
  async function stamped(epochSeconds, fields) {
    const at = new Date(epochSeconds * 1000);
    const zone = (await zoneLabel()) || shortZone(at);
    return `${at.toLocaleString(lang(), fields)} (${zone})`;
  }
  // A moment (epoch seconds) as a person reads it, in the browser's zone and the page's
  // language: "06/12/2026, 15:25 (Ciudad de México)". A promise of the words. The clock
  // is the 24-hour one of every time the server renders (%H:%M), in English too, never
  // "03:25 PM": one page never mixes clocks.
  function when(epochSeconds) {
    return stamped(epochSeconds, {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23",
    });
  }
  // The time of day alone (a chat's lines): "15:25 (Ciudad de México)". A promise.
  function hour(epochSeconds) {
    return stamped(epochSeconds, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  return { api, socket, clock, el, when, hour, zoneLabel };
})();
