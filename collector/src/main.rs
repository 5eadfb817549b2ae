//! `collector`: the Pulsetap server binary. Everything lives in the library; this only parses
//! the command line and hands over.

use clap::Parser;
use pulsetap_collector::cli::{Cli, run_cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    run_cli(Cli::parse()).await
}
