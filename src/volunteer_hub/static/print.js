// A button marked data-print opens the browser's print dialog (the page's CSP allows no
// inline handlers, so the wiring lives here).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
