//! What the store benchmarks share: filling a store the way the collector's writer does.

use pulsetap_collector::domain::{Rating, Survey};
use pulsetap_collector::store::{Store, Write};
use time::OffsetDateTime;

/// Ratings per transaction while filling: what the writer thread commits under load, and what
/// lets ten million responses fill in minutes rather than the hours one transaction each takes.
const FILL_BATCH: u64 = 1_000;

/// Records ratings `from..to` of `survey`, each made by `rating_number(n)` with its arrival time,
/// in batches of `FILL_BATCH`, then flushes.
pub fn record_in_batches(
    store: &Store,
    survey: &Survey,
    from: u64,
    to: u64,
    rating_number: impl Fn(u64) -> (Rating, OffsetDateTime),
) {
    for first in (from..to).step_by(FILL_BATCH as usize) {
        let batch: Vec<(Rating, OffsetDateTime)> = (first..to.min(first + FILL_BATCH))
            .map(&rating_number)
            .collect();
        let writes: Vec<Write<'_>> = batch
            .iter()
            .map(|(rating, at)| Write {
                survey,
                rating,
                now: *at,
            })
            .collect();
        for result in store.record_all(&writes) {
            result.expect("every benchmark rating is recorded");
        }
    }
    store.flush().expect("the store flushes");
}
