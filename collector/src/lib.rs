//! # Pulsetap collector
//!
//! Records one-tap ratings durably, counts each interaction exactly once, keeps the aggregates
//! current as it writes, and serves the widget, the read API and the operations endpoints.
//!
//! # Layout
//!
//! - [`cli`]: the `collector` command line (clap): `serve`, `check-config`, `audit`, `sign`,
//!   `email-links` (the bulk signer of email links, `cli::email_links`).
//! - [`configuration`]: `pulsetap.toml` parsed straight into domain types, errors with a line.
//! - [`startup`]: binds, builds the shared [`state::AppState`], runs until Ctrl-C or SIGTERM.
//! - [`server`]: accepts and serves HTTP/1.1 connections: a deadline on each from its first
//!   byte, and a cap on open connections below the file-descriptor limit.
//! - [`routes`]: the HTTP layer: `router(state)`, `ApiError`, extractors, one module per area.
//! - [`state`]: `AppState`, what every handler shares.
//! - [`service`]: the application layer: recording ratings, impressions and email clicks as
//!   named steps, the reports marketers read, the visitor limits. Knows no HTTP.
//! - [`alerts`]: posts unhappy ratings from the store's outbox to webhooks, retrying until
//!   delivered, across restarts.
//! - [`email`]: the email channel's links: signing and checking them, the snippet for an email,
//!   the pages they open.
//! - [`store`]: one interface over the storage engine (the embedded fjall store, or PostgreSQL):
//!   every write through one writer thread, every read off the async runtime.
//! - [`metrics`]: Prometheus counters and histograms.
//! - [`domain`]: surveys, ratings, responses and the rule that merges answers, signatures, days,
//!   figures: values valid by construction. Imports nothing above it.
//!
//! Each layer imports only the ones listed after it (`configuration` sits beside `domain`,
//! which it fills; `cli` and `startup` on top of everything).
//!
//! A rating travels: `routes::ingest` checks the visitor's flood limit and parses the JSON;
//! `service::ingest` finds the survey, checks the page's origin, turns the body into a
//! `domain::Rating` (or a clear 4xx) and takes the visitor's allowance; `store::writer` writes
//! it with every write waiting beside it in one atomic transaction and one fsync, and only then
//! is `201`/`200` sent.

pub mod alerts;
pub mod cli;
pub mod configuration;
pub mod domain;
pub mod email;
pub mod metrics;
pub mod routes;
pub mod server;
pub mod service;
pub mod startup;
pub mod state;
pub mod store;

/// jemalloc, for every program built on this library: the `collector` binary, and so also its
/// tests and benchmarks, which then measure the allocator that ships. With glibc's malloc a
/// fifth of the collector's CPU under load went to malloc and free (perf: a request's buffers
/// are allocated on a runtime thread and freed on the writer, and the other way round), and the
/// writer thread alone spent a quarter of its time in `_int_malloc`. Measured on the project's
/// machine (BENCHMARKS.md): wrk against `collector serve`, 8-20 % more ratings/s at 32
/// connections and 27-33 % more at 256; filling a store with a million responses 1.5x faster;
/// resident memory at a million responses 116 MB against 104 MB (the goal is 150).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
