// Page comfort only: the core path (log in, inbox, fill a form, submit) works without JavaScript.
import "bootstrap/js/dist/collapse";
import "bootstrap/js/dist/dropdown";
import "bootstrap/js/dist/alert";

// a submit button with data-confirm asks first (no inline handlers: the CSP allows none)
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-confirm]") : null;
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});
