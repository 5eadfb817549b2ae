/*
 * Pulsetap loader, served by the collector at /pulsetap.js (see the README's "Add it to your
 * site"):
 *
 *   <script async src="https://feedback.example.com/pulsetap.js" data-survey="support"></script>
 *   <div data-pulsetap="support" data-interaction="chat-8842" data-tags="agent=alice"
 *        style="display:block;min-height:128px"></div>
 *
 * To call the API before this async script has run, paste this stub first; the calls it queues
 * are replayed once the loader runs:
 *
 *   window.pulsetap = window.pulsetap || {q: [],
 *     open: function (o) { this.q.push(["open", o]) },
 *     mount: function (e, o) { this.q.push(["mount", e, o]) }};
 *
 *   pulsetap.open({survey: "support", interaction: "chat-8842", sig: "…", tags: {agent: "alice"}});
 *   pulsetap.mount(element, {survey: "support", score: 5});
 *
 * The widget itself (wasm, a Leptos component) draws the card and builds every request body
 * from the wire types; this file is its platform layer: it finds the widgets, fetches their
 * configuration, and delivers what the widget sends through a persistent outbox. Keeping the
 * network and storage code here (a few hundred bytes of JS) instead of in the wasm keeps the
 * widget inside its size budget, and lets a reload deliver a stranded rating without
 * downloading the widget at all.
 *
 * Good guest rules: the only global is `window.pulsetap`; nothing here throws into the page;
 * no cookies; with `localStorage.pulsetap_ignore` set it touches neither network nor DOM.
 * scripts/build-widget.sh replaces the two asset names below with content-hashed ones.
 */
(() => {
  const GLUE = "assets/pulsetap.js";
  const WASM = "assets/pulsetap_bg.wasm";
  // localStorage keys: a message waiting for delivery, and a rated interaction's response_id.
  const OUTBOX = "pulsetap_outbox:";
  const RID = "pulsetap_rid:";
  const KEYS = ["interaction", "sig", "tags", "lang", "theme", "score"];

  const w = window;
  const d = document;
  const stub = w.pulsetap;
  const queue = (stub && stub.q) || [];
  const api = (w.pulsetap = {open() {}, mount() {}});
  const warn = (e) => {
    try {
      console.warn("pulsetap:", e);
    } catch (_) {}
  };
  // Storage can be missing or throw (disabled, sandboxed, full); every access is guarded.
  let store;
  try {
    store = localStorage;
  } catch (_) {}
  const stored = (key, value) => {
    try {
      return value === undefined ? store.getItem(key) : value === null ? store.removeItem(key) : store.setItem(key, value);
    } catch (_) {}
  };
  if (stored("pulsetap_ignore") != null) return;

  // The collector is wherever this script came from; everything else is relative to it.
  const script = d.currentScript || d.querySelector("script[src*='pulsetap.js']");
  if (!script) return;
  const base = new URL("./", script.src).href;
  const defaults = script.dataset;
  const cors = {mode: "cors", credentials: "omit"};
  let module;
  let floating;
  let started;
  let sending;

  // --- outbox: every POST waits here (and in localStorage) until the collector has it ------
  // One entry per kind and response_id, so a newer tap replaces an undelivered older one and
  // the collector, which counts a response_id once, never sees a rating twice.
  const pending = {};
  try {
    for (const key of Object.keys(store)) if (key.startsWith(OUTBOX)) pending[key] = stored(key);
  } catch (_) {}

  // Every message goes out with `keepalive`, so a tap just before the tab closes still arrives.
  // A 2xx settles it; so does a refusal (any other 4xx but 408 and 429), which sending again
  // would not change: its reason goes to the console for the site owner. Anything else (no
  // answer, 408, 429, 5xx) is retried after the server's `Retry-After`, else after a backoff
  // of 1 s doubling to 30 s; meanwhile the message waits in localStorage, so a reload delivers
  // it too.
  const deliver = async () => {
    if (sending) return;
    sending = 1;
    for (let delay = 1e3, key; (key = Object.keys(pending)[0]); ) {
      const value = pending[key];
      const at = value.indexOf("\n");
      let answer = {};
      try {
        answer = await fetch(base + value.slice(0, at), {
          ...cors,
          method: "POST",
          keepalive: true,
          headers: {"content-type": "application/json"},
          body: value.slice(at + 1),
        });
      } catch (_) {}
      const status = answer.status;
      if (status > 199 && status < 500 && status != 408 && status != 429) {
        if (status > 299) {
          answer
            .json()
            .then((e) => warn(status + " " + e.error + ": " + e.message))
            .catch(() => warn(status));
        }
        if (pending[key] == value) {
          delete pending[key];
          if (stored(key) == value) stored(key, null);
        }
        delay = 1e3;
      } else {
        // Seconds (or an HTTP date), readable here when the collector exposes the header.
        const after = answer.headers && answer.headers.get("retry-after");
        let wait = after && (after * 1e3 || Date.parse(after) - Date.now());
        if (!(wait > 0)) {
          wait = delay;
          delay = Math.min(delay * 2, 3e4);
        }
        await new Promise((wake) => setTimeout(wake, wait));
      }
    }
    sending = 0;
  };
  const flush = () => deliver().catch(warn);
  // What the widget calls: `key` names the message, `path` is under the collector.
  const send = (key, path, body) => {
    key = OUTBOX + key;
    stored(key, (pending[key] = path + "\n" + body));
    flush();
  };

  // --- identity: one response_id per shown widget, kept per interaction across reloads ---
  // crypto.randomUUID needs a secure context (https); a blob URL ends in a random (version 4)
  // UUID on any page.
  const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : URL.createObjectURL(new Blob()).slice(-36));
  const responseId = (o) => {
    const key = o.interaction && RID + o.survey + "\n" + o.interaction;
    let id = key && stored(key);
    if (!id) {
      id = uuid();
      if (key) stored(key, id);
    }
    return id;
  };

  // --- mounting ------------------------------------------------------------------------------
  // The glue, the wasm and the configuration are all requested at once (no request waits for
  // another), and the wasm compiles while it streams in, before the glue has even arrived. A
  // server that sends the wasm with another type than application/wasm gets the glue's slower
  // path (it compiles the whole download).
  const load = () => {
    if (!module) {
      const wasm = WebAssembly.compileStreaming(fetch(base + WASM, cors)).catch(() => fetch(base + WASM, cors));
      wasm.catch(() => 0);
      module = import(base + GLUE).then((glue) => glue.default({module_or_path: wasm}).then(() => glue));
    }
    return module;
  };

  // Precedence: explicit options, then the element's data-*, then the script tag's data-*.
  const options = (el, o, survey, extra) => {
    o = o || {};
    const data = (el && el.dataset) || {};
    const merged = {
      survey: String(o.survey || survey || defaults.survey || ""),
      dir: ((el && el.closest("[dir]")) || d.documentElement).dir,
    };
    for (const key of KEYS) {
      let value = o[key] != null ? o[key] : data[key] != null ? data[key] : defaults[key];
      if (key == "tags" && value && typeof value == "object") {
        value = Object.entries(value)
          .map((pair) => pair.join("="))
          .join(",");
      }
      if (value != null) merged[key] = String(value);
    }
    merged.response_id = responseId(merged);
    return Object.assign(merged, extra);
  };

  // The configuration comes in the first of the languages asked for (`data-lang`, else the
  // browser's) that the survey has, else in its default texts.
  const show = (host, o) => {
    const glue = load();
    const config = fetch(
      base + "v1/surveys/" + encodeURIComponent(o.survey) + "/widget?lang=" +
        encodeURIComponent(o.lang || (navigator.languages || []).join()),
      cors,
    ).then((r) => (r.ok ? r.json() : Promise.reject(r.status)));
    Promise.all([glue, config])
      .then(([glue, c]) => host.isConnected && glue.mount(host, o, c, send))
      .catch(warn);
  };

  const mount = (el, o) => {
    if (el && el.nodeType == 1) show(el, options(el, o, el.dataset.pulsetap));
  };

  const open = (o, closed) => {
    if (floating) floating.remove();
    d.body.appendChild((floating = d.createElement("div")));
    show(floating, options(null, o, "", {floating: 1, open: !closed}));
  };

  // Calls made before start() wait in the queue, as do the stub's.
  const later = (f) => (...args) => {
    try {
      started ? f(...args) : queue.push(() => f(...args));
    } catch (e) {
      warn(e);
    }
  };
  api.open = later((o) => open(o));
  api.mount = later(mount);

  const start = () => {
    try {
      started = 1;
      // A rating an earlier visit could not deliver goes out now, widget or not.
      flush();
      const inline = d.querySelectorAll("[data-pulsetap]");
      inline.forEach((el) => mount(el));
      if (!inline.length && defaults.survey) open({}, 1);
      for (const call of queue.splice(0)) {
        typeof call == "function" ? call() : api[call[0]] && api[call[0]](call[1], call[2]);
      }
    } catch (e) {
      warn(e);
    }
  };
  // A page that will show a widget gets the glue and the wasm on their way now, while it
  // finishes loading; the widgets mount once it has.
  if (defaults.survey || d.querySelector("[data-pulsetap]")) load();
  d.readyState == "loading" ? d.addEventListener("DOMContentLoaded", start) : start();
})();
