//! Recounting every counter from the stored records: the shards' sums must equal what the
//! responses, impressions and registrations add up to.

use super::errors::engine;
use super::reads::{ResponseScan, counts_at};
use super::rows::{CounterKey, counter_keys};
use crate::domain::calendar::from_unix_ms;
use crate::domain::figures::Tally;
use crate::domain::registration::Registered;
use crate::store::backend::{Audit, StoreError};
use crate::store::counts::{Counts, Delta, Metric, SLOTS};
use std::collections::{BTreeMap, HashMap};
use tokio_postgres::Client;

pub(super) async fn run(client: &mut Client) -> Result<Audit, StoreError> {
    let mut expected: HashMap<CounterKey, Delta> = HashMap::new();
    let mut audit = Audit::default();
    let mut scan = ResponseScan::start(client, None).await?;
    loop {
        let chunk = scan.next_chunk().await?;
        if chunk.is_empty() {
            break;
        }
        for response in chunk {
            audit.responses += 1;
            let created = from_unix_ms(response.created_ms);
            let lang = response.lang.as_deref();
            for key in counter_keys(&response.survey, &response.tags, lang, created) {
                expected
                    .entry(key)
                    .or_default()
                    .add(Metric::Response, response.score, 1);
            }
        }
    }
    drop(scan);
    let impressions = client
        .query(
            "SELECT survey, at_ms, tags::text, lang, answered, uncounted FROM impressions",
            &[],
        )
        .await
        .map_err(engine)?;
    for row in impressions {
        let survey: &str = row.get(0);
        let tags: BTreeMap<String, String> = serde_json::from_str(row.get(2))
            .map_err(|_| StoreError::Corrupt("impression".into()))?;
        let lang: Option<&str> = row.get(3);
        let (answered, uncounted): (bool, bool) = (row.get(4), row.get(5));
        if !uncounted {
            audit.impressions += 1;
        }
        for key in counter_keys(survey, &tags, lang, from_unix_ms(row.get(1))) {
            let delta = expected.entry(key).or_default();
            if !uncounted {
                delta.add(Metric::Impression, 0, 1);
            }
            if answered {
                delta.add(Metric::Answered, 0, 1);
            }
        }
    }
    let registrations = client
        .query("SELECT survey, body::text FROM registrations", &[])
        .await
        .map_err(engine)?;
    for row in registrations {
        let survey: &str = row.get(0);
        let registration: Registered = serde_json::from_str(row.get(1))
            .map_err(|_| StoreError::Corrupt("registration".into()))?;
        // A registration has no language: it is counted before anyone chose one.
        for key in counter_keys(
            survey,
            &registration.tags,
            None,
            from_unix_ms(registration.at_ms),
        ) {
            let delta = expected.entry(key).or_default();
            delta.add(Metric::Registration, 0, 1);
            if registration.answered {
                delta.add(Metric::Answered, 0, 1);
            }
        }
    }
    let sums = (0..SLOTS)
        .map(|slot| format!("sum(c{slot})::bigint"))
        .collect::<Vec<_>>()
        .join(", ");
    let counters = client
        .query(
            format!(
                "SELECT survey, dimension, grain, bucket, {sums} FROM counters
                 GROUP BY survey, dimension, grain, bucket"
            )
            .as_str(),
            &[],
        )
        .await
        .map_err(engine)?;
    for row in counters {
        let grain: &str = row.get(2);
        let key = CounterKey {
            survey: row.get(0),
            dimension: row.get(1),
            grain: if grain == "h" { "h" } else { "d" },
            bucket: row.get(3),
        };
        let stored = counts_at(&row, 4).without_clicks();
        if stored.is_zero() && !expected.contains_key(&key) {
            // Only clicks, or changes that cancelled out: nothing to recount.
            continue;
        }
        audit.counters_checked += 1;
        let recounted = expected
            .remove(&key)
            .map_or_else(Counts::default, |delta| delta.applied_to(Counts::default()));
        if stored != recounted {
            audit
                .mismatches
                .push((key.describe(), stored.tally(), recounted.tally()));
        }
    }
    audit
        .mismatches
        .extend(expected.into_iter().map(|(key, delta)| {
            let recounted = delta.applied_to(Counts::default());
            (key.describe(), Tally::default(), recounted.tally())
        }));
    Ok(audit)
}
