/* The tablet's memory: sales queued while offline, and members opened recently, in IndexedDB; the
 * request ids already spent, in localStorage.
 *
 * A queued sale keeps the request id it was rung up with; the server applies a request id once, so a
 * sale sent twice (a timeout that did reach the server, two tabs syncing) is still one sale. The other
 * half of that promise is here: a request id, once sent or queued, is never used for another sale. The
 * queue never replaces an entry, and the spent ids tell the sell page which drafts are finished sales. */
(function () {
  "use strict";
  const DB_NAME = "member-till";
  // 2: members are kept with a masked phone and its offline tag; version 1 kept a fast hash of the phone.
  const DB_VERSION = 2;
  let dbPromise = null;

  function openDb() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise(function (resolve, reject) {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = function (event) {
        const db = request.result;
        if (!db.objectStoreNames.contains("queue")) {
          const queue = db.createObjectStore("queue", { keyPath: "request_id" });
          queue.createIndex("queued_at", "queued_at");
        }
        if (!db.objectStoreNames.contains("members")) {
          const members = db.createObjectStore("members", { keyPath: "code" });
          members.createIndex("seen_at", "seen_at");
        } else if (event.oldVersion < 2) {
          // Their phone hashes give the phones away (10,000 guesses each): gone, the queue untouched.
          request.transaction.objectStore("members").clear();
        }
      };
      request.onsuccess = function () {
        const db = request.result;
        // A newer page upgrading the database waits for this one to let go.
        db.onversionchange = function () { db.close(); dbPromise = null; };
        resolve(db);
      };
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

  // A typed phone as the server stores it (E.164), for the usual ways of typing a mainland mobile: full-
  // width digits, spaces and dashes, +86 / 0086 / 86 in front; "" if it is not one.
  function phoneE164(text) {
    const digits = String(text || "").normalize("NFKC").replace(/[\s\-().·]/g, "").replace(/^00(?=[1-9])/, "+");
    if (/^1\d{10}$/.test(digits)) return "+86" + digits;
    if (/^861\d{10}$/.test(digits)) return "+" + digits;
    if (/^\+\d{8,15}$/.test(digits)) return digits;
    return "";
  }

  // members.phones.mask_phone and offline_phone_tag, which say why the device keeps no more than these.
  const TAG_MODULUS = 61;
  function nationalDigits(e164) { return e164.startsWith("+86") ? e164.slice(3) : e164; }
  function maskPhone(e164) {
    const digits = nationalDigits(e164);
    if (digits.length < 7) return "*".repeat(digits.length);
    return digits.slice(0, 3) + "*".repeat(digits.length - 7) + digits.slice(-4);
  }
  function phoneTag(e164) {
    const digits = nationalDigits(e164);
    const hidden = (digits.length < 7 ? digits : digits.slice(3, -4)).replace(/\D/g, "");
    let tag = 0;
    for (const digit of hidden) tag = (tag * 10 + Number(digit)) % TAG_MODULUS;
    return tag;
  }

  // The sale itself, whenever and however often it was sent: the server hashes the same fields.
  function saleKey(payload) {
    function canonical(value) {
      if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
      if (value && typeof value === "object") {
        return "{" + Object.keys(value).sort().map(function (k) { return JSON.stringify(k) + ":" + canonical(value[k]); }).join(",") + "}";
      }
      return JSON.stringify(value === undefined ? null : value);
    }
    const sale = Object.assign({}, payload || {});
    delete sale.client_time;
    delete sale.offline;
    return canonical(sale);
  }

  function queueError(name, message) {
    const error = new Error(message);
    error.name = name;
    return error;
  }

  // While the sell page is sending an entry itself, a sync leaves it alone for this long (the page
  // gives up on an answer after 10 s); a page that died meanwhile leaves it to the next sync.
  const LEASE_MS = 30000;

  const Queue = {
    LEASE_MS: LEASE_MS,
    // Resolves "added", or "kept" when the same sale is already queued under this id; rejects with a
    // QueueConflict when another sale is: the first is kept, never replaced (IndexedDB add, not put).
    add: function (entry) {
      entry.queued_at = entry.queued_at || new Date().toISOString();
      entry.state = entry.state || "waiting";
      return openDb().then(function (db) {
        return new Promise(function (resolve, reject) {
          const transaction = db.transaction("queue", "readwrite");
          const store = transaction.objectStore("queue");
          let outcome = "added";
          const request = store.add(entry);
          request.onerror = function (event) {
            if (!request.error || request.error.name !== "ConstraintError") return;
            event.preventDefault(); // the transaction goes on: look at what holds the id
            event.stopPropagation();
            const held = store.get(entry.request_id);
            held.onsuccess = function () {
              outcome = held.result && saleKey(held.result.payload) === saleKey(entry.payload) ? "kept" : "conflict";
            };
          };
          transaction.oncomplete = function () {
            if (outcome === "conflict") reject(queueError("QueueConflict", "another sale is queued under " + entry.request_id));
            else resolve(outcome);
          };
          transaction.onerror = function () { reject(transaction.error); };
          transaction.onabort = function () { reject(transaction.error); };
        });
      });
    },
    all: function () {
      return all("queue").then(function (rows) {
        return rows.sort(function (a, b) { return a.queued_at < b.queued_at ? -1 : 1; });
      });
    },
    get: function (requestId) {
      return tx("queue", "readonly", function (store) {
        return new Promise(function (resolve) {
          const request = store.get(requestId);
          request.onsuccess = function () { resolve(request.result || null); };
        });
      });
    },
    remove: function (requestId) { return tx("queue", "readwrite", function (store) { store.delete(requestId); }); },
    // The entry's state, error and lease; never its sale, and never an entry that was sent meanwhile.
    setState: function (requestId, fields) {
      return tx("queue", "readwrite", function (store) {
        const request = store.get(requestId);
        request.onsuccess = function () {
          const entry = request.result;
          if (!entry) return;
          Object.keys(fields).forEach(function (key) {
            if (key === "payload" || key === "request_id") return;
            if (fields[key] === undefined) delete entry[key]; else entry[key] = fields[key];
          });
          store.put(entry);
        };
      });
    },
    // A refused entry sent again. Refused because its request id already stands for another sale on
    // the server (only an older tablet could queue that), it was never recorded: it goes as a new sale.
    retry: function (entry) {
      if (entry.code !== "request_id_reused") return Queue.setState(entry.request_id, { state: "waiting", error: undefined, code: undefined });
      const requestId = newRequestId();
      Spent.add(requestId);
      const fresh = Object.assign({}, entry, { request_id: requestId, payload: Object.assign({}, entry.payload, { request_id: requestId }), state: "waiting" });
      delete fresh.error;
      delete fresh.code;
      return tx("queue", "readwrite", function (store) { store.delete(entry.request_id); store.add(fresh); });
    },
  };

  // Request ids sent or queued by this tablet (every tab), with when: a draft carrying one is a sale
  // already rung up. Kept a week; a draft lives in one tab's sessionStorage and is forgotten when sent.
  const SPENT_KEY = "tablet.spent-request-ids";
  const SPENT_DAYS = 7;
  const SPENT_MAX = 1000;
  const spentHere = {}; // also in the page, should localStorage refuse (private mode, full)
  function readSpent() {
    try {
      const ids = JSON.parse(localStorage.getItem(SPENT_KEY) || "{}");
      return ids && typeof ids === "object" ? ids : {};
    } catch (error) { return {}; }
  }
  const Spent = {
    has: function (requestId) {
      return !!requestId && (Object.prototype.hasOwnProperty.call(spentHere, requestId) || Object.prototype.hasOwnProperty.call(readSpent(), requestId));
    },
    add: function (requestId) {
      const now = Date.now();
      const limit = now - SPENT_DAYS * 24 * 3600 * 1000;
      const ids = readSpent();
      ids[requestId] = now;
      spentHere[requestId] = now;
      let kept = Object.keys(ids).filter(function (id) { return ids[id] >= limit; });
      kept.sort(function (a, b) { return ids[b] - ids[a]; });
      kept = kept.slice(0, SPENT_MAX);
      const pruned = {};
      kept.forEach(function (id) { pruned[id] = ids[id]; });
      try { localStorage.setItem(SPENT_KEY, JSON.stringify(pruned)); } catch (error) { /* kept in the page */ }
    },
    // Only for a sale the server refused outright: nothing was recorded under its id.
    remove: function (requestId) {
      delete spentHere[requestId];
      const ids = readSpent();
      if (!(requestId in ids)) return;
      delete ids[requestId];
      try { localStorage.setItem(SPENT_KEY, JSON.stringify(ids)); } catch (error) { /* nothing to undo */ }
    },
  };

  const Members = {
    // Only what the server gave the tablet to keep (its phone masked, with the tag): never a full phone.
    remember: function (member) {
      if (!member || !member.code || !member.phone_masked) return Promise.resolve();
      member.seen_at = Date.now();
      return tx("members", "readwrite", function (store) { store.put(member); });
    },
    // At logout and on the login page: the next person at this tablet finds nobody the last one opened.
    clear: function () { return tx("members", "readwrite", function (store) { store.clear(); }); },
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
      const masked = e164 ? maskPhone(e164) : "";
      const tag = e164 ? phoneTag(e164) : -1;
      const lower = query.toLowerCase();
      const rows = await all("members");
      return rows.filter(function (m) {
        if (m.seen_at < limit) return false;
        if (e164 && m.phone === masked && m.phone_tag === tag) return true;
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
        if (entry.state === "sending" && (entry.lease_until || 0) > Date.now()) continue; // the sell page is sending it
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
          Spent.add(entry.request_id);
          await Queue.remove(entry.request_id);
          report.sent += 1;
          continue;
        }
        // The server is down or asks the till to slow down (429): the queue waits for the next round.
        if (response.status >= 500 || response.status === 429) { report.offline = true; break; }
        // Refused for the sale itself (not for what changed meanwhile): keep it for the manager to see.
        const answer = await response.json().catch(function () { return {}; });
        entry.state = "refused";
        entry.error = answer.message || String(response.status);
        entry.code = answer.code || "";
        await Queue.setState(entry.request_id, { state: entry.state, error: entry.error, code: entry.code });
        report.failed.push(entry);
      }
      if (options && options.onDone) options.onDone(report);
      return report;
    })();
    try { return await syncing; } finally { syncing = null; }
  }

  window.TabletStore = {
    Queue: Queue, Spent: Spent, Members: Members, sync: sync, newRequestId: newRequestId, csrfToken: csrfToken,
    phoneE164: phoneE164, maskPhone: maskPhone, phoneTag: phoneTag,
  };
})();
