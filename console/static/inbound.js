/* Inbound calls on the agent page, and chats from a number that names no single
   account (console/chat_unattached.py): candidates (names only), search, identity check.
   agent.js hands "inbound" socket messages over as a cobrador:inbound event and
   exposes CobradorAgent.showPop for the verified account. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const panel = $("inbound");
  if (!panel) return;
  let call = null;
  let chosen = null;
  const kind = $("pop-kind");
  const previewText = kind ? kind.textContent : "";

  // The account pop of a verified inbound call is marked "llamada entrante" (a chat
  // attached to its account: "conversación").
  document.addEventListener("cobrador:pop", (ev) => {
    if (!kind) return;
    const inbound = ev.detail.direction === "inbound" || (ev.detail.direction === "chat" && !!ev.detail.label);
    kind.textContent = inbound ? ev.detail.label : previewText;
    if (inbound) kind.hidden = false;
  });

  function say(text, isError) {
    $("inbound-msg").textContent = text || "";
    $("inbound-msg").className = "msg" + (isError ? " error" : "");
  }

  function candidates(list) {
    const ul = $("inbound-candidates");
    ul.replaceChildren();
    if (!list.length) ul.append(Cobrador.el("li", panel.dataset.tNone, "muted"));
    for (const c of list) {
      const li = Cobrador.el("li", "");
      const btn = Cobrador.el("button", `${c.name} · ${c.ref}`, "btn btn-block");
      btn.type = "button";
      btn.dataset.accountId = c.account_id;
      btn.addEventListener("click", () => choose(c));
      li.append(btn);
      ul.append(li);
    }
  }

  function choose(c) {
    chosen = c;
    $("inbound-chosen").textContent = `${c.name} · ${c.ref}`;
    const box = $("inbound-prompts");
    box.replaceChildren();
    // An account found by the reference the caller gave has its own questions (the
    // reference's last digits prove nothing then: inbound_service.proof_prompts).
    for (const p of (c.prompts || call.prompts)) {
      const label = Cobrador.el("label", p.label);
      const input = document.createElement("input");
      input.name = "answer_" + p.code;
      input.required = true;
      input.autocomplete = "off";
      label.append(input);
      box.append(label);
    }
    $("inbound-verify").hidden = false;
  }

  document.addEventListener("cobrador:inbound", (ev) => {
    call = ev.detail;
    chosen = null;
    $("waiting").hidden = true;
    $("pop").hidden = true;
    panel.hidden = false;
    $("inbound-title").textContent = call.label;
    $("inbound-ani").textContent = call.ani_label;
    $("inbound-verify").hidden = true;
    say("");
    candidates(call.candidates);
    if (call.candidates.length === 1) choose(call.candidates[0]);
    $("inbound-recording").hidden = !(call.recording && call.recording.mode === "on_demand");
  });

  // on_demand recording before an account is open (the account pop has its own buttons).
  for (const [id, url] of [["inbound-record-start", "/api/agent/recording/start"],
                           ["inbound-record-stop", "/api/agent/recording/stop"]]) {
    $(id).addEventListener("click", async () => {
      const r = await Cobrador.api("POST", url);
      say(r.ok ? panel.dataset.tSent : (r.data.reason || panel.dataset.tError), !r.ok);
    });
  }

  $("inbound-search").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!call) return;
    const q = encodeURIComponent($("inbound-q").value);
    const r = await Cobrador.api("GET", `/api/agent/inbound/search?attempt_id=${call.attempt_id}&q=${q}`);
    if (!r.ok) return say(r.data.reason || panel.dataset.tError, true);
    candidates(r.data.accounts);
  });

  $("inbound-verify").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!call || !chosen) return;
    const body = { attempt_id: call.attempt_id, account_id: chosen.account_id };
    for (const input of $("inbound-prompts").querySelectorAll("input")) body[input.name] = input.value;
    // A chat that names no account verifies (and attaches) through its own endpoint.
    const r = await Cobrador.api("POST", call.verify_url || "/api/agent/inbound/verify", body);
    if (!r.ok) return say(r.data.reason || panel.dataset.tError, true);
    panel.hidden = true;
    window.CobradorAgent.showPop(r.data.pop);
  });
})();
