/* The portal's chat box, enhanced: while the page is open (and visible), new messages
   (an agent's reply) are fetched every few seconds and added, for at most MAX_MINUTES;
   without JavaScript the page works the same, one reload at a time. */
"use strict";
(() => {
  const box = document.getElementById("chat");
  if (!box || !window.fetch) return;
  const list = document.getElementById("chat-transcript");
  const stateNote = document.getElementById("chat-state");
  const everyMs = Math.max(2, Number(box.dataset.poll) || 4) * 1000;
  const MAX_MINUTES = 20;  // the session's idle length (a poll does not keep it going)
  const MAX_FAILURES = 5;
  const until = Date.now() + MAX_MINUTES * 60 * 1000;
  let last = Number(box.dataset.last) || 0;
  let failures = 0;
  let timer = null;

  function line(m) {
    const li = document.createElement("li");
    li.className = "chat-line chat-" + m.sender;
    li.dataset.id = String(m.id);
    const meta = document.createElement("span");
    meta.className = "chat-meta";
    meta.textContent = m.who + " · " + m.when;
    const text = document.createElement("span");
    text.className = "chat-text";
    text.textContent = m.text;
    li.append(meta, text);
    return li;
  }

  function stop() {
    if (timer) clearTimeout(timer);
    timer = null;
  }

  function next() {
    stop();
    if (Date.now() < until && failures < MAX_FAILURES) timer = setTimeout(poll, everyMs);
  }

  async function poll() {
    if (document.hidden) return next();
    const url = `${box.dataset.source}?c=${encodeURIComponent(box.dataset.conversation)}&after=${last}`;
    let res;
    try {
      res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    } catch (_) {
      failures += 1;
      return next();
    }
    if (res.status === 401) {  // the portal session ended: say so, ask no more
      stateNote.textContent = box.dataset.tEnded;
      stateNote.hidden = false;
      return stop();
    }
    if (!res.ok) { failures += 1; return next(); }
    failures = 0;
    const data = await res.json();
    if (data.reload) {  // another conversation began: show it, unless the debtor is typing
      if (!document.getElementById("chat-text")?.value) return location.reload();
      return next();
    }
    for (const m of data.messages) {
      if (m.id <= last) continue;
      list.append(line(m));
      last = m.id;
      const empty = document.getElementById("chat-empty");
      if (empty) empty.remove();
    }
    stateNote.textContent = data.note || "";
    stateNote.hidden = !data.note;
    next();
  }

  next();
})();
