/*
 * Served at /r/landing.js for the email landing page. When this browser has scripts but can't
 * run the widget (no WebAssembly, as in iOS Lockdown Mode, or the widget failed to load), it
 * reveals the same confirm form a browser without scripts gets from <noscript>. Once a person
 * taps an answer (which is what records the rating), the line asking for that tap thanks them.
 */
(() => {
  const root = document.documentElement;
  const fallback = () => root.classList.add("pt-fallback");
  if (typeof WebAssembly != "object") return fallback();
  const host = document.querySelector("[data-pulsetap]");
  setTimeout(() => {
    if (host && !host.shadowRoot) fallback();
  }, 8000);
  const hint = document.getElementById("pt-hint");
  const tapped = (event) => {
    const radio = event.composedPath().some((node) => node.getAttribute && node.getAttribute("role") == "radio");
    // The widget records on a click, and on Enter, Space or an arrow key in its row of answers.
    if (radio && (event.type == "click" || /^(Enter| |Arrow)/.test(event.key))) {
      // In the page's language: the survey's own thank-you.
      hint.textContent = hint.dataset.thanks;
    }
  };
  if (host && hint) {
    host.addEventListener("click", tapped);
    host.addEventListener("keydown", tapped);
  }
})();
