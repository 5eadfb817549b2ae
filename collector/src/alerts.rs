//! Alert delivery: each unhappy rating is posted to its survey's webhook, at least once.
//!
//! The store writes a `PendingAlert` into its outbox in the same transaction as the rating, so
//! an alert exists exactly when its rating does, whatever crashes. This worker drains the
//! outbox: it posts each alert with its `Idempotency-Key` (the same on every retry, so a
//! receiver can drop repeats), removes it after a 2xx, and otherwise keeps it with a later
//! `next_attempt_ms`, backing off exponentially. Both are written through the store's writer,
//! so a restart carries on where the last run stopped instead of losing or re-sending
//! everything at once.
//!
//! The worker sleeps until the earliest retry is due, and is woken early when a durable rating
//! has queued an alert (`Store::alerts_queued`).

use crate::domain::Surveys;
use crate::store::{PendingAlert, Store, StoreError};
use pulsetap_wire::ResponseRecord;
use serde::Serialize;
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
/// Jobs taken from the tree per round; the rest wait for the next round, which follows at once.
const ROUND: usize = 64;
/// Even with nothing due, look at the outbox this often: a safety net should a wake-up be missed.
const IDLE_RECHECK: Duration = Duration::from_secs(60);

/// What the webhook receives: Slack's `text` plus the whole response for other receivers.
#[derive(Debug, Serialize)]
pub struct AlertPayload<'a> {
    pub text: String,
    pub survey: &'a str,
    pub idempotency_key: &'a str,
    pub response: &'a ResponseRecord,
}

/// Starts the worker; it stops when `stopping` is cancelled. A post cut short by the stop is
/// simply sent again by the next run: delivery is at least once, and the key makes it safe.
pub fn start(store: Store, surveys: Arc<Surveys>, stopping: CancellationToken) -> JoinHandle<()> {
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
        let worker = Worker {
            store,
            surveys,
            client,
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
    client: reqwest::Client,
}

impl Worker {
    async fn run(&self, wake: Arc<Notify>) {
        loop {
            let pause = match self.deliver_round().await {
                Ok(Some(next_ms)) => {
                    let wait_ms = next_ms.saturating_sub(now_ms()).max(0);
                    Duration::from_millis(wait_ms.unsigned_abs()).min(IDLE_RECHECK)
                }
                Ok(None) => IDLE_RECHECK,
                Err(error) => {
                    tracing::error!(%error, "cannot read the alert outbox");
                    IDLE_RECHECK
                }
            };
            // A notification sent while a round ran is kept as a permit, so none is missed.
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Posts the alerts that are due. Returns when the next one falls due, if any remain.
    async fn deliver_round(&self) -> Result<Option<i64>, StoreError> {
        let found = self.store.due_alerts(now_ms(), ROUND).await?;
        for id in found.unreadable {
            tracing::error!(id = id.0, "dropping an alert that can't be read");
            self.store.alert_sent(id).await?;
        }
        let mut next = found.next_due_ms;

        use futures::StreamExt;
        let outcomes: Vec<_> = futures::stream::iter(found.due)
            .map(|alert| async move {
                let result = self.post(&alert).await;
                (alert, result)
            })
            .buffer_unordered(PARALLEL_POSTS)
            .collect()
            .await;

        for (mut alert, result) in outcomes {
            match result {
                Ok(()) => self.store.alert_sent(alert.id).await?,
                Err(reason) => {
                    alert.attempts = alert.attempts.saturating_add(1);
                    let delay = retry_delay(alert.attempts);
                    alert.next_attempt_ms = now_ms().saturating_add(delay.as_millis() as i64);
                    tracing::warn!(
                        key = alert.idempotency_key,
                        attempts = alert.attempts,
                        retry_in_s = delay.as_secs(),
                        %reason,
                        "alert not delivered; will retry"
                    );
                    next =
                        Some(next.map_or(alert.next_attempt_ms, |n| n.min(alert.next_attempt_ms)));
                    self.store.alert_failed(alert).await?;
                }
            }
        }
        Ok(next)
    }

    async fn post(&self, alert: &PendingAlert) -> Result<(), String> {
        let record = alert.response.to_record();
        let survey = self.surveys.get(&record.survey);
        // The configured webhook wins over the one stored with the job, so fixing a wrong URL
        // in the configuration also reaches alerts still waiting.
        let webhook = survey
            .and_then(|survey| survey.alert.as_ref())
            .map_or(alert.webhook.as_str(), |configured| {
                configured.webhook.as_str()
            });
        let score = survey.map_or_else(
            || format!("score {}", record.score),
            |survey| survey.describe_score(record.score),
        );
        let payload = AlertPayload {
            text: alert_text(&record, &score),
            survey: &record.survey,
            idempotency_key: &alert.idempotency_key,
            response: &record,
        };
        let response = self
            .client
            .post(webhook)
            .header("Idempotency-Key", &alert.idempotency_key)
            .json(&payload)
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

/// The one-line summary a person reads in the channel; `score` is the score as the survey
/// describes it (`Survey::describe_score`: `😠 Awful (1/5)`, `3/10 (a detractor)`).
///
/// Slack reads `<…>` as links and mentions (`<!channel>` pings everyone) and `&` as an escape, so
/// those three are escaped in everything a customer could have typed.
pub fn alert_text(record: &ResponseRecord, score: &str) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut text = format!(
        "Unhappy rating on {}: {}",
        escape(&record.survey),
        escape(score)
    );
    if let Some(interaction) = &record.interaction {
        text.push_str(&format!(" for {}", escape(interaction)));
    }
    if !record.tags.is_empty() {
        let tags: Vec<String> = record
            .tags
            .iter()
            .map(|(key, value)| format!("{}={}", escape(key), escape(value)))
            .collect();
        text.push_str(&format!(" · {}", tags.join(", ")));
    }
    if let Some(comment) = record.comment.as_deref().filter(|c| !c.trim().is_empty()) {
        text.push_str(&format!("\n> {}", escape(comment).replace('\n', "\n> ")));
    }
    text
}

/// 1 s, 2 s, 4 s … doubling per failed attempt, never more than an hour.
pub fn retry_delay(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    FIRST_RETRY
        .saturating_mul(1 << doublings)
        .min(LONGEST_RETRY)
}

fn now_ms() -> i64 {
    crate::domain::calendar::unix_ms(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(comment: Option<&str>) -> ResponseRecord {
        ResponseRecord {
            survey: "support".into(),
            response_id: "r1".into(),
            interaction: Some("chat-1".into()),
            score: 1,
            tags: [("agent".to_string(), "alice".to_string())].into(),
            comment: comment.map(str::to_owned),
            lang: None,
            created_at: "2026-11-23T10:00:00Z".into(),
            updated_at: "2026-11-23T10:00:00Z".into(),
            history: Vec::new(),
        }
    }

    #[test]
    fn retries_double_from_a_second_up_to_an_hour() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(5), Duration::from_secs(16));
        assert_eq!(retry_delay(13), LONGEST_RETRY);
        assert_eq!(retry_delay(u32::MAX), LONGEST_RETRY);
    }

    #[test]
    fn the_alert_text_names_the_score_the_tags_and_quotes_the_comment() {
        let text = alert_text(&record(Some("Too slow")), "😠 Awful (1/5)");
        assert_eq!(
            text,
            "Unhappy rating on support: 😠 Awful (1/5) for chat-1 · agent=alice\n> Too slow"
        );
        let surveys = crate::configuration::parse(
            "[[survey]]\nid = \"nps\"\nkind = \"nps\"\n[[survey]]\nid = \"ces\"\nkind = \"ces\"\n",
        )
        .unwrap();
        let nps = surveys.get("nps").unwrap().describe_score(3);
        assert_eq!(
            alert_text(&record(None), &nps),
            "Unhappy rating on support: 3/10 (a detractor) for chat-1 · agent=alice"
        );
        assert_eq!(
            surveys.get("ces").unwrap().describe_score(2),
            "2/7 (1 is Very difficult)"
        );
    }

    #[test]
    fn a_comment_cannot_mention_a_whole_slack_channel_or_forge_a_link() {
        let text = alert_text(
            &record(Some("<!channel> <https://evil|click> & co")),
            "score 1",
        );
        assert!(text.contains("&lt;!channel&gt; &lt;https://evil|click&gt; &amp; co"));
        assert!(!text.contains("<!channel>"));
    }
}
