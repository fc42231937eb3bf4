// The invoice page's dialog and cogwheel menus. htmx loads content; this only opens and closes things.
(function () {
  "use strict";
  function dialog() { return document.getElementById("dialog"); }
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id === "dialog-body") {
      closeMenus(null);
      var d = dialog();
      if (d && !d.open) d.showModal();
      var first = d && d.querySelector("input:not([type=hidden]), select, textarea");
      if (first) first.focus();
    }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-dialog]")) {
      var d = dialog();
      if (d) d.close();
    }
    closeMenus(event.target.closest("details.menu"));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeMenus(null);
  });
})();
// The invoice list's bulk refund selection: a count of what is ticked, "select the page", "all matching the filter".
(function () {
  "use strict";
  function boxes() { return Array.prototype.slice.call(document.querySelectorAll("[data-select-invoice]")); }
  function update() {
    var count = document.querySelector("[data-testid=selected-count]");
    if (!count) return;
    var all = document.getElementById("id_all_matching");
    var ticked = boxes().filter(function (b) { return b.checked; }).length;
    boxes().forEach(function (b) { b.disabled = all.checked; });
    var page = document.querySelector("[data-select-page]");
    if (page) page.disabled = all.checked;
    count.textContent = all.checked ? "All invoices matching the filter selected"
      : ticked === 0 ? "No invoice selected" : ticked === 1 ? "1 invoice selected" : ticked + " invoices selected";
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-page]")) {
      boxes().forEach(function (b) { b.checked = event.target.checked; });
    }
    if (event.target.matches("[data-select-page], [data-select-invoice], #id_all_matching")) update();
  });
  document.addEventListener("DOMContentLoaded", update);
})();
