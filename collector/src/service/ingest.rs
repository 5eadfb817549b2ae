//! Recording what customers send, from any channel: the widget's ratings and impressions, and
//! the email landing page's clicks and confirmations.
//!
//! A rating passes named steps, each of which passes it on or refuses it with a reason:
//! find the survey, check the page it came from, turn the body into a domain rating, take one
//! of the visitor's daily allowance (when nobody vouched for it, with or without an
//! interaction), then the writer stores it with every counter it moves, checks that a new
//! unsigned response had an allowance and fits the survey's own limits (its daily ceiling of
//! unverified responses, its cap on tag values) in the same transaction, and answers once it
//! is durable. (The flood limit and the body's JSON are checked before, by the HTTP layer, so
//! that even malformed requests count against a flood.)

use super::visitors::{Allowance, Spent, VisitorKey, VisitorLimits};
use crate::domain::calendar::until_tomorrow;
use crate::domain::rating::parse_impression;
use crate::domain::{Rating, RatingError, Refusal, Score, Survey, Surveys};
use crate::email::Invitation;
use crate::store::{RecordError, Recorded, Store, StoreError};
use pulsetap_wire::{RecordImpression, RecordResponse};
use std::sync::Arc;
use time::OffsetDateTime;

/// The page a browser says it posted from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// No `Origin`: a server, not a browser, so not subject to the survey's allowed origins.
    Server,
    /// The collector's own pages (the email landing page).
    Collector,
    /// A site's page, as its origin (`https://shop.example.com`).
    Site(String),
}

/// Who sent a write, as far as the rules care.
#[derive(Debug, Clone)]
pub struct Sender {
    pub visitor: VisitorKey,
    pub page: Page,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    #[error("there is no survey called {0:?}")]
    UnknownSurvey(String),
    #[error("this site ({0}) may not send ratings to this survey")]
    OriginNotAllowed(String),
    #[error(transparent)]
    Rating(#[from] RatingError),
    #[error("too many ratings from this visitor today; try again tomorrow")]
    VisitorLimit {
        /// Until the allowance renews, at midnight UTC.
        retry_after: std::time::Duration,
    },
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl From<RecordError> for IngestError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Refused(Refusal::VisitorLimit) => Self::VisitorLimit {
                retry_after: until_tomorrow(OffsetDateTime::now_utc()),
            },
            RecordError::Refused(refusal) => Self::Refused(refusal),
            RecordError::Storage(error) => Self::Storage(error),
        }
    }
}

/// Records what customers send.
#[derive(Debug, Clone)]
pub struct Ingest {
    surveys: Arc<Surveys>,
    store: Store,
    visitors: Arc<VisitorLimits>,
}

impl Ingest {
    pub fn new(surveys: Arc<Surveys>, store: Store, visitors: Arc<VisitorLimits>) -> Self {
        Self {
            surveys,
            store,
            visitors,
        }
    }

    /// `POST /v1/responses`: a rating from the widget (or any client).
    pub async fn rating(
        &self,
        body: RecordResponse,
        sender: &Sender,
    ) -> Result<Recorded, IngestError> {
        let survey = self.survey(&body.survey)?;
        check_page(survey, &sender.page)?;
        let rating = Rating::parse(body, survey)?;
        let now = OffsetDateTime::now_utc();
        // Taken before knowing whether the rating is new (the writer knows, reading its
        // identity anyway; a lookup here cost a quarter of the ingest throughput), and given back
        // unless it creates a response. Without one, the writer refuses only a new response.
        let allowance = if rating.subject.trusted() {
            None
        } else {
            self.allowance(sender, Spent::Responses, survey).ok()
        };
        let allowance_left = allowance.is_some();
        let recorded = self
            .store
            .record(survey.id.clone(), rating, now, allowance_left)
            .await?;
        // Spent only on a new response nobody vouched for: the writer may have found the
        // interaction in the registry, which vouches for it.
        if let Some(allowance) = allowance
            && recorded.counted_unverified
        {
            allowance.spend();
        }
        Ok(recorded)
    }

    /// `POST /v1/impressions`: a widget was shown. Whether it was counted: not a repeat of its
    /// response_id, and within the visitor's daily impressions when nobody vouched for it.
    pub async fn impression(
        &self,
        body: RecordImpression,
        sender: &Sender,
    ) -> Result<Impression, IngestError> {
        let survey = self.survey(&body.survey)?;
        check_page(survey, &sender.page)?;
        let subject = parse_impression(body, survey)?;
        let now = OffsetDateTime::now_utc();
        let allowance = if subject.trusted() {
            None
        } else {
            match self.allowance(sender, Spent::Impressions, survey) {
                Ok(allowance) => Some(allowance),
                Err(_) => return Ok(Impression::OverAllowance),
            }
        };
        let new = self
            .store
            .record_impression(survey.id.clone(), subject, now)
            .await?;
        if !new {
            return Ok(Impression::Repeat);
        }
        if let Some(allowance) = allowance {
            allowance.spend();
        }
        Ok(Impression::Counted)
    }

    /// An email link was opened: an unconfirmed click, never a rating (a mail scanner opens
    /// links too).
    pub async fn email_click(
        &self,
        invitation: &Invitation<'_>,
        score: Score,
    ) -> Result<(), StoreError> {
        let now = OffsetDateTime::now_utc();
        let survey = invitation.survey().id.clone();
        self.store
            .record_click(
                survey,
                score,
                invitation.tags().clone(),
                invitation.lang().cloned(),
                now,
            )
            .await
    }

    /// The landing page's form confirmed the link's rating, with an optional comment.
    pub async fn email_confirm(
        &self,
        invitation: &Invitation<'_>,
        score: Score,
        comment: &str,
    ) -> Result<Recorded, IngestError> {
        let rating = invitation
            .rating(score, comment)
            .map_err(RatingError::from)?;
        let now = OffsetDateTime::now_utc();
        let survey = invitation.survey().id.clone();
        // Signed by the link: no anonymous limit applies.
        Ok(self.store.record(survey, rating, now, true).await?)
    }

    fn survey(&self, id: &str) -> Result<&Survey, IngestError> {
        self.surveys
            .get(id)
            .map(AsRef::as_ref)
            .ok_or_else(|| IngestError::UnknownSurvey(id.to_owned()))
    }

    /// One of the visitor's daily `what` for `survey`, or the refusal.
    fn allowance(
        &self,
        sender: &Sender,
        what: Spent,
        survey: &Survey,
    ) -> Result<Allowance, IngestError> {
        let limit = match what {
            Spent::Responses => survey.max_per_visitor_per_day,
            Spent::Impressions => survey.max_impressions_per_visitor_per_day,
        };
        self.visitors
            .take(sender.visitor, what, survey.id.as_str(), limit)
            .ok_or_else(|| IngestError::VisitorLimit {
                retry_after: until_tomorrow(OffsetDateTime::now_utc()),
            })
    }
}

/// What became of an impression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impression {
    Counted,
    /// Its response_id was counted before.
    Repeat,
    /// The visitor has shown this survey's widget more often today than
    /// `max_impressions_per_visitor_per_day`: not counted.
    OverAllowance,
}

/// A browser always says which page is posting. Pages the survey allows may post; so may the
/// collector's own pages, and servers (no `Origin`), which CORS does not concern.
fn check_page(survey: &Survey, page: &Page) -> Result<(), IngestError> {
    match page {
        Page::Server | Page::Collector => Ok(()),
        Page::Site(origin) if survey.allows_origin(origin) => Ok(()),
        Page::Site(origin) => Err(IngestError::OriginNotAllowed(origin.clone())),
    }
}
