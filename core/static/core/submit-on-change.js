// A <select data-submit-on-change> submits its form when a choice is made (the language switch), without an
// inline handler: the Content-Security-Policy allows no inline script.
"use strict";
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.hasAttribute("data-submit-on-change") && field.form) {
    field.form.submit();
  }
});
