// The console's own script: small behaviours htmx does not cover (CSP allows no inline script).
"use strict";

function autosubmit(root) {
  root.querySelectorAll("select.autosubmit").forEach(function (select) {
    if (select.dataset.bound) return;
    select.dataset.bound = "1";
    select.addEventListener("change", function () { select.form.requestSubmit(); });
  });
}

document.addEventListener("DOMContentLoaded", function () { autosubmit(document); });
document.addEventListener("htmx:load", function (event) { autosubmit(event.target); });
