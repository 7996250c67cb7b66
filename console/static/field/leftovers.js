/* What a field agent left on a shared phone once her session is over (it expired, the
 * phone was handed over, nobody pressed "Salir"): her route, debtors' names, addresses,
 * amounts, the server's answers, her clock note and the kept page naming her.
 *
 * They go as soon as the phone shows the login page (the console shows it only when no
 * session is open in this browser) or another agent opens the field app. A queue of
 * operations she never sent stays, sealed to the console (app.js seal(): nobody on
 * the phone can read it): each is evidence of a visit made and is sent at her next
 * login on this phone (docs/field.md "A shared phone" says what stays).
 */
"use strict";
window.cobradorFieldLeftovers = (() => {
  const DB_PREFIX = "cobrador-field-";
  const SYNC_PREFIX = "cobrador-field-sync-";
  const req2p = (r) => new Promise((res, rej) => {
    r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });

  function open(name) {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(name, 1);
      req.onupgradeneeded = () => { // app.js's stores, should the database be gone meanwhile
        const d = req.result;
        d.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
        d.createObjectStore("answers", { keyPath: "key" });
        d.createObjectStore("days", { keyPath: "day" });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  function run(d, store, mode, fn) {
    return new Promise((resolve, reject) => {
      const t = d.transaction(store, mode);
      let out;
      req2p(fn(t.objectStore(store))).then((v) => { out = v; });
      t.oncomplete = () => resolve(out);
      t.onerror = () => reject(t.error);
    });
  }

  // Every field agent's data but `keep`'s (an agent id; null: nobody's session is open).
  async function forget(keep) {
    try {
      for (const key of Object.keys(localStorage)) {
        if (key.startsWith(SYNC_PREFIX) && key !== SYNC_PREFIX + keep) localStorage.removeItem(key);
      }
    } catch (_) { /* private mode */ }
    if (!window.indexedDB || !indexedDB.databases) return;
    for (const { name } of await indexedDB.databases()) {
      if (!name || !name.startsWith(DB_PREFIX) || name === DB_PREFIX + keep) continue;
      const other = await open(name);
      let queued = 0;
      try {
        queued = await run(other, "outbox", "readonly", (s) => s.count());
        if (queued) {
          await run(other, "days", "readwrite", (s) => s.clear());
          await run(other, "answers", "readwrite", (s) => s.clear());
        }
      } finally {
        other.close();
      }
      if (!queued) await req2p(indexedDB.deleteDatabase(name));
    }
  }

  // The kept page names the agent (and would open her app offline): with nobody logged
  // in, no field page is to be kept. The service worker keeps the next one it serves.
  async function forgetPages() {
    if (!("caches" in window)) return;
    for (const name of await caches.keys()) await caches.delete(name);
  }

  // On the login page: nobody's session is open in this browser.
  if (document.body && document.body.classList.contains("login-body")) {
    Promise.all([forget(null), forgetPages()]).catch(() => {}).then(() => {
      document.body.dataset.fieldLeftovers = "1";
    });
  }
  return { forget };
})();
