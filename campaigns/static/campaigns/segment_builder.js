/* The segment rule builder: add and remove rule rows, show the inputs of the chosen field, and keep the
   live count up to date (debounced) with each rule's error next to it. Without this script the page
   works through its submit buttons. */
(function () {
  "use strict";
  var form = document.getElementById("segment-form");
  if (!form) return;
  var list = document.getElementById("segment-rules");
  var box = document.getElementById("segment-live-count");
  var output = document.getElementById("segment-count");
  var nextKey = parseInt(form.dataset.nextKey, 10) || 0;
  var timer = null;
  var asked = 0;

  function fromTemplate(id, key) {
    var template = document.getElementById(id);
    if (!template) return null;
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.split("__key__").join(String(key)).trim();
    return holder.firstElementChild;
  }

  function setError(row, message) {
    var list = row.querySelector(".rule-error");
    list.firstElementChild.textContent = message || "";
    list.hidden = !message;
    row.classList.toggle("errors", !!message);
  }

  function addRow() {
    var row = fromTemplate("segment-row-template", nextKey++);
    list.appendChild(row);
    row.querySelector(".rule-field").focus();
    schedule();
  }

  function show(ok, body) {
    list.querySelectorAll(".rule-row").forEach(function (row) { setError(row, ""); });
    box.classList.remove("counting");
    var note = document.getElementById("segment-count-note");
    if (note) note.remove();
    if (ok) {
      box.classList.remove("invalid");
      output.textContent = body.text;
      return;
    }
    box.classList.add("invalid");
    output.textContent = body.message || form.dataset.invalid;
    (body.errors || []).forEach(function (error) {
      var row = error.row === null ? null : list.querySelector('.rule-row[data-key="' + error.row + '"]');
      if (row) setError(row, error.message);
      else output.textContent = error.message;
    });
  }

  function count() {
    var mine = ++asked;
    box.classList.add("counting");
    fetch(form.dataset.countUrl, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Requested-With": "XMLHttpRequest" },
    })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) { if (mine === asked) show(answer.ok, answer.body); })
      .catch(function () {
        if (mine !== asked) return;
        box.classList.remove("counting");
        output.textContent = form.dataset.failed;
      });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(count, 400);
  }

  list.addEventListener("change", function (event) {
    var select = event.target.closest(".rule-field");
    if (select) {
      var row = select.closest(".rule-row");
      var value = row.querySelector(".rule-value");
      value.innerHTML = "";
      var inputs = select.value ? fromTemplate("segment-inputs-" + select.value, row.dataset.key) : null;
      if (inputs) value.appendChild(inputs);
      setError(row, "");
    }
    schedule();
  });
  list.addEventListener("input", schedule);
  list.addEventListener("click", function (event) {
    var remove = event.target.closest(".rule-remove");
    if (!remove) return;
    event.preventDefault();
    remove.closest(".rule-row").remove();
    schedule();
  });
  document.getElementById("segment-add-rule").addEventListener("click", function (event) {
    event.preventDefault();
    addRow();
  });
  count();
})();
