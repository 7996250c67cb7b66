/* The agent's browser phone (JsSIP), bundled by esbuild into console/static/phone.js.
 *
 * window.cobradorPhone is the page's API (other scripts and tests use it):
 *   state       {registration, leg, muted, held, mic, level, reason}
 *                 registration: "off" | "unavailable" | "connecting" | "registered"
 *                               | "unregistered" | "failed" | "taken"
 *                 leg: "none" | "up"          the dialer's nailed-up leg
 *                 mic: "unknown" | "ok" | "failed"
 *   on(name, fn)  "change" (state), "leg" ("up"/"none"), "registration" (state)
 *   start()       ask the console for a credential and register (called at load)
 *   stop()        unregister and hang up the leg
 *   checkMic()    getUserMedia; resolves true when a microphone gives audio
 *   setMuted(b)   stop/resume sending the agent's audio (no packets while muted)
 *   setHeld(b)    music to the debtor; the agent's audio stops meanwhile
 *   hangupDebtor()  end the debtor's call; the agent's leg stays up
 *   sendDtmf(d)   RFC 4733 digits on the agent's leg
 *   stats()       {packetsSent, packetsReceived, bytesSent, bytesReceived} of the leg
 *
 * Credentials come from POST /api/agent/phone/credentials (the session cookie and
 * the CSRF token): never in a URL, never the agent's console password.
 */
import JsSIP from "jssip";

const listeners = { change: [], leg: [], registration: [] };
const state = {
  registration: "off",
  leg: "none",
  muted: false,
  held: false,
  mic: "unknown",
  level: 0,
  reason: "",
};
let ua = null;
let session = null;
let micStream = null;
let renewTimer = null;
let meter = null;
// STUN/TURN from the console (agents behind NAT); refreshed with every credential
// and renewal, since TURN passwords are time-limited.
let iceServers = [];

function emit(name, value) {
  for (const fn of listeners[name] || []) {
    try { fn(value); } catch (err) { console.error(err); }
  }
}
function set(changes) {
  const before = { registration: state.registration, leg: state.leg };
  Object.assign(state, changes);
  if (before.registration !== state.registration) emit("registration", state.registration);
  if (before.leg !== state.leg) emit("leg", state.leg);
  emit("change", { ...state });
}

function csrf() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}
async function post(url, body) {
  const opts = {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf() },
  };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  try {
    const res = await fetch(url, opts);
    let data = {};
    try { data = await res.json(); } catch (_) { data = {}; }
    return { ok: res.ok, status: res.status, data };
  } catch (err) {
    return { ok: false, status: 0, data: { reason: String(err) } };
  }
}

// ---- microphone ------------------------------------------------------------
async function checkMic() {
  if (!micStream || micStream.getAudioTracks().every((t) => t.readyState === "ended")) {
    try {
      micStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (err) {
      micStream = null;
      set({ mic: "failed", reason: String(err && err.name ? err.name : err) });
      return false;
    }
  }
  startMeter();
  set({ mic: "ok" });
  return true;
}

function startMeter() {
  if (meter || !micStream) return;
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  const ctx = new Ctx();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  ctx.createMediaStreamSource(micStream).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const resume = () => { if (ctx.state === "suspended") ctx.resume(); };
  document.addEventListener("click", resume, { capture: true });
  meter = setInterval(() => {
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    const rms = Math.sqrt(sum / buf.length);
    // The agent's own level as sent: zero while muted or holding.
    const level = state.muted || state.held ? 0 : Math.min(1, rms * 4);
    if (Math.abs(level - state.level) > 0.01) set({ level });
  }, 100);
}

// ---- registration ----------------------------------------------------------
async function fetchCredential() {
  const r = await post("/api/agent/phone/credentials");
  if (!r.ok) {
    set({ registration: "failed", reason: r.data.reason || String(r.status) });
    return null;
  }
  if (!r.data.enabled) {
    set({ registration: "unavailable", reason: r.data.reason || "" });
    return null;
  }
  iceServers = r.data.ice_servers || [];
  return r.data;
}

function scheduleRenew(seconds) {
  clearTimeout(renewTimer);
  renewTimer = setTimeout(renew, Math.max(seconds, 5) * 1000);
}

async function renew() {
  const r = await post("/api/agent/phone/renew");
  if (r.ok) {
    iceServers = r.data.ice_servers || iceServers;
    scheduleRenew(r.data.renew_in);
    return;
  }
  if (r.status === 409 && r.data.code === "other_session") {
    // Another tab or login took the phone: give it up, do not fight over it.
    stop();
    set({ registration: "taken", reason: r.data.reason || "" });
    return;
  }
  if (r.status === 409) {
    const cred = await fetchCredential();
    if (cred && ua) {
      ua.set("password", cred.password);
      ua.register();
      scheduleRenew(cred.renew_in);
    }
    return;
  }
  scheduleRenew(10); // the console did not answer: try again soon
}

let started = null;

// Resolves once the console said whether there is a web phone (and it started).
function start() {
  if (!started) started = startOnce();
  return started;
}

async function startOnce() {
  if (ua) return;
  set({ registration: "connecting", reason: "" });
  const cred = await fetchCredential();
  if (!cred) return;
  await checkMic();
  const socket = new JsSIP.WebSocketInterface(cred.ws_url);
  ua = new JsSIP.UA({
    sockets: [socket],
    uri: cred.uri,
    authorization_user: cred.username,
    password: cred.password,
    register: true,
    register_expires: 120,
    session_timers: false,
    user_agent: "cobrador-console",
    connection_recovery_min_interval: 1,
    connection_recovery_max_interval: 10,
  });
  ua.on("connecting", () => { if (state.registration !== "registered") set({ registration: "connecting" }); });
  ua.on("disconnected", () => set({ registration: "connecting" }));
  ua.on("registered", () => set({ registration: "registered", reason: "" }));
  ua.on("unregistered", () => set({ registration: "unregistered" }));
  ua.on("registrationFailed", (e) => set({ registration: "failed", reason: e.cause || "" }));
  ua.on("newRTCSession", onSession);
  ua.start();
  scheduleRenew(cred.renew_in);
}

function stop() {
  started = null;
  clearTimeout(renewTimer);
  if (session) { try { session.terminate(); } catch (_) { /* already ended */ } }
  session = null;
  if (ua) { ua.stop(); ua = null; }
  set({ registration: "off", leg: "none", held: false });
}

// ---- the nailed-up leg -----------------------------------------------------
function onSession(e) {
  if (e.originator !== "remote") return;
  const incoming = e.session;
  if (session) {
    incoming.terminate({ status_code: 486 }); // one leg per agent
    return;
  }
  session = incoming;
  incoming.on("peerconnection", (pe) => attachAudio(pe.peerconnection));
  incoming.on("confirmed", () => {
    set({ leg: "up", held: false });
    applySending();
  });
  const ended = () => {
    if (session === incoming) session = null;
    set({ leg: "none", held: false });
  };
  incoming.on("ended", ended);
  incoming.on("failed", ended);
  // Auto-answer: calls to this endpoint come from the dialer (the agent's leg).
  const answer = () => incoming.answer({
    mediaStream: micStream || undefined,
    mediaConstraints: { audio: true, video: false },
    pcConfig: { iceServers },
    rtcOfferConstraints: { offerToReceiveAudio: true },
  });
  if (micStream) answer();
  else checkMic().then(answer);
}

function attachAudio(pc) {
  pc.addEventListener("track", (ev) => {
    const audio = document.getElementById("phone-audio");
    if (audio && ev.streams && ev.streams[0]) {
      audio.srcObject = ev.streams[0];
      const p = audio.play();
      if (p && p.catch) p.catch(() => { /* needs a click first: the level meter still runs */ });
    }
  });
}

function sender() {
  const pc = session && session.connection;
  if (!pc) return null;
  return pc.getSenders().find((s) => (s.track && s.track.kind === "audio") || s.__cobradorAudio) || null;
}

// No packets at all while muted or holding: the sender's track is removed.
function applySending() {
  const s = sender();
  if (!s) return;
  s.__cobradorAudio = true;
  const track = micStream ? micStream.getAudioTracks()[0] : null;
  const want = state.muted || state.held ? null : track;
  if (s.track !== want) s.replaceTrack(want);
}

function setMuted(muted) {
  set({ muted: !!muted });
  applySending();
}

async function setHeld(held) {
  const r = await post("/api/agent/phone/hold", { on: !!held });
  if (!r.ok) { set({ reason: r.data.reason || "" }); return false; }
  set({ held: !!held });
  applySending();
  return true;
}

async function hangupDebtor() {
  if (state.held) await setHeld(false);
  const r = await post("/api/agent/hangup");
  return r.ok;
}

function sendDtmf(digit) {
  if (!session || !/^[0-9*#A-D]$/.test(String(digit))) return false;
  session.sendDTMF(String(digit), { transportType: "RFC2833", duration: 120 });
  return true;
}

async function stats() {
  const pc = session && session.connection;
  const out = { packetsSent: 0, packetsReceived: 0, bytesSent: 0, bytesReceived: 0 };
  if (!pc) return out;
  const report = await pc.getStats();
  report.forEach((s) => {
    if (s.kind !== "audio" && s.mediaType !== "audio") return;
    if (s.type === "outbound-rtp") { out.packetsSent += s.packetsSent || 0; out.bytesSent += s.bytesSent || 0; }
    if (s.type === "inbound-rtp") { out.packetsReceived += s.packetsReceived || 0; out.bytesReceived += s.bytesReceived || 0; }
  });
  return out;
}

function on(name, fn) {
  (listeners[name] = listeners[name] || []).push(fn);
}

window.cobradorPhone = {
  state,
  on,
  start,
  stop,
  checkMic,
  setMuted,
  setHeld,
  hangupDebtor,
  sendDtmf,
  stats,
  get connection() { return session ? session.connection : null; },
};
