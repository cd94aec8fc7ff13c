// Progressive enhancement for the staff pages, loaded in <head> by base_minimal.html; every
// page works without it (the navigation and the filter sidebar then simply stay open).
//
// Toggles: a button with `data-toggle aria-controls="ID" aria-expanded="false"` opens and
// closes the element #ID (class `is-open`). An element with class `drawer` slides in from
// the left at narrow widths (see app.css) and gets a backdrop; any `[data-close="ID"]`
// button closes it. Escape or a click outside closes whatever is open.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");

  function togglesFor(id) {
    return document.querySelectorAll('[data-toggle][aria-controls="' + id + '"]');
  }

  function setOpen(panel, open, focusBack) {
    var toggles = togglesFor(panel.id);
    panel.classList.toggle("is-open", open);
    toggles.forEach(function (button) {
      button.setAttribute("aria-expanded", String(open));
    });
    if (panel.classList.contains("drawer")) {
      root.classList.toggle("drawer-open", open);
      if (open) {
        var first = panel.querySelector("button, a[href], input, select, textarea");
        if (first) first.focus();
      }
    }
    if (!open && focusBack && toggles.length) toggles[0].focus();
  }

  function openPanels() {
    return Array.prototype.slice.call(document.querySelectorAll(".is-open[id]"));
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-toggle]");
    var close = event.target.closest("[data-close]");
    if (toggle) {
      var panel = document.getElementById(toggle.getAttribute("aria-controls"));
      if (panel) setOpen(panel, !panel.classList.contains("is-open"), false);
    } else if (close) {
      var target = document.getElementById(close.getAttribute("data-close"));
      if (target) setOpen(target, false, true);
    }
    openPanels().forEach(function (panel) {
      var own = toggle && toggle.getAttribute("aria-controls") === panel.id;
      if (!own && !panel.contains(event.target)) setOpen(panel, false, false);
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    openPanels().forEach(function (panel) {
      setOpen(panel, false, true);
    });
  });
})();
