use super::*;
use crate::email::{EmailLinks, LinkQuery};

const CONFIG: &str = r#"
[[survey]]
id = "support"
tags = ["agent", "channel"]
secret = "a long random string for tests"
"#;

fn run_on(input: &str, format: Format) -> Result<String, BulkError> {
    let surveys = configuration::parse(CONFIG).unwrap();
    let survey = surveys.get("support").unwrap();
    let base = BaseUrl::parse("https://feedback.example.com").unwrap();
    let mut out = Vec::new();
    write_links(
        survey,
        &base,
        std::io::Cursor::new(input.as_bytes()),
        &mut out,
        format,
    )?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn each_row_gets_its_signed_links_and_snippet_in_ndjson() {
    let out = run_on(
        "\u{feff}interaction, agent\nT-1,alice\nT-2,\n",
        Format::Ndjson,
    )
    .unwrap();
    let emails: Vec<EmailLinks> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(emails.len(), 2);
    assert_eq!(emails[0].interaction, "T-1");
    assert_eq!(emails[0].tags["agent"], "alice");
    assert!(
        emails[1].tags.is_empty(),
        "an empty cell leaves its tag out"
    );
    let surveys = configuration::parse(CONFIG).unwrap();
    let survey = surveys.get("support").unwrap();
    for email in &emails {
        assert_eq!(email.links.len(), 5);
        assert!(
            email
                .html
                .contains(&email.links[4].url.replace('&', "&amp;"))
        );
        let link = &email.links[2];
        let s = link.url.rsplit_once("&s=").unwrap().1;
        let query = LinkQuery {
            i: email.interaction.clone(),
            t: email
                .tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            l: Some("en".into()),
            s: s.to_owned(),
        };
        assert!(Invitation::from_link(survey, 3, &query).is_ok());
    }
}

#[test]
fn csv_output_keeps_the_input_columns_and_adds_links_and_html() {
    let out = run_on("agent,interaction\nbob,T-9\n", Format::Csv).unwrap();
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        headers,
        [
            "agent",
            "interaction",
            "link_1",
            "link_2",
            "link_3",
            "link_4",
            "link_5",
            "html"
        ]
    );
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[0], "bob");
    assert!(
        row[2].starts_with("https://feedback.example.com/r/support/1?i=T-9&t=agent=bob&l=en&s=")
    );
    assert!(row[7].starts_with("<!--"));
}

/// Runs the command into `out`, which keeps whatever was written before an error.
fn run_into(input: &str, out: &mut Vec<u8>) -> Result<usize, BulkError> {
    let surveys = configuration::parse(CONFIG).unwrap();
    let survey = surveys.get("support").unwrap();
    let base = BaseUrl::parse("https://feedback.example.com").unwrap();
    write_links(
        survey,
        &base,
        std::io::Cursor::new(input.as_bytes()),
        out,
        Format::Csv,
    )
}

#[test]
fn nothing_is_written_when_a_later_row_is_bad() {
    let mut tickets = String::from("interaction,agent\n");
    for n in 0..1_000 {
        tickets.push_str(&format!("T-{n},alice\n"));
    }
    tickets.push_str("T-bad\u{7},bob\n");
    let mut out = Vec::new();
    let error = run_into(&tickets, &mut out).unwrap_err();
    assert!(error.to_string().starts_with("line 1002:"), "{error}");
    assert!(out.is_empty(), "{} bytes written", out.len());
}

#[test]
fn tag_cells_follow_the_tag_text_rules() {
    let comma = run_on("interaction,agent\nT-1,\"alice,bob\"\n", Format::Csv).unwrap_err();
    assert!(comma.to_string().starts_with("line 2:"), "{comma}");
    assert!(comma.to_string().contains("','"), "{comma}");
    let long = format!("interaction,agent\nT-1,{}\n", "a".repeat(201));
    let long = run_on(&long, Format::Csv).unwrap_err();
    assert!(long.to_string().contains("longer than 200"), "{long}");
    let twice = run_on("interaction,agent,agent\nT-1,a,b\n", Format::Csv).unwrap_err();
    assert!(
        twice.to_string().contains("\"agent\" appears twice"),
        "{twice}"
    );
}

#[test]
fn a_failing_destination_is_a_write_error_not_a_bad_input() {
    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }
    let surveys = configuration::parse(CONFIG).unwrap();
    let survey = surveys.get("support").unwrap();
    let base = BaseUrl::parse("https://feedback.example.com").unwrap();
    for format in [Format::Csv, Format::Ndjson] {
        let error = write_links(
            survey,
            &base,
            std::io::Cursor::new(b"interaction\nT-1\n"),
            Closed,
            format,
        )
        .unwrap_err();
        assert!(
            matches!(&error, BulkError::Write(e) if e.kind() == std::io::ErrorKind::BrokenPipe),
            "{error:?}"
        );
    }
}

#[test]
fn a_bad_header_or_row_is_named_and_stops_the_run() {
    let missing = run_on("ticket,agent\nT-1,alice\n", Format::Csv).unwrap_err();
    assert!(
        missing.to_string().contains("no `interaction` column"),
        "{missing}"
    );
    let unknown = run_on("interaction,team\nT-1,x\n", Format::Csv).unwrap_err();
    assert!(unknown.to_string().contains("\"team\""), "{unknown}");
    let bad_row = run_on("interaction,agent\nT-1,alice\n,bob\n", Format::Csv).unwrap_err();
    assert!(bad_row.to_string().starts_with("line 3:"), "{bad_row}");
}

#[test]
fn a_lang_column_writes_each_email_in_its_customers_language() {
    let config = format!(
        "{CONFIG}kind = \"nps\"\n[survey.texts.fr]\nquestion = \"Nous recommanderiez-vous ?\"\n\
         low_label = \"Peu probable\"\nhigh_label = \"Très probable\"\nfollow_up = \"Pourquoi ?\"\n\
         thank_you = \"Merci !\"\nsend = \"Envoyer\"\n\
         confirm = \"Touchez votre note pour l'envoyer.\"\n"
    );
    let surveys = configuration::parse(&config).unwrap();
    let survey = surveys.get("support").unwrap();
    let base = BaseUrl::parse("https://feedback.example.com").unwrap();
    let mut out = Vec::new();
    let input = "interaction,lang,agent\nT-1,\"fr-CA,en\",alice\nT-2,,bob\n";
    write_links(
        survey,
        &base,
        std::io::Cursor::new(input),
        &mut out,
        Format::Csv,
    )
    .unwrap();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers[3], "link_0", "NPS links start at 0");
    assert_eq!(headers[13], "link_10");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(
        rows[0][3].contains("&t=agent=alice&l=fr&s="),
        "{}",
        &rows[0][3]
    );
    assert!(rows[0][14].contains("Nous recommanderiez-vous ?"));
    assert!(
        rows[1][3].contains("&l=en&s="),
        "an empty cell: the default texts"
    );
}
