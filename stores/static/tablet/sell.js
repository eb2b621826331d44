/* The sell page: lines → tier discount → coupon → points → stored value and one other tender.
 *
 * Online, every change asks the server for a quote (POST /api/v1/sales/quote/: checkout's own pricing,
 * so what the confirmation shows is what the sale records) and the sale goes to POST /api/v1/sales/.
 * Offline, the page estimates from the member kept on the tablet and queues the sale in IndexedDB
 * with its request id; the server prices it again when it is sent.
 *
 * The draft (and its request id) lives in sessionStorage: a reload, a double tap or an expired session
 * in the middle of a sale never rings it up twice. A confirmed sale goes into the queue first (online
 * too, marked as being sent, so a page that dies waiting for the answer leaves it to the next sync),
 * then its request id is spent and its draft forgotten, before any answer: no reload, back button or
 * late event brings a finished sale back, and its id is never used for another one. Only a refusal,
 * which proves the server recorded nothing, gives the draft its id back. */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("sell-config").textContent);
  const words = JSON.parse(document.getElementById("sell-text").textContent);
  const T = window.Tablet;
  const S = window.TabletStore;
  const DRAFT_KEY = "tablet.sale-draft";
  const $ = function (id) { return document.getElementById(id); };

  // Money in integer cents, rounded half up as the server's money() does.
  function cents(text) {
    const value = String(text == null ? "" : text).trim().replace(",", ".");
    if (!/^\d{0,7}(\.\d{0,2})?$/.test(value) || value === "" || value === ".") return null;
    return Math.round(parseFloat(value) * 100);
  }
  function yuan(amount) { return (amount / 100).toFixed(2); }
  function quantityOf(text) {
    const value = String(text || "").trim();
    if (!/^\d{1,6}(\.\d{1,3})?$/.test(value)) return null;
    return parseFloat(value);
  }

  const params = new URLSearchParams(location.search);
  let memberCode = params.get("member") || "";
  let member = config.member;
  let quote = null;
  let estimated = false;
  let draft = loadDraft();

  function newDraft() {
    return {
      request_id: S.newRequestId(), member: memberCode, store: config.store,
      lines: [{ category: config.categories[0] || "", unit_price: "", quantity: "1" }],
      coupon: "", points: 0, stored_value: "0.00", tender: config.tenders[0].kind,
    };
  }
  function loadDraft() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null");
      if (saved && saved.member === memberCode && saved.store === config.store && saved.request_id && !S.Spent.has(saved.request_id)) return saved;
    } catch (error) { /* a broken draft is a new sale */ }
    return newDraft();
  }
  function saveDraft() {
    // A late quote, a network change or a tap after the sale left never writes its request id back.
    if (S.Spent.has(draft.request_id)) return;
    try { sessionStorage.setItem(DRAFT_KEY, JSON.stringify(draft)); } catch (error) { /* the draft lives in the page only */ }
  }
  function spend(requestId) {
    S.Spent.add(requestId);
    try { sessionStorage.removeItem(DRAFT_KEY); } catch (error) { /* nothing kept, nothing to forget */ }
  }
  // Only for a refusal: the server recorded nothing under the id, so the same sale may go again with it.
  function unspend(requestId) {
    S.Spent.remove(requestId);
    saveDraft();
  }
  function renewRequestId() {
    draft.request_id = S.newRequestId();
    saveDraft();
  }

  // --- lines -------------------------------------------------------------------------------------
  function renderLines() {
    const box = $("lines");
    box.replaceChildren();
    draft.lines.forEach(function (line, index) {
      const row = $("line-template").content.firstElementChild.cloneNode(true);
      const select = row.querySelector("select");
      const categories = config.categories.includes(line.category) || !line.category ? config.categories : config.categories.concat([line.category]);
      categories.forEach(function (name) { const option = new Option(name, name); select.add(option); });
      select.value = line.category;
      row.querySelector("[name=unit_price]").value = line.unit_price;
      row.querySelector("[name=quantity]").value = line.quantity;
      row.addEventListener("input", function (event) {
        line[event.target.name] = event.target.value;
        changed();
      });
      row.querySelector(".remove").addEventListener("click", function () {
        if (draft.lines.length > 1) { draft.lines.splice(index, 1); renderLines(); changed(); }
      });
      box.appendChild(row);
    });
  }

  function linesPayload() {
    const lines = [];
    for (const line of draft.lines) {
      const price = cents(line.unit_price);
      const quantity = quantityOf(line.quantity);
      if (price === null || quantity === null || quantity <= 0) return null;
      lines.push({ category: line.category, quantity: String(quantity), unit_price: yuan(price) });
    }
    return lines.length ? lines : null;
  }

  // --- member, coupons, points, stored value ------------------------------------------------------
  function renderMember() {
    const box = $("member-box");
    if (!member) {
      box.textContent = words.no_member;
      $("member-tools").classList.add("hidden");
      if (memberCode) $("member-missing").classList.remove("hidden");
      return;
    }
    box.replaceChildren();
    const link = document.createElement("a");
    link.href = config.urls.member.replace("CODE", encodeURIComponent(member.code));
    link.textContent = member.name + (member.tier ? " · " + member.tier.name : "");
    box.appendChild(link);
    $("member-tools").classList.remove("hidden");
    const coupons = $("coupons");
    coupons.replaceChildren();
    [{ code: "", name: words.no_coupon }].concat(member.coupons || []).forEach(function (coupon) {
      const label = document.createElement("label");
      label.className = "coupon";
      const radio = document.createElement("input");
      radio.type = "radio"; radio.name = "coupon"; radio.value = coupon.code;
      radio.checked = draft.coupon === coupon.code;
      const usableOffline = !coupon.code || coupon.kind !== "gift";
      label.dataset.offlineOk = usableOffline ? "1" : "";
      radio.addEventListener("change", function () { draft.coupon = coupon.code; $("coupon-error").textContent = ""; changed(); });
      label.appendChild(radio);
      label.appendChild(document.createTextNode(coupon.name + (coupon.code ? " · " + coupon.code : "")));
      coupons.appendChild(label);
    });
    $("sv-hint").textContent = T.format(words.sv_hint, { balance: member.stored_value.total });
    // Fewer points than one step buys nothing: no slider that can only stay at zero.
    const hasPoints = ((member.points && member.points.available) || 0) >= Math.max(1, config.policy.step);
    $("points-box").classList.toggle("hidden", !hasPoints);
    if (!hasPoints) draft.points = 0;
  }

  // --- pricing ------------------------------------------------------------------------------------
  function estimate(lines) {
    // What the server would say, from what the tablet knows; only used offline.
    const policy = config.policy;
    const amounts = lines.map(function (line) { return Math.round(parseFloat(line.quantity) * parseFloat(line.unit_price) * 100); });
    const subtotal = amounts.reduce(function (a, b) { return a + b; }, 0);
    const percent = member && member.tier ? parseFloat(member.tier.discount_percent || 0) : 0;
    const tier = Math.round(subtotal * percent / 100);
    let due = subtotal - tier;
    let coupon = 0;
    const chosen = member && draft.coupon ? (member.coupons || []).find(function (c) { return c.code === draft.coupon; }) : null;
    if (chosen && chosen.kind !== "gift") {
      const eligible = lines.reduce(function (sum, line, i) {
        return !chosen.categories.length || chosen.categories.includes(line.category) ? sum + Math.round(amounts[i] * (1 - percent / 100)) : sum;
      }, 0);
      const threshold = chosen.threshold ? cents(chosen.threshold) : 0;
      if (eligible >= threshold) {
        if (chosen.kind === "percent_off") {
          coupon = Math.round(eligible * parseFloat(chosen.percent_off) / 100);
          if (chosen.max_discount) coupon = Math.min(coupon, cents(chosen.max_discount));
        } else {
          coupon = Math.min(cents(chosen.amount) || 0, eligible);
        }
      }
    }
    due -= coupon;
    const available = member ? member.points.available : 0;
    const capValue = Math.floor(due * parseFloat(policy.max_share));
    let maxPoints = Math.min(available, Math.floor(capValue * policy.points_per_yuan / 100));
    maxPoints -= maxPoints % policy.step;
    const points = Math.min(draft.points, Math.max(0, maxPoints));
    const pointsValue = Math.floor(points * 100 / policy.points_per_yuan);
    return {
      subtotal: subtotal, tier_discount: tier, coupon_discount: coupon, points_to_redeem: points,
      points_value: pointsValue, max_points: Math.max(0, maxPoints), total_due: due - pointsValue, points_earned: null,
      stored_value_available: member ? cents(member.stored_value.total) : 0,
    };
  }

  function fromServer(answer) {
    return {
      subtotal: cents(answer.subtotal), tier_discount: cents(answer.tier_discount), coupon_discount: cents(answer.coupon_discount),
      points_to_redeem: answer.points_to_redeem, points_value: cents(answer.points_value), max_points: answer.max_points,
      total_due: cents(answer.total_due), points_earned: answer.points_earned,
      stored_value_available: cents(answer.stored_value_available || "0"),
    };
  }

  function post(url, payload, timeoutMs) {
    const controller = new AbortController();
    const timer = setTimeout(function () { controller.abort(); }, timeoutMs || 10000);
    return fetch(url, {
      method: "POST", credentials: "same-origin", signal: controller.signal,
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": S.csrfToken() },
      body: JSON.stringify(payload),
    }).finally(function () { clearTimeout(timer); });
  }

  function quotePayload(lines) {
    // What the wallet pays changes the points earned (bonus value earns none): the quote needs it.
    const wallet = member ? Math.min(cents(draft.stored_value) || 0, cents(member.stored_value.total) || 0) : 0;
    return {
      store: config.store, member: member ? member.code : null, lines: lines,
      coupon_codes: draft.coupon ? [draft.coupon] : [], points: draft.points, stored_value: yuan(wallet),
    };
  }

  let quoteTimer = null;
  let quoteSeq = 0;
  // A change not priced yet: checkout waits, so the cashier never confirms the totals from before it.
  let pricing = false;
  function changed() {
    saveDraft();
    $("sell-error").textContent = "";
    pricing = true;
    $("checkout").disabled = true;
    clearTimeout(quoteTimer);
    quoteTimer = setTimeout(requote, 200);
  }

  async function requote() {
    const lines = linesPayload();
    if (!lines) { pricing = false; quote = null; render(); return; }
    if (!T.isOnline()) { pricing = false; quote = estimate(lines); estimated = true; render(); return; }
    const seq = ++quoteSeq;
    let response;
    try { response = await post(config.urls.quote, quotePayload(lines), 6000); } catch (error) {
      T.setOnline(false);
      quote = estimate(lines); estimated = true; render(); return;
    }
    if (seq !== quoteSeq) return;
    pricing = false;
    const answer = await response.json().catch(function () { return {}; });
    if (response.ok) { quote = fromServer(answer); estimated = false; render(); return; }
    if (response.status === 401) { sessionExpired(); return; }
    if (answer.field === "coupon" || (answer.code || "").startsWith("coupon")) {
      $("coupon-error").textContent = answer.message; draft.coupon = ""; renderMember(); changed(); return;
    }
    if (answer.field === "points") {
      // Held to what the last quote allowed; with none yet, priced again without points to learn the most.
      $("points-error").textContent = answer.message;
      draft.points = quote && quote.max_points < draft.points ? quote.max_points : 0;
      changed();
      return;
    }
    $("sell-error").textContent = answer.message || "";
    quote = null; render();
  }

  function tenders() {
    if (!quote) return null;
    const balance = member ? quote.stored_value_available : 0;
    const wanted = cents(draft.stored_value) || 0;
    const fromWallet = Math.max(0, Math.min(wanted, balance, quote.total_due));
    const rest = quote.total_due - fromWallet;
    const list = [];
    if (fromWallet > 0) list.push({ kind: "stored_value", amount: yuan(fromWallet) });
    if (rest > 0) list.push({ kind: draft.tender, amount: yuan(rest) });
    return { list: list, fromWallet: fromWallet, rest: rest };
  }

  function render() {
    const q = quote;
    $("t-subtotal").textContent = "¥" + yuan(q ? q.subtotal : 0);
    $("t-tier").textContent = "−¥" + yuan(q ? q.tier_discount : 0);
    $("t-coupon").textContent = "−¥" + yuan(q ? q.coupon_discount : 0);
    $("t-points").textContent = "−¥" + yuan(q ? q.points_value : 0);
    $("t-due").textContent = "¥" + yuan(q ? q.total_due : 0);
    const paid = tenders();
    $("t-sv").textContent = "¥" + yuan(paid ? paid.fromWallet : 0);
    $("t-rest").textContent = "¥" + yuan(paid ? paid.rest : 0);
    const tender = config.tenders.find(function (t) { return t.kind === draft.tender; });
    $("t-rest-label").textContent = tender ? tender.label : "";
    // Offline the estimate cannot know the points earned; with nothing to price there are none.
    $("t-earn").textContent = !member || !q ? "—" : (q.points_earned !== null ? "+" + q.points_earned : T.text.points_later);
    $("estimate-note").hidden = !estimated;
    const slider = $("points");
    if (member && q) {
      slider.max = String(q.max_points);
      slider.step = String(config.policy.step);
      if (draft.points > q.max_points) { draft.points = q.max_points; saveDraft(); }
      slider.value = String(draft.points);
      $("points-number").value = String(draft.points);
      $("points-hint").textContent = T.format(words.points_hint, { available: member.points.available, max: q.max_points });
    }
    document.querySelectorAll("#coupons .coupon").forEach(function (label) {
      const off = estimated && !label.dataset.offlineOk;
      label.classList.toggle("unusable", off);
      label.querySelector("input").disabled = off;
    });
    $("checkout").disabled = !q || pricing;
  }

  // --- checkout -----------------------------------------------------------------------------------
  function salePayload() {
    const lines = linesPayload();
    const paid = tenders();
    return {
      request_id: draft.request_id, store: config.store, member: member ? member.code : null, lines: lines,
      coupon_code: draft.coupon || "", points: quote ? quote.points_to_redeem : 0, tenders: paid ? paid.list : [],
      client_time: new Date().toISOString(),
    };
  }

  function totalsRows(table, q, paid, couponCode) {
    table.replaceChildren();
    const rows = [[words.subtotal, "¥" + yuan(q.subtotal)]];
    if (q.tier_discount) rows.push([words.tier, "−¥" + yuan(q.tier_discount)]);
    if (q.coupon_discount) rows.push([words.coupon + " " + couponCode, "−¥" + yuan(q.coupon_discount)]);
    if (q.points_value) rows.push([words.points + " " + q.points_to_redeem, "−¥" + yuan(q.points_value)]);
    rows.push([words.due, "¥" + yuan(q.total_due), "due"]);
    if (paid.fromWallet) rows.push([words.sv, "¥" + yuan(paid.fromWallet)]);
    const tender = config.tenders.find(function (t) { return t.kind === draft.tender; });
    if (paid.rest) rows.push([tender ? tender.label : "", "¥" + yuan(paid.rest)]);
    if (member) rows.push([words.earn, q.points_earned !== null ? "+" + q.points_earned : T.text.points_later, "earn"]);
    rows.forEach(function (row) {
      const tr = table.insertRow();
      if (row[2]) tr.className = row[2];
      tr.insertCell().textContent = row[0];
      tr.insertCell().textContent = row[1];
    });
  }

  function sessionExpired() {
    saveDraft();
    if ($("confirm").open) $("confirm").close();
    const message = T.text.session_expired;
    const next = location.pathname + location.search;
    $("sell-error").replaceChildren(document.createTextNode(message + " "));
    const link = document.createElement("a");
    link.href = config.urls.login + "?next=" + encodeURIComponent(next);
    link.textContent = words.login;
    link.id = "login-again";
    $("sell-error").appendChild(link);
    $("confirm-error").textContent = message;
  }

  // Into the queue before it is sent: "sending" online (a sync leaves it to this page for a while),
  // "waiting" offline. True when the tablet keeps it; false when it cannot (no IndexedDB here).
  async function keep(payload, online) {
    const entry = {
      request_id: payload.request_id, payload: payload, user: config.user, store: config.store,
      total: yuan(quote.total_due), member_name: member ? member.name : "",
      state: online ? "sending" : "waiting", lease_until: online ? Date.now() + S.Queue.LEASE_MS : 0,
    };
    for (let attempt = 0; attempt < 3; attempt += 1) {
      let outcome;
      try { outcome = await S.Queue.add(entry); } catch (error) {
        if (error.name !== "QueueConflict") return false;
        outcome = "conflict";
      }
      if (outcome === "added") return true;
      // The queue already holds a sale under this id (another tab, or an older version of this page):
      // that one stays as it is; this confirmation is a sale of its own and takes a new id.
      S.Spent.add(entry.request_id);
      renewRequestId();
      entry.request_id = payload.request_id = draft.request_id;
    }
    return false;
  }

  function showQueued(shown) {
    document.dispatchEvent(new CustomEvent("tablet:queued"));
    totalsRows($("queued-totals"), shown.quote, shown.paid, shown.coupon);
    if ($("confirm").open) $("confirm").close();
    $("sell").classList.add("hidden");
    $("queued-receipt").classList.remove("hidden");
  }

  let sending = false;
  async function confirmSale() {
    if (sending) return;
    sending = true;
    $("confirm-sale").disabled = true;
    try {
      if (!quote) { $("confirm-error").textContent = words.enter_price; return; }
      // A duplicated tab carries the same draft: an id another tab already spent is never sent again.
      if (S.Spent.has(draft.request_id)) renewRequestId();
      const payload = salePayload();
      const shown = { quote: quote, paid: tenders(), coupon: draft.coupon };
      const online = T.isOnline();
      const kept = await keep(payload, online);
      const requestId = payload.request_id;
      if (!online) {
        if (!kept) { $("confirm-error").textContent = words.not_kept; return; }
        spend(requestId);
        showQueued(shown);
        return;
      }
      spend(requestId);
      let response;
      try { response = await post(config.urls.checkout, payload, 10000); } catch (error) {
        // No answer: the sale may or may not have reached the server; the queue sends it again under its id.
        T.setOnline(false);
        await waitInQueue(requestId, kept, shown);
        return;
      }
      const answer = await response.json().catch(function () { return {}; });
      if (response.ok) {
        await S.Queue.remove(requestId).catch(function () {});
        location.replace(config.urls.receipt + answer.id + "/" + (response.status === 200 ? "?replayed=1" : ""));
        return;
      }
      // Not recorded, but not refused either (the server failed, or asked the till to slow down): queued.
      if (response.status >= 500 || response.status === 429) { await waitInQueue(requestId, kept, shown); return; }
      // Any other answer is a refusal: nothing was recorded under this id.
      await S.Queue.remove(requestId).catch(function () {});
      if (answer.code === "request_id_reused") {
        // Another device's sale holds this id: this one was not recorded. A new id, and the cashier confirms again.
        renewRequestId();
        $("confirm").close();
        changed();
        $("sell-error").textContent = words.id_reused;
        return;
      }
      unspend(requestId);
      if (response.status === 401) { sessionExpired(); return; }
      $("confirm-error").textContent = answer.message || String(response.status);
      // Another till may have used the points, the coupon or the stored value meanwhile: price it again
      // and let the cashier confirm the new totals, never the ones this dialog showed.
      const field = answer.field || "";
      if (field === "points" || field.startsWith("coupon") || field === "tenders") {
        if (field.startsWith("coupon")) draft.coupon = "";
        if (field === "points") draft.points = 0;
        if (field === "tenders") draft.stored_value = "0.00";
        $("stored-value").value = draft.stored_value;
        $("confirm").close();
        renderMember();
        changed();
        setTimeout(function () { $("sell-error").textContent = answer.message; }, 250);
      }
    } finally {
      sending = false;
      $("confirm-sale").disabled = false;
    }
  }

  async function waitInQueue(requestId, kept, shown) {
    if (!kept) { $("confirm-error").textContent = words.no_answer; return; }
    await S.Queue.setState(requestId, { state: "waiting", lease_until: 0 }).catch(function () {});
    showQueued(shown);
  }

  // A new sale on this page: a new request id and nothing rung up; the member stays.
  function startOver() {
    draft = newDraft();
    quote = null;
    estimated = false;
    if ($("confirm").open) $("confirm").close();
    ["coupon-error", "points-error", "sell-error", "confirm-error"].forEach(function (id) { $(id).textContent = ""; });
    $("queued-receipt").classList.add("hidden");
    $("sell").classList.remove("hidden");
    $("stored-value").value = draft.stored_value;
    $("points").value = $("points-number").value = "0";
    $("points-hint").textContent = "";
    document.querySelectorAll("#tenders input").forEach(function (radio) { radio.checked = radio.value === draft.tender; });
    renderLines();
    renderMember();
    changed();
    const first = document.querySelector("#lines [name=unit_price]");
    if (first) first.focus();
  }

  // --- wiring -------------------------------------------------------------------------------------
  function init() {
    const box = $("tenders");
    config.tenders.forEach(function (tender) {
      const label = document.createElement("label");
      const radio = document.createElement("input");
      radio.type = "radio"; radio.name = "tender"; radio.value = tender.kind; radio.checked = draft.tender === tender.kind;
      radio.addEventListener("change", function () { draft.tender = tender.kind; saveDraft(); render(); });
      const span = document.createElement("span");
      span.textContent = tender.label;
      label.appendChild(radio); label.appendChild(span);
      box.appendChild(label);
    });
    $("add-line").addEventListener("click", function () {
      draft.lines.push({ category: config.categories[0] || "", unit_price: "", quantity: "1" });
      renderLines(); changed();
      const prices = document.querySelectorAll("#lines [name=unit_price]");
      prices[prices.length - 1].focus();
    });
    function setPoints(value) {
      const step = config.policy.step;
      let points = Math.max(0, parseInt(value, 10) || 0);
      points -= points % step;
      if (member) points = Math.min(points, member.points.available - (member.points.available % step));
      if (quote) points = Math.min(points, quote.max_points);
      draft.points = points;
      $("points-error").textContent = "";
      changed();
    }
    $("points").addEventListener("input", function (event) { setPoints(event.target.value); });
    $("points-number").addEventListener("change", function (event) { setPoints(event.target.value); });
    $("stored-value").value = draft.stored_value;
    $("stored-value").addEventListener("input", function (event) { draft.stored_value = event.target.value; changed(); });
    $("sv-all").addEventListener("click", function () {
      if (!quote) return;
      draft.stored_value = yuan(Math.min(quote.stored_value_available, quote.total_due));
      $("stored-value").value = draft.stored_value;
      changed();
    });
    $("checkout").addEventListener("click", function () {
      if (!quote) { $("sell-error").textContent = words.enter_price; return; }
      totalsRows($("confirm-totals"), quote, tenders(), draft.coupon);
      $("confirm-error").textContent = "";
      $("confirm").showModal();
    });
    $("confirm-back").addEventListener("click", function () { $("confirm").close(); });
    // Offline there may be no page to load: the next sale starts here, with a new request id.
    $("queued-new-sale").addEventListener("click", function (event) {
      event.preventDefault();
      memberCode = "";
      member = null;
      history.replaceState(null, "", config.urls.sell);
      $("member-missing").classList.add("hidden");
      startOver();
    });
    $("clear-sale").addEventListener("click", startOver);
    $("confirm-sale").addEventListener("click", confirmSale);
    document.addEventListener("tablet:network", function () { changed(); });
    // Back (or forward) to this page from the browser's cache after its sale left: a new sale, never that one.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted && !sending && S.Spent.has(draft.request_id) && $("queued-receipt").classList.contains("hidden")) startOver();
    });

    renderLines();
    renderMember();
    const first = document.querySelector("#lines [name=unit_price]");
    if (first) first.focus();
    changed();
  }

  async function start() {
    if (member) {
      S.Members.remember(Object.assign({}, member));
    } else if (memberCode) {
      // Offline, the service worker served this page without the member: take them from the tablet's memory.
      member = await S.Members.get(memberCode).catch(function () { return null; });
    }
    // A draft whose sale is in the queue: the page was closed or reloaded right after queueing it,
    // before it could forget the draft. That sale is rung up; this is a new one.
    const queued = await Promise.race([
      S.Queue.get(draft.request_id).catch(function () { return null; }),
      new Promise(function (resolve) { setTimeout(resolve, 3000, null); }),
    ]);
    if (queued) {
      S.Spent.add(draft.request_id);
      draft = newDraft();
    }
    init();
  }
  start();
})();
