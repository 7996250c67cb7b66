/* The agent page: state, screen-pops over the WebSocket, disposition, notes. */
"use strict";
(() => {
  const cfg = JSON.parse(document.getElementById("agent-config").textContent);
  const T = cfg.t;
  const $ = (id) => document.getElementById(id);
  let state = { state: "logged_out", since: 0, reason: "" };
  let clockSkew = 0; // server time - browser time, seconds
  let currentPop = null;
  let onChat = false;  // the last pop (or names-only pop) was a chat's
  let flowParty = null;  // who the agent says answered: titular, aval, tercero
  // Every time on the page carries its zone (the debtor's, from compliance's resolver),
  // both as a person reads them (the server words them: "6 dic 2026, 2:05 p.m.",
  // "Ciudad de México"), never an ISO date or an IANA id.
  const when = (s) => (s && s.shown ? `${s.shown} (${s.zone_label})` : "—");
  let wrapupTimer = null;
  let disposedInCall = null;  // attempt id: disposition saved with the debtor on the line

  // ---- state -------------------------------------------------------------
  function showState(s, serverTime) {
    state = s;
    if (serverTime) clockSkew = serverTime - Date.now() / 1000;
    $("state-card").dataset.state = s.state;
    // A chat keeps the agent "talking" (busy for calls): the page says it is a chat.
    const chatting = s.state === "talking" && onChat;
    $("state-name").textContent = chatting ? T.chatting : (T[s.state] || s.state);
    const pauseShown = s.state === "paused" || s.state === "pausing";
    $("state-reason").textContent = pauseShown && s.reason ? (cfg.pause_labels[s.reason] || T.other_reason) : "";
    // A paused agent gets no call: the idle card says how to get one.
    $("waiting-text").textContent = s.state === "paused" ? T.waiting_paused : T.waiting;
    $("btn-ready").disabled = s.state === "ready" || s.state === "talking" || s.state === "reserved";
    document.body.dataset.agentState = s.state;
    $("no-audio").hidden = s.state !== "no_audio";
    afterCallEnd(s);
    showCallActions();
    showPauseAsked();
    // The break plan's words change with the state (a break taken, ended early).
    const breakKey = `${s.state}|${s.reason}|${s.pause_after || ""}`;
    if (breakKey !== breaksShownFor) { breaksShownFor = breakKey; refreshBreaks(); }
  }
  // Hang-up, transfer and recording act on a call going on: not in the wrap-up (the
  // debtor is gone, only the disposition is left), nor on a preview or a chat.
  const LIVE_CALL = ["reserved", "talking"];
  function showCallActions() {
    $("call-actions").hidden = !(currentPop && currentPop.type !== "preview" && !onChat
                                 && LIVE_CALL.includes(state.state));
  }
  // The agent's scheduled breaks (console/agent_breaks.py): the next one, and during
  // one the console paused them for, why; read again each minute and on each change.
  let breaksShownFor = "";
  async function refreshBreaks() {
    const r = await Cobrador.api("GET", "/api/agent/breaks");
    if (!r.ok) return;
    $("break-next").textContent = r.data.next || "";
    $("break-next").hidden = !r.data.next;
    $("break-now").textContent = r.data.now || "";
    $("break-now").hidden = !r.data.now;
  }
  setInterval(refreshBreaks, 60000);
  // A pause asked while calls ring for the floor begins after them (pausing), at the
  // latest at its deadline; one asked before a call (pause_after) after its wrap-up.
  let deadlineRead = false;
  function showPauseAsked() {
    const box = $("pause-asked");
    const now = Date.now() / 1000 + clockSkew;
    if (state.state === "pausing" && state.pause_deadline) {
      const left = Math.max(0, Math.ceil(state.pause_deadline - now));
      $("pause-asked-text").textContent = T.pausing_wait.replace("{segundos}", left);
      box.hidden = false;
      // Past the deadline any read begins the pause: read it once.
      if (left === 0 && !deadlineRead) { deadlineRead = true; refreshState(); }
      return;
    }
    deadlineRead = false;
    const after = state.pause_after && ["reserved", "talking", "wrap_up"].includes(state.state);
    if (after) $("pause-asked-text").textContent = T.pause_after_call;
    box.hidden = !after;
    // The wrap-up's "back to ready in N s" holds only without a pause asked.
    if (wrapupTimer) $("wrapup").hidden = Boolean(after);
  }
  function tick() {
    if (state.since) {
      const now = Date.now() / 1000 + clockSkew;
      $("state-timer").textContent = Cobrador.clock(now - state.since);
    }
    if (state.state === "pausing") showPauseAsked();
  }
  setInterval(tick, 1000);

  function message(text, isError) {
    const m = $("state-msg");
    m.textContent = text || "";
    m.classList.toggle("error", !!isError);
  }

  // A read sent before a change the page has shown since (the answer to the agent's
  // own change, or a change the socket pushed: the dialer's, another tab's) may have
  // been served before that change and land after it: "En pausa" shown to an agent who
  // is ready (and gets calls), with nothing left to correct it. Such a read is not
  // shown; it is read again. The push of the agent's own change often arrives before
  // its answer, so both count.
  let changesShown = 0;
  async function refreshState() {
    for (let tries = 0; tries < 5; tries += 1) {
      const before = changesShown;
      const r = await Cobrador.api("GET", "/api/agent/state");
      if (!r.ok) return;
      if (before === changesShown) { showState(r.data.state, r.data.server_time); return; }
    }
  }
  function changeShown(s, serverTime) {
    changesShown += 1;
    showState(s, serverTime);
  }
  function ownChange(r) {
    changeShown(r.data.state, r.data.server_time);
    message("");
  }

  async function goReady() {
    const r = await Cobrador.api("POST", "/api/agent/ready");
    if (r.ok) ownChange(r);
    else message(r.data.reason || T.error, true);
  }

  $("btn-ready").addEventListener("click", () => { cancelWrapup(); goReady(); });
  $("btn-pause-cancel").addEventListener("click", async () => {
    const r = await Cobrador.api("POST", "/api/agent/pause/cancel");
    if (r.ok) ownChange(r);
    else message(r.data.reason || T.error, true);
  });
  $("pause-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    cancelWrapup();
    const r = await Cobrador.api("POST", "/api/agent/pause", { reason: $("pause-reason").value });
    if (r.ok) ownChange(r);
    else message(r.data.reason || T.error, true);
  });

  function startWrapup(seconds) {
    cancelWrapup();
    let left = seconds;
    // An agent who asked for a pause before this call is paused at its end, not ready.
    $("wrapup").hidden = Boolean(state.pause_after);
    $("wrapup-left").textContent = left;
    wrapupTimer = setInterval(() => {
      left -= 1;
      $("wrapup-left").textContent = Math.max(left, 0);
      if (left <= 0) { cancelWrapup(); goReady(); }
    }, 1000);
  }
  function cancelWrapup() {
    if (wrapupTimer) clearInterval(wrapupTimer);
    wrapupTimer = null;
    $("wrapup").hidden = true;
  }

  // ---- figures and callbacks -------------------------------------------
  async function refreshFigures() {
    // "Mi día" starts at midnight where the agent is (the browser's zone), not in UTC.
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    const r = await Cobrador.api("GET", "/api/agent/figures?tz=" + encodeURIComponent(zone));
    if (!r.ok) return;
    $("figures-since").textContent = T.since.replace("{zona}", r.data.zone_label);
    const f = r.data.figures;
    for (const node of document.querySelectorAll("[data-fig]")) {
      const k = node.dataset.fig;
      let v = f[k];
      if (k === "talk_seconds") v = Cobrador.clock(v);
      if (k === "kept_rate") v = v === null ? "—" : Math.round(v * 100) + " %";
      node.textContent = v;
    }
  }
  async function refreshCallbacks() {
    const r = await Cobrador.api("GET", "/api/agent/callbacks");
    if (!r.ok) return;
    const list = $("callbacks");
    list.replaceChildren();
    if (!r.data.callbacks.length) list.append(Cobrador.el("li", T.no_callbacks, "muted"));
    for (const cb of r.data.callbacks) {
      const li = Cobrador.el("li");
      li.append(Cobrador.el("strong", cb.due.shown), " ", Cobrador.el("span", cb.due.zone_label, "muted small zone"), " ", cb.name, " ",
        Cobrador.el("span", cb.ref, "muted small"));
      list.append(li);
    }
  }

  async function refreshHistory() {
    const r = await Cobrador.api("GET", "/api/agent/history");
    if (!r.ok) return;
    const list = $("history");
    list.replaceChildren();
    if (!r.data.history.length) list.append(Cobrador.el("li", T.no_history, "muted"));
    for (const h of r.data.history) {
      const li = Cobrador.el("li");
      li.append(Cobrador.el("span", when(h.at), "muted small"), " ", h.name, " · ", Cobrador.el("strong", h.outcome));
      list.append(li);
    }
  }

  // ---- the pop ------------------------------------------------------------
  function setField(path, value) {
    for (const node of document.querySelectorAll(`[data-field="${path}"]`)) node.textContent = value ?? "";
  }
  function showPop(pop) {
    currentPop = pop;
    disposedInCall = null;  // another contact now: the saved one's end is not awaited
    $("btn-dispo").disabled = false;
    flowParty = pop.verified || null;
    const preview = pop.type === "preview";
    $("waiting").hidden = true;
    $("pop").hidden = false;
    $("pop-kind").hidden = !preview;
    showCallActions();
    $("preview-actions").hidden = !preview;
    $("dispo-form").closest("section").hidden = preview;
    $("flow-party").hidden = preview;
    setField("account.name", pop.account.name);
    setField("account.ref", pop.account.ref);
    setField("local_time.time", pop.local_time.time);
    setField("local_time.zone", pop.local_time.zone_label);
    setField("local_time.also", pop.local_time.also);
    $("callback-zone").textContent = pop.local_time.zone_label;
    setField("phone.masked", pop.phone.masked);
    const consent = $("pop-consent");
    consent.textContent = pop.phone.consent ? `✓ ${T.consent_yes}` : `✗ ${T.consent_no}`;
    consent.className = "small " + (pop.phone.consent ? "ok" : "warn");
    $("pop-opening").textContent = pop.opening;
    $("third-party-rule").textContent = pop.third_party.rule;
    $("third-party-script").textContent = pop.third_party.script;
    const onDemand = !preview && pop.recording && pop.recording.mode === "on_demand";
    $("btn-record-start").hidden = !onDemand;
    $("btn-record-stop").hidden = !onDemand;
    // Every number of the account: the ones the dialer leaves, since when and why.
    const phones = $("pop-phones");
    phones.replaceChildren();
    for (const p of pop.phones || []) {
      const parts = [`${p.masked} — ${p.status_label}`];
      if (p.since) parts.push(T.phone_since.replace("{desde}", p.since));
      if (p.why) parts.push(p.why);
      const li = Cobrador.el("li", parts.join(" · "));
      if (!p.dialable) li.className = "warn";
      phones.append(li);
    }
    $("pop-no-number").hidden = !pop.no_number_left;
    const tbody = $("pop-attempts");
    tbody.replaceChildren();
    for (const a of pop.attempts) {
      const tr = Cobrador.el("tr");
      const what = a.what ? `${a.channel} · ${a.what}` : a.channel;
      tr.append(Cobrador.el("td", when(a.at)), Cobrador.el("td", what), Cobrador.el("td", a.result), Cobrador.el("td", a.outcome));
      tbody.append(tr);
    }
    const form = $("dispo-form");
    form.reset();
    clearErrors();
    $("dispo-attempt").value = pop.attempt_id ?? "";
    $("promise-date").min = pop.promise_min_date || pop.local_time.date;
    $("promise-date").max = pop.promise_max_date;
    const m = pop.money;
    $("promise-amount").placeholder = m.example;
    $("promise-format").textContent = T.money_format.replace("{miles}", m.group).replace("{decimales}", m.decimal).replace("{ejemplo}", m.example);
    hideReadback();
    hidePlanReadback();
    $("plan-result").hidden = true;
    fillOutcomes("");
    // A pop that arrives verified (a portal chat, an inbound caller checked already):
    // the disposition's "who" is that person, as if the agent had said so.
    const verifiedRadio = pop.verified && document.querySelector(`input[name="party"][value="${pop.verified}"]`);
    if (verifiedRadio) { verifiedRadio.checked = true; fillOutcomes(pop.verified); }
    renderFlow();
    document.dispatchEvent(new CustomEvent("cobrador:pop", { detail: pop }));
  }

  // ---- who answered: the debt only for the verified person -------------------
  // Until then the pop carries nothing about the debt (console/agent_service.py).
  function renderFlow() {
    const pop = currentPop;
    const debt = !!pop.verified && flowParty === pop.verified;
    for (const b of document.querySelectorAll("[data-flow-party]")) {
      b.classList.toggle("btn-primary", b.dataset.flowParty === flowParty);
    }
    $("third-party-block").hidden = flowParty !== "tercero";
    $("verify-form").hidden = !(flowParty === "titular" || flowParty === "aval") || debt;
    $("debt-block").hidden = !debt;
    const stage = $("pop-stage");
    const protection = $("pop-protection");
    protection.hidden = !pop.protection;
    protection.textContent = pop.protection ? `${pop.protection.label}. ${pop.protection.rule}` : "";
    setField("account.ref", pop.account.ref);
    if (debt) {
      $("pop-balance").textContent = pop.account.balance_display;
      $("pop-balance").classList.remove("muted");
      setField("account.days_past_due", pop.account.days_past_due);
      stage.textContent = pop.account.stage_label;
      stage.className = "badge badge-stage-" + pop.account.stage;
      stage.hidden = false;
      $("verified-note").textContent = T["verified_" + pop.verified] || "";
      $("portal-locked").hidden = !pop.portal_locked;
      $("btn-portal-unlock").hidden = false;
      $("portal-unlock-msg").textContent = "";
      $("pop-script").textContent = pop.script;
      $("pop-payment").textContent = pop.payment_instructions || "—";
      $("promise-amount").max = pop.account.balance;
      const promises = $("pop-promises");
      promises.replaceChildren();
      if (!pop.promises.length) promises.append(Cobrador.el("li", T.no_promises, "muted"));
      for (const p of pop.promises) promises.append(Cobrador.el("li", `${p.display} · ${p.due_date_shown}`));
      renderPlans(pop.plans || []);
      setupCalculator(pop.calculator);
      renderNotes(pop.notes);
      renderOthers(pop, pop.verified === "titular");
    } else {
      $("pop-balance").textContent = T.verify_first;
      $("pop-balance").classList.add("muted");
      setField("account.days_past_due", "—");
      stage.hidden = true;
      $("pop-script").textContent = "";
      $("pop-payment").textContent = "";
      $("pop-promises").replaceChildren(Cobrador.el("li", T.verify_first, "muted"));
      $("pop-notes").replaceChildren(Cobrador.el("li", T.verify_first, "muted"));
      $("pop-plans").replaceChildren(Cobrador.el("li", T.verify_first, "muted"));
      renderOthers(pop, false);
    }
  }

  // ---- the debtor's other accounts: the titular's only, once verified ----------
  // (console/other_accounts.py: this campaign's, references masked, at most ten).
  let othersShown = null;
  async function renderOthers(pop, titular) {
    const list = $("pop-others");
    const key = titular ? `${pop.attempt_id}:${pop.account_id}` : null;
    if (key !== null && key === othersShown) return;
    othersShown = key;
    $("pop-others-more").textContent = "";
    if (!titular) {
      list.replaceChildren(Cobrador.el("li", T.titular_first, "muted"));
      return;
    }
    const r = await Cobrador.api("GET", `/api/agent/accounts/${encodeURIComponent(pop.account_id)}/others`);
    if (othersShown !== key) return;  // another pop, or the same one no longer verified
    list.replaceChildren();
    if (!r.ok) {
      list.append(Cobrador.el("li", r.data.reason || T.error, "muted"));
      othersShown = null;
      return;
    }
    if (!r.data.accounts.length) list.append(Cobrador.el("li", T.no_others, "muted"));
    for (const o of r.data.accounts) {
      const li = Cobrador.el("li", undefined, "other-account");
      li.append(Cobrador.el("strong", o.creditor || "—"), ` · ${o.product || "—"} · ${o.balance} · ${o.status_label} `,
        Cobrador.el("span", o.ref, "muted small"), Cobrador.el("br"),
        Cobrador.el("span", o.today.text, "small " + (o.today.may ? "ok" : "warn")));
      list.append(li);
    }
    if (r.data.more) $("pop-others-more").textContent = T.others_more.replace("{n}", r.data.more);
  }

  // ---- the plan calculator: the campaign's rules, computed by the server ----
  const fill = (text, values) => Object.entries(values).reduce((t, [k, v]) => t.replace(`{${k}}`, v), text);
  function renderPlans(plans) {
    const list = $("pop-plans");
    list.replaceChildren();
    if (!plans.length) list.append(Cobrador.el("li", T.no_plans, "muted"));
    for (const p of plans) {
      list.append(Cobrador.el("li", `${p.total} · ${p.instalments} ${T.instalments_word} · ${p.first} · ${p.status_label}`));
    }
  }
  function setupCalculator(calc) {
    if (!calc) return;
    $("plan-limits").textContent = fill(T.plan_limits, { pagos: calc.max_instalments, minimo: calc.min_instalment,
      agente: calc.agent_discount, maximo: calc.max_discount });
    const select = $("plan-interval");
    select.replaceChildren();
    for (const i of calc.intervals) {
      const opt = Cobrador.el("option", i.label);
      opt.value = i.code;
      select.append(opt);
    }
    if (calc.intervals.some((i) => i.code === "monthly")) select.value = "monthly";
    $("plan-instalments").max = calc.max_instalments;
    $("plan-first-date").min = calc.first_date_min;
    $("plan-first-date").max = calc.first_date_max;
  }
  function planFields() {
    const body = { attempt_id: currentPop.attempt_id };
    for (const name of ["plan_discount", "plan_instalments", "plan_interval", "plan_first_date"]) {
      body[name] = document.querySelector(`[name="${name}"]`).value;
    }
    return body;
  }
  function hidePlanReadback() {
    $("plan-readback").hidden = true;
    $("plan-confirm-value").value = "";
  }
  $("btn-plan-preview").addEventListener("click", async () => {
    if (!currentPop) return;
    clearErrors();
    hidePlanReadback();
    const r = await Cobrador.api("POST", "/api/agent/plan/preview", planFields());
    $("plan-result").hidden = !r.ok;
    if (!r.ok) {
      for (const [field, text] of Object.entries(r.data.errors || { plan: r.data.reason || T.error })) {
        const node = document.querySelector(`[data-error="${field}"]`);
        if (node) node.textContent = text;
      }
      return;
    }
    const plan = r.data.plan;
    $("plan-summary").textContent = fill(T.plan_total, { total: plan.total, descuento: plan.discount,
      perdon: plan.forgiven, pagos: plan.instalments.length, periodo: plan.interval });
    const approval = $("plan-approval");
    approval.hidden = !plan.needs_approval;
    approval.textContent = plan.needs_approval ? `${T.plan_needs_approval} ${plan.approval_reasons.join("; ")}` : "";
    const body = $("plan-schedule");
    body.replaceChildren();
    for (const i of plan.instalments) {
      const tr = Cobrador.el("tr");
      tr.append(Cobrador.el("td", String(i.number)), Cobrador.el("td", i.due_date_shown), Cobrador.el("td", i.amount));
      body.append(tr);
    }
  });
  $("plan-fields").addEventListener("input", () => { hidePlanReadback(); $("plan-result").hidden = true; });
  $("btn-plan-fix").addEventListener("click", () => { hidePlanReadback(); $("plan-discount").focus(); });
  $("btn-plan-confirm").addEventListener("click", () => $("dispo-form").requestSubmit());
  function chooseParty(party) {
    if (!currentPop) return;
    flowParty = party;
    $("verify-msg").textContent = "";
    if ((party === "titular" || party === "aval") && currentPop.verified !== party) {
      const box = $("verify-prompts");
      box.replaceChildren();
      for (const p of currentPop.verification[party]) {
        const label = Cobrador.el("label", p.label);
        const input = document.createElement("input");
        input.name = "answer_" + p.code;
        input.autocomplete = "off";
        label.append(input);
        box.append(label);
      }
    }
    const radio = document.querySelector(`input[name="party"][value="${party}"]`);
    if (radio && !radio.checked) { radio.checked = true; fillOutcomes(party); }
    renderFlow();
  }
  for (const b of document.querySelectorAll("[data-flow-party]")) {
    b.addEventListener("click", () => chooseParty(b.dataset.flowParty));
  }
  $("verify-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!currentPop || !flowParty) return;
    const body = { attempt_id: currentPop.attempt_id, party: flowParty };
    for (const input of $("verify-prompts").querySelectorAll("input")) body[input.name] = input.value;
    $("btn-verify").disabled = true;
    const r = await Cobrador.api("POST", "/api/agent/verify", body);
    $("btn-verify").disabled = false;
    if (!r.ok) { $("verify-msg").textContent = r.data.reason || T.error; return; }
    const party = flowParty;
    const keep = { type: currentPop.type, direction: currentPop.direction, label: currentPop.label };
    currentPop = Object.assign(r.data.pop, keep);
    flowParty = party;
    renderFlow();
  });
  function renderNotes(notes) {
    const list = $("pop-notes");
    list.replaceChildren();
    if (!notes.length) list.append(Cobrador.el("li", T.no_notes, "muted"));
    for (const n of notes) {
      const li = Cobrador.el("li");
      li.append(Cobrador.el("div", `${when(n.at)} · ${n.author}`, "muted small"), Cobrador.el("div", n.text));
      list.append(li);
    }
  }
  function hidePop() {
    currentPop = null;
    $("pop").hidden = true;
    $("waiting").hidden = false;
  }

  // ---- disposition ----------------------------------------------------------
  function fillOutcomes(party) {
    const select = $("dispo-outcome");
    select.replaceChildren(Cobrador.el("option", party ? T.choose_outcome : T.choose_party));
    select.firstChild.value = "";
    for (const o of cfg.outcomes) {
      if (party && o.parties.includes(party)) {
        const opt = Cobrador.el("option", o.label);
        opt.value = o.code;
        select.append(opt);
      }
    }
    toggleSubfields();
  }
  function toggleSubfields() {
    const o = cfg.outcomes.find((x) => x.code === $("dispo-outcome").value);
    $("promise-fields").hidden = !(o && o.promise);
    $("plan-fields").hidden = !(o && o.plan);
    $("callback-fields").hidden = !(o && o.callback);
  }
  function clearErrors() {
    for (const node of document.querySelectorAll("[data-error]")) node.textContent = "";
    $("dispo-msg").hidden = true;
  }
  for (const radio of document.querySelectorAll('input[name="party"]')) {
    radio.addEventListener("change", () => { fillOutcomes(radio.value); chooseParty(radio.value); });
  }
  $("dispo-outcome").addEventListener("change", toggleSubfields);
  // A field's message goes away as soon as the agent corrects that field.
  $("dispo-form").addEventListener("input", (ev) => {
    const name = ev.target.name === "party" ? "party" : ev.target.name;
    const node = document.querySelector(`[data-error="${name}"]`);
    if (node) node.textContent = "";
    // Every marked field corrected: the "nothing was saved" banner goes too.
    if (![...document.querySelectorAll("[data-error]")].some((n) => n.textContent)) $("dispo-msg").hidden = true;
  });

  // ---- the amount read back before saving ("$2,450.00 MXN") ---------------
  function hideReadback() {
    $("promise-readback").hidden = true;
    $("promise-confirm-value").value = "";
  }
  $("promise-amount").addEventListener("input", hideReadback);
  $("btn-promise-fix").addEventListener("click", () => { hideReadback(); $("promise-amount").focus(); });
  $("btn-promise-confirm").addEventListener("click", () => $("dispo-form").requestSubmit());

  $("dispo-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    const data = Object.fromEntries(new FormData(ev.target).entries());
    const btn = $("btn-dispo");
    btn.disabled = true;
    const r = await Cobrador.api("POST", "/api/agent/disposition", data);
    btn.disabled = false;
    if (r.status === 409 && r.data.confirm && r.data.confirm.field === "plan") {
      $("plan-confirm-value").value = r.data.confirm.value;
      $("plan-readback-text").textContent = r.data.reason;
      $("plan-readback").hidden = false;
      return;
    }
    if (r.status === 409 && r.data.confirm) {
      $("promise-confirm-value").value = r.data.confirm.amount;
      $("promise-readback-text").textContent = r.data.reason;
      $("promise-readback").hidden = false;
      return;
    }
    hideReadback();
    hidePlanReadback();
    const msg = $("dispo-msg");
    msg.hidden = false;
    if (!r.ok) {
      msg.textContent = r.data.reason || T.error;
      msg.className = "alert alert-error";
      for (const [field, text] of Object.entries(r.data.errors || {})) {
        const node = document.querySelector(`[data-error="${field}"]`);
        if (node) node.textContent = text;
      }
      return;
    }
    msg.textContent = r.data.message || T.saved;
    msg.className = "alert alert-ok";
    refreshFigures();
    refreshCallbacks();
    refreshHistory();
    if (r.data.call_live) {
      // The debtor is still on the line: the pop (and Colgar) stays, the wrap-up and
      // its timer begin when the dialer ends the call (a "state" push, see showState).
      disposedInCall = Number(data.attempt_id);
      $("btn-dispo").disabled = true;
      await refreshState();
      return;
    }
    hidePop();
    await refreshState();
    if (state.state === "wrap_up") startWrapup(cfg.wrapup_seconds);
  });
  // The call whose disposition was saved while the debtor was still on the line: its
  // end (wrap-up on that call) hides the pop and starts the wrap-up's timer. Started
  // before, the timer made the agent ready with the debtor in their bridge.
  function afterCallEnd(s) {
    if (disposedInCall === null || LIVE_CALL.includes(s.state)) return;
    const ended = s.state === "wrap_up" && s.attempt_id === disposedInCall;
    disposedInCall = null;
    $("btn-dispo").disabled = false;
    hidePop();
    if (ended) startWrapup(cfg.wrapup_seconds);
  }

  $("note-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!currentPop) return;
    const text = $("note-text").value;
    const r = await Cobrador.api("POST", "/api/agent/notes", { account_id: currentPop.account_id, text });
    $("note-msg").textContent = r.ok ? "" : (r.data.reason || T.error);
    if (r.ok) {
      $("note-text").value = "";
      const fresh = await Cobrador.api("GET", `/api/agent/accounts/${currentPop.account_id}`);
      if (fresh.ok && fresh.data.account.notes) renderNotes(fresh.data.account.notes);
    }
  });

  // The debtor locked out of the portal, verified on this call: open it again.
  $("btn-portal-unlock").addEventListener("click", async () => {
    if (!currentPop) return;
    const r = await Cobrador.api("POST", "/api/agent/portal/unlock", { attempt_id: currentPop.attempt_id });
    $("portal-unlock-msg").textContent = r.ok ? r.data.message : (r.data.reason || T.error);
    $("portal-unlock-msg").classList.toggle("error", !r.ok);
    if (r.ok) { $("btn-portal-unlock").hidden = true; currentPop.portal_locked = false; }
  });

  async function command(url, body) {
    const r = await Cobrador.api("POST", url, body);
    // Hang-up and transfer are confirmed by the dialer holding the call.
    message(r.ok ? (r.data && r.data.confirmed ? T.done : T.sent) : (r.data.reason || T.error), !r.ok);
    return r;
  }
  $("btn-hangup").addEventListener("click", () => command("/api/agent/hangup"));
  // The dialer calls the phone again; the page's phone answers by itself.
  $("btn-reconnect").addEventListener("click", () => command("/api/agent/reconnect"));
  $("btn-transfer").addEventListener("click", () => command("/api/agent/transfer"));
  $("btn-record-start").addEventListener("click", () => command("/api/agent/recording/start"));
  $("btn-record-stop").addEventListener("click", () => command("/api/agent/recording/stop"));
  $("btn-preview-dial").addEventListener("click", async () => {
    if (currentPop && (await command("/api/agent/preview/dial", { account_id: currentPop.account_id })).ok) hidePop();
  });
  $("btn-preview-skip").addEventListener("click", async () => {
    if (currentPop && (await command("/api/agent/preview/skip", { account_id: currentPop.account_id })).ok) hidePop();
  });
  const previewRequest = $("btn-preview-request");
  if (previewRequest) previewRequest.addEventListener("click", () => command("/api/agent/preview/request"));

  window.CobradorAgent = { showPop };  // inbound.js opens the verified account

  // ---- the socket -----------------------------------------------------------
  // Exposed for the benchmark and browser tests: when each pop reached this handler.
  window.cobradorPops = [];
  Cobrador.socket("/ws/agent", (msg) => {
    if (msg.type === "pop" || msg.type === "preview") {
      window.cobradorPops.push({ pop_id: msg.pop_id, published_at: msg.published_at, received_at: Date.now() / 1000 });
      cancelWrapup();
      onChat = msg.direction === "chat";
      showPop(msg);
      refreshState();
    } else if (msg.type === "inbound") {  // names only until verified: inbound.js
      cancelWrapup();
      onChat = msg.direction === "chat";
      document.dispatchEvent(new CustomEvent("cobrador:inbound", { detail: msg }));
      refreshState();
    } else if (msg.type === "state") {
      changeShown(msg.state);
    } else if (msg.type === "hello") {
      // The state the socket read when it opened may be older than an answer the
      // page has shown since: read it afresh instead of showing it.
      refreshState();
    }
  }, (up) => {
    $("ws-status").textContent = up ? T.connected : T.disconnected;
    document.body.dataset.socket = up ? "up" : "down";
  });

  (async () => {
    await refreshState();
    refreshFigures();
    refreshCallbacks();
    refreshHistory();
    const r = await Cobrador.api("GET", "/api/agent/current");
    if (!r.ok || !r.data.pop) return;
    onChat = r.data.pop.direction === "chat";
    // A chat that names no account yet comes back as its names-only pop (inbound.js).
    if (r.data.pop.type === "inbound") document.dispatchEvent(new CustomEvent("cobrador:inbound", { detail: r.data.pop }));
    else showPop(r.data.pop);
    showState(state);  // the state's words again, now that the pop says what it is
  })();
})();
