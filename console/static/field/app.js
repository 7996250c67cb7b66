/* The field app: the day's route, check-ins and questionnaires, offline first.
 *
 * Every action (check-in, result, skip) goes into an outbox in IndexedDB with a
 * key made when the agent acted, its body sealed to the console (only the console
 * can read it: seal() below), and the outbox is sent in order whenever the
 * network is there. The server applies each key once, so sending twice (a lost
 * answer, two tabs, a reload mid-sync) never records twice. The day's route and
 * questionnaires are kept in IndexedDB too; the service worker keeps the page.
 *
 * The phone may be shared: logging out sends the outbox first and refuses while
 * anything is left unsent (a queued result is evidence, never dropped), then wipes
 * this agent's database, clock note and the kept page. An agent who opens the app
 * on a phone another agent left without logging out sees nothing of theirs: their
 * route and answers go at once, only what they queued and never sent stays, unread,
 * until they log in again (leftovers.js; the login page runs it too).
 */
"use strict";
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const today = document.body.dataset.today;
  const agent = document.body.dataset.agent;
  const $ = (id) => document.getElementById(id);
  const DB_PREFIX = "cobrador-field-";
  const DB_NAME = DB_PREFIX + agent;
  const POSITION_EVERY_MS = 60000;
  // The words it writes, in the page's language (console/field_views.py FIELD_APP_TEXTS).
  const CONFIG = JSON.parse($("field-app-config").textContent);
  const T = CONFIG.t;
  const STAGES = CONFIG.stages;
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));

  // ---- IndexedDB: outbox (queued operations), answers (their outcome), day --------
  let dbPromise = null;
  let leaving = false; // logging out: nothing may write the database again
  function openDb(name) {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(name, 1);
      req.onupgradeneeded = () => {
        const d = req.result;
        d.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
        d.createObjectStore("answers", { keyPath: "key" });
        d.createObjectStore("days", { keyPath: "day" });
      };
      req.onsuccess = () => {
        const d = req.result;
        d.onversionchange = () => d.close(); // another tab wipes it (logout)
        resolve(d);
      };
      req.onerror = () => reject(req.error);
    });
  }
  function db() {
    if (leaving) return Promise.reject(new Error("logged out"));
    if (!dbPromise) dbPromise = openDb(DB_NAME);
    return dbPromise;
  }
  async function tx(store, mode, fn, d) {
    d = d || await db();
    return new Promise((resolve, reject) => {
      const t = d.transaction(store, mode);
      const s = t.objectStore(store);
      let out;
      Promise.resolve(fn(s)).then((v) => { out = v; });
      t.oncomplete = () => resolve(out);
      t.onerror = () => reject(t.error);
    });
  }
  const req2p = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
  const outboxAll = () => tx("outbox", "readonly", (s) => req2p(s.getAll()));
  const answersAll = () => tx("answers", "readonly", (s) => req2p(s.getAll()));

  // ---- state -------------------------------------------------------------------
  let day = null; // {day, visits, route_m, questionnaires}
  let current = null; // the visit open on screen
  let refilledFrom = null; // the refused result whose answers the questionnaire on screen got
  let syncing = false;
  const waiters = new Map(); // key -> resolve(answer) for actions taken online

  // The phone's clock is not trusted: with every operation goes the server's time of
  // the last answer before the act (its Date header) and the phone's clock then, and
  // the phone's clock when the operation is sent; the server judges the visit's time
  // from those (field/visit_time.py).
  const SYNC_KEY = "cobrador-field-sync-" + agent;
  function noteSync(res) {
    const date = res.headers.get("Date");
    const server = date ? new Date(date) : null;
    if (!server || isNaN(server.getTime())) return;
    const seen = { server_at: server.toISOString(), device_at: new Date().toISOString() };
    try { localStorage.setItem(SYNC_KEY, JSON.stringify(seen)); } catch (_) { /* private mode */ }
  }
  function lastSync() {
    try { return JSON.parse(localStorage.getItem(SYNC_KEY) || "null"); } catch (_) { return null; }
  }

  function newKey() {
    return "k-" + (crypto.randomUUID ? crypto.randomUUID()
      : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(""));
  }

  function km(m) {
    if (m == null) return "";
    const point = document.documentElement.lang === "en" ? "." : ",";
    return m >= 1000 ? (m / 1000).toFixed(1).replace(".", point) + " km" : Math.round(m) + " m";
  }

  // ---- the day -------------------------------------------------------------------
  async function loadDay() {
    let fresh = null;
    try {
      const res = await fetch("/api/field/day?day=" + today, { credentials: "same-origin" });
      if (res.ok) { noteSync(res); fresh = await res.json(); }
      else if (res.status === 401) showLoginNeeded();
    } catch (_) { /* offline */ }
    if (fresh) {
      await tx("days", "readwrite", (s) => s.put(fresh));
      day = fresh;
      $("route-offline").hidden = true;
    } else {
      day = await tx("days", "readonly", (s) => req2p(s.get(today)));
      $("route-offline").hidden = !day;
    }
    await render();
  }

  // What the outbox and past answers say about a visit, over what the server said.
  async function localState() {
    const state = {};
    // In the order they came (the outbox's seq breaks a tie: two in one millisecond, a
    // corrected result after its refusal on a phone whose clock stands still).
    const answers = (await answersAll()).sort((a, b) => a.at - b.at || (a.seq || 0) - (b.seq || 0));
    for (const a of answers) {
      const v = (state[a.visit_id] ||= {});
      v[a.kind] = a;
    }
    for (const op of await outboxAll()) {
      const v = (state[op.visit_id] ||= {});
      v[op.kind] = { pending: true, key: op.key };
    }
    return state;
  }

  function statusOf(visit, local) {
    const l = local[visit.id] || {};
    // Cancelled after the agent arrived: what happened at the door is kept as evidence.
    if (visit.status === "cancelled") {
      if (visit.evidence === "recorded" || (l.result && l.result.status === 200)) return ["evidence", T.cancelled_recorded];
      if (l.result && l.result.pending) return ["pending", T.result_pending];
      return ["cancelled", T.cancelled];
    }
    // Recorded after a check-in the server refused: kept as evidence, the visit still planned.
    // The day says so too, so a phone wiped since (a logout) offers no check-in again.
    if (visit.status === "planned" && (visit.evidence === "recorded"
        || (l.result && l.result.status === 200 && l.result.body.evidence_only))) {
      return ["evidence", T.refused_recorded];
    }
    if (visit.status === "done" || (l.result && l.result.status === 200)) return ["done", T.visited];
    if (visit.status === "skipped" || (l.skip && l.skip.status === 200)) return ["skipped", T.skipped];
    if (l.result && l.result.pending) return ["pending", T.result_pending];
    if (l.skip && l.skip.pending) return ["pending", T.skip_pending];
    if (visit.status === "checked_in" || (l.checkin && l.checkin.status === 200)) return ["here", T.arrived];
    if (l.checkin && l.checkin.pending) return ["pending", T.checkin_pending];
    // Compliance forbids it now (protected, disputed, paid, opted out since the plan):
    // never offered, whatever the route downloaded this morning said.
    if (visit.status === "planned" && (visit.blocked || []).length) return ["blocked", T.blocked];
    if (l.checkin && l.checkin.status) return ["refused", T.checkin_refused];
    return ["planned", T.planned];
  }

  async function render() {
    // Everything awaited first, the list replaced at once: two renders at the same
    // time (a sync answering while the agent taps) never interleave their items.
    const local = day ? await localState() : {};
    const list = $("route");
    if (!day) { list.replaceChildren(); $("route-summary").textContent = T.no_route; return; }
    const open = day.visits.filter((v) => v.status === "planned" && !(v.blocked || []).length
                                    && !v.evidence).length;
    $("route-summary").textContent =
      fill(T.summary, { visitas: day.visits.length, abiertas: open, distancia: km(day.route_m) });
    $("route-empty").hidden = day.visits.length > 0;
    const items = [];
    for (const v of day.visits) {
      const [cls, label] = statusOf(v, local);
      const li = document.createElement("li");
      li.className = "stop stop-" + cls;
      li.dataset.visit = v.id;
      const head = document.createElement("div");
      head.className = "stop-head";
      const name = document.createElement("strong");
      name.textContent = v.debtor_name;
      const badge = document.createElement("span");
      badge.className = "badge stop-badge";
      badge.textContent = label;
      head.append(name, badge);
      const addr = document.createElement("div");
      addr.className = "muted small";
      addr.textContent = v.address + (v.leg_m != null ? " · " + fill(T.leg, { distancia: km(v.leg_m) }) : "");
      li.append(head, addr);
      li.addEventListener("click", () => openVisit(v.id));
      items.push(li);
    }
    list.replaceChildren(...items);
    await updatePending();
    if (current) await showVisit();
  }

  // ---- one visit -----------------------------------------------------------------
  async function openVisit(id) {
    current = day.visits.find((v) => v.id === id) || null;
    $("route-view").hidden = true;
    $("visit-view").hidden = false;
    $("checkin-msg").hidden = true;
    $("form-msg").hidden = true;
    buildQuestions();
    refilledFrom = null;
    await showVisit();
    window.scrollTo(0, 0);
  }

  async function showVisit() {
    const v = current;
    if (!v) return;
    $("v-name").textContent = v.debtor_name;
    $("v-address").textContent = v.address;
    $("v-ref").textContent = v.account_ref;
    $("v-balance").textContent = v.balance_shown || `${v.balance} ${v.currency}`;  // a day cached before it
    $("v-stage").textContent = STAGES[v.stage] || v.stage;
    $("v-stage").className = "badge badge-stage-" + v.stage;
    const local = await localState();
    const l = local[v.id] || {};
    const [cls, label] = statusOf(v, local);
    $("v-state").textContent = label;
    $("v-state").className = "visit-state state-" + cls;
    const checkedIn = ["here", "pending", "done", "cancelled", "evidence"].includes(cls) && !(cls === "pending" && l.skip);
    $("checkin").hidden = checkedIn || cls === "skipped";
    $("questionnaire").hidden = !checkedIn || cls === "done" || cls === "evidence" || (l.result && l.result.pending);
    $("skip-box").hidden = cls !== "planned" && cls !== "refused";
    if (cls === "cancelled") {
      message("checkin-msg", T.cancelled_msg, false);
    } else if (cls === "evidence") {
      // Why the arrival was refused, without the check-in's own advice: beside the kept
      // notice below, the one thing the agent is told to do.
      const kept = l.result && l.result.status === 200 ? l.result.body : {};
      message("checkin-msg", v.status === "cancelled" ? T.cancelled_recorded_msg
              : kept.refused_reason || v.refused_reason || T.checkin_refused_msg, false);
    } else if (cls === "blocked") {
      $("checkin").hidden = true;
      message("checkin-msg", fill(T.blocked_msg, { motivo: v.blocked_reason || "" }), false);
    } else if (l.checkin && l.checkin.status && l.checkin.status !== 200) {
      message("checkin-msg", l.checkin.body.reason || T.checkin_refused_msg, false);
    } else if (l.checkin && l.checkin.status === 200) {
      // A notice: kept as evidence only (the visit was cancelled meanwhile: field/visits.py).
      message("checkin-msg", l.checkin.body.notice || fill(T.arrived_at, { distancia: km(l.checkin.body.distance_m) }),
              !l.checkin.body.notice);
    }
    if (l.result && l.result.status && l.result.status !== 200) {
      const errs = l.result.body.errors ? Object.values(l.result.body.errors).join(" ") : "";
      message("form-msg", (l.result.body.reason || T.result_not_saved) + " " + errs, false);
      $("questionnaire").hidden = !checkedIn;
      if (checkedIn && l.result.kept && refilledFrom !== l.result.key) {
        refilledFrom = l.result.key;
        await refill(v.id, l.result.key, l.result.kept);
      }
    } else if (l.result && l.result.status === 200) {
      // A notice: saved, but the account changed since the arrival (field/visits.py).
      message("form-msg", l.result.body.notice || T.result_saved, !l.result.body.notice);
    } else if (cls === "evidence" && v.status === "planned") {
      message("form-msg", T.refused_recorded_msg, false); // its answer is gone (a logout)
    }
  }

  // What the agent typed for a result the console refused, back in the questionnaire to
  // correct and save again (a new key). The refused body is kept sealed: only the
  // console opens it, for her, this visit and a result, and sends back the answers
  // (console/field_views.py reopen_result; nothing stored in the clear). Offline, or
  // refused, it is tried again the next time the visit is shown. A photo is taken again.
  async function refill(visitId, key, kept) {
    let answers = kept.answers;
    if (!answers) {
      try {
        const res = await fetch(`/api/field/visits/${visitId}/result/reopen`, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ sealed: kept.sealed }),
        });
        if (res.ok) answers = (await res.json()).answers;
      } catch (_) { answers = null; /* offline */ }
    }
    if (!answers || typeof answers !== "object") { refilledFrom = null; return; }
    if (!current || current.id !== visitId || refilledFrom !== key) return; // she moved on
    // Who answered and the outcome first: they decide which questions are shown.
    for (const name of ["party", "outcome"]) { answerInto(name, answers[name]); syncVisibility(); }
    for (const [name, value] of Object.entries(answers)) answerInto(name, value);
    syncVisibility();
  }

  function answerInto(name, value) {
    if (value === undefined || value === null || typeof value === "object") return;
    const text = value === true ? "si" : value === false ? "no" : String(value);
    const radios = document.querySelectorAll(`#questions input[type=radio][name="${CSS.escape(name)}"]`);
    if (radios.length) { for (const r of radios) r.checked = r.value === text; return; }
    const input = document.getElementById("q-" + name);
    if (input && input.closest("#questions") && input.type !== "file" && "value" in input) input.value = text;
  }

  function message(id, text, ok) {
    const el = $(id);
    el.textContent = text;
    el.className = "alert " + (ok ? "alert-ok" : "alert-error");
    el.hidden = false;
  }

  function back() {
    current = null;
    $("visit-view").hidden = true;
    $("route-view").hidden = false;
    render();
  }

  // ---- geolocation -----------------------------------------------------------------
  // A reading the server refuses as no fix at all (field/checkin.py parse_fix: (0, 0),
  // what a GPS without a fix reports, or numbers off the Earth) is never queued: its
  // check-in would be a 400 written nowhere, and the result queued after it a 409, the
  // door contact lost. The agent, still at the door, is asked to try again.
  function reading(fix) {
    const ok = [fix.lat, fix.lon, fix.accuracy].every(Number.isFinite)
      && Math.abs(fix.lat) <= 90 && Math.abs(fix.lon) <= 180 && fix.accuracy >= 0
      && !(fix.lat === 0 && fix.lon === 0);
    if (!ok) throw new Error(T.geo_failed);
    return fix;
  }
  async function locate() {
    return reading(await position());
  }
  function position() {
    // On shift the phone already follows the agent (watchPosition): its latest fix,
    // when fresh, is where the agent is now.
    if (watchFix && Date.now() - watchFix.received < 15000) {
      const { received, ...fix } = watchFix;
      return Promise.resolve({ ...fix, at: new Date().toISOString() });
    }
    return new Promise((resolve, reject) => {
      if (!navigator.geolocation) { reject(new Error(T.no_geo)); return; }
      navigator.geolocation.getCurrentPosition(
        (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude,
                         accuracy: p.coords.accuracy, at: new Date().toISOString() }),
        (err) => reject(new Error(err.code === 1 ? T.geo_denied : T.geo_failed)),
        { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 });
    });
  }

  async function checkin() {
    const v = current;
    $("checkin").disabled = true;
    message("checkin-msg", T.locating, true);
    try {
      const fix = await locate();
      await act(v.id, "checkin", `/api/field/visits/${v.id}/checkin`, { fix });
    } catch (err) {
      message("checkin-msg", err.message, false);
    } finally {
      $("checkin").disabled = false;
    }
  }

  async function skipVisit() {
    const v = current;
    let fix = null;
    try { fix = await locate(); } catch (_) { /* re-routed from the start then */ }
    await act(v.id, "skip", `/api/field/visits/${v.id}/skip`, { reason: $("skip-reason").value, fix });
    back();
  }

  // ---- questionnaire ---------------------------------------------------------------
  function buildQuestions() {
    const box = $("questions");
    box.replaceChildren();
    const qs = (day.questionnaires || {})[current.stage] || [];
    for (const q of qs) box.append(question(q));
    syncVisibility();
  }

  function question(q) {
    const wrap = document.createElement("div");
    wrap.className = "q";
    wrap.dataset.key = q.key;
    if (q.when) wrap.dataset.when = JSON.stringify(q.when);
    const label = document.createElement("label");
    label.textContent = q.label;
    label.htmlFor = "q-" + q.key;
    wrap.append(label);
    let input;
    if (q.type === "choice" || q.type === "yesno") {
      const opts = q.type === "yesno" ? { si: T.yes, no: T.no } : q.options;
      const group = document.createElement("div");
      group.className = "choices";
      group.id = "q-" + q.key;
      for (const [value, text] of Object.entries(opts)) {
        const l = document.createElement("label");
        l.className = "choice";
        const r = document.createElement("input");
        r.type = "radio"; r.name = q.key; r.value = value;
        r.addEventListener("change", syncVisibility);
        l.append(r, document.createTextNode(" " + text));
        group.append(l);
      }
      wrap.append(group);
      return wrap;
    }
    if (q.type === "text") { input = document.createElement("textarea"); input.maxLength = q.max || 2000; }
    else {
      input = document.createElement("input");
      input.type = { money: "number", date: "date", phone: "tel", photo: "file" }[q.type] || "text";
      if (q.type === "money") { input.step = "0.01"; input.min = "0.01"; input.inputMode = "decimal"; }
      if (q.type === "photo") { input.accept = "image/*"; input.setAttribute("capture", "environment"); }
    }
    input.id = "q-" + q.key;
    input.name = q.key;
    wrap.append(input);
    return wrap;
  }

  function chosen(name) {
    const r = document.querySelector(`#questions input[name="${name}"]:checked`);
    return r ? r.value : "";
  }

  function syncVisibility() {
    const party = chosen("party");
    const parties = (((day.questionnaires || {})[current.stage] || []).find((q) => q.key === "outcome") || {}).parties || {};
    for (const r of document.querySelectorAll('#questions input[name="outcome"]')) {
      const ok = !party || (parties[r.value] || []).includes(party);
      r.closest("label").hidden = !ok;
      if (!ok) r.checked = false;
    }
    const values = { outcome: chosen("outcome"), party };
    for (const q of document.querySelectorAll("#questions .q[data-when]")) {
      const when = JSON.parse(q.dataset.when);
      q.hidden = !Object.entries(when).every(([k, v]) => Array.isArray(v) ? v.includes(values[k]) : values[k] === v);
    }
  }

  async function photoData(input) {
    const file = input && input.files && input.files[0];
    if (!file) return null;
    const img = await createImageBitmap(file);
    const scale = Math.min(1, 1024 / Math.max(img.width, img.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(img.width * scale);
    canvas.height = Math.round(img.height * scale);
    canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
    for (const quality of [0.75, 0.6, 0.45, 0.3]) {
      const url = canvas.toDataURL("image/jpeg", quality);
      if (url.length < 600000) return url;
    }
    throw new Error(T.photo_too_big);
  }

  async function saveResult(ev) {
    ev.preventDefault();
    const answers = {};
    for (const q of document.querySelectorAll("#questions .q")) {
      if (q.hidden) continue;
      const key = q.dataset.key;
      const radios = q.querySelectorAll("input[type=radio]");
      if (radios.length) {
        const v = chosen(key);
        if (!v) continue;
        answers[key] = (v === "si" || v === "no") && radios.length === 2 && radios[0].value === "si" ? v === "si" : v;
        continue;
      }
      const input = q.querySelector("input, textarea");
      if (input.type === "file") {
        try { const data = await photoData(input); if (data) answers[key] = data; }
        catch (err) { message("form-msg", err.message, false); return; }
      } else if (input.value.trim()) {
        answers[key] = input.value.trim();
      }
    }
    await act(current.id, "result", `/api/field/visits/${current.id}/result`, { answers });
  }

  // ---- the queue sealed to the console (console/field_seal.py) ---------------------
  // Each queued body (the fix, the answers at the door, a photo) is sealed with the
  // console's public key: ECDH P-256 with a key pair made for it, HKDF-SHA256, AES-GCM,
  // bound to this agent, visit and kind. Only the console opens it: nobody on this phone
  // can read it, before or after her session (developer tools included). The visit,
  // kind and key stay in the clear for the app's own states. Without the key (a console
  // with no console_secret) or WebCrypto (not a secure context), it is kept as is.
  const SEAL_KEY = document.body.dataset.sealKey || "";
  const SEAL_KID = document.body.dataset.sealKid || "";
  const SEAL_INFO = new TextEncoder().encode("cobrador field queue v1");
  const fromB64 = (t) => Uint8Array.from(atob(t), (c) => c.charCodeAt(0));
  const toB64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
  function toB64Long(buf) { // a photo: too long for one spread
    const bytes = new Uint8Array(buf);
    let out = "";
    for (let i = 0; i < bytes.length; i += 0x8000) out += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(out);
  }
  async function seal(body, visitId, kind) {
    const subtle = window.crypto && crypto.subtle;
    if (!SEAL_KEY || !subtle) return null;
    const ECDH = { name: "ECDH", namedCurve: "P-256" };
    const console_ = await subtle.importKey("raw", fromB64(SEAL_KEY), ECDH, false, []);
    const mine = await subtle.generateKey(ECDH, false, ["deriveBits"]);
    const shared = await subtle.deriveBits({ name: "ECDH", public: console_ }, mine.privateKey, 256);
    const hkdf = await subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
    const aes = await subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: SEAL_INFO },
                                       hkdf, { name: "AES-GCM", length: 256 }, false, ["encrypt"]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const bound = new TextEncoder().encode(`${agent}/${visitId}/${kind}`);
    const ct = await subtle.encrypt({ name: "AES-GCM", iv, additionalData: bound }, aes,
                                    new TextEncoder().encode(JSON.stringify(body)));
    const epk = await subtle.exportKey("raw", mine.publicKey);
    return { v: 1, kid: SEAL_KID, epk: toB64(epk), iv: toB64(iv), ct: toB64Long(ct) };
  }

  // ---- the outbox and its sync -----------------------------------------------------
  async function act(visitId, kind, url, body) {
    const key = newKey();
    const synced = lastSync();
    // acted_at: the phone's clock when the agent acted (a result's time, judged by the
    // server with the clock report: field/visit_time.py).
    const acted_at = new Date().toISOString();
    const full = { ...body, key, synced, acted_at };
    let sealed = null;
    try { sealed = await seal(full, visitId, kind); } catch (_) { sealed = null; /* kept as is */ }
    const op = sealed ? { key, visit_id: visitId, kind, url, sealed } : { key, visit_id: visitId, kind, url, body: full };
    await tx("outbox", "readwrite", (s) => s.add(op));
    const answered = new Promise((resolve) => waiters.set(key, resolve));
    await render();
    if (navigator.onLine) {
      sync();
      await Promise.race([answered, new Promise((r) => setTimeout(r, 15000))]);
    }
    await render();
  }

  // One run at a time; whoever asks meanwhile waits for the run under way.
  let syncRun = null;
  function sync() {
    if (leaving) return Promise.resolve();
    if (!syncRun) syncRun = sendOutbox().finally(() => { syncRun = null; });
    return syncRun;
  }

  async function sendOutbox() {
    if (syncing) return;
    syncing = true;
    try {
      for (;;) {
        const ops = await outboxAll();
        if (!ops.length) break;
        const op = ops[0];
        let res;
        try {
          res = await fetch(op.url, {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
            body: JSON.stringify({ ...(op.sealed ? { sealed: op.sealed } : op.body), sent_at: new Date().toISOString() }),
          });
        } catch (_) {
          setNet(false);
          break; // offline: the outbox waits for the network
        }
        setNet(true);
        if (res.status === 401 || res.status === 403 && !(await isAnswer(res.clone()))) {
          showLoginNeeded();
          break;
        }
        if (res.status >= 500 || res.status === 0) break; // the server will come back
        noteSync(res);
        let data = {};
        try { data = await res.json(); } catch (_) { data = { reason: T.unreadable }; }
        const answer = { key: op.key, visit_id: op.visit_id, kind: op.kind, status: res.status,
                         body: data, at: Date.now(), seq: op.seq };
        // A refused result keeps what the agent typed, to correct (refill above): still
        // sealed to the console; as queued (clear) only on a console with no key to seal
        // to. Nothing is sent again by itself: a 409/410 (already done) is no retry loop.
        if (op.kind === "result" && res.status !== 200) {
          answer.kept = op.sealed ? { sealed: op.sealed } : { answers: (op.body || {}).answers || {} };
        }
        await tx("answers", "readwrite", (s) => s.put(answer));
        await tx("outbox", "readwrite", (s) => s.delete(op.seq));
        const w = waiters.get(op.key);
        if (w) { waiters.delete(op.key); w(answer); }
      }
    } finally {
      syncing = false;
      await updatePending();
    }
    if (!(await outboxAll()).length && navigator.onLine) await refreshDay();
  }

  // A 403 from a compliance refusal carries reasons; a 403 of a lost session does not.
  async function isAnswer(res) {
    try { const d = await res.json(); return Array.isArray(d.reasons); } catch (_) { return false; }
  }

  async function refreshDay() {
    try {
      const res = await fetch("/api/field/day?day=" + today, { credentials: "same-origin" });
      if (!res.ok) return;
      noteSync(res);
      day = await res.json();
      await tx("days", "readwrite", (s) => s.put(day));
      if (current) current = day.visits.find((v) => v.id === current.id) || current;
      await render();
    } catch (_) { /* offline again */ }
  }

  async function updatePending() {
    const n = (await outboxAll()).length;
    const el = $("pending");
    el.hidden = n === 0;
    el.textContent = n === 1 ? T.pending_one : fill(T.pending_many, { n });
    document.body.dataset.pending = String(n);
  }

  function setNet(on) {
    const el = $("net");
    el.textContent = on ? T.online : T.offline;
    el.className = "pill " + (on ? "pill-on" : "pill-off");
  }

  function showLoginNeeded() {
    const el = $("net");
    el.textContent = T.login_again;
    el.className = "pill pill-off";
  }

  // ---- the shift, and positions while on it with consent -------------------------------
  let watch = null;
  let watchFix = null;
  let lastSent = 0;
  async function shiftState() {
    try {
      const res = await fetch("/api/field/shift", { credentials: "same-origin" });
      if (res.ok) showShift(await res.json());
    } catch (_) { /* offline: keep what is shown */ }
  }

  function showShift(s) {
    $("shift-off").hidden = s.on_shift;
    $("shift-on").hidden = !s.on_shift;
    $("shift-text").textContent = s.sharing ? T.shift_sharing : T.shift_private;
    if (s.on_shift && s.sharing) startReporting(); else stopReporting();
  }

  async function shift(action) {
    const body = { action, consent: $("consent").checked };
    try {
      const res = await fetch("/api/field/shift", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body) });
      if (res.ok) showShift(await res.json());
    } catch (_) { setNet(false); }
  }

  function startReporting() {
    if (watch !== null || !navigator.geolocation) return;
    watch = navigator.geolocation.watchPosition(async (p) => {
      watchFix = { lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy,
                   received: Date.now() };
      if (Date.now() - lastSent < POSITION_EVERY_MS) return;
      lastSent = Date.now();
      let battery = null;
      try { if (navigator.getBattery) battery = (await navigator.getBattery()).level; } catch (_) { battery = null; }
      const fix = { lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy,
                    at: new Date().toISOString() };
      try {
        await fetch("/api/field/position", { method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ fix, battery }) });
      } catch (_) { /* live only: a position missed offline is not queued */ }
    }, () => {}, { enableHighAccuracy: true, maximumAge: 30000 });
  }

  function stopReporting() {
    if (watch !== null) navigator.geolocation.clearWatch(watch);
    watch = null;
    watchFix = null;
  }

  // ---- a shared phone: logout wipes, another agent's leftovers go -------------------
  const idb2p = (r) => new Promise((res, rej) => {
    r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });

  async function logout(ev) {
    ev.preventDefault();
    const form = ev.target;
    $("logout-msg").hidden = true;
    form.querySelector("button").disabled = true;
    try {
      if (navigator.onLine) await sync();
      const n = (await outboxAll()).length;
      if (n) {
        // Queued results are evidence of visits made: never dropped to log out.
        showLogoutMsg(n === 1 ? T.logout_pending_one : fill(T.logout_pending_many, { n }));
        return;
      }
      // The server ends the session first: wiped but still logged in, the phone would
      // hand the next person her session (and her route at the next download).
      if (!(await endSession())) {
        showLogoutMsg(T.logout_offline);
        return;
      }
      await wipeMine();
    } catch (_) {
      return; // a storage error: the data stays rather than half of it
    } finally {
      form.querySelector("button").disabled = false;
    }
    window.location.replace("/login");
  }

  // True once the server has no session of hers (ended now, or already gone).
  async function endSession() {
    try {
      const res = await fetch("/logout", { method: "POST", credentials: "same-origin",
                                           headers: { "X-CSRF-Token": csrf }, redirect: "manual" });
      return res.type === "opaqueredirect" || res.status < 500;
    } catch (_) {
      return false; // no network: nothing ended
    }
  }

  function showLogoutMsg(text) {
    const el = $("logout-msg");
    el.textContent = text;
    el.hidden = false;
    window.scrollTo(0, 0);
  }

  // This agent's route, answers, clock note and the kept page (names, addresses,
  // amounts): gone from the phone. Only called with the outbox empty.
  async function wipeMine() {
    leaving = true;
    stopReporting();
    if (dbPromise) { (await dbPromise).close(); dbPromise = null; }
    await idb2p(indexedDB.deleteDatabase(DB_NAME));
    try { localStorage.removeItem(SYNC_KEY); } catch (_) { /* private mode */ }
    if ("caches" in window) {
      for (const name of await caches.keys()) await caches.delete(name);
    }
  }

  // Another agent who left the phone logged in (a session that expired, a phone handed
  // over): their day and answers go; what they queued and never sent stays, unread,
  // for them to send when they log in again (leftovers.js, also run by the login page).
  const forgetOthers = () => window.cobradorFieldLeftovers.forget(agent);

  // ---- wiring --------------------------------------------------------------------
  $("logout").addEventListener("submit", logout);
  $("back").addEventListener("click", back);
  $("checkin").addEventListener("click", checkin);
  $("skip").addEventListener("click", skipVisit);
  $("questionnaire").addEventListener("submit", saveResult);
  $("sync").addEventListener("click", () => sync());
  $("shift-start").addEventListener("click", () => shift("start"));
  $("shift-end").addEventListener("click", () => shift("end"));
  window.addEventListener("online", () => { setNet(true); sync(); });
  window.addEventListener("offline", () => setNet(false));
  setNet(navigator.onLine);
  setInterval(() => { if (navigator.onLine && !leaving) sync(); }, 30000);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" }).catch(() => {});
  }
  // For tests and the curious: the outbox's state, and a sync on demand.
  window.cobradorField = { sync, pending: async () => (await outboxAll()).length, ready: null };
  window.cobradorField.ready = forgetOthers().catch(() => {}).then(loadDay).then(shiftState).then(() => sync()).then(() => {
    document.body.dataset.ready = "1";
  });
})();
