//! Driver errors as the rest of the collector sees them.

use crate::store::backend::StoreError;

/// A driver error as the rest of the collector sees it, with the database's own words.
pub(super) fn engine(error: tokio_postgres::Error) -> StoreError {
    let mut text = error.to_string();
    if let Some(db) = error.as_db_error() {
        text = format!("PostgreSQL: {}: {}", db.code().code(), db.message());
    } else if let Some(source) = std::error::Error::source(&error) {
        text = format!("PostgreSQL: {text}: {source}");
    }
    StoreError::Engine(text)
}
