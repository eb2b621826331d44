/* The tablet's service worker (rendered by stores.views.service_worker). Version {{ version }}.
 * It keeps the app shell: the pages a cashier needs offline and their assets. Pages come from the
 * network first so they are always current when there is one; API calls are never cached. */
"use strict";
const CACHE = "member-till-{{ version }}";
const PAGES = [{% for url in pages %}"{{ url|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];
const ASSETS = [{% for url in assets %}"{{ url|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];
const OFFLINE = "{{ offline_url|escapejs }}";
const SCOPE = "{{ scope|escapejs }}";

async function keep(cache, url) {
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  // A page that sent us to the login page is not the page: keep nothing rather than the wrong thing.
  if (response.ok && !response.redirected) await cache.put(url, response);
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(ASSETS.concat(PAGES).map(function (url) { return keep(cache, url).catch(function () {}); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name.startsWith("member-till-") && name !== CACHE; })
      .map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (ASSETS.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then(function (hit) { return hit || fetch(request); }));
    return;
  }
  if (request.mode !== "navigate" || !url.pathname.startsWith(SCOPE)) return;
  event.respondWith((async function () {
    try {
      const response = await fetch(request);
      if (response.ok && !response.redirected && PAGES.includes(url.pathname) && !url.search) {
        const copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return response;
    } catch (error) {
      const cache = await caches.open(CACHE);
      if (PAGES.includes(url.pathname)) {
        const page = await cache.match(url.pathname);
        if (page) return page;
      }
      return (await cache.match(OFFLINE)) || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
    }
  })());
});
