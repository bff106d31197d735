// Light or dark: the system's setting unless the person chose one with the toggle (remembered in this
// browser). Runs before the page is painted, so the chosen theme shows from the first frame.
(function () {
  "use strict";
  const KEY = "bowout-theme";
  const root = document.documentElement;
  const system = window.matchMedia("(prefers-color-scheme: dark)");
  root.classList.add("js");

  function stored() {
    try { return localStorage.getItem(KEY); } catch (error) { return null; }
  }
  function current() {
    return root.dataset.theme || (system.matches ? "dark" : "light");
  }
  const chosen = stored();
  if (chosen === "dark" || chosen === "light") root.dataset.theme = chosen;

  function showToggle() {
    const toggle = document.querySelector('[data-role="theme-toggle"]');
    if (!toggle) return;
    toggle.hidden = false;
    toggle.setAttribute("aria-pressed", String(current() === "dark"));
  }
  system.addEventListener("change", showToggle);
  document.addEventListener("DOMContentLoaded", showToggle);
  document.addEventListener("click", (evt) => {
    if (!evt.target.closest('[data-role="theme-toggle"]')) return;
    const next = current() === "dark" ? "light" : "dark";
    root.dataset.theme = next;
    try { localStorage.setItem(KEY, next); } catch (error) { /* private mode: for this page only */ }
    showToggle();
  });
})();
