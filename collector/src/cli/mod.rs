//! The `collector` command line.

pub mod backup;
pub mod email_links;
pub mod migrate;

use crate::configuration;
use crate::domain::{Interaction, TagSet};
use crate::startup::{Settings, serve};
use crate::store::{Audit, Backend, Location, PostgresStore};
use clap::{Args, Parser, Subcommand};
use pulsetap_wire::tags;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Read by `serve` when `--config` is not given and the file exists.
const DEFAULT_CONFIG: &str = "pulsetap.toml";
/// Where `scripts/build-widget.sh` writes the widget, relative to the working directory.
const DEFAULT_ASSETS: &str = "widget/dist";

#[derive(Debug, Parser)]
#[command(
    name = "collector",
    version,
    about = "Pulsetap: one-tap customer ratings, counted once, durably."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the collector.
    Serve(ServeArgs),
    /// Check a configuration file and exit (0 when it is valid).
    CheckConfig {
        #[arg(long, env = "PULSETAP_CONFIG", default_value = "pulsetap.toml")]
        config: PathBuf,
    },
    /// Recount every aggregate from the stored responses and report any difference.
    /// Run it on a stopped collector's data directory, or on a copy of a running one's.
    Audit {
        /// An existing data directory; nothing is created.
        #[arg(long, env = "PULSETAP_DATA", default_value = "pulsetap-data")]
        data: PathBuf,
        /// Audit this PostgreSQL database instead (collectors may keep running: it reads one
        /// snapshot).
        #[arg(long, env = "PULSETAP_STORE")]
        store: Option<String>,
    },
    /// Print the `data-sig` for an interaction and its tags, for pages that embed the widget.
    Sign {
        #[arg(long, env = "PULSETAP_CONFIG", default_value = "pulsetap.toml")]
        config: PathBuf,
        #[arg(long)]
        survey: String,
        #[arg(long)]
        interaction: Option<String>,
        /// `key=value,key=value`, each key one of the survey's `tags`.
        #[arg(long, default_value = "")]
        tags: String,
    },
    /// Sign email rating links in bulk: reads a CSV with an `interaction` column and one
    /// column per tag, writes each row with its links and HTML snippet (CSV or NDJSON).
    EmailLinks(email_links::EmailLinksArgs),
    /// Write a consistent copy of the store to a new directory, while the collector keeps
    /// serving (or from a stopped collector's data directory). Start a collector with
    /// `--data` there to restore it.
    Backup(backup::BackupArgs),
    /// Move a stopped collector's embedded store into an empty PostgreSQL database, then
    /// audit it (exits non-zero unless the audit finds 0 mismatches).
    Migrate(migrate::MigrateArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PULSETAP_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The embedded store's data directory (created when missing), unless a store is given.
    #[arg(long, env = "PULSETAP_DATA", default_value = "pulsetap-data")]
    data: PathBuf,
    /// A PostgreSQL database to store in, shared by any number of collectors:
    /// postgres://user:password@host:5432/database (`?sslmode=require` for TLS). Wins over
    /// `store` in the configuration file; without either, the embedded store in --data.
    #[arg(long, env = "PULSETAP_STORE")]
    store: Option<String>,
    /// Configuration file. Without this flag, `pulsetap.toml` is read when present.
    #[arg(long, env = "PULSETAP_CONFIG")]
    config: Option<PathBuf>,
    /// The built widget: a directory holding `pulsetap.js`, which `scripts/build-widget.sh`
    /// writes to `widget/dist`. Without this flag, `./widget/dist` is used when it holds one.
    #[arg(long, env = "PULSETAP_ASSETS")]
    assets: Option<PathBuf>,
}

pub async fn run_cli(cli: Cli) -> ExitCode {
    init_tracing();
    match cli.command {
        Command::Serve(args) => {
            let settings = Settings {
                listen: args.listen,
                data: args.data,
                store: args.store,
                config: args.config.or_else(|| existing(Path::new(DEFAULT_CONFIG))),
                // Only the working directory's build is looked for: a path baked in at compile
                // time would point into the build machine, or at a stale build.
                assets: args.assets.or_else(|| {
                    Path::new(DEFAULT_ASSETS)
                        .join("pulsetap.js")
                        .is_file()
                        .then(|| PathBuf::from(DEFAULT_ASSETS))
                }),
            };
            match serve(settings).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error),
            }
        }
        Command::CheckConfig { config } => match configuration::load(&config) {
            Ok(surveys) => {
                println!(
                    "{}: {} survey(s), valid",
                    config.display(),
                    surveys.iter().count()
                );
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        },
        Command::Audit { data, store } => match match store {
            Some(url) => audit_database(url).await,
            None => migrate::open_existing_store(&data).and_then(|store| {
                store
                    .audit()
                    .map_err(|error| format!("{}: {error}", data.display()))
            }),
        } {
            Ok(audit) => {
                println!(
                    "{} responses, {} impressions, {} counters checked, {} mismatches",
                    audit.responses,
                    audit.impressions,
                    audit.counters_checked,
                    audit.mismatches.len()
                );
                if audit.mismatches.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(message) => fail(&message),
        },
        Command::Sign {
            config,
            survey,
            interaction,
            tags,
        } => match sign(&config, &survey, interaction.as_deref(), &tags) {
            Ok(signature) => {
                println!("{signature}");
                ExitCode::SUCCESS
            }
            Err(message) => fail(&message),
        },
        Command::EmailLinks(args) => email_links::run(args),
        Command::Backup(args) => backup::run(args).await,
        Command::Migrate(args) => migrate::run(args).await,
    }
}

/// Audits a PostgreSQL store, off the async runtime (the store blocks).
async fn audit_database(url: String) -> Result<Audit, String> {
    tokio::task::spawn_blocking(move || {
        let Location::Postgres(url) =
            Location::parse(&url).map_err(|error| format!("--store: {error}"))?
        else {
            unreachable!("a parsed --store is a database");
        };
        let shown = Location::Postgres(url.clone()).shown();
        PostgresStore::connect(&url)
            .and_then(|store| store.audit())
            .map_err(|error| format!("{shown}: {error}"))
    })
    .await
    .map_err(|error| error.to_string())?
}

/// The `data-sig` for an interaction and its tags, after the checks the collector makes when
/// the signed rating arrives: a signature it would refuse anyway must not be handed out.
fn sign(
    config: &Path,
    survey_id: &str,
    interaction: Option<&str>,
    tags_text: &str,
) -> Result<String, String> {
    let surveys = configuration::load(config).map_err(|error| error.to_string())?;
    let survey = surveys
        .get(survey_id)
        .ok_or_else(|| format!("survey {survey_id:?} is not in {}", config.display()))?;
    let secret = survey.secret.as_ref().ok_or_else(|| {
        format!(
            "survey {survey_id:?} has no secret in {}, so there is nothing to sign with",
            config.display()
        )
    })?;
    let interaction = interaction
        .map(Interaction::parse)
        .transpose()
        .map_err(|error| format!("--interaction: {error}"))?;
    let tags = tags::parse(tags_text).map_err(|error| format!("--tags: {error}"))?;
    if let Some(key) = tags.keys().find(|key| !survey.tags.contains(*key)) {
        let known = match survey.tags.len() {
            0 => "it has none".to_owned(),
            _ => format!(
                "its tags: {}",
                survey.tags.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        };
        return Err(format!(
            "--tags: {key:?} is not a tag of survey {survey_id:?} ({known})"
        ));
    }
    let tags = TagSet::parse(tags, survey).map_err(|error| format!("--tags: {error}"))?;
    Ok(secret.sign_interaction(
        survey_id,
        interaction.as_ref().map(Interaction::as_str),
        tags.as_map(),
    ))
}

fn existing(path: &Path) -> Option<PathBuf> {
    path.exists().then(|| path.to_path_buf())
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

/// Logs go to stderr, coloured only for a person watching a terminal: a log redirected to a
/// file or collected by a service manager gets no escape codes. `NO_COLOR` turns colour off
/// everywhere. The storage engine's own log (fjall's, through the `log` bridge) says at `info`
/// what each of its trees recovered on every open: `lsm_tree=warn` keeps only its problems.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,tower_http=info,lsm_tree=warn")
    });
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}
