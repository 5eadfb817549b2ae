//! What the widget costs a host page, in headless Chromium against the real collector, side by
//! side with the least a rating widget can be:
//!
//!     cargo bench -p pulsetap-e2e --bench widget_load
//!
//! - **Pulsetap**: a help article (on its own origin) with the README's inline snippet pasted
//!   as given (`## Add it to your site`).
//! - **Plain JS**: the same article with `plain-widget.js` instead, served compressed from a
//!   third origin: it fetches the survey's configuration from the collector, draws its scale as
//!   radio buttons in an open shadow root and posts on a tap (see the file).
//!
//! Every run is a new page and a new visitor (no stored response id or outbox). Cold runs clear
//! the browser cache first; warm runs follow each cold one and reuse its cache, as a returning
//! visitor would. The two widgets alternate (which one goes first alternates too), so a busy
//! moment of the machine hits both. Each run reports the time from navigation until a radio
//! can be tapped (rendered, with a size), the bytes transferred for the widget (Resource
//! Timing, requests made after the widget was tappable left out), the host page's long tasks
//! and its cumulative layout shift. For Pulsetap it also prints the request waterfall: when
//! each request started and ended, from navigation.
//!
//! `PULSETAP_WIDGET_RUNS` (default 9) sets the runs of each widget and kind.

use pulsetap_e2e::{Site, World, repo};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The host page: an article, the widget's snippet, more article below it (which a layout shift
/// would move), and the measurements, which start before anything else on the page.
const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Descaling your kettle</title>
<script>
  window.hostErrors = [];
  addEventListener("error", (e) => hostErrors.push("error: " + e.message));
  addEventListener("unhandledrejection", (e) => hostErrors.push("rejection: " + e.reason));
  window.bench = {longTasks: 0, longTaskMs: 0, shift: 0};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { bench.longTasks++; bench.longTaskMs += e.duration; }
  }).observe({type: "longtask", buffered: true});
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (!e.hadRecentInput) bench.shift += e.value;
  }).observe({type: "layout-shift", buffered: true});
  (function poll() {
    if ((window.pulsetap || window.plainRan) && !bench.scriptRan) bench.scriptRan = performance.now();
    const host = document.querySelector("[data-pulsetap], [data-plain]");
    const radio = host && host.shadowRoot && host.shadowRoot.querySelector("[role=radio], input");
    if (radio && radio.getBoundingClientRect().width > 0) bench.tappable = performance.now();
    else setTimeout(poll, 0);
  })();
</script>
<style>body { max-width: 40rem; margin: 2rem auto; padding: 0 1rem; font: 16px/1.5 sans-serif }</style>
</head><body>
<h1>Descaling your kettle</h1>
<p>Hard water leaves a chalky layer inside your kettle. Descale every four to six weeks.</p>
{widget}
<p>Never use a scouring pad inside: it scratches the steel.</p>
<p>Rinse twice with fresh water, then boil one full kettle of water to discard.</p>
</body></html>"#;

#[derive(Clone, Copy, PartialEq)]
enum Widget {
    Pulsetap,
    Plain,
}

struct Run {
    widget: Widget,
    cold: bool,
    tappable_ms: f64,
    bytes: f64,
    long_tasks: f64,
    long_task_ms: f64,
    shift: f64,
    /// When the widget's script had started (its global defined), from navigation.
    script_ran_ms: f64,
    /// The requests as `[start, end]` from navigation: the script tag's, glue, wasm (Pulsetap
    /// only) and the configuration.
    waterfall: Vec<[f64; 2]>,
}

/// The README's inline snippet, exactly as a site owner copies it, pointed at `collector`.
fn readme_snippet(collector: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("read README.md");
    let section = readme
        .split("## Add it to your site")
        .nth(1)
        .expect("the README has an `## Add it to your site` section");
    let snippet = section
        .split("```html\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section starts with an html snippet");
    snippet.replace("https://feedback.example.com/", collector)
}

/// Serves `plain-widget.js` from its own origin, compressed as the collector serves its files.
fn plain_widget_site() -> Site {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = dir.path().join("plain.js");
    std::fs::copy(repo().join("tests/benches/plain-widget.js"), &script)
        .expect("copy plain-widget.js");
    let status = std::process::Command::new("node")
        .arg(repo().join("tools/compress.mjs"))
        .arg(&script)
        .status()
        .expect("run node tools/compress.mjs");
    assert!(status.success(), "compressing plain-widget.js failed");
    let read = |suffix: &str| {
        std::fs::read(format!("{}{suffix}", script.display())).expect("read a compressed copy")
    };
    let site = Site::start();
    site.put_script(
        "/plain.js",
        read(""),
        vec![("br".into(), read(".br")), ("gzip".into(), read(".gz"))],
    );
    site
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let runs: usize = std::env::var("PULSETAP_WIDGET_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(9);
    let world = World::new().await;
    let collector = world.collector.url("");
    let plain = plain_widget_site();
    let pulsetap_widget = readme_snippet(&collector);
    let plain_widget = format!(
        r#"<div data-plain></div>
<script async src="{}" data-collector="{collector}" data-survey="support"></script>"#,
        plain.url("/plain.js")
    );

    let mut results = Vec::new();
    let mut page = 0;
    for i in 0..runs {
        let order = if i % 2 == 0 {
            [Widget::Pulsetap, Widget::Plain]
        } else {
            [Widget::Plain, Widget::Pulsetap]
        };
        for widget in order {
            for cold in [true, false] {
                page += 1;
                let html = PAGE.replace(
                    "{widget}",
                    match widget {
                        Widget::Pulsetap => &pulsetap_widget,
                        Widget::Plain => &plain_widget,
                    },
                );
                world
                    .host
                    .put(&format!("/article-{page}"), "text/html", html.into_bytes());
                results.push(run(&world, page, widget, cold, &[&collector, &plain.origin()]).await);
            }
        }
    }
    world.assert_host_saw_no_error().await;

    println!(
        "a widget on a help article (host page on its own origin), {runs} runs of each widget and kind, \
         alternating (median, [max])\n"
    );
    println!(
        "{:<15} {:>16} {:>18} {:>14} {:>16} {:>16}",
        "", "tappable after", "bytes transferred", "long tasks", "long-task time", "layout shift"
    );
    let medians = |widget: Widget, cold: bool| {
        let runs: Vec<&Run> = results
            .iter()
            .filter(|r| r.widget == widget && r.cold == cold)
            .collect();
        move |f: &dyn Fn(&Run) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(|r| f(r)).collect();
            values.sort_by(f64::total_cmp);
            (values[values.len() / 2], values[values.len() - 1])
        }
    };
    for (name, widget, cold) in [
        ("Pulsetap cold", Widget::Pulsetap, true),
        ("plain JS cold", Widget::Plain, true),
        ("Pulsetap warm", Widget::Pulsetap, false),
        ("plain JS warm", Widget::Plain, false),
    ] {
        let stat = medians(widget, cold);
        let (t, t_max) = stat(&|r| r.tappable_ms);
        let (b, _) = stat(&|r| r.bytes);
        let (l, l_max) = stat(&|r| r.long_tasks);
        let (lm, lm_max) = stat(&|r| r.long_task_ms);
        let (s, s_max) = stat(&|r| r.shift);
        println!(
            "{name:<15} {t:>8.1} ms [{t_max:>4.0}] {b:>18.0} {l:>8.0} [{l_max:>2.0}] {lm:>8.0} ms [{lm_max:>3.0}] {s:>10.3} [{s_max:.3}]"
        );
    }
    let ratio = |cold| {
        medians(Widget::Pulsetap, cold)(&|r| r.tappable_ms).0
            / medians(Widget::Plain, cold)(&|r| r.tappable_ms).0
    };
    println!(
        "\nPulsetap / plain JS, time to tappable: {:.2}x cold, {:.2}x warm (goal: at most 1.5x)",
        ratio(true),
        ratio(false)
    );

    println!("\nrequest waterfalls, ms from navigation (median start – end):");
    for (name, widget, cold) in [
        ("Pulsetap cold", Widget::Pulsetap, true),
        ("plain JS cold", Widget::Plain, true),
        ("Pulsetap warm", Widget::Pulsetap, false),
        ("plain JS warm", Widget::Plain, false),
    ] {
        let stat = medians(widget, cold);
        let mut line = format!("  {name:<14}");
        for (i, part) in ["script", "glue", "wasm", "config"].iter().enumerate() {
            let (start, _) = stat(&|r| r.waterfall[i][0]);
            let (end, _) = stat(&|r| r.waterfall[i][1]);
            if start.is_finite() {
                line += &format!("  {part} {start:.0}–{end:.0}");
            }
        }
        let (ran, _) = stat(&|r| r.script_ran_ms);
        let (tappable, _) = stat(&|r| r.tappable_ms);
        println!("{line}  script ran {ran:.0}  tappable {tappable:.0}");
    }
}

/// One page view: navigate, wait until the widget is tappable, read the page's measurements.
async fn run(world: &World, page: usize, widget: Widget, cold: bool, origins: &[&str]) -> Run {
    if cold {
        world
            .browser
            .devtools("Network.clearBrowserCache", json!({}))
            .await;
    }
    // A new visitor every time: no remembered response id, no outbox.
    world
        .browser
        .devtools(
            "Storage.clearDataForOrigin",
            json!({"origin": world.host_origin(), "storageTypes": "local_storage"}),
        )
        .await;
    world
        .browser
        .goto(&world.host.url(&format!("/article-{page}")))
        .await
        .expect("the host page loads");
    let started = Instant::now();
    while world.js("return window.bench.tappable > 0;").await != true {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the widget never became tappable"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let a late layout shift or long task show up before reading them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let result = world
        .js(&format!(
            r"const origins = {origins:?};
             const entries = performance.getEntriesByType('resource')
               .filter((e) => origins.some((o) => e.name.startsWith(o)) && e.startTime <= bench.tappable);
             const find = (pattern) => entries.find((e) => pattern.test(e.name)) || {{startTime: NaN, responseEnd: NaN}};
             return Object.assign({{}}, bench, {{
               bytes: entries.reduce((n, e) => n + e.transferSize, 0),
               waterfall: [/\/(pulsetap|plain)\.js$/, /\/assets\/.*\.js$/, /\.wasm$/, /\/widget(\?|$)/]
                 .map(find).map((e) => [e.startTime, e.responseEnd]),
             }});"
        ))
        .await;
    let number = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    Run {
        widget,
        cold,
        tappable_ms: number(&result["tappable"]),
        script_ran_ms: number(&result["scriptRan"]),
        bytes: number(&result["bytes"]),
        long_tasks: number(&result["longTasks"]),
        long_task_ms: number(&result["longTaskMs"]),
        shift: number(&result["shift"]),
        waterfall: result["waterfall"]
            .as_array()
            .map(|w| {
                w.iter()
                    .map(|pair| [number(&pair[0]), number(&pair[1])])
                    .collect()
            })
            .unwrap_or_default(),
    }
}
