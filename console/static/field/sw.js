/* The field app's service worker: keeps the app's page and files so it opens
 * without a network. The route, questionnaires and queued results live in
 * IndexedDB (app.js); API calls are never answered from here. */
"use strict";
const VERSION = "field-v1";
const SHELL = [
  "/field/",
  "/field/manifest.webmanifest",
  "/static/console.css",
  "/static/field/field.css",
  "/static/field/leftovers.js",
  "/static/field/app.js",
  "/static/field/icon-192.png",
  "/static/field/icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(VERSION).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== VERSION).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // the app handles the network itself
  if (event.request.mode === "navigate" && url.pathname.startsWith("/field")) {
    // The page first from the network (fresh CSRF token, new version), else the kept one.
    event.respondWith(
      fetch(event.request)
        .then((res) => {
          if (res.ok && !res.redirected) {
            const copy = res.clone();
            caches.open(VERSION).then((cache) => cache.put("/field/", copy));
          }
          return res;
        })
        // Wiped at logout: then nothing (no other agent's page, ever).
        .catch(() => caches.match("/field/").then((kept) => kept || Response.error())));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    // Files: the kept copy at once, refreshed in the background.
    event.respondWith(
      caches.match(event.request).then((kept) => {
        const fresh = fetch(event.request).then((res) => {
          if (res.ok) caches.open(VERSION).then((cache) => cache.put(event.request, res.clone()));
          return res;
        }).catch(() => kept);
        return kept || fresh;
      }));
  }
});
