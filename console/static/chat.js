/* A handed-over chat on the agent page: agent.js dispatches cobrador:pop for every
   pop; when the pop's attempt is a conversation (its "chat" flag), the transcript is shown and polled
   while the pop is on screen, and the agent's replies go out over its channel.
   A chat that names no single account arrives as a names-only pop (cobrador:inbound,
   direction "chat", inbound.js): the transcript shows beside it, and the agent may
   close the chat without an account. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const panel = $("chat");
  if (!panel) return;
  const POLL_MS = 2000;
  let attemptId = null;
  let lastId = 0;
  let lastDay = null;  // the day of the last line shown (dayOf)
  let timer = null;
  let host = $("pop");  // the panel on screen with the chat: the account's pop or the names-only one

  function say(text, isError) {
    $("chat-msg").textContent = text || "";
    $("chat-msg").className = "msg" + (isError ? " error" : "");
  }

  function statusNote(m) {
    if (m.status === "held") return panel.dataset.tHeld;
    if (m.status === "pending") return panel.dataset.tPending;
    if (m.status === "failed") return panel.dataset.tFailed;
    return "";
  }

  // The reader's calendar day of a moment (the browser's zone, as the times are shown).
  const dayOf = (ms) => new Date(ms).toLocaleDateString("en-CA");

  function append(messages) {
    const list = $("chat-transcript");
    for (const m of messages) {
      if (m.id <= lastId) continue;
      lastId = m.id;
      const li = Cobrador.el("li", "", "chat-" + m.sender);
      li.dataset.sender = m.sender;
      const note = statusNote(m);
      // The time with its zone (the reader's city), filled in once named. A conversation
      // may span days: a line carries its date when its day is not the line before's
      // (for the first line: not today), so "23:50" then "00:10" never read as minutes apart.
      const meta = Cobrador.el("div", "", "muted small chat-meta");
      const after = ` · ${m.sender_label}` + (note ? ` · ${note}` : "");
      const ms = Date.parse(m.at);
      const day = dayOf(ms);
      const stamp = day === (lastDay || dayOf(Date.now())) ? Cobrador.hour : Cobrador.when;
      lastDay = day;
      stamp(ms / 1000).then((time) => { meta.textContent = time + after; });
      li.append(meta, Cobrador.el("div", m.text, "chat-text"));
      list.append(li);
    }
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    attemptId = null;
    panel.hidden = true;
  }

  // The panel sits under the account's header, or under the names-only pop.
  function placeIn(where) {
    host = where;
    if (where.id === "pop") where.querySelector(".pop-head").after(panel);
    else where.after(panel);
  }

  function start(id) {
    attemptId = id;
    lastId = 0;
    lastDay = null;
    $("chat-transcript").replaceChildren();
    say("");
    load(true);
    timer = setInterval(() => load(false), POLL_MS);
  }

  async function load(first) {
    if (attemptId === null) return;
    if (host.hidden) return stop();
    const r = await Cobrador.api("GET", `/api/agent/chat?attempt_id=${attemptId}&after=${lastId}`);
    if (!r.ok) {
      if (first || r.status === 403 || r.status === 404) stop();
      return;
    }
    const chat = r.data.chat;
    if (first) {
      $("chat-channel").textContent = chat.channel_label;
      $("chat-reason").textContent = chat.reason_label;
      panel.hidden = false;
      $("call-actions").hidden = true;  // nothing to hang up or transfer: it is a chat
    }
    append(chat.messages);
  }

  function closings(list) {
    const select = $("chat-closing");
    for (const o of [...select.options].slice(1)) o.remove();
    for (const c of list || []) {
      const option = document.createElement("option");
      option.value = c.code;
      option.textContent = c.label;
      select.append(option);
    }
    $("chat-close").hidden = !list;
    $("chat-dispose-hint").hidden = !!list;
  }

  document.addEventListener("cobrador:pop", (ev) => {
    const pop = ev.detail;
    stop();
    // Only a chat's pop: a call's asked for a transcript it has not (a 404 each call).
    if (!pop || pop.type === "preview" || !pop.attempt_id || !pop.chat) return;
    placeIn($("pop"));
    closings(null);
    start(pop.attempt_id);
  });

  document.addEventListener("cobrador:inbound", (ev) => {
    const call = ev.detail;
    stop();
    if (!call || call.direction !== "chat") return;
    placeIn($("inbound"));
    closings(call.closings);
    start(call.attempt_id);
  });

  $("chat-close").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (attemptId === null) return;
    const r = await Cobrador.api("POST", "/api/agent/chat/close",
                                 { attempt_id: attemptId, closing: $("chat-closing").value });
    if (!r.ok) return say(r.data.reason || panel.dataset.tError, true);
    stop();
    $("inbound").hidden = true;
    $("waiting").hidden = false;
  });

  $("chat-reply").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (attemptId === null) return;
    const text = $("chat-text").value;
    const r = await Cobrador.api("POST", "/api/agent/chat/reply", { attempt_id: attemptId, text });
    if (!r.ok) return say(r.data.reason || panel.dataset.tError, true);
    $("chat-text").value = "";
    say("");
    append([r.data.message]);
  });
})();
