//! Which messages a round posts: a burst of one survey goes out as one message, and a survey's
//! webhook gets at most one new message a minute.
//!
//! A rating's alert enters the outbox as an open message of its own. When a survey's oldest open
//! message has waited `GATHER`, every open message of that survey is merged into one and sealed
//! (from then on it is posted as it is, under one `Idempotency-Key`, until delivered or set
//! aside). If they hold an alert and the survey's webhook got a new message less than `SPACING`
//! ago, they are merged into one open message due when the minute is over instead, and more may
//! join it meanwhile. Follow-up comments alone are not held back (a customer explains an
//! unhappy rating once, soon after it), nor are retries of sealed messages.
//!
//! Merging keeps one notice per response: the latest state, as an alert if the team has not
//! been told of it yet, so a comment that arrives before the alert went out is in the alert.

use crate::store::{AlertId, AlertMessage, Notice, NoticeKind, OutboxChange};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A new alert waits this long for others of its survey, so a burst goes out as one message.
pub const GATHER: Duration = Duration::from_secs(3);
/// A survey's webhook gets a new message at most this often; what comes meanwhile waits and
/// goes together.
pub const SPACING: Duration = Duration::from_secs(60);
/// Notices in one message at most: a receiver has to take the body in one request.
pub const MAX_NOTICES: usize = 200;

/// What one round does with the messages due.
#[derive(Debug, Default)]
pub struct Plan {
    /// Written before anything is posted: open messages merged, sealed or held back.
    pub changes: Vec<OutboxChange>,
    /// Sealed messages to post now (retries, and those just sealed).
    pub post: Vec<AlertMessage>,
    /// Surveys whose webhook gets a new message of alerts now.
    pub new_messages_for: Vec<String>,
    /// When a message held back here falls due.
    pub next_due_ms: Option<i64>,
}

/// Plans a round over `due` (every message due at `now_ms`), given when each survey's webhook
/// last got a new message of alerts.
pub fn plan(due: Vec<AlertMessage>, now_ms: i64, last_new: &HashMap<String, i64>) -> Plan {
    let mut plan = Plan::default();
    let mut open_by_survey: BTreeMap<String, Vec<AlertMessage>> = BTreeMap::new();
    for message in due {
        if message.sealed {
            plan.post.push(message);
        } else {
            open_by_survey
                .entry(message.survey.clone())
                .or_default()
                .push(message);
        }
    }
    let gather = millis(GATHER);
    for (survey, open) in open_by_survey {
        let oldest = open.iter().map(|m| m.created_ms).min().unwrap_or(now_ms);
        if oldest.saturating_add(gather) > now_ms {
            plan.later(oldest.saturating_add(gather));
            continue;
        }
        let remove = open.iter().map(AlertMessage::key).collect();
        let holds_an_alert = open
            .iter()
            .flat_map(|message| &message.notices)
            .any(|notice| notice.kind == NoticeKind::Alert);
        let spaced_until = last_new
            .get(&survey)
            .map(|&last| last.saturating_add(millis(SPACING)))
            .filter(|&until| until > now_ms && holds_an_alert);
        let (template, notices) = merge(open);
        match spaced_until {
            Some(until) => {
                let held = message_of(&template, notices, oldest, until);
                plan.changes.push(OutboxChange {
                    remove,
                    queue: Some(held),
                    set_aside: None,
                });
                plan.later(until);
            }
            None => {
                let mut remove = Some(remove);
                for chunk in notices.chunks(MAX_NOTICES) {
                    let mut message = message_of(&template, chunk.to_vec(), oldest, now_ms);
                    message.sealed = true;
                    plan.changes.push(OutboxChange {
                        // The open messages leave with the first of the sealed ones.
                        remove: remove.take().unwrap_or_default(),
                        queue: Some(message.clone()),
                        set_aside: None,
                    });
                    plan.post.push(message);
                }
                if holds_an_alert {
                    plan.new_messages_for.push(survey);
                }
            }
        }
    }
    plan
}

impl Plan {
    fn later(&mut self, at: i64) {
        self.next_due_ms = Some(self.next_due_ms.map_or(at, |next| next.min(at)));
    }
}

/// The notices of one survey's open messages, one per response (its latest state; an alert if
/// any of its notices was), oldest first; and the newest message, whose webhook is the latest.
fn merge(open: Vec<AlertMessage>) -> (AlertMessage, Vec<Notice>) {
    let newest = open
        .iter()
        .max_by_key(|message| message.id)
        .expect("at least one open message")
        .clone();
    let mut latest: HashMap<(Option<String>, String), Notice> = HashMap::new();
    for notice in open.into_iter().flat_map(|message| message.notices) {
        let response = &notice.response;
        let identity = match &response.interaction {
            Some(interaction) => (Some(interaction.clone()), String::new()),
            None => (None, response.response_id.clone()),
        };
        match latest.get_mut(&identity) {
            Some(kept) if kept.id > notice.id => {
                if notice.kind == NoticeKind::Alert {
                    kept.kind = NoticeKind::Alert;
                }
            }
            Some(kept) => {
                let told = kept.kind == NoticeKind::Alert;
                *kept = notice;
                if told {
                    kept.kind = NoticeKind::Alert;
                }
            }
            None => {
                latest.insert(identity, notice);
            }
        }
    }
    let mut notices: Vec<Notice> = latest.into_values().collect();
    notices.sort_by_key(|notice| notice.id);
    (newest, notices)
}

/// An open message of `notices` (at least one), due at `due_ms`. It takes the id of its first
/// notice, and the key that id gives: only open messages (never posted) held that notice, so no
/// receiver has seen the key.
fn message_of(
    template: &AlertMessage,
    notices: Vec<Notice>,
    created_ms: i64,
    due_ms: i64,
) -> AlertMessage {
    let id: AlertId = notices[0].id;
    AlertMessage {
        id,
        idempotency_key: format!("{}-{}", template.survey, id.0),
        notices,
        sealed: false,
        created_ms,
        due_ms,
        attempts: 0,
        first_failed_ms: None,
        last_error: None,
        gave_up_ms: None,
        ..template.clone()
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Response;

    const NOW: i64 = 1_000_000;

    fn open(
        survey: &str,
        id: u64,
        kind: NoticeKind,
        interaction: &str,
        created_ms: i64,
    ) -> AlertMessage {
        let response = Response {
            survey: survey.into(),
            response_id: format!("r-{interaction}"),
            interaction: Some(interaction.into()),
            score: 1,
            tags: Default::default(),
            comment: (kind == NoticeKind::Update).then(|| "why".to_owned()),
            signed: false,
            created_ms,
            updated_ms: created_ms,
            history: vec![(1, created_ms)],
            last_event: id,
            alerted: true,
            registered: false,
            lang: None,
        };
        let notice = Notice {
            id: AlertId(id),
            kind,
            response,
        };
        AlertMessage::new(notice, "https://hooks.example.com/x".into(), created_ms)
    }

    fn gathered() -> i64 {
        NOW - millis(GATHER)
    }

    #[test]
    fn a_burst_of_one_survey_is_sealed_into_one_message_under_its_first_alerts_key() {
        let due: Vec<_> = (10..60)
            .map(|id| {
                open(
                    "support",
                    id,
                    NoticeKind::Alert,
                    &format!("chat-{id}"),
                    gathered(),
                )
            })
            .collect();
        let plan = plan(due, NOW, &HashMap::new());
        let [message] = &plan.post[..] else {
            panic!("one message: {:?}", plan.post.len())
        };
        assert!(message.sealed);
        assert_eq!(message.notices.len(), 50);
        assert_eq!(message.idempotency_key, "support-10");
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].remove.len(), 50, "the open ones leave");
        assert_eq!(
            plan.changes[0].queue.as_ref(),
            Some(message),
            "sealed before it is posted"
        );
        assert_eq!(plan.new_messages_for, ["support"]);
    }

    #[test]
    fn a_new_alert_waits_for_company_and_a_busy_webhook_waits_out_its_minute() {
        let fresh = open("support", 1, NoticeKind::Alert, "chat-1", NOW - 10);
        let plan_now = plan(vec![fresh.clone()], NOW, &HashMap::new());
        assert!(plan_now.post.is_empty() && plan_now.changes.is_empty());
        assert_eq!(plan_now.next_due_ms, Some(NOW - 10 + millis(GATHER)));

        let ready = open("support", 2, NoticeKind::Alert, "chat-2", gathered());
        let last_new = HashMap::from([("support".to_owned(), NOW - 1_000)]);
        let held = plan(vec![fresh, ready], NOW, &last_new);
        assert!(
            held.post.is_empty(),
            "the webhook had a message a second ago"
        );
        let until = NOW - 1_000 + millis(SPACING);
        assert_eq!(held.next_due_ms, Some(until));
        let merged = held.changes[0].queue.as_ref().unwrap();
        assert!(!merged.sealed, "more may join it");
        assert_eq!((merged.due_ms, merged.notices.len()), (until, 2));
        assert_eq!(merged.created_ms, gathered(), "ready as soon as it is due");
    }

    #[test]
    fn a_follow_up_comment_is_not_held_back_by_the_minute() {
        let comment = open("support", 5, NoticeKind::Update, "chat-1", gathered());
        let last_new = HashMap::from([("support".to_owned(), NOW - 1_000)]);
        let plan = plan(vec![comment], NOW, &last_new);
        assert_eq!(plan.post.len(), 1);
        assert_eq!(plan.post[0].notices[0].kind, NoticeKind::Update);
    }

    #[test]
    fn a_comment_that_came_before_the_alert_went_out_is_in_the_alert() {
        let alert = open("support", 1, NoticeKind::Alert, "chat-1", gathered());
        let comment = open("support", 2, NoticeKind::Update, "chat-1", gathered());
        let other = open("support", 3, NoticeKind::Update, "chat-9", gathered());
        let plan = plan(vec![alert, comment, other], NOW, &HashMap::new());
        let notices = &plan.post[0].notices;
        assert_eq!(notices.len(), 2);
        assert_eq!(
            (notices[0].kind, notices[0].response.comment.as_deref()),
            (NoticeKind::Alert, Some("why"))
        );
        assert_eq!(
            notices[1].kind,
            NoticeKind::Update,
            "chat-9 alerted earlier"
        );
    }

    #[test]
    fn sealed_messages_are_retried_as_they_are_and_surveys_stay_apart() {
        let mut retry = open("support", 1, NoticeKind::Alert, "chat-1", 0);
        retry.sealed = true;
        let sales = open("sales", 2, NoticeKind::Alert, "deal-1", gathered());
        let support = open("support", 3, NoticeKind::Alert, "chat-3", gathered());
        let plan = plan(vec![retry.clone(), sales, support], NOW, &HashMap::new());
        assert_eq!(plan.post.len(), 3);
        assert_eq!(plan.post[0], retry, "untouched");
        assert_eq!(plan.new_messages_for, ["sales", "support"]);
    }

    #[test]
    fn a_huge_burst_is_split_into_messages_a_receiver_can_take() {
        let due: Vec<_> = (0..450)
            .map(|id| {
                open(
                    "support",
                    id,
                    NoticeKind::Alert,
                    &format!("c{id}"),
                    gathered(),
                )
            })
            .collect();
        let plan = plan(due, NOW, &HashMap::new());
        let sizes: Vec<usize> = plan.post.iter().map(|m| m.notices.len()).collect();
        assert_eq!(sizes, [200, 200, 50]);
        let keys: Vec<&str> = plan
            .post
            .iter()
            .map(|m| m.idempotency_key.as_str())
            .collect();
        assert_eq!(keys, ["support-0", "support-200", "support-400"]);
        assert_eq!(
            plan.changes[0].remove.len(),
            450,
            "removed once, with the first"
        );
        assert!(
            plan.changes[1..]
                .iter()
                .all(|change| change.remove.is_empty())
        );
    }
}
