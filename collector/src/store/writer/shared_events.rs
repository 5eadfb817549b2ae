//! Announcing the live-feed events that other collectors write to a store they share.

use crate::store::backend::Backend;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How often a collector whose store other collectors write too looks for their new events,
/// so a dashboard connected to it sees their ratings within a second.
pub const SHARED_POLL: Duration = Duration::from_millis(200);

/// Announces the newest event of a store that other collectors write too, whenever it moves,
/// until the writer is gone (`alive` no longer upgrades). Generic over what `alive` points to
/// (the writer's health) so that this file need not import its parent: no two files may import
/// each other (`tests/layers.rs`).
pub(super) fn watch_shared_events<Writer: Send + Sync + 'static>(
    backend: Arc<dyn Backend>,
    live: broadcast::Sender<u64>,
    alive: std::sync::Weak<Writer>,
) {
    let watch = move || {
        let mut announced = None;
        while alive.upgrade().is_some() {
            match backend.newest_event() {
                Ok(newest) if newest > announced => {
                    if let Some(event) = newest {
                        let _ = live.send(event);
                    }
                    announced = newest;
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot look for other collectors' events"),
            }
            std::thread::sleep(SHARED_POLL);
        }
    };
    std::thread::Builder::new()
        .name("pulsetap-events".into())
        .spawn(watch)
        .expect("the events thread starts");
}
