//! The JSON bodies of Pulsetap's public HTTP API (docs/api.md).
//!
//! One copy, used by the collector (native) and by the widget (`wasm32-unknown-unknown`). These
//! are *wire* shapes: plain strings and numbers exactly as they travel. The collector turns them
//! into validated domain types at its edge; nothing here checks a value.
//!
//! The crate depends on `serde` alone so the widget pays for nothing it does not use; the
//! `openapi` feature (the collector's) adds `utoipa::ToSchema` for the API description.

pub mod tags;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Tags as they travel: `{"agent": "alice", "channel": "chat"}`. Sorted, so that signing and
/// comparing never depend on the order a client happened to send.
pub type Tags = BTreeMap<String, String>;

/// Score counts keyed by the score as a string (`"1"` … `"5"`; `"0"` … `"10"` for NPS), as every
/// read shows them.
pub type Counts = BTreeMap<String, u64>;

/// `POST /v1/responses`: one customer's rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordResponse {
    pub survey: String,
    /// A UUID v4 made by the client once per shown widget; retries reuse it.
    pub response_id: String,
    pub score: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interaction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The language of the texts the customer saw: the `lang` of the widget configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// `POST /v1/impressions`: the widget was shown. Counted once per `response_id`.
///
/// `interaction` and `tags` extend the contract: with them, a response rate filtered by a tag
/// (one agent's rate, say) has a denominator too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordImpression {
    pub survey: String,
    pub response_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interaction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
    /// The language of the texts shown: the `lang` of the widget configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// `POST /v1/surveys/{survey}/interactions`: a helpdesk registers one interaction (a ticket, a
/// conversation) with the tags its rating will carry, whatever a link or a widget says. The body
/// is one of these or an array of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterInteraction {
    pub interaction: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
    /// RFC 3339: after this, the registration no longer vouches for a rating. None: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// The answer to a registration: how many were new, changed, or the same again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Registered {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WriteStatus {
    Created,
    Updated,
    Unchanged,
}

/// The body of a `201` or `200` answer to `POST /v1/responses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WriteOutcome {
    pub status: WriteStatus,
    /// The response_id that owns the identity (the first one that wrote it).
    pub response_id: String,
}

/// Every error answer: `{"error": "<code>", "message": "<human sentence>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

/// `GET /v1/surveys/{survey}/widget`: all the widget shows, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WidgetConfig {
    pub survey: String,
    /// What the survey measures: `csat` (an emoji scale), `nps` (0 to 10) or `ces` (1 to 7).
    #[serde(default = "csat")]
    pub kind: String,
    /// The language of the texts (a BCP 47 tag such as `fr` or `pt-BR`): the first language the
    /// widget asked for that the survey has, else the language of the survey's default texts.
    /// `null` only from collectors that knew no languages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    pub question: String,
    /// What each button shows, lowest score first: emoji for `csat`, `"0"` … `"10"` for `nps`,
    /// `"1"` … `"7"` for `ces`. A tap on the i-th (0-based) records score `first_score + i`.
    pub scale: Vec<String>,
    /// One label per button, read aloud by screen readers and shown on hover.
    pub labels: Vec<String>,
    /// The score of the first button: 0 for `nps`, 1 otherwise.
    #[serde(default = "one")]
    pub first_score: u8,
    /// Words under the two ends of the scale ("Not likely" … "Very likely"); empty when the
    /// buttons speak for themselves (emoji).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub low_label: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub high_label: String,
    pub follow_up: String,
    pub thank_you: String,
    /// The name of the button that sends a comment, read by screen readers.
    #[serde(default)]
    pub send: String,
    /// `light`, `dark` or `auto` (follow `prefers-color-scheme`).
    pub theme: String,
    /// Lowest score that counts as satisfied (a promoter, for `nps`); the widget picks its
    /// reaction from it.
    pub satisfied_min: u8,
}

fn csat() -> String {
    "csat".into()
}

fn one() -> u8 {
    1
}

/// `GET /v1/surveys/{survey}/summary`.
///
/// Filtered by a tag value that fewer than the survey's `min_group_size` responses carry,
/// `too_few` is `true` and the figures are left out on the wire, as in a breakdown's group
/// (here they read as zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(from = "FloorShape<SummaryHead>", into = "FloorShape<SummaryHead>")]
pub struct Summary {
    pub survey: String,
    /// First day asked for, `YYYY-MM-DD` (UTC, inclusive).
    pub from: String,
    /// Last day asked for, `YYYY-MM-DD` (UTC, inclusive).
    pub to: String,
    // The serde attributes of the fields only describe the wire shape to the OpenAPI
    // document: `FloorShape` is what (de)serializes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `true` when the group is too small to report without singling out a customer: the
    /// figures are then absent.
    pub too_few: bool,
    #[serde(flatten)]
    pub figures: Figures,
}

/// What travels of a summary besides its figures.
#[derive(Clone, Serialize, Deserialize)]
#[doc(hidden)]
pub struct SummaryHead {
    survey: String,
    from: String,
    to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
}

/// How a read that the privacy floor may hide travels: its head, `too_few`, and its figures
/// only when it is not too few.
#[derive(Clone, Serialize, Deserialize)]
#[doc(hidden)]
pub struct FloorShape<Head> {
    #[serde(flatten)]
    head: Head,
    #[serde(default)]
    too_few: bool,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    figures: Option<Figures>,
}

impl From<FloorShape<SummaryHead>> for Summary {
    fn from(shape: FloorShape<SummaryHead>) -> Self {
        let SummaryHead {
            survey,
            from,
            to,
            tag,
        } = shape.head;
        Self {
            survey,
            from,
            to,
            tag,
            too_few: shape.too_few,
            figures: shape.figures.unwrap_or_default(),
        }
    }
}

impl From<Summary> for FloorShape<SummaryHead> {
    fn from(summary: Summary) -> Self {
        Self {
            head: SummaryHead {
                survey: summary.survey,
                from: summary.from,
                to: summary.to,
                tag: summary.tag,
            },
            too_few: summary.too_few,
            figures: (!summary.too_few).then_some(summary.figures),
        }
    }
}

/// The figures every aggregate read reports for one group of responses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Figures {
    /// `kind` (what the survey measures) and the figure it is read by.
    #[serde(flatten)]
    pub kind: KindFigures,
    pub responses: u64,
    pub impressions: u64,
    /// Invitations to answer: widgets shown (`impressions`) plus interactions a helpdesk
    /// registered (`POST /v1/surveys/{survey}/interactions`).
    #[serde(default)]
    pub invited: u64,
    /// Invitations that got their answer: each answer counts against what invited it (the
    /// widget shown, or the registration), at most once, so `answered <= invited`.
    #[serde(default)]
    pub answered: u64,
    /// Percent of invitations answered (answered / invited × 100, one decimal), never over
    /// 100, or `null` without invitations. Every share in the API is a percent.
    pub response_rate: Option<f64>,
    pub counts: Counts,
    /// Mean score, or `null` without responses: for `ces`, the average effort (1 to 7).
    pub average: Option<f64>,
    /// Email links opened (by a person or a mail server's link scanner), whether or not a
    /// rating followed. Never counted as responses.
    pub unconfirmed_clicks: u64,
}

/// What a survey measures (`kind`) and the figure it is read by. Every share is a percent with
/// one decimal, and `null` without responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum KindFigures {
    /// Customer satisfaction with one interaction, on an emoji scale.
    Csat {
        /// Percent of responses at or above `satisfied_min`.
        csat: Option<f64>,
        /// Wilson 95% interval of `csat`, in percent.
        csat_ci95: Option<[f64; 2]>,
    },
    /// Net Promoter Score: scores 0 to 10.
    Nps {
        /// Percent of promoters (9 and 10) less percent of detractors (0 to 6): −100 to 100.
        nps: Option<f64>,
        /// Adjusted Wald 95% interval of `nps`, in points.
        nps_ci95: Option<[f64; 2]>,
        promoters: u64,
        passives: u64,
        detractors: u64,
    },
    /// Customer effort: scores 1 (very difficult) to 7 (very easy).
    Ces {
        /// Percent of responses at 5 or above (easy).
        easy: Option<f64>,
        /// Wilson 95% interval of `easy`, in percent.
        easy_ci95: Option<[f64; 2]>,
    },
}

impl Default for KindFigures {
    /// A CSAT survey without responses.
    fn default() -> Self {
        Self::Csat {
            csat: None,
            csat_ci95: None,
        }
    }
}

/// `GET /v1/surveys/{survey}/timeseries`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Timeseries {
    pub survey: String,
    pub from: String,
    pub to: String,
    /// `day` or `hour`.
    pub interval: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    pub buckets: Vec<Bucket>,
}

/// One day or hour of a timeseries. In a timeseries filtered by a tag value, a bucket with
/// fewer responses than the survey's `min_group_size` is `too_few`, and its figures are left
/// out on the wire (here they read as zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(from = "FloorShape<BucketHead>", into = "FloorShape<BucketHead>")]
pub struct Bucket {
    /// `YYYY-MM-DD` for days, `YYYY-MM-DDTHH:00Z` for hours.
    pub start: String,
    /// `true` when the bucket is too small to report without singling out a customer: the
    /// figures are then absent.
    pub too_few: bool,
    #[serde(flatten)]
    pub figures: Figures,
}

/// What travels of a bucket besides its figures.
#[derive(Clone, Serialize, Deserialize)]
#[doc(hidden)]
pub struct BucketHead {
    start: String,
}

impl From<FloorShape<BucketHead>> for Bucket {
    fn from(shape: FloorShape<BucketHead>) -> Self {
        Self {
            start: shape.head.start,
            too_few: shape.too_few,
            figures: shape.figures.unwrap_or_default(),
        }
    }
}

impl From<Bucket> for FloorShape<BucketHead> {
    fn from(bucket: Bucket) -> Self {
        Self {
            head: BucketHead {
                start: bucket.start,
            },
            too_few: bucket.too_few,
            figures: (!bucket.too_few).then_some(bucket.figures),
        }
    }
}

/// `GET /v1/surveys/{survey}/breakdown`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Breakdown {
    pub survey: String,
    pub from: String,
    pub to: String,
    pub by: String,
    pub min_group_size: u64,
    pub groups: Vec<Group>,
}

/// One tag value of a breakdown. A group smaller than `min_group_size` carries no figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub value: String,
    /// `true` when the group is too small to report without singling out a customer.
    pub too_few: bool,
    #[serde(default, skip_serializing_if = "Option::is_none", flatten)]
    pub figures: Option<Figures>,
}

/// Written by hand: derived, the flattened `Option<Figures>` would read "null or figures" and
/// no group (an object) would match. What travels is the value and `too_few`, plus every field
/// of `Figures` unless `too_few` is true.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Group {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::Type;
        use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, Ref};
        let group = ObjectBuilder::new()
            .property("value", ObjectBuilder::new().schema_type(Type::String))
            .required("value")
            .property(
                "too_few",
                ObjectBuilder::new().schema_type(Type::Boolean).description(Some(
                    "`true` when the group is too small to report without singling out a customer",
                )),
            )
            .required("too_few");
        let too_few = ObjectBuilder::new().property(
            "too_few",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .enum_values(Some([true])),
        );
        AllOfBuilder::new()
            .item(group)
            .item(
                AnyOfBuilder::new()
                    .item(Ref::from_schema_name("Figures"))
                    .item(too_few),
            )
            .description(Some(
                "One tag value of a breakdown. A group smaller than `min_group_size` carries no figures.",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Group {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push(("Figures".into(), Figures::schema()));
        <Figures as utoipa::ToSchema>::schemas(schemas);
    }
}

/// One stored response as exports and the live feed show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResponseRecord {
    pub survey: String,
    pub response_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interaction: Option<String>,
    pub score: u8,
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The language of the texts the customer answered (`fr`, `pt-BR`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
    /// Every score this response has had, oldest first.
    pub history: Vec<ScoreChange>,
    /// A write-key holder vouched for its interaction and tags: a valid signature, or the
    /// helpdesk's registration. `false`: whatever the sender said, unchecked.
    #[serde(default)]
    pub verified: bool,
}

/// One entry of a response's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScoreChange {
    pub score: u8,
    /// RFC 3339, UTC.
    pub at: String,
}

/// `GET /v1/surveys`: the surveys an API key may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SurveyList {
    /// Sorted by id.
    pub surveys: Vec<SurveyInfo>,
}

/// What a dashboard needs to know about one survey to show and filter it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SurveyInfo {
    pub id: String,
    /// `csat`, `nps` or `ces`.
    pub kind: String,
    pub question: String,
    /// What each button shows, lowest score first (emoji, or the numbers): score
    /// `first_score + i` is `scale[i]`.
    pub scale: Vec<String>,
    pub labels: Vec<String>,
    /// The score of the first button: 0 for `nps`, 1 otherwise.
    pub first_score: u8,
    /// Words under the two ends of a numbered scale; empty for emoji.
    pub low_label: String,
    pub high_label: String,
    /// Lowest score that counts as satisfied in `csat`; for `nps` the lowest promoter (9), for
    /// `ces` the lowest easy score (5).
    pub satisfied_min: u8,
    /// The languages of the survey's texts, its default language first.
    pub languages: Vec<String>,
    /// The tag keys responses may carry, sorted: what a read can filter or break down by.
    pub tags: Vec<String>,
    /// A breakdown group with fewer responses than this is reported only as "too few".
    pub min_group_size: u64,
}

/// `GET /v1/surveys/{survey}/comments`: the latest responses that carry a comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comments {
    pub survey: String,
    /// `true` when filtered by a tag value that fewer than the survey's `min_group_size`
    /// responses in the range carry: `comments` is then empty.
    #[serde(default)]
    pub too_few: bool,
    /// Newest change first.
    pub comments: Vec<ResponseRecord>,
    /// Pass as `before` to read older comments; absent when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}

/// `GET /v1/surveys/{survey}/refusals`: ratings this collector refused for one survey since it
/// started, by reason: what a site owner checks when ratings seem to go missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refusals {
    pub survey: String,
    /// When the counting started (RFC 3339, UTC): the collector's start.
    pub since: String,
    /// Most frequent first.
    pub reasons: Vec<RefusalCount>,
}

/// One reason ratings were refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefusalCount {
    /// The error code the refused requests got (`bad_signature`, `origin_not_allowed`, …).
    pub reason: String,
    pub count: u64,
    /// RFC 3339, UTC.
    pub last_at: String,
    /// The message the last one got.
    pub last_message: String,
}

/// `GET /v1/surveys/{survey}/undelivered-alerts`: alert messages the survey's webhook refused
/// for longer than `alert.give_up_after`, set aside and kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UndeliveredAlerts {
    pub survey: String,
    /// Newest first.
    pub alerts: Vec<UndeliveredAlert>,
}

/// One alert message set aside: what it would have told, and why it was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UndeliveredAlert {
    /// The `Idempotency-Key` it was posted with.
    pub idempotency_key: String,
    /// RFC 3339, UTC: its first failed post, and when it was set aside.
    pub first_failed_at: String,
    pub gave_up_at: String,
    pub attempts: u32,
    /// What the last post got (`the webhook answered 500 Internal Server Error`, a connection
    /// error…).
    pub last_error: String,
    /// The unhappy ratings (and follow-up comments) it held, oldest first.
    pub responses: Vec<ResponseRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_response_body_parses_with_empty_optional_fields() {
        let body: RecordResponse =
            serde_json::from_str(r#"{"survey":"support","response_id":"r1","score":5}"#).unwrap();
        assert_eq!(body.interaction, None);
        assert!(body.tags.is_empty());
        assert_eq!(body.comment, None);
    }

    #[test]
    fn a_write_outcome_serializes_as_the_contract_shows() {
        let outcome = WriteOutcome {
            status: WriteStatus::Created,
            response_id: "r1".into(),
        };
        assert_eq!(
            serde_json::to_string(&outcome).unwrap(),
            r#"{"status":"created","response_id":"r1"}"#
        );
    }

    #[test]
    fn a_summary_too_few_to_show_travels_without_figures_and_reads_back() {
        let mut summary = Summary {
            survey: "support".into(),
            from: "2026-11-01".into(),
            to: "2026-11-30".into(),
            tag: Some("agent=bob".into()),
            too_few: true,
            figures: Figures::default(),
        };
        let text = serde_json::to_string(&summary).unwrap();
        assert_eq!(
            text,
            r#"{"survey":"support","from":"2026-11-01","to":"2026-11-30","tag":"agent=bob","too_few":true}"#
        );
        assert_eq!(serde_json::from_str::<Summary>(&text).unwrap(), summary);

        summary.too_few = false;
        summary.figures.responses = 7;
        let text = serde_json::to_string(&summary).unwrap();
        assert!(text.contains(r#""too_few":false,"kind":"csat","#), "{text}");
        assert!(text.contains(r#""responses":7,"#), "{text}");
        assert_eq!(serde_json::from_str::<Summary>(&text).unwrap(), summary);
    }

    #[test]
    fn a_small_breakdown_group_carries_no_figures() {
        let group = Group {
            value: "bob".into(),
            too_few: true,
            figures: None,
        };
        assert_eq!(
            serde_json::to_string(&group).unwrap(),
            r#"{"value":"bob","too_few":true}"#
        );
    }

    fn nps_figures() -> Figures {
        Figures {
            kind: KindFigures::Nps {
                nps: Some(30.0),
                nps_ci95: Some([-19.1, 65.2]),
                promoters: 5,
                passives: 3,
                detractors: 2,
            },
            responses: 10,
            impressions: 0,
            invited: 0,
            answered: 0,
            response_rate: None,
            counts: [
                ("0".to_owned(), 2),
                ("8".to_owned(), 3),
                ("10".to_owned(), 5),
            ]
            .into(),
            average: Some(7.4),
            unconfirmed_clicks: 0,
        }
    }

    #[test]
    fn figures_say_their_kind_first_and_carry_only_that_kinds_figure() {
        let text = serde_json::to_string(&nps_figures()).unwrap();
        assert!(
            text.starts_with(r#"{"kind":"nps","nps":30.0,"nps_ci95":[-19.1,65.2],"promoters":5,"passives":3,"detractors":2,"responses":10,"#),
            "{text}"
        );
        assert!(!text.contains("csat"), "{text}");
        assert_eq!(
            serde_json::from_str::<Figures>(&text).unwrap(),
            nps_figures()
        );
        let empty = Figures {
            kind: KindFigures::default(),
            ..nps_figures()
        };
        let text = serde_json::to_string(&empty).unwrap();
        assert!(
            text.starts_with(r#"{"kind":"csat","csat":null,"csat_ci95":null,"#),
            "{text}"
        );
    }

    #[test]
    fn a_breakdown_group_of_any_kind_reads_back() {
        let group = Group {
            value: "fr".into(),
            too_few: false,
            figures: Some(nps_figures()),
        };
        let text = serde_json::to_string(&group).unwrap();
        assert_eq!(serde_json::from_str::<Group>(&text).unwrap(), group);
        let small: Group = serde_json::from_str(r#"{"value":"ar","too_few":true}"#).unwrap();
        assert_eq!(small.figures, None);
    }
}
