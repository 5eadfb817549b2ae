//! Prometheus metrics, one registry per running app (tests run many apps in one process).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use time::OffsetDateTime;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub responses_accepted: Family<StatusLabel, Counter>,
    pub responses_rejected: Family<ReasonLabel, Counter>,
    pub impressions_accepted: Counter,
    pub impressions_over_allowance: Counter,
    pub unverified_responses_created: Counter,
    pub flush_seconds: Histogram,
    pub flush_batch_size: Histogram,
    /// Notices (unhappy ratings, follow-up comments) a webhook acknowledged.
    pub alerts_delivered: Counter,
    /// Posts of alert messages that failed (and will be retried, or were set aside).
    pub alert_posts_failed: Counter,
    /// Notices set aside undelivered since the start.
    pub alerts_set_aside: Counter,
    /// Alert messages set aside undelivered, in the store.
    pub alert_messages_undelivered: Gauge,
    /// Ratings refused per survey and reason since the start, for the dashboard's integration
    /// problems. Only configured surveys are kept, so its size is bounded.
    refusals: Mutex<HashMap<String, BTreeMap<&'static str, Refused>>>,
    started: OffsetDateTime,
}

/// How often one reason refused a survey's ratings, and the last time it did.
#[derive(Debug, Clone)]
pub struct Refused {
    pub count: u64,
    pub last_at: OffsetDateTime,
    pub last_message: String,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("pulsetap");
        let responses_accepted = Family::<StatusLabel, Counter>::default();
        let responses_rejected = Family::<ReasonLabel, Counter>::default();
        let impressions_accepted = Counter::default();
        let impressions_over_allowance = Counter::default();
        let unverified_responses_created = Counter::default();
        let flush_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        let flush_batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        let alerts_delivered = Counter::default();
        let alert_posts_failed = Counter::default();
        let alerts_set_aside = Counter::default();
        let alert_messages_undelivered = Gauge::default();
        registry.register(
            "responses_accepted",
            "Ratings stored durably, by outcome (created, updated, unchanged)",
            responses_accepted.clone(),
        );
        registry.register(
            "responses_rejected",
            "Ratings refused, by reason",
            responses_rejected.clone(),
        );
        registry.register(
            "impressions_accepted",
            "Widget impressions received",
            impressions_accepted.clone(),
        );
        registry.register(
            "impressions_over_allowance",
            "Impressions not counted: the visitor had shown the survey's widget max_impressions_per_visitor_per_day times today",
            impressions_over_allowance.clone(),
        );
        registry.register(
            "unverified_responses_created",
            "New responses nobody vouched for (unsigned): what each survey's max_unverified_per_day limits; refusals past it count in responses_rejected{reason=\"unverified_limit\"}",
            unverified_responses_created.clone(),
        );
        registry.register(
            "flush_seconds",
            "Time of one batch: its transaction and its flush to disk",
            flush_seconds.clone(),
        );
        registry.register(
            "flush_batch_size",
            "Ratings or other writes made durable by one flush",
            flush_batch_size.clone(),
        );
        registry.register(
            "alerts_delivered",
            "Unhappy ratings and follow-up comments a webhook acknowledged",
            alerts_delivered.clone(),
        );
        registry.register(
            "alert_posts_failed",
            "Posts of alert messages a webhook did not acknowledge (retried later, or set aside)",
            alert_posts_failed.clone(),
        );
        registry.register(
            "alerts_set_aside",
            "Unhappy ratings and follow-up comments set aside undelivered (after alert.give_up_after of failures) since the start",
            alerts_set_aside.clone(),
        );
        registry.register(
            "alert_messages_undelivered",
            "Alert messages set aside undelivered, kept in the store and listed on the dashboard",
            alert_messages_undelivered.clone(),
        );
        Self {
            registry,
            responses_accepted,
            responses_rejected,
            impressions_accepted,
            impressions_over_allowance,
            unverified_responses_created,
            flush_seconds,
            flush_batch_size,
            alerts_delivered,
            alert_posts_failed,
            alerts_set_aside,
            alert_messages_undelivered,
            refusals: Mutex::default(),
            started: OffsetDateTime::now_utc(),
        }
    }
}

impl Metrics {
    /// Counts what became of a rating, whichever way it came in: its status when stored, else
    /// the error code it was refused with.
    pub fn count_rating(&self, outcome: Result<pulsetap_wire::WriteStatus, &'static str>) {
        use pulsetap_wire::WriteStatus;
        match outcome {
            Ok(status) => {
                let status = match status {
                    WriteStatus::Created => "created",
                    WriteStatus::Updated => "updated",
                    WriteStatus::Unchanged => "unchanged",
                };
                self.responses_accepted
                    .get_or_create(&StatusLabel { status })
                    .inc();
            }
            Err(reason) => {
                tracing::debug!(reason, "rating dropped");
                self.responses_rejected
                    .get_or_create(&ReasonLabel { reason })
                    .inc();
            }
        }
    }

    /// Counts a refused rating; with the survey it was for (a configured one: the caller
    /// checks), also notes it among that survey's integration problems.
    pub fn refused(&self, survey: Option<&str>, reason: &'static str, message: String) {
        self.count_rating(Err(reason));
        if let Some(survey) = survey {
            self.note_refusal(survey, reason, message);
        }
    }

    fn note_refusal(&self, survey: &str, reason: &'static str, message: String) {
        let mut refusals = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        let refused = refusals
            .entry(survey.to_owned())
            .or_default()
            .entry(reason)
            .or_insert_with(|| Refused {
                count: 0,
                last_at: OffsetDateTime::UNIX_EPOCH,
                last_message: String::new(),
            });
        refused.count += 1;
        refused.last_at = OffsetDateTime::now_utc();
        refused.last_message = message;
    }

    /// A survey's refusals by reason since the start, and when that was.
    pub fn refusals(&self, survey: &str) -> (OffsetDateTime, BTreeMap<&'static str, Refused>) {
        let refusals = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        (
            self.started,
            refusals.get(survey).cloned().unwrap_or_default(),
        )
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
