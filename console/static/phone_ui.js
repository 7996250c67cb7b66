/* The agent page's phone card: shows window.cobradorPhone (static/phone.js) and
 * drives it. Works without the phone too (pbxsim, or the bundle not built). */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const card = $("phone-card");
  if (!card) return;
  const T = JSON.parse($("phone-config").textContent);
  const phone = window.cobradorPhone;
  if (!phone) {
    // The bundle was not built: say so, unless there is no web phone here anyway.
    $("phone-status").textContent = T.unavailable;
    card.dataset.registration = "unavailable";
    Cobrador.api("GET", "/api/agent/phone").then((r) => {
      $("phone-reason").textContent = r.ok && !r.data.enabled ? r.data.reason : T.missing;
    });
    return;
  }

  // The agent page has the call controls; a supervisor's page only the phone.
  const agentControls = !!$("phone-hold");

  function agentState() { return document.body.dataset.agentState || ""; }
  function inCall() { return agentState() === "talking"; }

  function render(s) {
    card.dataset.registration = s.registration;
    card.dataset.leg = s.leg;
    $("phone-status").textContent = T[s.registration] || s.registration;
    $("phone-status").className = "badge " + (s.registration === "registered" ? "ok" : "");
    const usable = s.registration !== "unavailable" && s.registration !== "off";
    $("phone-controls").hidden = !usable;
    $("phone-leg").hidden = !usable;
    $("phone-leg").textContent = s.leg === "up" ? T.leg_up : T.leg_none;
    $("phone-leg").className = "badge " + (s.leg === "up" ? "ok" : "warn");
    if (s.registration === "unavailable" || s.registration === "taken" || s.registration === "failed") {
      $("phone-reason").textContent = s.reason || "";
    }
    $("phone-mute").textContent = s.muted ? T.unmute : T.mute;
    $("phone-mute").setAttribute("aria-pressed", String(s.muted));
    $("phone-level").value = s.level;
    if (!agentControls) return;
    $("phone-hold").textContent = s.held ? T.unhold : T.hold;
    $("phone-hold").setAttribute("aria-pressed", String(s.held));
    $("phone-hold").disabled = !(inCall() && s.leg === "up") && !s.held;
    $("phone-hangup").disabled = !inCall();
  }
  phone.on("change", render);

  $("phone-mic").addEventListener("click", async () => {
    const ok = await phone.checkMic();
    $("phone-reason").textContent = ok ? T.mic_ok : T.mic_failed;
  });
  $("phone-mute").addEventListener("click", () => phone.setMuted(!phone.state.muted));
  if (agentControls) {
    $("phone-hold").addEventListener("click", () => phone.setHeld(!phone.state.held));
    $("phone-hangup").addEventListener("click", () => phone.hangupDebtor());
    $("phone-dtmf").addEventListener("click", (ev) => {
      const key = ev.target.closest("[data-dtmf]");
      if (key) phone.sendDtmf(key.dataset.dtmf);
    });
  }

  // Before going ready: the microphone works and the phone is registered, so the
  // dialer's nailed-up leg finds it (only where there is a web phone).
  function registered(withinMs) {
    if (phone.state.registration === "registered") return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), withinMs);
      phone.on("registration", (r) => { if (r === "registered") { clearTimeout(timer); resolve(true); } });
    });
  }
  let passing = false;
  document.addEventListener("click", async (ev) => {
    if (passing || !ev.target.closest || !ev.target.closest("#btn-ready")) return;
    const s = phone.state;
    if (s.registration === "unavailable" || (s.mic === "ok" && s.registration === "registered")) return;
    ev.stopPropagation();
    ev.preventDefault();
    await phone.start(); // the console may say there is no web phone here (pbxsim)
    if (phone.state.registration !== "unavailable") {
      $("phone-reason").textContent = T.mic_before_ready;
      if (!(await phone.checkMic())) { $("phone-reason").textContent = T.mic_failed; return; }
      $("phone-reason").textContent = T.mic_ok;
      // Not registered within 10 s: go ready anyway; the card shows why there is no audio.
      await registered(10000);
    }
    passing = true;
    try { $("btn-ready").click(); } finally { passing = false; }
  }, { capture: true });

  // The call ended while the debtor was on hold: stop the music.
  new MutationObserver(() => {
    if (!inCall() && phone.state.held) phone.setHeld(false);
    render(phone.state);
  }).observe(document.body, { attributes: true, attributeFilter: ["data-agent-state"] });

  render(phone.state);
  phone.start();
})();
