//! # Pulsetap collector
//!
//! Records one-tap ratings durably, counts each interaction exactly once, keeps the aggregates
//! current as it writes, and serves the widget, the read API and the operations endpoints.
//!
//! # Layout
//!
//! - [`cli`]: the `collector` command line (clap): `serve`, `check-config`, `audit`, `sign`,
//!   `email-links`.
//! - [`configuration`]: `pulsetap.toml` parsed straight into domain types, errors with a line.
//! - [`startup`]: binds, builds the shared [`state::AppState`], runs until Ctrl-C or SIGTERM.
//! - [`server`]: accepts and serves HTTP/1.1 connections: a deadline on each from its first
//!   byte, and a cap on open connections below the file-descriptor limit.
//! - [`routes`]: `router(state)` and one module per area of the HTTP API.
//! - [`domain`]: surveys, ratings, signatures, days, figures: values valid by construction.
//! - [`store`]: sled trees; the transaction that writes a batch of responses with their
//!   counters; the writer thread that batches ratings and flushes before answering; group commit
//!   for the other writes.
//! - [`visitor`]: the anonymous per-visitor daily limit (salted hash, no IP kept).
//! - [`metrics`]: Prometheus counters and histograms.
//! - [`error`]: `ApiError`, the one error type every handler returns.
//! - [`email`]: the email channel: signed emoji links, the snippet for an email, the landing
//!   pages they open, and the bulk signing behind `collector email-links`.
//! - [`alerts`]: posts unhappy ratings from the store's outbox to webhooks, retrying until
//!   delivered, across restarts.
//!
//! A rating travels: `routes::ingest` parses the JSON, finds the survey, checks the origin,
//! turns the body into a `domain::Rating` (or a clear 4xx), takes the visitor allowance,
//! `store::writer` writes it with every rating waiting beside it in one atomic transaction and
//! one fsync, and only then is `201`/`200` sent.

pub mod alerts;
pub mod cli;
pub mod configuration;
pub mod domain;
pub mod email;
pub mod error;
pub mod metrics;
pub mod routes;
pub mod server;
pub mod startup;
pub mod state;
pub mod store;
pub mod visitor;
