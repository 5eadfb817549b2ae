//! `collector email-links`: signed links and snippets for many emails at once, from a CSV a
//! helpdesk exports (one row per ticket), without a running collector.
//!
//! The CSV has an `interaction` column and one column per tag (`agent`, `channel`, …); an empty
//! tag cell leaves that tag out. The output repeats each row with `link_1` … `link_N` and
//! `html` added (CSV), or is one JSON object per row (NDJSON, the shape of
//! `GET /v1/surveys/{survey}/email?format=json`).

use super::{BaseUrl, Invitation};
use crate::configuration;
use crate::domain::Survey;
use clap::{Args, ValueEnum};
use pulsetap_wire::Tags;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

const INTERACTION: &str = "interaction";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Ndjson,
}

#[derive(Debug, Args)]
pub struct EmailLinksArgs {
    #[arg(long, env = "PULSETAP_CONFIG", default_value = "pulsetap.toml")]
    config: PathBuf,
    /// The survey the links rate; it needs a `secret`.
    #[arg(long)]
    survey: String,
    /// The collector as customers reach it, e.g. https://feedback.example.com
    #[arg(long)]
    base_url: String,
    /// Input CSV with an `interaction` column and one column per tag; `-` reads stdin.
    #[arg(long)]
    csv: PathBuf,
    /// Where to write; stdout by default.
    #[arg(long)]
    output: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
}

enum Sink<W: Write> {
    // Boxed: the CSV writer carries its buffer state inline, hundreds of bytes.
    Csv(Box<csv::Writer<W>>),
    Ndjson(W),
}

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error("the CSV has no `interaction` column (its columns: {0})")]
    NoInteractionColumn(String),
    #[error("column {column:?} is not a tag of survey {survey:?} (its tags: {tags})")]
    UnknownColumn {
        column: String,
        survey: String,
        tags: String,
    },
    #[error("line {line}: {message}")]
    Row { line: u64, message: String },
    #[error("{0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write: {0}")]
    Write(#[from] std::io::Error),
}

/// Runs the command; the summary and any error go to stderr, so stdout holds only the output.
pub fn run(args: EmailLinksArgs) -> ExitCode {
    match execute(&args) {
        Ok(count) => {
            eprintln!(
                "signed links for {count} email(s) of survey {}",
                args.survey
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn execute(args: &EmailLinksArgs) -> Result<usize, String> {
    let surveys = configuration::load(&args.config).map_err(|error| error.to_string())?;
    let survey = surveys.get(&args.survey).ok_or_else(|| {
        format!(
            "survey {:?} is not in {}",
            args.survey,
            args.config.display()
        )
    })?;
    if survey.secret.is_none() {
        return Err(super::LinkError::NoSecret(args.survey.clone()).to_string());
    }
    let base = BaseUrl::parse(&args.base_url)?;
    let input: Box<dyn Read> = if args.csv.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            File::open(&args.csv)
                .map_err(|error| format!("cannot read {}: {error}", args.csv.display()))?,
        )
    };
    let output: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            File::create(path)
                .map_err(|error| format!("cannot write {}: {error}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let name = args.csv.display();
    write_links(survey, &base, input, BufWriter::new(output), args.format)
        .map_err(|error| format!("{name}: {error}"))
}

/// Signs every row of `input` and writes the links; returns how many rows. Stops at the first
/// bad row, naming its line, since a helpdesk would rather fix its export than send some
/// tickets without a rating row.
pub fn write_links(
    survey: &Survey,
    base: &BaseUrl,
    input: impl Read,
    output: impl Write,
    format: Format,
) -> Result<usize, BulkError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .from_reader(input);
    let headers = reader.headers()?.clone();
    let interaction_at = headers
        .iter()
        .position(|column| column == INTERACTION)
        .ok_or_else(|| {
            BulkError::NoInteractionColumn(headers.iter().collect::<Vec<_>>().join(", "))
        })?;
    if let Some(column) = headers
        .iter()
        .enumerate()
        .find(|&(at, column)| at != interaction_at && !survey.tags.contains(column))
        .map(|(_, column)| column)
    {
        return Err(BulkError::UnknownColumn {
            column: column.to_owned(),
            survey: survey.id.to_string(),
            tags: survey.tags.iter().cloned().collect::<Vec<_>>().join(", "),
        });
    }

    let mut sink = match format {
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(output);
            let links = (1..=survey.max_score()).map(|score| format!("link_{score}"));
            let columns: Vec<String> = headers
                .iter()
                .map(str::to_owned)
                .chain(links)
                .chain(["html".to_owned()])
                .collect();
            writer.write_record(&columns)?;
            Sink::Csv(Box::new(writer))
        }
        Format::Ndjson => Sink::Ndjson(output),
    };
    let mut count = 0;
    for row in reader.records() {
        let row = row?;
        let line = row.position().map_or(0, |position| position.line());
        let tags: Tags = headers
            .iter()
            .zip(row.iter())
            .enumerate()
            .filter(|&(at, (_, value))| at != interaction_at && !value.trim().is_empty())
            .map(|(_, (key, value))| (key.to_owned(), value.trim().to_owned()))
            .collect();
        let interaction = row.get(interaction_at).unwrap_or("").trim();
        let email = Invitation::new(survey, interaction, tags)
            .map_err(|error| BulkError::Row {
                line,
                message: error.to_string(),
            })?
            .email(base);
        match &mut sink {
            Sink::Csv(writer) => {
                let cells: Vec<&str> = row
                    .iter()
                    .chain(email.links.iter().map(|link| link.url.as_str()))
                    .chain([email.html.as_str()])
                    .collect();
                writer.write_record(&cells)?;
            }
            Sink::Ndjson(output) => {
                serde_json::to_writer(&mut *output, &email).map_err(std::io::Error::from)?;
                output.write_all(b"\n")?;
            }
        }
        count += 1;
    }
    match sink {
        Sink::Csv(mut writer) => writer.flush()?,
        Sink::Ndjson(mut output) => output.flush()?,
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
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
        write_links(survey, &base, input.as_bytes(), &mut out, format)?;
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
            row[2].starts_with("https://feedback.example.com/r/support/1?i=T-9&t=agent=bob&s=")
        );
        assert!(row[7].starts_with("<!--"));
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
}
