//! What the widget costs a host page, in headless Chromium against the real collector:
//!
//!     cargo bench -p pulsetap-e2e --bench widget_load
//!
//! Each run inserts the script tag into an already loaded page and times how long until an
//! emoji can be tapped (rendered, with a size). Cold runs clear the browser cache first; warm
//! runs reuse it, as a returning visitor would. It also reports the bytes transferred for the
//! widget (Resource Timing), the host page's long tasks and its cumulative layout shift.
//! `PULSETAP_WIDGET_RUNS` (default 15) sets the runs of each kind.

use pulsetap_e2e::World;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PAGE: &str = r#"
<h1>Descaling your kettle</h1>
<p>Hard water leaves a chalky layer inside your kettle. Descale every four to six weeks.</p>
<div data-pulsetap="support" data-interaction="bench"></div>
<p>Never use a scouring pad inside: it scratches the steel.</p>
<script>
  window.bench = {longTasks: 0, longTaskMs: 0, shift: 0};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { bench.longTasks++; bench.longTaskMs += e.duration; }
  }).observe({type: "longtask", buffered: true});
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (!e.hadRecentInput) bench.shift += e.value;
  }).observe({type: "layout-shift", buffered: true});
  window.startWidget = () => {
    bench.start = performance.now();
    const script = document.createElement("script");
    script.async = true;
    script.src = "{collector}pulsetap.js";
    document.head.appendChild(script);
    (function poll() {
      const host = document.querySelector("[data-pulsetap]");
      const radio = host && host.shadowRoot && host.shadowRoot.querySelector("[role=radio]");
      if (radio && radio.getBoundingClientRect().width > 0) bench.tappable = performance.now() - bench.start;
      else setTimeout(poll, 0);
    })();
  };
</script>"#;

struct Run {
    tappable_ms: f64,
    bytes: f64,
    long_tasks: f64,
    long_task_ms: f64,
    shift: f64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let runs: usize = std::env::var("PULSETAP_WIDGET_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(15);
    let world = World::new().await;
    let collector = world.collector.url("");
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for i in 0..runs * 2 {
        let is_cold = i % 2 == 0;
        if is_cold {
            world
                .browser
                .devtools("Network.clearBrowserCache", json!({}))
                .await;
        }
        // Every run is a new visitor: no outbox or remembered response from the last one.
        world.visit(&format!("/bench-{i}"), PAGE).await;
        world.js("localStorage.clear(); return true;").await;
        world.js("startWidget(); return true;").await;
        let started = Instant::now();
        let result: Value = loop {
            let bench = world.js("return window.bench;").await;
            if bench["tappable"].is_number() {
                break bench;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the widget never became tappable"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let bytes = world
            .js(&format!(
                "return performance.getEntriesByType('resource').filter((e) => e.name.startsWith({collector:?})).reduce((n, e) => n + e.transferSize, 0);"
            ))
            .await;
        let run = Run {
            tappable_ms: result["tappable"].as_f64().unwrap_or_default(),
            bytes: bytes.as_f64().unwrap_or_default(),
            long_tasks: result["longTasks"].as_f64().unwrap_or_default(),
            long_task_ms: result["longTaskMs"].as_f64().unwrap_or_default(),
            shift: result["shift"].as_f64().unwrap_or_default(),
        };
        if is_cold {
            cold.push(run)
        } else {
            warm.push(run)
        }
    }
    world.assert_host_saw_no_error().await;
    println!("widget on a host page, {runs} cold and {runs} warm runs (median, [max])\n");
    println!(
        "{:<6} {:>16} {:>18} {:>14} {:>16} {:>14}",
        "", "tappable after", "bytes transferred", "long tasks", "long-task time", "layout shift"
    );
    for (name, runs) in [("cold", &cold), ("warm", &warm)] {
        let stat = |f: fn(&Run) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(f).collect();
            values.sort_by(f64::total_cmp);
            (values[values.len() / 2], values[values.len() - 1])
        };
        let (t, t_max) = stat(|r| r.tappable_ms);
        let (b, _) = stat(|r| r.bytes);
        let (l, l_max) = stat(|r| r.long_tasks);
        let (lm, lm_max) = stat(|r| r.long_task_ms);
        let (s, s_max) = stat(|r| r.shift);
        println!(
            "{name:<6} {:>8.1} ms [{:>4.0}] {:>18.0} {:>8.0} [{:>2.0}] {:>8.0} ms [{:>3.0}] {:>8.3} [{:.3}]",
            t, t_max, b, l, l_max, lm, lm_max, s, s_max
        );
    }
}
