/* The supervisor's wallboard: redrawn from each snapshot the WebSocket sends. */
"use strict";
(() => {
  const picker = document.getElementById("campaign-pick");
  if (picker) picker.addEventListener("change", () => picker.form.submit());
  const root = document.getElementById("wallboard");
  if (!root) return;
  const T = JSON.parse(document.getElementById("wallboard-config").textContent).t;
  const campaign = root.dataset.campaign;
  let last = null;
  let skew = 0;

  function pct(x) { return x === null || x === undefined ? "—" : (x * 100).toFixed(2) + " %"; }

  function draw(snap) {
    last = snap;
    skew = snap.server_time - Date.now() / 1000;
    for (const node of root.querySelectorAll("[data-kpi]")) {
      const k = node.dataset.kpi;
      if (k in (snap.by_state || {}) || ["ready", "talking", "wrap_up", "paused"].includes(k)) {
        node.textContent = (snap.by_state || {})[k] || 0;
      }
      if (k === "ringing" || k === "connected") {
        node.textContent = (snap.live.calls || {})[k] ?? snap.live[`calls_${k}`] ?? "—";
      }
    }
    const body = document.getElementById("agents-body");
    body.replaceChildren();
    if (!snap.agents.length) {
      const tr = Cobrador.el("tr"); const td = Cobrador.el("td", T.none, "muted"); td.colSpan = 5; tr.append(td); body.append(tr);
    }
    for (const a of snap.agents) {
      const tr = Cobrador.el("tr");
      tr.dataset.agent = a.agent_id;
      const label = a.on_chat ? T.chatting : (T[a.state] || a.state);
      const badge = Cobrador.el("span", label, "badge badge-" + a.state);
      const state = Cobrador.el("td"); state.append(badge);
      const timer = Cobrador.el("td", "", "timer"); timer.dataset.since = a.since;
      tr.append(Cobrador.el("td", a.name), state, timer, Cobrador.el("td", a.reason_label || ""), monitorCell(a));
      body.append(tr);
    }
    const target = snap.campaign ? snap.campaign.abandon_target : Number(root.dataset.target);
    const windows = snap.live.abandonment || snap.live.abandon || {};
    for (const node of root.querySelectorAll("[data-abandon]")) {
      const v = windows[node.dataset.abandon];
      const rate = v && typeof v === "object" ? (v.ratio ?? v.rate) : v;
      node.textContent = pct(rate);
      node.classList.toggle("warn", rate !== undefined && rate !== null && rate > target);
    }
    for (const node of root.querySelectorAll("[data-machine]")) {
      const v = windows[node.dataset.machine];
      node.textContent = v && typeof v === "object" && v.machine_drops !== undefined ? `${v.machine_drops}` : "—";
    }
    // How the legal rate counts those drops: a reader of 9 % must see why.
    const amd = snap.live.amd_false_positive_ratio;
    document.getElementById("amd-note").textContent = amd === undefined || amd === null ? ""
      : amd >= 1 ? T.amd_all : amd <= 0 ? T.amd_none : T.amd_share.replace("{pct}", `${Math.round(amd * 100)} %`);
    for (const node of root.querySelectorAll("[data-early]")) {
      const v = windows[node.dataset.early];
      node.textContent = v && typeof v === "object" && v.early_hangups !== undefined
        ? `${v.early_hangups} (${pct(v.early_ratio)})` : "—";
    }
    // The dialer writes hopper sizes (ready, delayed, ...) and the last refill's
    // health: why accounts were not added (blocked reason -> count).
    const hopper = snap.live.hopper || {};
    const size = hopper.size ?? (hopper.ready !== undefined ? hopper.ready + (hopper.delayed || 0) : undefined);
    document.getElementById("hopper-size").textContent = size ?? "—";
    const reasons = document.getElementById("hopper-reasons");
    reasons.replaceChildren();
    const labels = snap.live_labels || {};
    if (labels.dialer_problem) reasons.append(Cobrador.el("li", labels.dialer_problem, "warn"));
    // A registry Redis lost, being reloaded from SQL: its calls are blocked meanwhile.
    for (const name of snap.live.registries_reloading || []) {
      reasons.append(Cobrador.el("li", T.registry_reloading.replace("{name}", name.toUpperCase()), "warn"));
    }
    const health = hopper.health || {};
    const empty = hopper.empty_reasons || health.blocked || {};
    // Labels from the server (console/code_labels.py): never the reason code itself.
    for (const r of labels.empty_reasons || []) reasons.append(Cobrador.el("li", `${r.label}: ${r.count}`));
    // Why nothing is ready when nothing was blocked (dialer/refill.py RefillReport).
    if (health.released) reasons.append(Cobrador.el("li", `${T.released}: ${health.released}`));
    if (health.in_flight) reasons.append(Cobrador.el("li", `${T.in_flight}: ${health.in_flight}`));
    if (size === 0 && !Object.keys(empty).length && health.considered === 0 && !health.in_flight) {
      const due = health.next_due_at;
      const li = Cobrador.el("li", due ? "" : T.none_left);
      if (due) Cobrador.when(due).then((at) => { li.textContent = `${T.next_due} ${at}`; });
      reasons.append(li);
    }
    const blocks = document.getElementById("block-reasons");
    blocks.replaceChildren();
    if (!snap.block_reasons.length) blocks.append(Cobrador.el("li", "—", "muted"));
    for (const [label, count] of snap.block_reasons) {
      const li = Cobrador.el("li"); li.append(Cobrador.el("span", label), ` ${count}`); blocks.append(li);
    }
    // Inbound queue (dialer/inbound/board.py): waiting, longest wait, per-window outcomes.
    const inbound = snap.live.inbound || {};
    for (const node of root.querySelectorAll("[data-inbound]")) {
      const value = node.dataset.inbound.split(".").reduce((o, k) => (o || {})[k], inbound);
      const isLevel = node.dataset.inbound.endsWith("service_level");
      // A figure the dialer has not published yet keeps what the page was rendered with.
      node.textContent = value === undefined ? (node.dataset.default || "—") : (isLevel ? pct(value) : value);
    }
    document.getElementById("live-note").textContent = snap.live_available ? "" : T.no_live;
    if (snap.campaign) {
      document.getElementById("campaign-status").textContent = snap.status_label || T[snap.campaign.status] || "";
    }
    tick();
  }
  // Listen / whisper / barge on a talking agent, with the supervisor's own phone.
  let monitorId = null;
  const monitorMsg = document.getElementById("monitor-msg");
  const monitorStop = document.getElementById("monitor-stop");
  function monitorCell(a) {
    const td = Cobrador.el("td");
    if (a.state !== "talking" || a.on_chat) return td;  // a chat has no call to listen to
    for (const mode of ["listen", "whisper", "barge"]) {
      const b = Cobrador.el("button", T[mode], "btn btn-small");
      b.type = "button"; b.title = T.monitor_hint;
      b.dataset.monitor = mode; b.dataset.agent = a.agent_id;
      b.addEventListener("click", () => monitor(a.agent_id, mode));
      td.append(b);
    }
    return td;
  }
  async function monitor(agentId, mode) {
    const r = await Cobrador.api("POST", "/api/supervisor/monitor", { agent_id: agentId, mode });
    monitorMsg.textContent = r.data.message || r.data.reason || T.error;
    monitorMsg.classList.toggle("warn", !r.ok);
    if (r.ok) { monitorId = r.data.monitor_id; monitorStop.hidden = false; }
  }
  monitorStop.addEventListener("click", async () => {
    if (!monitorId) return;
    await Cobrador.api("POST", "/api/supervisor/monitor/stop", { monitor_id: monitorId });
    monitorId = null; monitorStop.hidden = true; monitorMsg.textContent = "";
  });

  function tick() {
    const now = Date.now() / 1000 + skew;
    for (const node of root.querySelectorAll("[data-since]")) {
      node.textContent = Cobrador.clock(now - Number(node.dataset.since));
    }
  }
  setInterval(tick, 1000);

  // Per-agent figures since midnight in the supervisor's own zone.
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  async function refreshFigures() {
    const q = new URLSearchParams({ campaign, tz: zone });
    const r = await Cobrador.api("GET", "/api/supervisor/agents?" + q.toString());
    if (!r.ok) return;
    document.getElementById("figures-since").textContent = T.since.replace("{zona}", r.data.zone_label);
    const body = document.getElementById("figures-body");
    body.replaceChildren();
    if (!r.data.agents.length) {
      const tr = Cobrador.el("tr"); const td = Cobrador.el("td", T.no_activity, "muted"); td.colSpan = 9; tr.append(td); body.append(tr);
    }
    for (const a of r.data.agents) {
      const tr = Cobrador.el("tr");
      tr.dataset.agent = a.agent_id;
      tr.append(Cobrador.el("td", a.name), Cobrador.el("td", String(a.calls)), Cobrador.el("td", Cobrador.clock(a.talk_seconds)),
        Cobrador.el("td", Cobrador.clock(a.wrap_seconds)), Cobrador.el("td", Cobrador.clock(a.pause_seconds)),
        Cobrador.el("td", String(a.right_party_contacts)), Cobrador.el("td", String(a.promises)),
        Cobrador.el("td", a.promised_display), Cobrador.el("td", a.kept_rate === null ? "—" : Math.round(a.kept_rate * 100) + " %"));
      body.append(tr);
    }
  }
  refreshFigures();
  setInterval(refreshFigures, 15000);

  // Every campaign at a glance, redrawn from /api/supervisor/overview (labels from the server).
  async function refreshOverview() {
    const r = await Cobrador.api("GET", "/api/supervisor/overview");
    if (!r.ok) return;
    const body = document.getElementById("overview-body");
    body.replaceChildren();
    for (const c of r.data.campaigns) {
      const tr = Cobrador.el("tr", "", c.name === campaign ? "current" : "");
      tr.dataset.campaign = c.name;
      const name = Cobrador.el("td");
      const link = Cobrador.el("a", c.name);
      link.href = "/supervisor?campaign=" + encodeURIComponent(c.name);
      name.append(link, " ", Cobrador.el("span", c.country, "muted small"));
      const s = c.by_state || {};
      const dialer = c.dialer_problem ? Cobrador.el("span", c.dialer_problem, "warn")
        : Cobrador.el("span", c.live ? T.dialing : T.no_data, c.live ? "" : "muted");
      const last = Cobrador.el("td"); last.append(dialer);
      tr.append(name, Cobrador.el("td", c.status_label), Cobrador.el("td", c.dial_mode_label),
        Cobrador.el("td", String(c.agents)), Cobrador.el("td", String(s.ready || 0)),
        Cobrador.el("td", String(s.talking || 0)), Cobrador.el("td", String(s.wrap_up || 0)),
        Cobrador.el("td", String(s.paused || 0)), Cobrador.el("td", c.hopper ?? "—"),
        Cobrador.el("td", c.abandon_1h === null || c.abandon_1h === undefined ? "—" : pct(c.abandon_1h)), last);
      body.append(tr);
    }
  }
  setInterval(refreshOverview, 10000);
  Cobrador.socket("/ws/wallboard?campaign=" + encodeURIComponent(campaign), (msg) => {
    if (msg.type === "wallboard") draw(msg);
  }, (up) => { document.body.dataset.socket = up ? "up" : "down"; });
})();
