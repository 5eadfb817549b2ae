//! The schema's migrations, shipped in the binary and applied when a collector connects.
//!
//! A table of applied versions and one `include_str!` per migration, rather than a migration
//! crate: several collectors may start at once against one database, so the migrations must run
//! under a lock that only one of them holds at a time (an advisory lock, taken in the same
//! transaction that applies them); with that lock the rest is a dozen lines.

use super::errors::engine;
use crate::store::backend::StoreError;
use tokio_postgres::Client;

/// Every migration, oldest first; a version is applied once and never edited afterwards.
const MIGRATIONS: &[(i32, &str)] = &[(1, include_str!("migrations/0001_initial.sql"))];

/// The advisory lock the migrations run under: any number, the same in every collector.
const MIGRATION_LOCK: i64 = 0x7075_6c73_6574_6170; // "pulsetap"

/// Brings the database's schema to this binary's version. Refuses a schema newer than it knows
/// (written by a newer collector): an older collector must not write into it.
pub(super) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let transaction = client.transaction().await.map_err(engine)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(engine)?;
    // Looked up first: `CREATE TABLE IF NOT EXISTS` would log a notice at every start.
    let fresh: bool = transaction
        .query_one("SELECT to_regclass('pulsetap_migrations') IS NULL", &[])
        .await
        .map_err(engine)?
        .get(0);
    if fresh {
        transaction
            .batch_execute(
                "CREATE TABLE pulsetap_migrations (
                     version    integer PRIMARY KEY,
                     applied_at timestamptz NOT NULL DEFAULT now()
                 )",
            )
            .await
            .map_err(engine)?;
    }
    let applied: Option<i32> = transaction
        .query_one("SELECT max(version) FROM pulsetap_migrations", &[])
        .await
        .map_err(engine)?
        .get(0);
    let applied = applied.unwrap_or(0);
    let latest = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    if applied > latest {
        return Err(StoreError::Engine(format!(
            "the database's schema is version {applied}, newer than this collector knows ({latest}): run the newer collector"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > applied) {
        transaction.batch_execute(sql).await.map_err(engine)?;
        transaction
            .execute(
                "INSERT INTO pulsetap_migrations (version) VALUES ($1)",
                &[version],
            )
            .await
            .map_err(engine)?;
        tracing::info!(
            version,
            "applied a schema migration to the PostgreSQL store"
        );
    }
    transaction.commit().await.map_err(engine)
}
