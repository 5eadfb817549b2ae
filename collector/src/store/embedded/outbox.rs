//! Alerts waiting for their webhook, under their rating's event number.

use super::keys;
use super::trees::{EmbeddedStore, decode};
use crate::store::backend::{AlertId, DueAlerts, PendingAlert, StoreError};

/// Alerts due at `now_ms`, at most `limit`, and when the next of the others falls due. An
/// entry that no longer decodes is listed as unreadable: retrying can't make it readable.
pub(super) fn due(
    store: &EmbeddedStore,
    now_ms: i64,
    limit: usize,
) -> Result<DueAlerts, StoreError> {
    let mut found = DueAlerts::default();
    let later = |at: i64, found: &mut DueAlerts| {
        found.next_due_ms = Some(found.next_due_ms.map_or(at, |next| next.min(at)));
    };
    for entry in store.outbox.iter() {
        let (key, value) = entry?;
        let Ok(alert) = decode::<PendingAlert>(&value, "alert") else {
            if let Some(id) = keys::event_sequence(&key) {
                found.unreadable.push(AlertId(id));
            }
            continue;
        };
        if alert.next_attempt_ms > now_ms {
            later(alert.next_attempt_ms, &mut found);
        } else if found.due.len() < limit {
            found.due.push(alert);
        } else {
            later(now_ms, &mut found);
        }
    }
    Ok(found)
}
