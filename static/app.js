// Rollcall's only script of its own: opens the dialogs that htmx loads into
// #modal, closes them, and gives focus back to what opened them. Everything
// works without it (and without htmx) through full pages.
(function () {
  "use strict";

  var opener = null;

  function modal() {
    return document.getElementById("modal");
  }

  document.addEventListener("click", function (event) {
    // What opens a dialog: a link or button in, or itself, an element whose
    // htmx target is the dialog container.
    var trigger = event.target.closest("a[href], button");
    if (trigger && trigger.closest("[hx-target='#modal']") && !trigger.closest("dialog")) {
      opener = trigger;
    }
    var closer = event.target.closest("[data-close]");
    if (closer) {
      var dialog = closer.closest("dialog");
      if (dialog && dialog.hasAttribute("data-modal")) {
        event.preventDefault();
        dialog.close();
      }
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "modal") {
      return;
    }
    var dialog = target.querySelector("dialog");
    if (!dialog) {
      return;
    }
    dialog.setAttribute("data-modal", "");
    dialog.removeAttribute("open");
    dialog.showModal();
    var preferred = ["[aria-invalid='true']", "[autofocus]", "input, select, textarea, button, a[href]"];
    for (var i = 0; i < preferred.length; i++) {
      var first = dialog.querySelector(preferred[i]);
      if (first) {
        first.focus();
        break;
      }
    }
    dialog.addEventListener("close", function () {
      var container = modal();
      if (container && container.contains(dialog)) {
        container.innerHTML = "";
      }
      if (opener && document.contains(opener)) {
        opener.focus();
      }
    }, { once: true });
  });

  document.addEventListener("closeDialog", function () {
    var dialog = document.querySelector("#modal dialog");
    if (dialog && dialog.open) {
      dialog.close();
    }
  });

  // "Copy" beside a secret shown once: only with JavaScript (without it,
  // the read-only field's text is selected and copied by hand).
  function offerCopy() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
    });
  }
  document.addEventListener("DOMContentLoaded", offerCopy);
  document.addEventListener("htmx:afterSettle", offerCopy);
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) {
      return;
    }
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) {
      return;
    }
    field.select();
    var copied = function () {
      button.textContent = "Copied";
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(copied, function () {
        document.execCommand("copy");
        copied();
      });
    } else {
      document.execCommand("copy");
      copied();
    }
  });
})();
