//! The `collector` command line.

use crate::configuration;
use crate::startup::{Settings, serve};
use crate::store::{Backend, EmbeddedStore};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    /// Run it on a stopped collector's data directory.
    Audit {
        #[arg(long, env = "PULSETAP_DATA", default_value = "pulsetap-data")]
        data: PathBuf,
    },
    /// Print the `data-sig` for an interaction and its tags, for pages that embed the widget.
    Sign {
        #[arg(long, env = "PULSETAP_CONFIG", default_value = "pulsetap.toml")]
        config: PathBuf,
        #[arg(long)]
        survey: String,
        #[arg(long)]
        interaction: Option<String>,
        /// `key=value,key=value`
        #[arg(long, default_value = "")]
        tags: String,
    },
    /// Sign email rating links in bulk: reads a CSV with an `interaction` column and one
    /// column per tag, writes each row with its links and HTML snippet (CSV or NDJSON).
    EmailLinks(crate::email::bulk::EmailLinksArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PULSETAP_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// sled data directory (created when missing).
    #[arg(long, env = "PULSETAP_DATA", default_value = "pulsetap-data")]
    data: PathBuf,
    /// Configuration file. Without this flag, `pulsetap.toml` is read when present.
    #[arg(long, env = "PULSETAP_CONFIG")]
    config: Option<PathBuf>,
    /// The built widget (`scripts/build-widget.sh` writes `widget/dist`).
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
                config: args.config.or_else(|| existing(Path::new("pulsetap.toml"))),
                assets: args
                    .assets
                    .or_else(|| existing(Path::new("widget/dist")))
                    .or_else(|| {
                        existing(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../widget/dist"))
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
        Command::Audit { data } => match EmbeddedStore::open(&data).and_then(|store| store.audit())
        {
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
            Err(error) => fail(&error),
        },
        Command::Sign {
            config,
            survey,
            interaction,
            tags,
        } => {
            let surveys = match configuration::load(&config) {
                Ok(surveys) => surveys,
                Err(error) => return fail(&error),
            };
            let Some(secret) = surveys.get(&survey).and_then(|s| s.secret.clone()) else {
                eprintln!(
                    "error: survey {survey:?} is not in {} or has no secret",
                    config.display()
                );
                return ExitCode::FAILURE;
            };
            let tags = match pulsetap_wire::tags::parse(&tags) {
                Ok(tags) => tags,
                Err(error) => return fail(&error),
            };
            println!(
                "{}",
                secret.sign_interaction(&survey, interaction.as_deref(), &tags)
            );
            ExitCode::SUCCESS
        }
        Command::EmailLinks(args) => crate::email::bulk::run(args),
    }
}

fn existing(path: &Path) -> Option<PathBuf> {
    path.exists().then(|| path.to_path_buf())
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
