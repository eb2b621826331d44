/* Every tablet page: the service worker, the offline banner, the queue of sales and its syncing,
 * remembering the members opened (forgotten at logout), and forms that submit once however often
 * they are tapped. */
(function () {
  "use strict";
  const body = document.body;
  const store = window.TabletStore;
  const text = JSON.parse((document.getElementById("tablet-text") || {}).textContent || "{}");
  const hours = Number(body.dataset.offlineHours || 12);
  let online = navigator.onLine;

  function format(message, values) {
    // Django's %(name)s, or {name} where a template's {% translate %} cannot hold a % sign.
    return String(message || "").replace(/%\((\w+)\)s|\{(\w+)\}/g, function (_, a, b) {
      const name = a || b;
      return values && name in values ? values[name] : "";
    });
  }

  function banner(message, bad) {
    const element = document.getElementById("sync-banner");
    if (!element) return;
    if (!message) { element.hidden = true; return; }
    element.textContent = message;
    element.classList.toggle("bad", !!bad);
    element.hidden = false;
  }

  function setOnline(value) {
    online = value;
    const element = document.getElementById("net-banner");
    if (element) element.hidden = value;
    body.classList.toggle("is-offline", !value);
    document.dispatchEvent(new CustomEvent("tablet:network", { detail: { online: value } }));
    if (value) syncNow();
  }

  async function refreshQueue() {
    if (!store) return;
    const entries = await store.Queue.all().catch(function () { return []; });
    const button = document.getElementById("queue-button");
    const count = document.getElementById("queue-count");
    if (count) count.textContent = String(entries.length);
    if (button) button.hidden = entries.length === 0;
    const list = document.getElementById("queue-list");
    if (list) {
      list.replaceChildren();
      entries.forEach(function (entry) {
        const item = document.createElement("li");
        const when = new Date(entry.queued_at).toLocaleTimeString();
        item.textContent = when + " · ¥" + entry.total + (entry.member_name ? " · " + entry.member_name : "") +
          (entry.state === "refused" ? " · " + format(text.failed, { message: entry.error }) : "");
        if (entry.state === "refused") {
          // Kept, never dropped: once the cause is fixed (a member unfrozen, say) it can be sent again.
          const retry = document.createElement("button");
          retry.type = "button";
          retry.textContent = entry.code === "request_id_reused" ? text.retry_as_new : text.retry;
          retry.addEventListener("click", async function () {
            await store.Queue.retry(entry);
            syncNow();
          });
          item.appendChild(retry);
        }
        list.appendChild(item);
      });
    }
    return entries.length;
  }

  async function syncNow() {
    if (!store || !online) return;
    const report = await store.sync().catch(function () { return null; });
    if (!report) return;
    if (report.offline) setOnline(false);
    const messages = [];
    let bad = false;
    if (report.sent) messages.push(format(text.synced, { count: report.sent }));
    if (report.flagged) { messages.push(text.flagged); bad = true; }
    if (report.failed.length) { messages.push(format(text.failed, { message: report.failed[0].error })); bad = true; }
    if (report.needLogin) {
      const waiting = await store.Queue.all();
      messages.push(format(text.login_to_sync, { count: waiting.length }));
      bad = true;
    }
    if (report.otherStaff) messages.push(format(text.other_staff, { count: report.otherStaff }));
    if (messages.length) banner(messages.join(" "), bad);
    refreshQueue();
    document.dispatchEvent(new CustomEvent("tablet:synced", { detail: report }));
  }

  function rememberMembersShown() {
    if (!store) return;
    document.querySelectorAll('script[type="application/json"][data-member]').forEach(function (element) {
      try { store.Members.remember(JSON.parse(element.textContent)); } catch (error) { /* a broken cache entry is only a cache miss */ }
    });
  }

  // Logging out forgets the members this tablet kept (the queue stays: its sales wait for their cashier).
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.matches("form[data-logout]") || !store || form.dataset.forgotten) return;
    event.preventDefault();
    form.dataset.forgotten = "1";
    const leave = function () { form.submit(); };
    Promise.race([store.Members.clear(), new Promise(function (resolve) { setTimeout(resolve, 2000); })]).then(leave, leave);
  });

  // A second tap on a form that is already on its way does nothing; the request id makes a resubmit safe anyway.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.matches("form[data-once]")) return;
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    setTimeout(function () { form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) { b.disabled = true; }); }, 0);
  });
  // Back to a page from the browser's cache: its forms may be used again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) document.querySelectorAll("form[data-sent]").forEach(function (form) {
      delete form.dataset.sent;
      form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
    });
  });

  window.addEventListener("online", function () { setOnline(true); });
  window.addEventListener("offline", function () { setOnline(false); });
  document.addEventListener("tablet:queued", refreshQueue);
  document.addEventListener("htmx:afterSwap", rememberMembersShown);

  document.addEventListener("DOMContentLoaded", function () {
    if ("serviceWorker" in navigator && body.dataset.sw && body.dataset.user) {
      navigator.serviceWorker.register(body.dataset.sw, { scope: body.dataset.scope }).catch(function () {});
    }
    const queueButton = document.getElementById("queue-button");
    if (queueButton) queueButton.addEventListener("click", function () { refreshQueue(); document.getElementById("queue-dialog").showModal(); });
    const syncButton = document.getElementById("queue-sync");
    if (syncButton) syncButton.addEventListener("click", syncNow);
    setOnline(navigator.onLine);
    // Nobody logged in (the login page, a session that ended): nobody's members stay on the tablet.
    if (store && !body.dataset.user) store.Members.clear().catch(function () {});
    rememberMembersShown();
    if (store) store.Members.forgetOlderThan(hours).catch(function () {});
    refreshQueue();
    setInterval(function () { if (navigator.onLine) { if (!online) setOnline(true); else syncNow(); } }, 15000);
  });

  window.Tablet = {
    text: text, format: format, banner: banner, refreshQueue: refreshQueue, syncNow: syncNow,
    isOnline: function () { return online && navigator.onLine; }, setOnline: setOnline, hours: hours,
  };
})();
