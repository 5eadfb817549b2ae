// The yardstick of the widget benchmark (widget_load.rs): the least a rating widget can be, in
// plain JavaScript. It fetches the survey's configuration from the collector, draws the scale
// as radio buttons in an open shadow root, and posts the rating on a tap. No outbox, no
// retries, no keyboard design, no themes: only the work every widget must do before a tap.
(() => {
  window.plainRan = 1; // for the benchmark's timeline
  const script = document.currentScript;
  const base = script.dataset.collector;
  const survey = script.dataset.survey;
  const host = document.querySelector("[data-plain]");
  fetch(base + "v1/surveys/" + survey + "/widget")
    .then((r) => r.json())
    .then((config) => {
      const root = host.attachShadow({mode: "open"});
      root.innerHTML =
        "<style>label{display:inline-block;padding:8px;font-size:28px}</style><p id=q></p><div role=radiogroup aria-labelledby=q></div>";
      root.firstChild.nextSibling.textContent = config.question;
      const id = crypto.randomUUID();
      config.scale.forEach((shown, i) => {
        const label = document.createElement("label");
        const input = document.createElement("input");
        input.type = "radio";
        input.name = "score";
        input.setAttribute("aria-label", config.labels[i]);
        input.onchange = () =>
          fetch(base + "v1/responses", {
            method: "POST",
            headers: {"content-type": "application/json"},
            body: JSON.stringify({survey, response_id: id, score: config.first_score + i}),
          });
        label.append(input, shown);
        root.lastChild.append(label);
      });
    });
})();
