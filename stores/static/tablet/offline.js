/* The tablet's memory: sales queued while offline, and members seen recently, in IndexedDB.
 *
 * A queued sale keeps the request id it was rung up with; the server applies a request id once, so a
 * sale sent twice (a timeout that did reach the server, two tabs syncing) is still one sale. */
(function () {
  "use strict";
  const DB_NAME = "member-till";
  const DB_VERSION = 1;
  let dbPromise = null;

  function openDb() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise(function (resolve, reject) {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = function () {
        const db = request.result;
        if (!db.objectStoreNames.contains("queue")) {
          const queue = db.createObjectStore("queue", { keyPath: "request_id" });
          queue.createIndex("queued_at", "queued_at");
        }
        if (!db.objectStoreNames.contains("members")) {
          const members = db.createObjectStore("members", { keyPath: "code" });
          members.createIndex("seen_at", "seen_at");
        }
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
    return dbPromise;
  }

  function tx(storeName, mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        const transaction = db.transaction(storeName, mode);
        const store = transaction.objectStore(storeName);
        let result;
        Promise.resolve(work(store)).then(function (value) { result = value; });
        transaction.oncomplete = function () { resolve(result); };
        transaction.onerror = function () { reject(transaction.error); };
        transaction.onabort = function () { reject(transaction.error); };
      });
    });
  }

  function all(storeName) {
    return tx(storeName, "readonly", function (store) {
      return new Promise(function (resolve) {
        const request = store.getAll();
        request.onsuccess = function () { resolve(request.result); };
      });
    });
  }

  function newRequestId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function csrfToken() {
    // The cookie, not a token rendered into the page: the service worker may serve a page cached hours ago.
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function sha256Hex(text) {
    if (!window.crypto || !crypto.subtle) return "";
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  // Mainland numbers as the server stores them (E.164); a typed 11-digit 1xx number gets +86.
  function phoneE164(text) {
    const digits = String(text || "").replace(/[\s\-()]/g, "");
    if (/^1\d{10}$/.test(digits)) return "+86" + digits;
    if (/^861\d{10}$/.test(digits)) return "+" + digits;
    if (/^\+\d{8,15}$/.test(digits)) return digits;
    return "";
  }

  const Queue = {
    add: function (entry) {
      entry.queued_at = entry.queued_at || new Date().toISOString();
      entry.state = entry.state || "waiting";
      return tx("queue", "readwrite", function (store) { store.put(entry); });
    },
    all: function () {
      return all("queue").then(function (rows) {
        return rows.sort(function (a, b) { return a.queued_at < b.queued_at ? -1 : 1; });
      });
    },
    remove: function (requestId) { return tx("queue", "readwrite", function (store) { store.delete(requestId); }); },
    update: function (entry) { return tx("queue", "readwrite", function (store) { store.put(entry); }); },
  };

  const Members = {
    remember: function (member) {
      member.seen_at = Date.now();
      return tx("members", "readwrite", function (store) { store.put(member); });
    },
    get: function (code) {
      return tx("members", "readonly", function (store) {
        return new Promise(function (resolve) {
          const request = store.get(code);
          request.onsuccess = function () { resolve(request.result || null); };
        });
      });
    },
    // Forget members not seen for `hours`: the device keeps personal data no longer than a shift needs.
    forgetOlderThan: function (hours) {
      const limit = Date.now() - hours * 3600 * 1000;
      return tx("members", "readwrite", function (store) {
        const request = store.index("seen_at").openCursor(IDBKeyRange.upperBound(limit));
        request.onsuccess = function () {
          const cursor = request.result;
          if (cursor) { cursor.delete(); cursor.continue(); }
        };
      });
    },
    search: async function (text, hours) {
      const query = String(text || "").trim();
      if (!query) return [];
      const limit = Date.now() - hours * 3600 * 1000;
      const e164 = phoneE164(query);
      const phoneKey = e164 ? await sha256Hex(e164) : "";
      const lower = query.toLowerCase();
      const rows = await all("members");
      return rows.filter(function (m) {
        if (m.seen_at < limit) return false;
        if (phoneKey && m.phone_key === phoneKey) return true;
        if (m.code && (m.code.toLowerCase() === lower || m.code.toLowerCase().startsWith(lower))) return true;
        if (m.qr && m.qr === query) return true;
        return m.name && m.name.toLowerCase().includes(lower);
      }).slice(0, 20);
    },
  };

  // Send what is queued, oldest first, with the logged-in staff member's session.
  let syncing = null;
  async function sync(options) {
    if (syncing) return syncing;
    syncing = (async function () {
      const body = document.body;
      const api = body.dataset.salesApi;
      const user = body.dataset.user;
      const report = { sent: 0, flagged: 0, failed: [], needLogin: false, otherStaff: 0, offline: false };
      const entries = await Queue.all();
      for (const entry of entries) {
        if (entry.state === "refused") { report.failed.push(entry); continue; }
        if (String(entry.user) !== String(user)) { report.otherStaff += 1; continue; }
        let response;
        try {
          response = await fetch(api, {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), "Accept": "application/json" },
            body: JSON.stringify(Object.assign({}, entry.payload, { offline: true })),
          });
        } catch (error) {
          report.offline = true;
          break;
        }
        // A session that expired (401) or a login that may not sell here (403): keep the sale queued.
        if (response.status === 401 || response.status === 403) { report.needLogin = true; break; }
        if (response.ok) {
          const sale = await response.json();
          if (sale.review_reasons && sale.review_reasons.length) report.flagged += 1;
          await Queue.remove(entry.request_id);
          report.sent += 1;
          continue;
        }
        if (response.status >= 500) { report.offline = true; break; }
        // Refused for the sale itself (not for what changed meanwhile): keep it for the manager to see.
        const answer = await response.json().catch(function () { return {}; });
        entry.state = "refused";
        entry.error = answer.message || String(response.status);
        await Queue.update(entry);
        report.failed.push(entry);
      }
      if (options && options.onDone) options.onDone(report);
      return report;
    })();
    try { return await syncing; } finally { syncing = null; }
  }

  window.TabletStore = { Queue: Queue, Members: Members, sync: sync, newRequestId: newRequestId, csrfToken: csrfToken, phoneE164: phoneE164 };
})();
