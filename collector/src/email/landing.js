/*
 * Served at /r/landing.js for the email landing page. When this browser has scripts but can't
 * run the widget (no WebAssembly, as in iOS Lockdown Mode, or the widget failed to load), it
 * reveals the same confirm form a browser without scripts gets from <noscript>.
 */
(() => {
  const fallback = () => document.documentElement.classList.add("pt-fallback");
  if (typeof WebAssembly != "object") return fallback();
  setTimeout(() => {
    const host = document.querySelector("[data-pulsetap]");
    if (host && !host.shadowRoot) fallback();
  }, 8000);
})();
