/* Find a member: typed (htmx asks the server as you type), scanned with the camera where the browser
 * has BarcodeDetector, or, offline, among the members this tablet opened in the last hours. */
(function () {
  "use strict";
  const form = document.getElementById("find-form");
  const input = document.getElementById("q");
  const results = document.getElementById("results");
  if (!form || !input) return;

  function codeOfQr(text) {
    // A member's QR is "MBR1.<code>.<minute>.<signature>"; offline only the code can be used.
    const parts = String(text).split(".");
    return parts[0] === "MBR1" && parts.length === 4 ? parts[1] : text;
  }

  async function searchOffline() {
    const found = await window.TabletStore.Members.search(codeOfQr(input.value), window.Tablet.hours);
    const template = document.getElementById("offline-result");
    const list = document.createElement("ul");
    list.className = "results";
    found.forEach(function (member) {
      const item = template.content.cloneNode(true);
      const link = item.querySelector("a");
      link.href = link.dataset.href + encodeURIComponent(member.code);
      item.querySelector(".name").textContent = member.name;
      item.querySelector(".meta").textContent = member.phone + " · " + member.code;
      const tier = item.querySelector(".pill");
      tier.textContent = member.tier ? member.tier.name : "";
      tier.hidden = !member.tier;
      list.appendChild(item);
    });
    const note = document.createElement("p");
    note.className = "msg warning";
    note.textContent = found.length ? window.Tablet.text.offline_results : window.Tablet.text.no_results;
    results.replaceChildren(note, list);
  }

  // Offline the server cannot answer: look in the tablet's own memory instead.
  form.addEventListener("submit", function (event) {
    if (!window.Tablet.isOnline()) { event.preventDefault(); searchOffline(); }
  });
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt === form) {
      if (!window.Tablet.isOnline()) { event.preventDefault(); if (input.value.trim()) searchOffline(); return; }
    }
  });
  document.body.addEventListener("htmx:configRequest", function (event) {
    // Typing lists matches; only Enter or a scan jumps straight to the card.
    if (event.detail.elt === form) delete event.detail.parameters.go;
  });
  document.body.addEventListener("htmx:sendError", function (event) {
    if (event.detail.elt === form) { window.Tablet.setOnline(false); searchOffline(); }
  });

  const scanButton = document.getElementById("scan-button");
  const scanner = document.getElementById("scanner");
  const video = document.getElementById("scanner-video");
  let stream = null;
  function stopScanning() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    scanner.classList.add("hidden");
  }
  if ("BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    scanButton.hidden = false;
    scanButton.addEventListener("click", async function () {
      try {
        const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
        video.srcObject = stream;
        await video.play();
        scanner.classList.remove("hidden");
        const look = async function () {
          if (!stream) return;
          const codes = await detector.detect(video).catch(function () { return []; });
          if (codes.length) {
            input.value = codes[0].rawValue;
            stopScanning();
            form.requestSubmit();
            return;
          }
          requestAnimationFrame(look);
        };
        look();
      } catch (error) {
        stopScanning();
        const hint = document.getElementById("scan-hint");
        hint.textContent = window.Tablet.text.camera_unavailable;
        hint.hidden = false;
      }
    });
    document.getElementById("scan-stop").addEventListener("click", stopScanning);
  }
})();
