//! What a webhook receives: the JSON body of one message, and the text a person reads in the
//! channel (docs/api.md, "Alert webhooks").
//!
//! A message of one alert keeps the shape receivers had before messages could hold several
//! (`text`, `survey`, `idempotency_key`, `response`), with `kind` added; a follow-up comment has
//! the same shape; several notices go as one `batch` listing each.

use crate::domain::Survey;
use crate::store::{AlertMessage, NoticeKind};
use pulsetap_wire::ResponseRecord;
use serde::Serialize;

/// Lines a batch's text lists before it says how many more there are; `notices` holds them all.
const LISTED: usize = 20;
/// Characters of a comment a batch's line quotes; the whole comment is in `notices`.
const QUOTED_CHARS: usize = 200;

/// The body posted for one message.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// One unhappy rating.
    Alert {
        text: String,
        survey: String,
        idempotency_key: String,
        response: ResponseRecord,
    },
    /// A comment added to a rating that alerted before.
    Update {
        text: String,
        survey: String,
        idempotency_key: String,
        response: ResponseRecord,
    },
    /// Several of the above, for one survey, oldest first.
    Batch {
        text: String,
        survey: String,
        idempotency_key: String,
        notices: Vec<NoticeBody>,
    },
}

/// One entry of a batch.
#[derive(Debug, Serialize)]
pub struct NoticeBody {
    pub kind: NoticeKind,
    pub response: ResponseRecord,
}

impl Payload {
    /// The body for `message`; `survey` (its configuration, when it still has one) names the
    /// scores.
    pub fn of(message: &AlertMessage, survey: Option<&Survey>) -> Self {
        let faces = Faces(survey);
        let (survey_id, key) = (message.survey.clone(), message.idempotency_key.clone());
        match &message.notices[..] {
            [notice] => {
                let response = notice.response.to_record();
                let text = notice_text(notice.kind, &response, &faces);
                match notice.kind {
                    NoticeKind::Alert => Self::Alert {
                        text,
                        survey: survey_id,
                        idempotency_key: key,
                        response,
                    },
                    NoticeKind::Update => Self::Update {
                        text,
                        survey: survey_id,
                        idempotency_key: key,
                        response,
                    },
                }
            }
            notices => {
                let notices: Vec<NoticeBody> = notices
                    .iter()
                    .map(|notice| NoticeBody {
                        kind: notice.kind,
                        response: notice.response.to_record(),
                    })
                    .collect();
                Self::Batch {
                    text: batch_text(&survey_id, &notices, &faces),
                    survey: survey_id,
                    idempotency_key: key,
                    notices,
                }
            }
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Self::Alert { text, .. } | Self::Update { text, .. } | Self::Batch { text, .. } => text,
        }
    }
}

/// How a survey shows a score, in its own scale.
struct Faces<'a>(Option<&'a Survey>);

impl Faces<'_> {
    /// `😠 Awful (1/5)`, `3/10 (a detractor)` (`Survey::describe_score`), or `(score 1)` for a
    /// survey no longer configured.
    fn describe(&self, score: u8) -> String {
        self.0.map_or_else(
            || format!("(score {score})"),
            |survey| escape(&survey.describe_score(score)),
        )
    }
}

/// Slack reads `<…>` as links and mentions (`<!channel>` pings everyone) and `&` as an escape,
/// so those three are escaped in everything a customer could have typed.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `😠 Awful (1/5) for chat-1 · agent=alice`: the score, the interaction and the tags.
fn describe(record: &ResponseRecord, faces: &Faces<'_>) -> String {
    let mut text = faces.describe(record.score);
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
    text
}

fn comment_of(record: &ResponseRecord) -> Option<&str> {
    record.comment.as_deref().filter(|c| !c.trim().is_empty())
}

/// The text of a message holding one notice: what happened, then the comment quoted.
fn notice_text(kind: NoticeKind, record: &ResponseRecord, faces: &Faces<'_>) -> String {
    let what = match kind {
        NoticeKind::Alert => "Unhappy rating",
        NoticeKind::Update => "Comment on an unhappy rating",
    };
    let mut text = format!(
        "{what} on {}: {}",
        escape(&record.survey),
        describe(record, faces)
    );
    if let Some(comment) = comment_of(record) {
        text.push_str(&format!("\n> {}", escape(comment).replace('\n', "\n> ")));
    }
    text
}

/// The text of a batch: a count, then one line per notice (the first `LISTED`).
fn batch_text(survey: &str, notices: &[NoticeBody], faces: &Faces<'_>) -> String {
    let count = |kind| notices.iter().filter(|n| n.kind == kind).count();
    let (alerts, updates) = (count(NoticeKind::Alert), count(NoticeKind::Update));
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let headline = match (alerts, updates) {
        (_, 0) => plural(alerts, "unhappy rating", "unhappy ratings"),
        (0, _) => plural(
            updates,
            "comment on an unhappy rating",
            "comments on unhappy ratings",
        ),
        _ => format!(
            "{} and {}",
            plural(alerts, "unhappy rating", "unhappy ratings"),
            plural(
                updates,
                "comment on an earlier one",
                "comments on earlier ones"
            )
        ),
    };
    let mut text = format!("{headline} on {}:", escape(survey));
    for notice in notices.iter().take(LISTED) {
        let prefix = match notice.kind {
            NoticeKind::Alert => "",
            NoticeKind::Update => "comment on ",
        };
        text.push_str(&format!(
            "\n• {prefix}{}",
            describe(&notice.response, faces)
        ));
        if let Some(comment) = comment_of(&notice.response) {
            let one_line: String = comment.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut quoted: String = one_line.chars().take(QUOTED_CHARS).collect();
            if quoted.len() < one_line.len() {
                quoted.push('…');
            }
            text.push_str(&format!(": “{}”", escape(&quoted)));
        }
    }
    if notices.len() > LISTED {
        text.push_str(&format!(
            "\n…and {} more (every one is in this message's `notices`)",
            notices.len() - LISTED
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Response;
    use crate::store::{AlertId, Notice};

    fn response(id: &str, score: u8, comment: Option<&str>) -> Response {
        Response {
            survey: "support".into(),
            response_id: id.into(),
            interaction: Some(format!("chat-{id}")),
            score,
            tags: [("agent".to_string(), "alice".to_string())].into(),
            comment: comment.map(str::to_owned),
            signed: false,
            created_ms: 0,
            updated_ms: 0,
            history: vec![(score, 0)],
            last_event: 1,
            alerted: true,
            registered: false,
            lang: None,
        }
    }

    fn message(notices: Vec<(NoticeKind, Response)>) -> AlertMessage {
        let mut notices = notices
            .into_iter()
            .enumerate()
            .map(|(n, (kind, response))| Notice {
                id: AlertId(n as u64 + 1),
                kind,
                response,
            });
        let mut message = AlertMessage::new(notices.next().unwrap(), "https://x".into(), 0);
        message.notices.extend(notices);
        message
    }

    fn body(message: &AlertMessage) -> serde_json::Value {
        let survey = Survey::example("support");
        serde_json::to_value(Payload::of(message, Some(&survey))).unwrap()
    }

    #[test]
    fn one_alert_keeps_the_shape_receivers_know_and_quotes_the_comment() {
        let alert = message(vec![(
            NoticeKind::Alert,
            response("1", 1, Some("Too slow")),
        )]);
        let body = body(&alert);
        assert_eq!(body["kind"], "alert");
        assert_eq!(body["idempotency_key"], "support-1");
        assert_eq!(body["response"]["comment"], "Too slow");
        assert_eq!(
            body["text"],
            "Unhappy rating on support: 😠 Awful (1/5) for chat-1 · agent=alice\n> Too slow"
        );
    }

    #[test]
    fn a_follow_up_says_it_is_a_comment_on_an_earlier_alert() {
        let update = message(vec![(
            NoticeKind::Update,
            response("1", 2, Some("Nobody called")),
        )]);
        let body = body(&update);
        assert_eq!(body["kind"], "update");
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .starts_with("Comment on an unhappy rating on support: 🙁 Bad (2/5)"),
            "{}",
            body["text"]
        );
        assert_eq!(body["response"]["comment"], "Nobody called");
    }

    #[test]
    fn a_batch_counts_lists_and_carries_every_notice() {
        let mut notices: Vec<_> = (0..25)
            .map(|n| (NoticeKind::Alert, response(&n.to_string(), 1, None)))
            .collect();
        let long = "x".repeat(500);
        notices[1].1.comment = Some(format!("line one\nline two {long}"));
        notices.push((NoticeKind::Update, response("late", 2, Some("why"))));
        let body = body(&message(notices));
        assert_eq!(body["kind"], "batch");
        assert_eq!(body["notices"].as_array().unwrap().len(), 26);
        assert_eq!(body["notices"][25]["kind"], "update");
        let text = body["text"].as_str().unwrap();
        assert!(
            text.starts_with(
                "25 unhappy ratings and 1 comment on an earlier one on support:\n• 😠 Awful (1/5) for chat-0"
            ),
            "{text}"
        );
        assert!(text.contains(": “line one line two xxx"), "{text}");
        assert!(text.contains("x…”"), "a long comment is cut: {text}");
        assert_eq!(text.matches("\n• ").count(), LISTED);
        assert!(text.ends_with("…and 6 more (every one is in this message's `notices`)"));
    }

    #[test]
    fn a_comment_cannot_mention_a_whole_slack_channel_or_forge_a_link() {
        let hostile = "<!channel> <https://evil|click> & co";
        for notices in [
            vec![(NoticeKind::Alert, response("1", 1, Some(hostile)))],
            vec![
                (NoticeKind::Alert, response("1", 1, Some(hostile))),
                (NoticeKind::Alert, response("2", 1, None)),
            ],
        ] {
            let message = message(notices);
            let text = Payload::of(&message, None).text().to_owned();
            assert!(text.contains("&lt;!channel&gt; &lt;https://evil|click&gt; &amp; co"));
            assert!(!text.contains("<!channel>"), "{text}");
        }
    }
}
