//! `collector backup --to DIR`: a consistent copy of the store, from a running collector
//! without stopping it, or from a stopped one's data directory.
//!
//! A running collector is asked through its admin socket in the data directory
//! (`startup::admin_socket`): its writer copies the store between two batches, so the copy
//! holds every rating acknowledged before the request, and the server keeps answering. The copy
//! is written by the collector, on its host, to an absolute path that must not exist yet; a
//! stopped collector's store is copied the same way by this command itself.

use crate::startup::admin_socket;
use crate::store::{Backend, BackupReport, EmbeddedStore, StoreError};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::http::{Request, header};
use hyper_util::rt::TokioIo;
use pulsetap_wire::ErrorBody;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The data directory of the collector to back up, running or stopped.
    #[arg(long, env = "PULSETAP_DATA", default_value = "pulsetap-data")]
    data: PathBuf,
    /// Where to write the copy: a directory that does not exist yet, on the collector's host.
    /// A collector started with `--data` there serves it.
    #[arg(long)]
    to: PathBuf,
}

pub async fn run(args: BackupArgs) -> ExitCode {
    match back_up(&args.data, &args.to).await {
        Ok((report, how)) => {
            println!(
                "{}: {} responses ({} records) {how}; {} ms",
                report.to.display(),
                report.responses,
                report.records,
                report.paused_ms
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn back_up(data: &Path, to: &Path) -> Result<(BackupReport, &'static str), String> {
    let to = std::path::absolute(to).map_err(|error| format!("{}: {error}", to.display()))?;
    let socket = admin_socket(data);
    #[cfg(unix)]
    match tokio::net::UnixStream::connect(&socket).await {
        Ok(stream) => {
            return ask_collector(stream, &to).await.map(|report| {
                (
                    report,
                    "copied by the running collector, which kept serving",
                )
            });
        }
        // No socket, or one left by a collector that is gone: nothing is running.
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) => {}
        Err(error) => return Err(format!("{}: {error}", socket.display())),
    }
    copy_stopped(data, &to).map(|report| (report, "copied from the stopped collector's store"))
}

/// Asks the collector on the other end of `stream` for a backup, over HTTP.
#[cfg(unix)]
async fn ask_collector(stream: tokio::net::UnixStream, to: &Path) -> Result<BackupReport, String> {
    let unreachable = |error: &dyn std::fmt::Display| format!("the running collector: {error}");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| unreachable(&error))?;
    tokio::spawn(connection);
    let body = serde_json::to_vec(&serde_json::json!({ "to": to })).expect("JSON");
    let request = Request::post("/backup")
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request");
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| unreachable(&error))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| unreachable(&error))?
        .to_bytes();
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|error| unreachable(&error));
    }
    Err(match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(error) => error.message,
        Err(_) => format!(
            "the running collector answered {status}: {}",
            String::from_utf8_lossy(&body)
        ),
    })
}

/// Copies a stopped collector's store. Refuses a directory that holds no store rather than
/// creating one there.
fn copy_stopped(data: &Path, to: &Path) -> Result<BackupReport, String> {
    let holds_a_store = std::fs::read_dir(data)
        .map_err(|error| format!("{}: {error}", data.display()))?
        .next()
        .is_some();
    if !holds_a_store {
        return Err(format!(
            "{}: the directory is empty, so it holds no store to back up",
            data.display()
        ));
    }
    let store = EmbeddedStore::open(data).map_err(|error| match error {
        StoreError::InUse => format!(
            "{}: a collector holds this store but its admin socket ({}) does not answer: restart it to back it up while it runs",
            data.display(),
            admin_socket(data).display()
        ),
        other => format!("{}: {other}", data.display()),
    })?;
    store
        .backup(to, &mut || {})
        .map_err(|error| error.to_string())
}
