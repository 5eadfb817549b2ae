//! The anonymous limits' counts (distinct values per tag, new unverified responses per survey
//! and day) as one batch reads, checks and adds to them: `domain::limits` decides, as in the
//! embedded store.
//!
//! A batch reads the counts without a lock and adds to them as its last statements, reading
//! back the sums: when another collector took places meanwhile and a sum is past a ceiling one
//! of the batch's admissions leaned on, the batch runs again *exact*, with every count it reads
//! locked (`FOR UPDATE`) until it commits.

use crate::domain::limits;
use crate::domain::response::Refusal;
use crate::domain::survey::LANG_DIMENSION;
use crate::domain::{Day, Survey, Surveys};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use tokio_postgres::Transaction;

/// A count of `limit_counts`: as read, after this batch's writes so far, and whether an
/// unverified write was admitted against it (then the sum must be checked after adding).
struct LimitCount {
    stored: i64,
    count: i64,
    leaned_on: bool,
}

/// What one run of a batch read of the limits' counts, and what it adds to them.
pub(super) struct Limits {
    /// Lock the counts when reading them (a run after another collector took places).
    exact: bool,
    /// (survey, tag, value) stored, or added by this batch.
    known_tag_values: HashSet<(String, String, String)>,
    /// (survey, tag, value) looked up, found or not: no need to ask the database again.
    looked_up: HashSet<(String, String, String)>,
    new_tag_values: BTreeSet<(String, String, String)>,
    /// (survey, what) → its count.
    counts: BTreeMap<(String, String), LimitCount>,
}

impl Limits {
    pub(super) fn new(exact: bool) -> Self {
        Self {
            exact,
            known_tag_values: HashSet::new(),
            looked_up: HashSet::new(),
            new_tag_values: BTreeSet::new(),
            counts: BTreeMap::new(),
        }
    }

    /// Checks a write against the anonymous limits and, when it passes, counts it (see
    /// `store/embedded/batch.rs`: the same rule over the same counts). Its language is noted
    /// as a value of the `lang` pseudo-tag, with no limit: a survey speaks only the few
    /// languages it is configured with.
    pub(super) async fn admit(
        &mut self,
        transaction: &Transaction<'_>,
        survey: &Survey,
        trusted: bool,
        tags: &BTreeMap<String, String>,
        lang: Option<&str>,
        unverified: Option<(Day, bool)>,
    ) -> Result<Result<(), Refusal>, tokio_postgres::Error> {
        let survey_id = survey.id.as_str();
        let mut new_values = Vec::new();
        for (tag, value) in tags {
            let key = (survey_id.to_owned(), tag.clone(), value.clone());
            if self.knows_tag_value(transaction, &key).await? {
                continue;
            }
            let count_key = (survey_id.to_owned(), format!("tag {tag}"));
            let distinct = self.count(transaction, &count_key).await?;
            if !trusted
                && let Err(refusal) = limits::admit_unverified_tag_value(tag, distinct, survey)
            {
                return Ok(Err(refusal));
            }
            new_values.push((key, count_key, !trusted));
        }
        let day_key =
            unverified.map(|(day, _)| (survey_id.to_owned(), format!("unverified {}", day.0)));
        if let (Some(day_key), Some((_, allowance_left))) = (&day_key, unverified) {
            let created_today = self.count(transaction, day_key).await?;
            if let Err(refusal) =
                limits::admit_unverified_response(allowance_left, created_today, survey)
            {
                return Ok(Err(refusal));
            }
        }
        for (key, count_key, leaned_on) in new_values {
            self.known_tag_values.insert(key.clone());
            self.new_tag_values.insert(key);
            self.count_one_more(&count_key, leaned_on);
        }
        if let Some(day_key) = day_key {
            self.count_one_more(&day_key, true);
        }
        if let Some(lang) = lang {
            let key = (
                survey_id.to_owned(),
                LANG_DIMENSION.to_owned(),
                lang.to_owned(),
            );
            if !self.knows_tag_value(transaction, &key).await? {
                self.known_tag_values.insert(key.clone());
                self.new_tag_values.insert(key);
            }
        }
        Ok(Ok(()))
    }

    /// Looks up, in one statement, which of the tag values a batch is about to bring are
    /// stored already, so that admitting its writes asks the database nothing more about them.
    pub(super) async fn look_up_tag_values(
        &mut self,
        transaction: &Transaction<'_>,
        values: BTreeSet<(String, String, String)>,
    ) -> Result<(), tokio_postgres::Error> {
        if values.is_empty() {
            return Ok(());
        }
        let (mut surveys, mut tags, mut texts) = (Vec::new(), Vec::new(), Vec::new());
        for (survey, tag, value) in &values {
            surveys.push(survey.as_str());
            tags.push(tag.as_str());
            texts.push(value.as_str());
        }
        let rows = transaction
            .query(
                "SELECT v.survey, v.tag, v.value FROM tag_values v
                 JOIN unnest($1::text[], $2::text[], $3::text[]) AS wanted(survey, tag, value)
                   ON v.survey = wanted.survey AND v.tag = wanted.tag AND v.value = wanted.value",
                &[&surveys, &tags, &texts],
            )
            .await?;
        for row in rows {
            self.known_tag_values
                .insert((row.get(0), row.get(1), row.get(2)));
        }
        self.looked_up.extend(values);
        Ok(())
    }

    async fn knows_tag_value(
        &mut self,
        transaction: &Transaction<'_>,
        key: &(String, String, String),
    ) -> Result<bool, tokio_postgres::Error> {
        if self.known_tag_values.contains(key) {
            return Ok(true);
        }
        if self.looked_up.contains(key) {
            return Ok(false);
        }
        let known = transaction
            .query_opt(
                "SELECT 1 FROM tag_values WHERE survey = $1 AND tag = $2 AND value = $3",
                &[&key.0, &key.1, &key.2],
            )
            .await?
            .is_some();
        if known {
            self.known_tag_values.insert(key.clone());
        }
        Ok(known)
    }

    /// A count of `limit_counts`, with this batch's changes; locked when the run is exact.
    async fn count(
        &mut self,
        transaction: &Transaction<'_>,
        key: &(String, String),
    ) -> Result<u64, tokio_postgres::Error> {
        if let Some(count) = self.counts.get(key) {
            return Ok(u64::try_from(count.count).unwrap_or(0));
        }
        let stored: i64 = if self.exact {
            transaction
                .execute(
                    "INSERT INTO limit_counts (survey, what, count) VALUES ($1, $2, 0)
                     ON CONFLICT (survey, what) DO NOTHING",
                    &[&key.0, &key.1],
                )
                .await?;
            transaction
                .query_one(
                    "SELECT count FROM limit_counts WHERE survey = $1 AND what = $2 FOR UPDATE",
                    &[&key.0, &key.1],
                )
                .await?
                .get(0)
        } else {
            transaction
                .query_opt(
                    "SELECT count FROM limit_counts WHERE survey = $1 AND what = $2",
                    &[&key.0, &key.1],
                )
                .await?
                .map_or(0, |row| row.get(0))
        };
        self.counts.insert(
            key.clone(),
            LimitCount {
                stored,
                count: stored,
                leaned_on: false,
            },
        );
        Ok(u64::try_from(stored).unwrap_or(0))
    }

    /// Adds one to a count `count` read; `leaned_on`: an unverified write was admitted
    /// against it.
    fn count_one_more(&mut self, key: &(String, String), leaned_on: bool) {
        if let Some(count) = self.counts.get_mut(key) {
            count.count += 1;
            count.leaned_on |= leaned_on;
        }
    }

    /// Adds the batch's new tag values and what it counted to the limits' counts. Whether every
    /// unverified write the batch admitted still fits once the other collectors' places are
    /// added: `false` when one does not, and the batch must run again with the counts locked.
    pub(super) async fn write(
        &self,
        transaction: &Transaction<'_>,
        surveys: &Surveys,
    ) -> Result<bool, tokio_postgres::Error> {
        // Distinct values are counted as the rows go in: a value another collector added
        // meanwhile is not counted twice.
        let mut inserted: HashMap<(String, String), i64> = HashMap::new();
        if !self.new_tag_values.is_empty() {
            let (mut surveys, mut tags, mut values) = (Vec::new(), Vec::new(), Vec::new());
            for (survey, tag, value) in &self.new_tag_values {
                surveys.push(survey.as_str());
                tags.push(tag.as_str());
                values.push(value.as_str());
            }
            let rows = transaction
                .query(
                    "INSERT INTO tag_values (survey, tag, value)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
                     ON CONFLICT DO NOTHING
                     RETURNING survey, tag",
                    &[&surveys, &tags, &values],
                )
                .await?;
            for row in rows {
                let tag: String = row.get(1);
                *inserted
                    .entry((row.get(0), format!("tag {tag}")))
                    .or_default() += 1;
            }
        }
        for (key, count) in &self.counts {
            let added = if key.1.starts_with("tag ") {
                inserted.get(key).copied().unwrap_or(0)
            } else {
                count.count - count.stored
            };
            if added == 0 {
                continue;
            }
            let (survey, what) = key;
            let total: i64 = transaction
                .query_one(
                    "INSERT INTO limit_counts (survey, what, count) VALUES ($1, $2, $3)
                     ON CONFLICT (survey, what) DO UPDATE SET count = limit_counts.count + $3
                     RETURNING count",
                    &[survey, what, &added],
                )
                .await?
                .get(0);
            if !count.leaned_on || total == count.stored + added {
                continue;
            }
            // Others took places meanwhile, so the last place this batch took is the total's
            // last one: ask the domain again whether it was free.
            let Some(survey) = surveys.get(survey) else {
                continue;
            };
            let before_last = u64::try_from(total - 1).unwrap_or(0);
            let still_fits = match what.strip_prefix("tag ") {
                Some(tag) => limits::admit_unverified_tag_value(tag, before_last, survey).is_ok(),
                None => limits::admit_unverified_response(true, before_last, survey).is_ok(),
            };
            if !still_fits {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
