//! The README's demo command, walked as a new user would: `scripts/demo.sh` brings up the
//! collector and the demo shop, and a headless Chromium goes through the help article, the
//! support chat, a link from the support email, the install and alerts pages and the dashboard,
//! with no console error on any page (script errors and content-security-policy violations
//! included) and no violation of axe-core's WCAG 2.1 A and AA rules, in a light and a dark
//! color scheme.

use pulsetap_e2e::{Browser, PATIENCE, css, repo, without_cargo_test_variables};
use pulsetap_wire::Summary;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SHOP: &str = "http://127.0.0.1:8000";
const COLLECTOR: &str = "http://127.0.0.1:8080";
const DEMO_KEY: &str = "demo-marketing-key";

/// `scripts/demo.sh`, running in its own process group so the test can stop all it started.
struct Demo(Child);

impl Demo {
    /// Runs the demo command and waits for its "running" banner. It may build first.
    fn start() -> Demo {
        let mut child =
            without_cargo_test_variables(&mut Command::new(repo().join("scripts/demo.sh")))
                .current_dir(repo())
                .process_group(0)
                .stdout(Stdio::piped())
                .spawn()
                .expect("run scripts/demo.sh");
        let stdout = child.stdout.take().expect("the demo's output");
        let (lines, banner) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let demo = Demo(child);
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match banner.recv_timeout(left) {
                Ok(line) if line.contains("Pulsetap demo is running") => return demo,
                Ok(_) => {}
                Err(_) => panic!(
                    "scripts/demo.sh did not bring the demo up (are ports 8000 and 8080 free?)"
                ),
            }
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn summary(survey: &str) -> Summary {
    let body = ureq::get(&format!("{COLLECTOR}/v1/surveys/{survey}/summary"))
        .header("Authorization", &format!("Bearer {DEMO_KEY}"))
        .call()
        .expect("the summary answers")
        .body_mut()
        .read_to_string()
        .expect("a body");
    serde_json::from_str(&body).expect("a summary")
}

async fn wait_until(what: &str, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < PATIENCE, "{what} did not happen");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn assert_no_console_error(browser: &Browser, page: &str) {
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "{page} logged errors: {errors:#?}");
}

async fn assert_accessible(browser: &Browser, page: &str) {
    for scheme in ["dark", "light"] {
        browser.color_scheme(scheme).await;
        let violations = browser.accessibility_violations().await;
        assert!(
            violations.is_empty(),
            "{page} ({scheme} scheme) breaks WCAG 2.1 A/AA rules:\n{}",
            violations.join("\n")
        );
    }
}

#[tokio::test]
async fn the_demo_command_brings_up_every_page_and_a_visitor_can_use_each_without_an_error_or_a_wcag_violation()
 {
    let _demo = Demo::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::start(profile.path().to_owned()).await;

    browser.goto(&format!("{SHOP}/")).await.unwrap();
    assert!(browser.title().await.unwrap().contains("Kettle"));
    assert_no_console_error(&browser, "the home page").await;
    assert_accessible(&browser, "the home page").await;

    // The help article's inline widget.
    let before = summary("help-center").figures.responses;
    browser
        .goto(&format!("{SHOP}/help/descaling"))
        .await
        .unwrap();
    browser
        .emoji("document.querySelector('[data-pulsetap]')", "Very")
        .await
        .click()
        .await
        .unwrap();
    wait_until("the article rating", || {
        summary("help-center").figures.responses == before + 1
    })
    .await;
    assert_no_console_error(&browser, "the help article").await;
    assert_accessible(&browser, "the help article").await;

    // The support chat: ending it opens the signed rating.
    let before = summary("support").figures.responses;
    browser.goto(&format!("{SHOP}/chat")).await.unwrap();
    browser
        .find(css("#end-chat"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let floating = "[...document.body.children].find((e) => e.shadowRoot && !e.dataset.pulsetap)";
    browser
        .emoji(floating, "Great")
        .await
        .click()
        .await
        .unwrap();
    wait_until("the chat rating", || {
        summary("support").figures.responses == before + 1
    })
    .await;
    assert_no_console_error(&browser, "the support chat").await;
    assert_accessible(&browser, "the support chat").await;

    // A link from the support email leads to the landing page, which records the rating.
    browser.goto(&format!("{SHOP}/email")).await.unwrap();
    let link = browser
        .wait_for_element(
            "an emoji link in the email",
            "return document.querySelector('.mail .body a[href*=\"/r/support/\"]');",
        )
        .await;
    let href = link
        .attr("href")
        .await
        .unwrap()
        .expect("the link has an address");
    assert_no_console_error(&browser, "the email preview").await;
    assert_accessible(&browser, "the email preview").await;
    let (before, clicks) = {
        let summary = summary("support");
        (
            summary.figures.responses,
            summary.figures.unconfirmed_clicks,
        )
    };
    browser.goto(&href).await.unwrap();
    // The page shows the emoji chosen; the customer's tap on it records the rating.
    browser
        .emoji("document.querySelector('[data-pulsetap]')", "Awful")
        .await
        .click()
        .await
        .unwrap();
    wait_until("the emailed rating", || {
        summary("support").figures.responses == before + 1
    })
    .await;
    assert_eq!(summary("support").figures.unconfirmed_clicks, clicks + 1);
    assert_no_console_error(&browser, "the email landing page").await;

    for (path, page) in [
        ("/install", "the install page"),
        ("/alerts", "the team inbox"),
    ] {
        browser.goto(&format!("{SHOP}{path}")).await.unwrap();
        browser
            .wait_for_element(
                &format!("{page}'s heading"),
                "return document.querySelector('h1')",
            )
            .await;
        if path == "/install" {
            // Its "Try it here" widget is checked too.
            browser
                .emoji("document.querySelector('[data-pulsetap]')", "Great")
                .await;
        }
        assert_no_console_error(&browser, page).await;
        assert_accessible(&browser, page).await;
    }

    // The dashboard, signed in with the demo key, shows what was just recorded.
    browser
        .goto(&format!("{COLLECTOR}/dashboard"))
        .await
        .unwrap();
    browser
        .find(css("#key"))
        .await
        .unwrap()
        .send_keys(DEMO_KEY)
        .await
        .unwrap();
    browser
        .find(css("#signin-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let expected = summary("support").figures.responses.to_string();
    // Pick the support survey and wait for its response count to match the API's.
    let shown = format!(
        "const pick = document.getElementById('survey'); \
         if (pick && pick.value !== 'support' && [...pick.options].some((o) => o.value === 'support')) {{ \
           pick.value = 'support'; pick.dispatchEvent(new Event('change')); }} \
         return pick && pick.value === 'support' \
           && document.getElementById('kpi-responses').textContent.trim() === '{expected}' \
           ? document.getElementById('kpi-responses') : null;"
    );
    browser
        .wait_for_element(
            &format!("the dashboard showing {expected} support responses"),
            &shown,
        )
        .await;
    assert_no_console_error(&browser, "the dashboard").await;
    assert_accessible(&browser, "the dashboard").await;
}
