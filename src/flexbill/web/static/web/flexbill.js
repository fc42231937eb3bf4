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
