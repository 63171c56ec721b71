// Page comfort only: the core path (log in, inbox, fill a form, submit) works without JavaScript.
import "bootstrap/js/dist/collapse";
import "bootstrap/js/dist/dropdown";
import "bootstrap/js/dist/alert";
