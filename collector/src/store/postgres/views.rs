//! What a batch writes for a widget shown (an impression, counted once per response_id) and for
//! an email link opened that no page confirmed (a click), as the embedded store's `views`.

use super::records::Batch;
use super::rows::counter_keys;
use crate::domain::calendar::unix_ms;
use crate::domain::rating::Subject;
use crate::domain::response::Refusal;
use crate::domain::{Lang, Score, Survey, SurveyId};
use crate::store::backend::RecordError;
use crate::store::counts::Metric;
use pulsetap_wire::Tags;
use time::OffsetDateTime;

impl Batch<'_, '_> {
    /// Counts an impression once per response_id; whether it was new. The row is written
    /// first: a second collector inserting the same one waits for this transaction, then finds
    /// it there.
    pub(super) async fn impression(
        &mut self,
        survey: &Survey,
        subject: &Subject,
        now: OffsetDateTime,
    ) -> Result<Result<bool, RecordError>, tokio_postgres::Error> {
        let survey_id = survey.id.as_str();
        let response_id = subject.response_id.as_str();
        let now_ms = unix_ms(now);
        let registered = self.registered(survey_id, subject, now_ms);
        if survey.require_sig && !subject.signed && subject.interaction.is_some() && !registered {
            return Ok(Err(Refusal::SignatureRequired.into()));
        }
        let tags = subject.tags.as_map().clone();
        let tags_json = serde_json::to_string(&tags).expect("tags always serialize");
        let lang = subject.lang.as_ref().map(ToString::to_string);
        let inserted = self
            .transaction
            .execute(
                "INSERT INTO impressions (survey, response_id, at_ms, tags, lang, uncounted)
                 VALUES ($1, $2, $3, $4::text::jsonb, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &survey_id,
                    &response_id,
                    &now_ms,
                    &tags_json,
                    &lang,
                    &registered,
                ],
            )
            .await?;
        if inserted == 0 {
            return Ok(Ok(false));
        }
        if registered {
            // Its registration is its invitation (with the registered tags): kept only so that
            // its response_id counts once.
            return Ok(Ok(true));
        }
        if let Err(refusal) = self
            .limits
            .admit(
                self.transaction,
                survey,
                subject.trusted(),
                &tags,
                lang.as_deref(),
                None,
            )
            .await?
        {
            self.transaction
                .execute(
                    "DELETE FROM impressions WHERE survey = $1 AND response_id = $2",
                    &[&survey_id, &response_id],
                )
                .await?;
            return Ok(Err(refusal.into()));
        }
        for counter in counter_keys(survey_id, &tags, lang.as_deref(), now) {
            self.counter_deltas
                .entry(counter)
                .or_default()
                .add(Metric::Impression, 0, 1);
        }
        Ok(Ok(true))
    }

    /// Counts an opened email link that no page confirmed.
    pub(super) fn click(
        &mut self,
        survey: &SurveyId,
        score: Score,
        tags: &Tags,
        lang: Option<&Lang>,
        now: OffsetDateTime,
    ) {
        let lang = lang.map(Lang::as_str);
        for counter in counter_keys(survey.as_str(), tags, lang, now) {
            self.counter_deltas.entry(counter).or_default().add(
                Metric::UnconfirmedClick,
                score.get(),
                1,
            );
        }
    }
}
