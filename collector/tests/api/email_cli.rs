//! `collector email-links`: a helpdesk signs the rating links of many tickets at once.

use crate::helpers::*;
use pulsetap_collector::domain::Secret;
use pulsetap_collector::email::EmailLinks;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

fn collector(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(args)
        .output()
        .expect("the collector binary runs")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_bulk_command_writes_signed_links_that_the_collector_accepts() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "pulsetap.toml", CONFIG);
    let tickets = write(
        dir.path(),
        "tickets.csv",
        "interaction,agent,channel\nT-501,alice,email\nT-502,bob,\n",
    );
    let output = collector(&[
        "email-links",
        "--config",
        &config,
        "--survey",
        "support",
        "--base-url",
        &app.address,
        "--csv",
        &tickets,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("2 email(s)"));

    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        headers,
        [
            "interaction",
            "agent",
            "channel",
            "link_1",
            "link_2",
            "link_3",
            "link_4",
            "link_5",
            "html"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let secret = Secret::new(SECRET);
    for (row, (interaction, tags)) in rows.iter().zip([
        ("T-501", vec![("agent", "alice"), ("channel", "email")]),
        ("T-502", vec![("agent", "bob")]),
    ]) {
        assert_eq!(&row[0], interaction);
        let tags: BTreeMap<String, String> = tags
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for score in 1..=5u8 {
            let link = &row[2 + usize::from(score)];
            let url = url::Url::parse(link).unwrap();
            assert_eq!(url.path(), format!("/r/support/{score}"));
            let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
            assert_eq!(query["i"], interaction);
            assert!(secret.verify_link("support", score, interaction, &tags, &query["s"]));
            assert!(row[8].contains(&link.replace('&', "&amp;")));
        }
    }

    // The links work against a collector with the same configuration.
    let page = app.client.get(&rows[0][7]).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(confirm_link(&app, &rows[0][7], "").await.status(), 200);
    let alice = app.summary("support", "tag=agent:alice").await;
    assert_eq!(alice.figures.counts["5"], 1);
    assert_eq!(alice.figures.unconfirmed_clicks, 1);
}

#[test]
fn the_bulk_command_writes_one_json_object_per_ticket_as_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "pulsetap.toml", CONFIG);
    let tickets = write(dir.path(), "tickets.csv", "agent,interaction\nalice,T-1\n");
    let out = dir.path().join("links.ndjson");
    let output = collector(&[
        "email-links",
        "--config",
        &config,
        "--survey",
        "support",
        "--base-url",
        "https://feedback.example.com",
        "--csv",
        &tickets,
        "--format",
        "ndjson",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stdout.is_empty(),
        "with --output, stdout stays empty"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let emails: Vec<EmailLinks> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].interaction, "T-1");
    assert_eq!(emails[0].tags["agent"], "alice");
    assert!(
        emails[0].links[0]
            .url
            .starts_with("https://feedback.example.com/r/support/1?i=T-1&t=agent=alice&s=")
    );
}

#[test]
fn the_bulk_command_names_what_is_wrong_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "pulsetap.toml", CONFIG);
    let cases = [
        (
            "support",
            "interaction,team\nT-1,red\n",
            "column \"team\" is not a tag of survey \"support\"",
        ),
        (
            "support",
            "interaction,agent\nT-1,alice\n,bob\n",
            "line 3: interaction must be",
        ),
        ("support", "ticket\nT-1\n", "no `interaction` column"),
        ("sales", "interaction\nT-1\n", "has no secret"),
        ("nope", "interaction\nT-1\n", "survey \"nope\" is not in"),
    ];
    for (survey, csv, expected) in cases {
        let tickets = write(dir.path(), "tickets.csv", csv);
        let output = collector(&[
            "email-links",
            "--config",
            &config,
            "--survey",
            survey,
            "--base-url",
            "https://feedback.example.com",
            "--csv",
            &tickets,
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{csv}");
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    }
    let bad_base = collector(&[
        "email-links",
        "--config",
        &config,
        "--survey",
        "support",
        "--base-url",
        "feedback.example.com",
        "--csv",
        "-",
    ]);
    assert!(!bad_base.status.success());
    assert!(String::from_utf8_lossy(&bad_base.stderr).contains("base URL"));
}
