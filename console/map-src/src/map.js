/* The supervisors' field page: today's visits and the field agents' last positions
 * on a Leaflet map, visit-ended notices, and the planning form. Bundled with Leaflet
 * by esbuild into console/static/map.js (+ map.css); nothing comes from a CDN.
 * Map tiles only when the operator sets field_map_tiles (else: our points alone).
 */
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import "./map.css";

const page = document.getElementById("field-page");
const day = page.dataset.day;
const tiles = page.dataset.tiles;
const $ = (id) => document.getElementById(id);
// evidence: cancelled after the agent arrived; what happened at the door is kept.
// refused_evidence: still planned, the arrival refused, what was recorded at the door kept.
// Each status's mark (colour and shape) is map.css's .mark-<status>, in the legend too.
const MARKED = ["planned", "in_progress", "done", "failed", "evidence", "refused_evidence"];
const KEPT = ["evidence", "refused_evidence"];
// The page's texts in its language (supervisor_field.html, console/locale).
const CONFIG = JSON.parse($("field-config").textContent);
const STATUS = CONFIG.status;
const OUTCOME = CONFIG.outcome;
const REASON = CONFIG.reason;
const T = CONFIG.t;
// A code the page has no word for reads as a neutral word, never as the code.
const statusWord = (code) => STATUS[code] || T.other_status;
const outcomeWord = (code) => (code ? OUTCOME[code] || T.other_outcome : "");
const fill = (template, values) => template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));

// No animations: a supervisor's map that redraws every 10 s should not swim.
const map = L.map("map", { zoomControl: true, attributionControl: !!tiles, zoomAnimation: false,
                           fadeAnimation: false, markerZoomAnimation: false });
if (tiles) L.tileLayer(tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
L.control.scale({ imperial: false }).addTo(map);
map.setView([19.35, -99.16], 12);
const visitLayer = L.layerGroup().addTo(map);
const routeLayer = L.layerGroup().addTo(map);
const agentLayer = L.layerGroup().addTo(map);
let fitted = false;
let since = null;

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value == null ? "" : String(value);
  if (cls) el.className = cls;
  return el;
}

// A status's mark as an element: a known status its own, any other the neutral one.
function mark(status) {
  const el = document.createElement("i");
  el.className = MARKED.includes(status) ? `mark mark-${status}` : "mark";
  return el;
}

function draw(data) {
  visitLayer.clearLayers();
  routeLayer.clearLayers();
  agentLayer.clearLayers();
  const bounds = [];
  const byAgent = new Map();
  for (const v of data.visits) {
    if (v.lat == null) continue;
    const ll = [v.lat, v.lon];
    bounds.push(ll);
    const icon = L.divIcon({ className: "visit-mark", html: mark(v.status), iconSize: [18, 18] });
    const marker = L.marker(ll, { icon });
    const words = `${v.position}. ${v.debtor_name} · ${statusWord(v.status)}`;
    // An element, never a string: Leaflet puts a string in as HTML, and names come from files.
    marker.bindTooltip(text("span", words));
    marker.addTo(visitLayer);
    const shown = marker.getElement();
    shown.setAttribute("aria-label", words);  // the shape says nothing to a screen reader
    shown.dataset.visit = v.id;  // which visit a mark is (the browser tests)
    if (!byAgent.has(v.agent_id)) byAgent.set(v.agent_id, []);
    byAgent.get(v.agent_id).push(ll);
  }
  for (const line of byAgent.values()) {
    if (line.length > 1) L.polyline(line, { color: "#475467", weight: 2, dashArray: "4 6", opacity: 0.7 }).addTo(routeLayer);
  }
  for (const p of data.positions) {
    const ll = [p.lat, p.lon];
    bounds.push(ll);
    const battery = p.battery == null ? `${T.battery} ?` : `${T.battery} ${Math.round(p.battery * 100)} %`;
    const icon = L.divIcon({ className: "agent-pin", html: "", iconSize: [18, 18] });
    L.marker(ll, { icon, title: p.agent })
      .bindTooltip(text("span", `${p.agent} · ${battery}`), { permanent: true, direction: "right", className: "agent-label" })
      .addTo(agentLayer);
    if (p.accuracy_m) L.circle(ll, { radius: p.accuracy_m, color: "#6941c6", weight: 1, fillOpacity: 0.08 }).addTo(agentLayer);
  }
  if (!fitted && bounds.length) {
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16, animate: false });
    fitted = true;
  }
  table(data.visits);
  agentSummary(data.visits);
}

function table(visits) {
  const body = document.querySelector("#visits-table tbody");
  body.replaceChildren();
  for (const v of visits) {
    const tr = document.createElement("tr");
    tr.dataset.visit = v.id;
    tr.append(text("td", v.agent), text("td", v.position), text("td", `${v.account_ref} · ${v.debtor_name}`),
              text("td", v.address));
    const st = text("td", "");
    st.append(text("span", statusWord(v.status), "badge badge-visit-" + v.status));
    tr.append(st, text("td", outcomeWord(v.outcome)));
    const act = document.createElement("td");
    // One kept after a refused arrival is still planned: cancelled to plan it again.
    if (v.status === "planned" || v.status === "refused_evidence") {
      const b = text("button", T.cancel, "btn btn-small");
      b.type = "button";
      b.addEventListener("click", async () => {
        const r = await Cobrador.api("POST", `/api/supervisor/field/visits/${v.id}/cancel`, {});
        if (r.ok) refresh();
      });
      act.append(b);
    }
    tr.append(act);
    body.append(tr);
  }
}

function agentSummary(visits) {
  const rows = new Map();
  for (const v of visits) {
    if (!rows.has(v.agent)) rows.set(v.agent, { planned: 0, in_progress: 0, done: 0, failed: 0, evidence: 0, door: 0 });
    const r = rows.get(v.agent);
    const column = KEPT.includes(v.status) ? "evidence" : v.status;
    if (column in r) r[column] += 1;
    // Someone came to the door, of the visits done or failed (the rate's base).
    if ((v.status === "done" || v.status === "failed") && v.outcome && v.outcome !== "sin_contacto") r.door += 1;
  }
  const body = document.querySelector("#agents-table tbody");
  body.replaceChildren();
  for (const [agent, r] of rows) {
    const ended = r.done + r.failed;
    const rate = ended ? `${Math.round((100 * r.door) / ended)} %` : "—";
    const tr = document.createElement("tr");
    tr.append(text("td", agent), text("td", r.planned), text("td", r.in_progress), text("td", r.done),
              text("td", r.failed), text("td", r.evidence), text("td", rate));
    body.append(tr);
  }
}

function notify(ended) {
  if (!ended.length) return;
  $("no-notices").hidden = true;
  for (const v of ended) {
    let outcome = v.outcome ? outcomeWord(v.outcome) : statusWord(v.status);
    if (KEPT.includes(v.status) && v.outcome) outcome += ` (${statusWord(v.status)})`;
    const li = text("li", fill(T.ended, { agent: v.agent, debtor: v.debtor_name, outcome }), "notice");
    li.dataset.visit = v.id;
    $("notices").prepend(li);
  }
  if (window.Notification && Notification.permission === "granted") {
    for (const v of ended) new Notification(T.visit_ended, { body: `${v.agent} · ${v.debtor_name}` });
  }
}

async function refresh() {
  const q = new URLSearchParams({ day });
  if (since) q.set("since", since);
  const r = await Cobrador.api("GET", "/api/supervisor/field/live?" + q.toString());
  if (!r.ok) return;
  if (since) notify(r.data.ended);
  since = r.data.now;
  draw(r.data);
  page.dataset.loaded = "1";
}

async function search() {
  const r = await Cobrador.api("GET", "/api/supervisor/field/accounts?q=" + encodeURIComponent($("plan-search").value));
  const box = $("plan-accounts");
  box.replaceChildren();
  if (!r.ok) return;
  for (const a of r.data.accounts.slice(0, 50)) {
    const label = document.createElement("label");
    label.className = "choice";
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.value = a.ref;
    label.append(cb, document.createTextNode(` ${a.ref} · ${a.country} · ${a.address}`));
    box.append(label);
  }
}

async function plan() {
  const refs = $("plan-refs").value.split(/\s+/).filter(Boolean);
  for (const cb of document.querySelectorAll("#plan-accounts input:checked")) refs.push(cb.value);
  const r = await Cobrador.api("POST", "/api/supervisor/field/plan", {
    agent_id: Number($("plan-agent").value), day: $("plan-day").value, account_refs: refs });
  const out = $("plan-result");
  out.replaceChildren();
  if (!r.ok) { out.append(text("p", r.data.reason || T.plan_failed, "alert alert-error")); return; }
  const km = (r.data.route_m / 1000).toFixed(1).replace(".", document.documentElement.lang === "en" ? "." : ",");
  out.append(text("p", fill(T.planned, { n: r.data.planned.length, km }), "alert alert-ok"));
  if (r.data.refused.length) {
    const ul = document.createElement("ul");
    ul.className = "refused";
    for (const x of r.data.refused) {
      ul.append(text("li", fill(T.not_planned, { account: x.external_ref || x.account_id, reasons: x.reasons.map((c) => REASON[c] || T.other_reason).join(", ") })));
    }
    out.append(ul);
  }
  fitted = false;
  refresh();
}

$("plan-go").addEventListener("click", plan);
$("plan-search").addEventListener("input", () => { clearTimeout(search.t); search.t = setTimeout(search, 250); });
if (window.Notification && Notification.permission === "default") {
  $("notices").addEventListener("click", () => Notification.requestPermission());
}
search();
refresh();
setInterval(refresh, 10000);
