//! What the collector does, whichever way a request came in: the application layer between the
//! HTTP routes and the store.
//!
//! - [`ingest`]: recording ratings, impressions and email clicks, as named steps.
//! - [`registry`]: registering a helpdesk's interactions, checked whole, written in chunks.
//! - [`reports`]: the figures marketers read, built from the counters.
//! - [`visitors`]: the anonymous per-visitor limits (salted hash, no IP kept).
//!
//! Nothing here knows HTTP: callers hand over wire bodies and who sent them, and get domain
//! values or errors back.

pub mod ingest;
pub mod registry;
pub mod reports;
pub mod visitors;
