//! `collector email-links`: signed links and snippets for many emails at once, from a CSV a
//! helpdesk exports (one row per ticket), without a running collector.
//!
//! The CSV has an `interaction` column, one column per tag (`agent`, `channel`, …; an empty tag
//! cell leaves that tag out) and, optionally, a `lang` column with the customer's languages
//! (`fr`, `pt-BR,en`: the email is in the first the survey has, else in its default texts). The
//! output repeats each row with a `link_<score>` per button and `html` added (CSV), or is one
//! JSON object per row (NDJSON, the shape of `GET /v1/surveys/{survey}/email?format=json`).
//!
//! The output is all or nothing: every row is checked before the first byte is written (the
//! input is read twice, stdin from a temporary copy), and `--output` is written to a temporary
//! file beside it that replaces it only when complete. So `> tickets-with-links.csv` is either
//! every ticket or empty with exit 1, never half the tickets, which a mail merge would send
//! without anyone noticing.

use crate::configuration;
use crate::domain::Survey;
use crate::email::{BaseUrl, Invitation, LinkError};
use clap::{Args, ValueEnum};
use pulsetap_wire::{Tags, tags};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const INTERACTION: &str = "interaction";
const LANG: &str = crate::domain::survey::LANG_DIMENSION;

/// How much of stdin is kept in memory before its copy moves to a temporary file.
const STDIN_IN_MEMORY: usize = 8 * 1024 * 1024;

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
    /// Where to write; stdout by default. Replaced only once every row is written.
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
    #[error("column {0:?} appears twice")]
    RepeatedColumn(String),
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
    #[error("cannot read: {0}")]
    Read(std::io::Error),
    /// Writing failed: the input is fine, the destination (a full disk, a closed pipe) is not.
    #[error("{0}")]
    Write(std::io::Error),
}

impl BulkError {
    /// A CSV writer's error: always about the destination.
    fn written(error: csv::Error) -> Self {
        match error.into_kind() {
            csv::ErrorKind::Io(error) => Self::Write(error),
            other => Self::Write(std::io::Error::other(format!("{other:?}"))),
        }
    }
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
        return Err(LinkError::NoSecret(args.survey.clone()).to_string());
    }
    let base = BaseUrl::parse(&args.base_url)?;
    if args.csv.as_os_str() == "-" {
        // Read twice (check, then write), so it is copied first.
        let mut copy = tempfile::spooled_tempfile(STDIN_IN_MEMORY);
        std::io::copy(&mut std::io::stdin().lock(), &mut copy)
            .map_err(|error| format!("cannot read stdin: {error}"))?;
        copy.rewind()
            .map_err(|error| format!("cannot read stdin: {error}"))?;
        produce(args, survey, &base, copy)
    } else {
        let file = File::open(&args.csv)
            .map_err(|error| format!("cannot read {}: {error}", args.csv.display()))?;
        produce(args, survey, &base, file)
    }
}

/// Writes the links of `input` to stdout or to `--output`, naming the input in errors about
/// the input and the destination in errors about writing.
fn produce(
    args: &EmailLinksArgs,
    survey: &Survey,
    base: &BaseUrl,
    input: impl Read + Seek,
) -> Result<usize, String> {
    let input_name = if args.csv.as_os_str() == "-" {
        "stdin".to_owned()
    } else {
        args.csv.display().to_string()
    };
    let destination = args
        .output
        .as_ref()
        .map_or_else(|| "stdout".to_owned(), |path| path.display().to_string());
    let describe = |error: BulkError| match error {
        BulkError::Write(error) => format!("cannot write to {destination}: {error}"),
        other => format!("{input_name}: {other}"),
    };
    let Some(path) = &args.output else {
        let stdout = BufWriter::new(std::io::stdout().lock());
        return write_links(survey, base, input, stdout, args.format).map_err(describe);
    };
    let cannot_write = |error: std::io::Error| format!("cannot write to {destination}: {error}");
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temporary = tempfile::NamedTempFile::new_in(directory).map_err(cannot_write)?;
    // A file being replaced keeps its permissions; a new one is its owner's only (the links
    // let whoever holds them rate these tickets).
    if let Ok(existing) = std::fs::metadata(path) {
        temporary
            .as_file()
            .set_permissions(existing.permissions())
            .map_err(cannot_write)?;
    }
    let count = write_links(
        survey,
        base,
        input,
        BufWriter::new(temporary.as_file_mut()),
        args.format,
    )
    .map_err(describe)?;
    temporary
        .persist(path)
        .map_err(|error| cannot_write(error.error))?;
    Ok(count)
}

/// Signs every row of `input` and writes the links; returns how many rows. Every row is checked
/// before anything is written, and the first bad one is named by its line: a helpdesk would
/// rather fix its export than send some tickets without a rating row.
pub fn write_links(
    survey: &Survey,
    base: &BaseUrl,
    mut input: impl Read + Seek,
    output: impl Write,
    format: Format,
) -> Result<usize, BulkError> {
    let mut reader = csv_reader(&mut input);
    let columns = Columns::read(survey, &mut reader)?;
    for row in reader.records() {
        columns.invitation(survey, &row?)?;
    }
    drop(reader);
    input.rewind().map_err(BulkError::Read)?;

    let mut reader = csv_reader(input);
    let columns = Columns::read(survey, &mut reader)?;
    let mut sink = match format {
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(output);
            let links = survey.scores().map(|score| format!("link_{score}"));
            let names: Vec<String> = columns
                .names
                .iter()
                .map(str::to_owned)
                .chain(links)
                .chain(["html".to_owned()])
                .collect();
            writer.write_record(&names).map_err(BulkError::written)?;
            Sink::Csv(Box::new(writer))
        }
        Format::Ndjson => Sink::Ndjson(output),
    };
    let mut count = 0;
    for row in reader.records() {
        let row = row?;
        let email = columns.invitation(survey, &row)?.email(base);
        match &mut sink {
            Sink::Csv(writer) => {
                let cells: Vec<&str> = row
                    .iter()
                    .chain(email.links.iter().map(|link| link.url.as_str()))
                    .chain([email.html.as_str()])
                    .collect();
                writer.write_record(&cells).map_err(BulkError::written)?;
            }
            Sink::Ndjson(output) => {
                serde_json::to_writer(&mut *output, &email)
                    .map_err(|error| BulkError::Write(error.into()))?;
                output.write_all(b"\n").map_err(BulkError::Write)?;
            }
        }
        count += 1;
    }
    match sink {
        Sink::Csv(mut writer) => writer.flush().map_err(BulkError::Write)?,
        Sink::Ndjson(mut output) => output.flush().map_err(BulkError::Write)?,
    }
    Ok(count)
}

fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .from_reader(input)
}

/// The header row, checked against the survey: one `interaction` column, perhaps a `lang`
/// column, every other column one of the survey's tags, none twice.
struct Columns {
    names: csv::StringRecord,
    interaction_at: usize,
    lang_at: Option<usize>,
}

impl Columns {
    fn read(survey: &Survey, reader: &mut csv::Reader<impl Read>) -> Result<Self, BulkError> {
        let names = reader.headers()?.clone();
        let mut seen = HashSet::new();
        if let Some(name) = names.iter().find(|name| !seen.insert(*name)) {
            return Err(BulkError::RepeatedColumn(name.to_owned()));
        }
        let interaction_at = names
            .iter()
            .position(|name| name == INTERACTION)
            .ok_or_else(|| {
                BulkError::NoInteractionColumn(names.iter().collect::<Vec<_>>().join(", "))
            })?;
        let lang_at = names.iter().position(|name| name == LANG);
        if let Some(name) = names
            .iter()
            .enumerate()
            .find(|&(at, name)| {
                at != interaction_at && Some(at) != lang_at && !survey.tags.contains(name)
            })
            .map(|(_, name)| name)
        {
            return Err(BulkError::UnknownColumn {
                column: name.to_owned(),
                survey: survey.id.to_string(),
                tags: survey.tags.iter().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        Ok(Self {
            names,
            interaction_at,
            lang_at,
        })
    }

    /// The invitation of one row. Tag cells follow the tag-text rules (`pulsetap_wire::tags`),
    /// since the links carry them as text: an empty cell leaves its tag out, and a value tag
    /// text can't carry (a `,`, over 200 characters) names its line.
    fn invitation<'a>(
        &self,
        survey: &'a Survey,
        row: &csv::StringRecord,
    ) -> Result<Invitation<'a>, BulkError> {
        let line = row.position().map_or(0, |position| position.line());
        let refused = |message: String| BulkError::Row { line, message };
        let tags: Tags = self
            .names
            .iter()
            .zip(row.iter())
            .enumerate()
            .filter(|&(at, (_, value))| {
                at != self.interaction_at && Some(at) != self.lang_at && !value.trim().is_empty()
            })
            .map(|(_, (key, value))| (key.to_owned(), value.trim().to_owned()))
            .collect();
        tags::format(&tags).map_err(|error| refused(error.to_string()))?;
        let interaction = row.get(self.interaction_at).unwrap_or("").trim();
        let lang = self.lang_at.and_then(|at| row.get(at)).unwrap_or("");
        Invitation::new(survey, interaction, tags)
            .map(|invitation| invitation.speaking(lang))
            .map_err(|error| refused(error.to_string()))
    }
}

#[cfg(test)]
mod tests;
