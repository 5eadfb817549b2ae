//! What the store benchmarks share: filling a store the way the collector's writer does.

use pulsetap_collector::domain::{Rating, Survey, Surveys};
use pulsetap_collector::store::{Backend, Outcome, Write};
use time::OffsetDateTime;

/// Ratings per transaction while filling: what the writer thread commits under load, and what
/// lets ten million responses fill in minutes rather than the hours one transaction each takes.
const FILL_BATCH: u64 = 1_000;

/// Records ratings `from..to` of `survey`, each made by `rating_number(n)` with its arrival time,
/// in batches of `FILL_BATCH` (one transaction each, as the writer applies them), then flushes.
pub fn record_in_batches(
    store: &dyn Backend,
    surveys: &Surveys,
    survey: &Survey,
    from: u64,
    to: u64,
    rating_number: impl Fn(u64) -> (Rating, OffsetDateTime),
) {
    for first in (from..to).step_by(FILL_BATCH as usize) {
        let writes: Vec<Write> = (first..to.min(first + FILL_BATCH))
            .map(&rating_number)
            .map(|(rating, now)| Write::Rating {
                survey: survey.id.clone(),
                rating,
                now,
                allowance_left: true,
            })
            .collect();
        let outcomes = store.apply(surveys, &writes).expect("the batch is stored");
        for outcome in outcomes {
            assert!(
                matches!(outcome, Outcome::Rating(Ok(_))),
                "every benchmark rating is recorded: {outcome:?}"
            );
        }
    }
    store.flush().expect("the store flushes");
}
