//! The embedded store: a fjall database (an LSM tree per "tree" below) in the data directory,
//! the default.
//!
//! Trees:
//! - `responses`: identity → the response with its history (`stored_response`: compact, and
//!   JSON as written before 2026-12-04).
//! - `counters`: (survey, dimension, grain, bucket) → every count of that bucket (`store::counts`).
//!   Reads touch only these.
//! - `tag_values`: every tag value seen, so a breakdown knows its groups without a scan.
//! - `impressions`: (survey, response_id) → when and with which tags a widget was shown.
//! - `events`: the live feed's sequence numbers → the identities of the responses they changed,
//!   one entry per writer transaction (`event_log`).
//! - `outbox`: alert messages waiting for their webhook, in due order, and those set aside as
//!   undelivered (`outbox`).
//! - `registrations`: (survey, interaction) → the tags a helpdesk registered for it, its expiry,
//!   and whether it was answered (`domain::registration::Registered`, JSON).
//! - `limits`: what the anonymous limits count: distinct values per (survey, tag), and new
//!   unverified responses per (survey, day) (`domain::limits` decides; `keys` has the layout).
//!
//! A response and every counter it moves are written in one transaction, so no crash can leave
//! the aggregates disagreeing with the responses. Only the writer calls `apply`; a batch is one
//! transaction, made durable (the journal synced) by `flush` before any write in it is answered.
//!
//! Stores written by versions before fjall are sled stores; the first open carries them over
//! (`from_sled`).
//!
//! # Layout
//!
//! - [`trees`]: the database, its trees, and how records are encoded.
//! - [`records`]: the transaction that applies a batch of writes, and ratings.
//! - [`transaction`]: the trees of a batch's transaction.
//! - [`batch`]: what the writes of a batch share: its totals, the counters an event falls in,
//!   the anonymous limits' check.
//! - [`registry`]: registrations, the tags they vouch for, the invitations a response rate counts.
//! - [`views`]: impressions and email clicks.
//! - [`reads`]: counters, tag values, responses, comments.
//! - [`events`]: reading the live feed's sequence.
//! - [`event_log`]: how the `events` tree stores it, one entry per transaction.
//! - [`outbox`]: alert messages waiting for their webhook, and those set aside.
//! - [`audit`]: recounting every counter from the records.
//! - [`backup`]: a consistent copy of the whole store, taken by the writer between batches.
//! - [`export`]: every record, for `collector migrate` to carry into another engine.
//! - [`from_sled`]: carrying a sled store over, once, after bringing it to sled's last format.
//! - [`keys`]: the byte layouts of keys (counter values are `store::counts`).
//! - [`stored_response`]: how a response is kept, and read in either of its formats.

mod audit;
mod backup;
mod batch;
mod event_log;
mod events;
mod export;
#[cfg(test)]
mod fixtures;
mod from_sled;
pub mod keys;
mod outbox;
mod reads;
mod records;
mod registry;
mod stored_response;
mod transaction;
mod trees;
mod views;

use crate::domain::figures::Tally;
use crate::domain::registration::Registered;
use crate::domain::response::Response;
use crate::domain::survey::Surveys;
use crate::store::backend::{
    AlertMessage, Audit, Backend, BackupReport, CommentPage, CommentQuery, Dimension, DueAlerts,
    EventBatch, Grain, Outcome, RecordSink, StoreError, Write,
};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;

pub use trees::EmbeddedStore;

impl EmbeddedStore {
    /// Opens the store in the data directory `path`, creating it when missing, and carries a
    /// sled store found there over.
    pub fn open(path: &std::path::Path) -> Result<Self, StoreError> {
        let store = Self::open_as_is(path)?;
        from_sled::carry_over(path, &store)?;
        let next = event_log::next_number(&store.events)?;
        store
            .next_event
            .store(next, std::sync::atomic::Ordering::Relaxed);
        Ok(store)
    }

    /// Calls `sink` with every record of the store (see `Record`), stopping at its first error.
    pub fn export(&self, sink: &mut RecordSink<'_>) -> Result<(), StoreError> {
        export::run(self, sink)
    }
}

impl Backend for EmbeddedStore {
    fn apply(&self, surveys: &Surveys, writes: &[Write]) -> Result<Vec<Outcome>, StoreError> {
        records::apply(self, surveys, writes)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.sync()
    }

    fn tallies(
        &self,
        survey: &str,
        dimension: &Dimension<'_>,
        grain: Grain,
        from: u32,
        to: u32,
    ) -> Result<BTreeMap<u32, Tally>, StoreError> {
        reads::tallies(self, survey, dimension, grain, from, to)
    }

    fn tag_values(&self, survey: &str, tag: &str) -> Result<Vec<String>, StoreError> {
        reads::tag_values(self, survey, tag)
    }

    fn registration(
        &self,
        survey: &str,
        interaction: &str,
    ) -> Result<Option<Registered>, StoreError> {
        reads::registration(self, survey, interaction)
    }

    fn find(
        &self,
        survey: &str,
        interaction: Option<&str>,
        response_id: &str,
    ) -> Result<Option<Response>, StoreError> {
        reads::find(self, &keys::identity(survey, interaction, response_id))
    }

    fn each_response(
        &self,
        survey: &str,
        visit: &mut dyn FnMut(Response) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        reads::each_response(self, survey, visit)
    }

    fn events(
        &self,
        survey: &str,
        first: u64,
        until: u64,
        limit: usize,
    ) -> Result<EventBatch, StoreError> {
        events::read(self, survey, first, until, limit)
    }

    fn newest_event(&self) -> Result<Option<u64>, StoreError> {
        events::newest(self)
    }

    fn comments(&self, query: &CommentQuery) -> Result<CommentPage, StoreError> {
        reads::comments(self, query)
    }

    fn due_alerts(&self, now_ms: i64, limit: usize) -> Result<DueAlerts, StoreError> {
        outbox::due(self, now_ms, limit)
    }

    fn undelivered_alerts(
        &self,
        survey: &str,
        limit: usize,
    ) -> Result<Vec<AlertMessage>, StoreError> {
        outbox::undelivered(self, survey, limit)
    }

    fn undelivered_count(&self) -> Result<u64, StoreError> {
        outbox::undelivered_count(self)
    }

    fn audit(&self) -> Result<Audit, StoreError> {
        audit::run(self)
    }

    fn backup(&self, to: &Path, progress: &mut dyn FnMut()) -> Result<BackupReport, StoreError> {
        backup::copy_to(self, to, progress)
    }
}
