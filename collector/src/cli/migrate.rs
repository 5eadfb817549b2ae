//! `collector migrate --data DIR --store postgres://…`: moves a stopped collector's embedded
//! store into an empty PostgreSQL database, then audits the result.
//!
//! Responses with their history, live-feed events, impressions, tag values, the anonymous
//! limits' counts and the alert outbox are copied as they are; counters are rebuilt from them
//! (with the unconfirmed clicks carried over), so the audit that ends the command recounts
//! what was written. One transaction: a migration that fails leaves the database empty.

use crate::store::{Backend, EmbeddedStore, Location, PostgresStore, StoreError};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The stopped collector's data directory (its embedded store).
    #[arg(long, env = "PULSETAP_DATA", default_value = "pulsetap-data")]
    data: PathBuf,
    /// The PostgreSQL database to fill: empty (a new database), postgres://user:password@host/db.
    #[arg(long, env = "PULSETAP_STORE")]
    store: String,
}

pub async fn run(args: MigrateArgs) -> ExitCode {
    let moved = tokio::task::spawn_blocking(move || migrate(&args)).await;
    match moved {
        Ok(Ok(0)) => ExitCode::SUCCESS,
        Ok(Ok(_)) => ExitCode::FAILURE,
        Ok(Err(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Copies, audits, prints both; the number of mismatches the audit found.
fn migrate(args: &MigrateArgs) -> Result<usize, String> {
    let location = Location::parse(&args.store).map_err(|error| format!("--store: {error}"))?;
    let Location::Postgres(url) = &location else {
        unreachable!("a parsed --store is a database");
    };
    let from = open_existing_store(&args.data)?;
    let shown = location.shown();
    let into = PostgresStore::connect(url).map_err(|error| format!("{shown}: {error}"))?;
    let imported = into
        .import(&mut |sink| from.export(sink))
        .map_err(|error| format!("{shown}: {error}"))?;
    println!(
        "copied {} responses, {} live-feed events, {} impressions, {} registrations, {} queued alerts ({} records) from {} to {shown}",
        imported.responses,
        imported.events,
        imported.impressions,
        imported.registrations,
        imported.alerts,
        imported.records,
        args.data.display()
    );
    let audit = into
        .audit()
        .map_err(|error| format!("{shown}: the audit failed: {error}"))?;
    println!(
        "audit: {} responses, {} impressions, {} counters checked, {} mismatches",
        audit.responses,
        audit.impressions,
        audit.counters_checked,
        audit.mismatches.len()
    );
    for (counter, stored, recounted) in &audit.mismatches {
        eprintln!("mismatch: {counter}: stored {stored:?}, recounted {recounted:?}");
    }
    Ok(audit.mismatches.len())
}

/// Opens a stopped collector's store for `audit` and `migrate`. Refuses a path that holds no store rather
/// than creating one there: a mistyped `--data` must not report "0 mismatches".
pub(crate) fn open_existing_store(data: &Path) -> Result<EmbeddedStore, String> {
    let holds_something = std::fs::read_dir(data)
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => format!(
                "{}: no such directory; give the collector's data directory with --data or PULSETAP_DATA",
                data.display()
            ),
            _ => format!("{}: cannot read it: {error}", data.display()),
        })?
        .next()
        .is_some();
    if !holds_something {
        return Err(format!(
            "{}: the directory is empty, so it holds no store to audit",
            data.display()
        ));
    }
    EmbeddedStore::open(data).map_err(|error| match error {
        StoreError::InUse => format!(
            "{}: the store is in use by a running collector; stop it or audit a copy",
            data.display()
        ),
        other => format!("{}: {other}", data.display()),
    })
}
