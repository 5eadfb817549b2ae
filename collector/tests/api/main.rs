//! Integration tests of the collector's HTTP API (CONTRACT §2–3), each against a real server on
//! port 0 with its own temporary data directory.

mod helpers;

mod aggregates;
mod auth;
mod configuration;
mod durability;
mod ingest_errors;
mod recording;
