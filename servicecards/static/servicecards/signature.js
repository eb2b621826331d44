/* The member's signature on the card-use page: a canvas drawn with a finger, a stylus or a mouse
 * (pointer events), exported as a PNG data URL into the form's hidden "signature" input on every stroke.
 * Also shows only the confirmation the member chose (signature or code) where the chain takes either. */
"use strict";
(function () {
  function setUpPad(pad) {
    const canvas = pad.querySelector("canvas");
    const form = pad.closest("form");
    const input = form.querySelector("input[name=signature]");
    const ctx = canvas.getContext("2d");
    let drawing = false;
    let last = null;

    function fit() {
      // Draw at the screen's pixel density; a resize clears the pad (the member signs again).
      const ratio = window.devicePixelRatio || 1;
      const rect = canvas.getBoundingClientRect();
      canvas.width = Math.round(rect.width * ratio);
      canvas.height = Math.round(rect.height * ratio);
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.lineWidth = 3;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.strokeStyle = "#0f172a";
      clear();
    }
    function clear() {
      ctx.save();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.restore();
      input.value = "";
      pad.classList.remove("signed");
    }
    function point(event) {
      const rect = canvas.getBoundingClientRect();
      return { x: event.clientX - rect.left, y: event.clientY - rect.top };
    }
    canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      drawing = true;
      last = point(event);
      ctx.beginPath();
      ctx.arc(last.x, last.y, 1.2, 0, Math.PI * 2);
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fill();
      pad.classList.add("signed");
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) return;
      event.preventDefault();
      const now = point(event);
      ctx.beginPath();
      ctx.moveTo(last.x, last.y);
      ctx.lineTo(now.x, now.y);
      ctx.stroke();
      last = now;
    });
    function end() {
      if (!drawing) return;
      drawing = false;
      input.value = canvas.toDataURL("image/png");
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("pointerleave", end);
    const clearButton = form.querySelector("[data-signature-clear]");
    if (clearButton) clearButton.addEventListener("click", clear);
    // Fitted when the pad gets its size: on load, when shown (a chain taking either confirmation), on rotation.
    let width = -1;
    new ResizeObserver(function () {
      const now = canvas.getBoundingClientRect().width;
      if (now && now !== width) { width = now; fit(); }
    }).observe(canvas);
  }

  function showChosen(form) {
    const chosen = form.querySelector("input[name=confirmation]:checked") || form.querySelector("input[name=confirmation][type=hidden]");
    form.querySelectorAll("[data-confirm]").forEach(function (part) {
      part.hidden = chosen ? part.dataset.confirm !== chosen.value : false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-signature-pad]").forEach(setUpPad);
    document.querySelectorAll("form").forEach(function (form) {
      if (!form.querySelector("[data-confirm]")) return;
      showChosen(form);
      form.addEventListener("change", function (event) {
        if (event.target.name === "confirmation") showChosen(form);
      });
    });
  });
})();
