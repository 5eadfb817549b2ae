//! `collector email-links`: a helpdesk signs the rating links of many tickets at once.

use crate::helpers::*;
use pulsetap_collector::domain::Secret;
use pulsetap_collector::domain::signature::LinkFields;
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
            assert_eq!(query["l"], "en", "the survey's default language");
            assert!(secret.verify_link(
                &LinkFields {
                    survey: "support",
                    score,
                    interaction,
                    tags: &tags,
                    lang: Some("en"),
                },
                &query["s"]
            ));
            assert!(row[8].contains(&link.replace('&', "&amp;")));
        }
    }

    // The links work against a collector with the same configuration.
    let page = app.client.get(&rows[0][7]).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(confirm_link(&app, &rows[0][7], "").await.status(), 200);
    let all = app.summary("support", "").await;
    assert_eq!(all.figures.counts["5"], 1);
    assert_eq!(all.figures.unconfirmed_clicks, 1);
    // One response is under the survey's min_group_size: alice's figures stay hidden.
    assert!(app.summary("support", "tag=agent:alice").await.too_few);
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
            .starts_with("https://feedback.example.com/r/support/1?i=T-1&t=agent=alice&l=en&s=")
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

/// `email-links` for survey `support` on `tickets`, with more arguments.
fn email_links(config: &str, tickets: &str, more: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_collector"));
    command
        .args([
            "email-links",
            "--config",
            config,
            "--survey",
            "support",
            "--base-url",
            "https://feedback.example.com",
            "--csv",
            tickets,
        ])
        .args(more);
    command
}

/// Runs `command` with `input` on its stdin, as `cat tickets.csv | collector … --csv -` would.
fn with_stdin(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input).unwrap();
    child.wait_with_output().unwrap()
}

/// A thousand good tickets, then a bad one (an interaction with a control character).
fn tickets_with_a_bad_last_row() -> String {
    let mut csv = String::from("interaction,agent\n");
    for n in 1..=1_000 {
        csv.push_str(&format!("T-{n},alice\n"));
    }
    csv.push_str("T-\u{7},bob\n");
    csv
}

#[test]
fn a_bad_row_leaves_a_redirected_output_empty_and_an_existing_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "pulsetap.toml", CONFIG);
    let tickets = write(dir.path(), "tickets.csv", &tickets_with_a_bad_last_row());

    // `> tickets-with-links.csv`: the shell has made the file; nothing reaches it.
    let redirected = dir.path().join("tickets-with-links.csv");
    let status = email_links(&config, &tickets, &[])
        .stdout(std::fs::File::create(&redirected).unwrap())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success());
    assert_eq!(std::fs::read(&redirected).unwrap().len(), 0, "no half file");

    // `--output`: last week's complete file stays as it was.
    let previous = write(dir.path(), "links.csv", "last week's links\n");
    let output = email_links(&config, &tickets, &["--output", &previous])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("{tickets}: line 1002:")),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&previous).unwrap(),
        "last week's links\n"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left.len(), 4, "no temporary file is left behind: {left:?}");

    // The same bad CSV on stdin.
    let output = with_stdin(
        &mut email_links(&config, "-", &[]),
        tickets_with_a_bad_last_row().as_bytes(),
    );
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "nothing on stdout");
    assert!(String::from_utf8_lossy(&output.stderr).contains("stdin: line 1002:"));
}

#[test]
fn csv_from_stdin_and_a_complete_output_file_are_written_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "pulsetap.toml", CONFIG);
    let out = dir.path().join("links.csv");
    let output = with_stdin(
        &mut email_links(&config, "-", &["--output", out.to_str().unwrap()]),
        b"interaction,agent\nT-1,alice\nT-2,bob\n",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[1][1], "bob");
}

#[test]
fn a_closed_pipe_is_reported_as_a_write_error_not_blamed_on_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "pulsetap.toml", CONFIG);
    // Far more than a pipe holds, so the writer meets the closed end whenever it closes.
    let mut csv = String::from("interaction,agent\n");
    for n in 1..=2_000 {
        csv.push_str(&format!("T-{n},alice\n"));
    }
    let tickets = write(dir.path(), "tickets.csv", &csv);
    let mut child = email_links(&config, &tickets, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // `| head -0`
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("cannot write to stdout"), "{stderr}");
    assert!(
        !stderr.contains("tickets.csv"),
        "the input is fine: {stderr}"
    );
}
