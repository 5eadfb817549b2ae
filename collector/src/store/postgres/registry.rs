//! The registry's part of a batch, as the embedded store's `registry` does it: which
//! registration vouches for a rating (read under the identity's lock, with the rating it
//! vouches for), registrations themselves, and the invitations the response rate counts.

use super::records::{Batch, Identity};
use super::rows::{counter_keys, identity};
use crate::domain::calendar::{from_unix_ms, unix_ms};
use crate::domain::rating::Subject;
use crate::domain::registration::{Registered, Registration};
use crate::domain::{Rating, Response, Survey};
use crate::store::backend::{RecordError, RegisterReport, StoreError};
use crate::store::counts::Metric;
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// Where a registration that no longer decodes is marked in `Batch::corrupt`.
fn corrupt_key(survey: &str, interaction: &str) -> Identity {
    (survey.to_owned(), format!("registration {interaction}"))
}

impl Batch<'_, '_> {
    /// Reads the registrations of `interactions`, (survey, interaction) pairs.
    pub(super) async fn read_registrations(
        &mut self,
        interactions: &BTreeSet<Identity>,
    ) -> Result<(), tokio_postgres::Error> {
        if interactions.is_empty() {
            return Ok(());
        }
        let (surveys, ids): (Vec<&str>, Vec<&str>) = interactions
            .iter()
            .map(|(survey, interaction)| (survey.as_str(), interaction.as_str()))
            .unzip();
        let rows = self
            .transaction
            .query(
                "SELECT r.survey, r.interaction, r.body::text FROM registrations r
                 JOIN unnest($1::text[], $2::text[]) AS wanted(survey, interaction)
                   ON r.survey = wanted.survey AND r.interaction = wanted.interaction",
                &[&surveys, &ids],
            )
            .await?;
        for row in rows {
            let (survey, interaction): (String, String) = (row.get(0), row.get(1));
            match serde_json::from_str::<Registered>(row.get(2)) {
                Ok(registration) => {
                    self.registrations
                        .insert((survey, interaction), registration);
                }
                Err(_) => {
                    self.corrupt.insert(corrupt_key(&survey, &interaction));
                }
            }
        }
        Ok(())
    }

    /// The registration of an interaction, as stored or as this batch left it.
    fn registration(
        &self,
        survey: &str,
        interaction: &str,
    ) -> Result<Option<&Registered>, StoreError> {
        if self.corrupt.contains(&corrupt_key(survey, interaction)) {
            return Err(StoreError::Corrupt("registration".into()));
        }
        Ok(self
            .registrations
            .get(&(survey.to_owned(), interaction.to_owned())))
    }

    /// Whether a registration vouches for a widget shown for `subject` at `now_ms`.
    pub(super) fn registered(&self, survey: &str, subject: &Subject, now_ms: i64) -> bool {
        subject.interaction.as_ref().is_some_and(|interaction| {
            self.registration(survey, interaction.as_str())
                .ok()
                .flatten()
                .is_some_and(|registration| registration.vouches_at(now_ms))
        })
    }

    /// The registration of a rating's interaction, when it still vouches for it.
    pub(super) fn vouching_registration(
        &self,
        survey: &Survey,
        rating: &Rating,
        now_ms: i64,
    ) -> Result<Option<Registered>, RecordError> {
        let Some(interaction) = &rating.subject.interaction else {
            return Ok(None);
        };
        Ok(self
            .registration(survey.id.as_str(), interaction.as_str())?
            .filter(|registration| registration.vouches_at(now_ms))
            .cloned())
    }

    /// A new response answers what invited it, once: its registration, else the widget shown
    /// with its response_id (marked at the batch's end: `answer_impressions`). Counted in the
    /// invitation's own buckets and tags, so no group ever has more answered than invited.
    pub(super) fn answer_invitation(
        &mut self,
        survey: &Survey,
        subject: &Subject,
        registration: Option<Registered>,
    ) {
        let survey_id = survey.id.as_str();
        if let (Some(mut registration), Some(interaction)) = (registration, &subject.interaction) {
            if !registration.answered {
                registration.answered = true;
                self.count_invitation(
                    survey_id,
                    &registration.tags,
                    None,
                    registration.at_ms,
                    Metric::Answered,
                    1,
                );
                let key = (survey_id.to_owned(), interaction.as_str().to_owned());
                self.registrations.insert(key.clone(), registration);
                self.changed_registrations.insert(key);
            }
            return;
        }
        self.answering.insert((
            survey_id.to_owned(),
            subject.response_id.as_str().to_owned(),
        ));
    }

    /// Marks the widgets shown that the batch's new responses answer, in one statement at the
    /// batch's end, and counts each answer in its impression's buckets, tags and language. The
    /// row lock the update takes makes two collectors answer one impression once.
    pub(super) async fn answer_impressions(&mut self) -> Result<(), tokio_postgres::Error> {
        if self.answering.is_empty() {
            return Ok(());
        }
        let (surveys, ids): (Vec<&str>, Vec<&str>) = self
            .answering
            .iter()
            .map(|(survey, response_id)| (survey.as_str(), response_id.as_str()))
            .unzip();
        let rows = self
            .transaction
            .query(
                "UPDATE impressions i SET answered = true
                 FROM unnest($1::text[], $2::text[]) AS a(survey, response_id)
                 WHERE i.survey = a.survey AND i.response_id = a.response_id
                   AND NOT i.answered AND NOT i.uncounted
                 RETURNING i.survey, i.at_ms, i.tags::text, i.lang",
                &[&surveys, &ids],
            )
            .await?;
        for row in rows {
            // An impression whose tags no longer decode just leaves its answer uncounted.
            let Ok(tags) = serde_json::from_str::<BTreeMap<String, String>>(row.get(2)) else {
                continue;
            };
            let (survey, lang): (String, Option<String>) = (row.get(0), row.get(3));
            self.count_invitation(
                &survey,
                &tags,
                lang.as_deref(),
                row.get(1),
                Metric::Answered,
                1,
            );
        }
        Ok(())
    }

    /// Adds `by` to `metric` in every counter of an invitation made at `at_ms` with `tags`
    /// (and, for a widget shown, the language it was shown in; a registration has none).
    pub(super) fn count_invitation(
        &mut self,
        survey: &str,
        tags: &BTreeMap<String, String>,
        lang: Option<&str>,
        at_ms: i64,
        metric: Metric,
        by: i64,
    ) {
        for key in counter_keys(survey, tags, lang, from_unix_ms(at_ms)) {
            self.counter_deltas
                .entry(key)
                .or_default()
                .add(metric, 0, by);
        }
    }

    /// Registers interactions: each is one invitation in its tags' counters. Registering one
    /// again with other tags moves its invitation, and its response when there is one, to the
    /// new tags: the registry is the truth.
    pub(super) async fn register(
        &mut self,
        survey: &Survey,
        registrations: &[Registration],
        now: OffsetDateTime,
    ) -> Result<Result<RegisterReport, StoreError>, tokio_postgres::Error> {
        let survey_id = survey.id.as_str();
        let now_ms = unix_ms(now);
        let mut report = RegisterReport::default();
        for registration in registrations {
            let interaction = registration.interaction.as_str();
            let tags = registration.tags.as_map();
            let old = match self.registration(survey_id, interaction) {
                Ok(old) => old.cloned(),
                Err(error) => return Ok(Err(error)),
            };
            if let Some(old) = &old
                && old.tags == *tags
                && old.expires_ms == registration.expires_ms
            {
                report.unchanged += 1;
                continue;
            }
            let key: Identity = (survey_id.to_owned(), identity(Some(interaction), ""));
            if self.corrupt.contains(&key) {
                return Ok(Err(StoreError::Corrupt("response".into())));
            }
            let response = self.responses.get(&key).cloned();
            let stored = Registered {
                tags: tags.clone(),
                expires_ms: registration.expires_ms,
                at_ms: old.as_ref().map_or(now_ms, |old| old.at_ms),
                // A response there already (the ticket was rated in a chat first) answers it.
                answered: response.is_some(),
            };
            match &old {
                Some(old) => {
                    report.updated += 1;
                    self.count_registration(survey_id, old, -1);
                }
                None => report.created += 1,
            }
            self.count_registration(survey_id, &stored, 1);
            // Registered values are vouched for: never refused, but known to breakdowns.
            if let Err(refusal) = self
                .limits
                .admit(self.transaction, survey, true, tags, None, None)
                .await?
            {
                unreachable!("a vouched write met an anonymous limit: {refusal}");
            }
            if let Some(response) = response
                && (response.tags != *tags || !response.registered)
            {
                report
                    .events
                    .push(self.retag(key, response, &stored.tags, now_ms));
            }
            let registration_key = (survey_id.to_owned(), interaction.to_owned());
            self.registrations.insert(registration_key.clone(), stored);
            self.changed_registrations.insert(registration_key);
        }
        Ok(Ok(report))
    }

    /// Counts (`by` = 1) or uncounts (-1) a registration's invitation and its answer.
    fn count_registration(&mut self, survey: &str, registration: &Registered, by: i64) {
        let (tags, at_ms) = (&registration.tags, registration.at_ms);
        self.count_invitation(survey, tags, None, at_ms, Metric::Registration, by);
        if registration.answered {
            self.count_invitation(survey, tags, None, at_ms, Metric::Answered, by);
        }
    }

    /// Gives a response its registration's tags, moving its counters; its live-feed event.
    fn retag(
        &mut self,
        key: Identity,
        mut response: Response,
        tags: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> u64 {
        self.count(&response, Metric::Response, response.score, -1);
        response.tags = tags.clone();
        response.signed = true;
        response.registered = true;
        response.updated_ms = now_ms;
        let event = self.next_event();
        response.last_event = event;
        self.count(&response, Metric::Response, response.score, 1);
        self.store_response(key, response, event);
        event
    }
}
