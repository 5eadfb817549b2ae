//! Alert delivery: unhappy ratings are posted to their survey's webhook, at least once, a burst
//! as one message, and a comment that follows as an update.
//!
//! The store writes a notice into its outbox in the same transaction as the rating (an alert
//! when it is unhappy, an update when a comment follows an alert), so a notice exists exactly
//! when its rating does, whatever crashes. This worker drains the outbox, which is kept in due
//! order so a round reads only what is due: it merges the notices of a survey into one message
//! and seals it ([`coalesce`]), posts it with its `Idempotency-Key` (the same on every retry,
//! so a receiver can drop repeats), removes it after a 2xx, and otherwise reschedules it,
//! backing off exponentially. A message the webhook has refused for longer than the survey's
//! `alert.give_up_after` is set aside: kept, counted in `/metrics`, listed on the dashboard as
//! undelivered. Every change goes through the store's writer, so a restart carries on where the
//! last run stopped instead of losing or re-sending everything at once.
//!
//! The worker sleeps until the earliest message is due. A durable rating that queued a notice
//! wakes it; the notice is ready `coalesce::GATHER` later, so it sleeps until then.
//!
//! # Layout
//!
//! - this file: the worker, posting and retrying.
//! - [`coalesce`]: which messages a round posts, merged and sealed.
//! - [`payload`]: the body a webhook receives and the text a person reads.

pub mod coalesce;
pub mod payload;

use crate::domain::{Alert, Surveys};
use crate::metrics::Metrics;
use crate::store::{AlertMessage, OutboxChange, Store, StoreError};
use payload::Payload;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A webhook that has not answered by then is treated as down, so one dead receiver can't stall
/// the others for long.
const POST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// A receiver that is down for a day is retried hourly, not hammered.
const LONGEST_RETRY: Duration = Duration::from_secs(60 * 60);
/// Posts in flight at once, so a backlog after an outage drains quickly but politely.
const PARALLEL_POSTS: usize = 8;
/// Messages taken from the outbox per round; the rest wait for the next round, which follows
/// at once.
const ROUND: usize = 256;
/// Even with nothing due, look at the outbox this often: a safety net should a wake-up be missed.
const IDLE_RECHECK: Duration = Duration::from_secs(60);

/// Starts the worker; it stops when `stopping` is cancelled. A post cut short by the stop is
/// simply sent again by the next run: delivery is at least once, and the key makes it safe.
pub fn start(
    store: Store,
    surveys: Arc<Surveys>,
    metrics: Arc<Metrics>,
    stopping: CancellationToken,
) -> JoinHandle<()> {
    let wake = store.alerts_queued();
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(POST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect is not a delivery; following one would turn the POST into a GET.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pulsetap-collector/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "cannot build the HTTP client; alerts stay in the outbox");
                return;
            }
        };
        match store.undelivered_count().await {
            Ok(count) => {
                metrics.alert_messages_undelivered.set(count as i64);
            }
            Err(error) => tracing::error!(%error, "cannot count the undelivered alerts"),
        }
        let mut worker = Worker {
            store,
            surveys,
            metrics,
            client,
            last_new: HashMap::new(),
        };
        tokio::select! {
            () = stopping.cancelled() => {}
            () = worker.run(wake) => {}
        }
    })
}

struct Worker {
    store: Store,
    surveys: Arc<Surveys>,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
    /// When each survey's webhook last got a new message of alerts (not a retry), for
    /// `coalesce::SPACING`.
    last_new: HashMap<String, i64>,
}

impl Worker {
    async fn run(&mut self, wake: Arc<Notify>) {
        let idle_recheck = millis(IDLE_RECHECK);
        loop {
            let next = match self.deliver_round().await {
                Ok(next) => next,
                Err(error) => {
                    tracing::error!(%error, "cannot read or update the alert outbox");
                    None
                }
            };
            let mut until = next.map_or(now_ms() + idle_recheck, |next| {
                next.min(now_ms() + idle_recheck)
            });
            // A notification sent while a round ran is kept as a permit, so none is missed. A
            // new notice is ready `GATHER` after it was queued: no need to look before.
            loop {
                let pause = until.saturating_sub(now_ms());
                if pause <= 0 {
                    break;
                }
                tokio::select! {
                    () = wake.notified() => {
                        until = until.min(now_ms() + millis(coalesce::GATHER));
                    }
                    () = tokio::time::sleep(Duration::from_millis(pause.unsigned_abs())) => break,
                }
            }
        }
    }

    /// Posts what is due. Returns when the next message falls due, if any remain.
    async fn deliver_round(&mut self) -> Result<Option<i64>, StoreError> {
        let now = now_ms();
        let found = self.store.due_alerts(now, ROUND).await?;
        if !found.unreadable.is_empty() {
            tracing::error!(
                count = found.unreadable.len(),
                "dropping alert messages that can't be read"
            );
            self.store
                .change_outbox(OutboxChange {
                    remove: found.unreadable,
                    ..OutboxChange::default()
                })
                .await?;
        }
        let plan = coalesce::plan(found.due, now, &self.last_new);
        for change in plan.changes {
            self.store.change_outbox(change).await?;
        }
        for survey in plan.new_messages_for {
            self.last_new.insert(survey, now);
        }
        let mut next = earliest(found.next_due_ms, plan.next_due_ms);

        use futures::StreamExt;
        let worker = &*self;
        let outcomes: Vec<_> = futures::stream::iter(plan.post)
            .map(|message| async move {
                let result = worker.post(&message).await;
                (message, result)
            })
            .buffer_unordered(PARALLEL_POSTS)
            .collect()
            .await;

        for (message, result) in outcomes {
            let notices = message.notices.len() as u64;
            match result {
                Ok(()) => {
                    self.store
                        .change_outbox(OutboxChange {
                            remove: vec![message.key()],
                            ..OutboxChange::default()
                        })
                        .await?;
                    self.metrics.alerts_delivered.inc_by(notices);
                }
                Err(reason) => {
                    self.metrics.alert_posts_failed.inc();
                    let change = self.after_failure(message, reason, now_ms());
                    if let Some(queued) = &change.queue {
                        next = earliest(next, Some(queued.due_ms));
                    }
                    let set_aside = change.set_aside.is_some();
                    self.store.change_outbox(change).await?;
                    if set_aside {
                        self.metrics.alerts_set_aside.inc_by(notices);
                        self.metrics.alert_messages_undelivered.inc();
                    }
                }
            }
        }
        Ok(next)
    }

    /// A failed post: retried later, or set aside once the webhook has refused it for longer
    /// than the survey's `give_up_after`.
    fn after_failure(&self, mut message: AlertMessage, reason: String, now: i64) -> OutboxChange {
        let was = message.key();
        message.attempts = message.attempts.saturating_add(1);
        let first_failed = *message.first_failed_ms.get_or_insert(now);
        message.last_error = Some(reason.clone());
        let give_up_after = self
            .surveys
            .get(&message.survey)
            .and_then(|survey| survey.alert.as_ref())
            .map_or(Alert::DEFAULT_GIVE_UP_AFTER, |alert| alert.give_up_after);
        if now.saturating_sub(first_failed) >= millis(give_up_after) {
            tracing::error!(
                key = message.idempotency_key,
                attempts = message.attempts,
                ratings = message.notices.len(),
                %reason,
                "alert not delivered for {}s: set aside, listed on the dashboard as undelivered",
                give_up_after.as_secs()
            );
            message.gave_up_ms = Some(now);
            return OutboxChange {
                remove: vec![was],
                queue: None,
                set_aside: Some(message),
            };
        }
        let delay = retry_delay(message.attempts);
        message.due_ms = now.saturating_add(millis(delay));
        tracing::warn!(
            key = message.idempotency_key,
            attempts = message.attempts,
            retry_in_s = delay.as_secs(),
            %reason,
            "alert not delivered; will retry"
        );
        OutboxChange {
            remove: vec![was],
            queue: Some(message),
            set_aside: None,
        }
    }

    async fn post(&self, message: &AlertMessage) -> Result<(), String> {
        let survey = self.surveys.get(&message.survey).map(AsRef::as_ref);
        // The configured webhook wins over the one stored with the message, so fixing a wrong
        // URL in the configuration also reaches messages still waiting.
        let webhook = survey
            .and_then(|survey| survey.alert.as_ref())
            .map_or(message.webhook.as_str(), |configured| {
                configured.webhook.as_str()
            });
        let response = self
            .client
            .post(webhook)
            .header("Idempotency-Key", &message.idempotency_key)
            .json(&Payload::of(message, survey))
            .send()
            .await
            .map_err(|error| error.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the webhook answered {}", response.status()))
        }
    }
}

/// 1 s, 2 s, 4 s … doubling per failed attempt, never more than an hour.
pub fn retry_delay(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    FIRST_RETRY
        .saturating_mul(1 << doublings)
        .min(LONGEST_RETRY)
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn now_ms() -> i64 {
    crate::domain::calendar::unix_ms(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_a_second_up_to_an_hour() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(5), Duration::from_secs(16));
        assert_eq!(retry_delay(13), LONGEST_RETRY);
        assert_eq!(retry_delay(u32::MAX), LONGEST_RETRY);
    }
}
