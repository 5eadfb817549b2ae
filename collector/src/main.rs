//! `collector`: the Pulsetap server binary. Everything lives in the library; this only parses
//! the command line and hands over.

use clap::Parser;
use pulsetap_collector::cli::{Cli, run_cli};

/// sled copies a tree node on every write and frees the old one: with glibc's malloc that churn
/// cost a sixth of the ingest path's time (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    run_cli(Cli::parse()).await
}
