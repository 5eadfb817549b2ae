//! The identities a batch touches: locked in one order for every collector, then read, with
//! the registrations of the interactions it names and which of its tag values are known.

use super::records::{Batch, Identity};
use super::rows::identity;
use crate::domain::Response;
use crate::domain::rating::Subject;
use crate::domain::survey::LANG_DIMENSION;
use crate::store::backend::Write;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

impl Batch<'_, '_> {
    /// Locks every identity the batch rates or registers, in one order for every collector (so
    /// two batches never wait on each other in a circle), then reads their responses, the
    /// registrations of the interactions the batch names, and which of its tag values are stored.
    pub(super) async fn lock_and_read_identities(
        &mut self,
        writes: &[Write],
    ) -> Result<(), tokio_postgres::Error> {
        let mut identities: BTreeSet<Identity> = BTreeSet::new();
        let mut interactions: BTreeSet<Identity> = BTreeSet::new();
        let mut tag_values: BTreeSet<(String, String, String)> = BTreeSet::new();
        for write in writes {
            match write {
                Write::Rating { survey, rating, .. } => {
                    let subject = &rating.subject;
                    tag_values_of(&mut tag_values, survey.as_str(), subject);
                    let interaction = subject.interaction.as_ref().map(|i| i.as_str());
                    identities.insert((
                        survey.as_str().to_owned(),
                        identity(interaction, subject.response_id.as_str()),
                    ));
                    if let Some(interaction) = interaction {
                        interactions.insert((survey.as_str().to_owned(), interaction.to_owned()));
                    }
                }
                Write::Register {
                    survey,
                    registrations,
                    ..
                } => {
                    for registration in registrations {
                        let interaction = registration.interaction.as_str();
                        identities
                            .insert((survey.as_str().to_owned(), identity(Some(interaction), "")));
                        interactions.insert((survey.as_str().to_owned(), interaction.to_owned()));
                    }
                }
                Write::Impression {
                    survey, subject, ..
                } => {
                    tag_values_of(&mut tag_values, survey.as_str(), subject);
                    if let Some(interaction) = &subject.interaction {
                        interactions
                            .insert((survey.as_str().to_owned(), interaction.as_str().to_owned()));
                    }
                }
                _ => {}
            }
        }
        self.read_registrations(&interactions).await?;
        self.limits
            .look_up_tag_values(self.transaction, tag_values)
            .await?;
        if identities.is_empty() {
            return Ok(());
        }
        let mut locks: Vec<i64> = identities
            .iter()
            .map(|(survey, identity)| lock_key(survey, identity))
            .collect();
        locks.sort_unstable();
        locks.dedup();
        self.transaction
            .execute(
                "SELECT count(pg_advisory_xact_lock(key)) FROM unnest($1::bigint[]) AS key",
                &[&locks],
            )
            .await?;
        let (surveys, ids): (Vec<&str>, Vec<&str>) = identities
            .iter()
            .map(|(survey, identity)| (survey.as_str(), identity.as_str()))
            .unzip();
        let rows = self
            .transaction
            .query(
                "SELECT r.survey, r.identity, r.body::text FROM responses r
                 JOIN unnest($1::text[], $2::text[]) AS wanted(survey, identity)
                   ON r.survey = wanted.survey AND r.identity = wanted.identity",
                &[&surveys, &ids],
            )
            .await?;
        for row in rows {
            let key: Identity = (row.get(0), row.get(1));
            let body: &str = row.get(2);
            match serde_json::from_str::<Response>(body) {
                Ok(response) => {
                    self.responses.insert(key, response);
                }
                Err(_) => {
                    self.corrupt.insert(key);
                }
            }
        }
        Ok(())
    }
}

/// The tag values (and the language, a value of the `lang` pseudo-tag) a write brings.
fn tag_values_of(values: &mut BTreeSet<(String, String, String)>, survey: &str, subject: &Subject) {
    let tags = subject.tags.as_map().iter();
    let lang = subject
        .lang
        .as_ref()
        .map(|lang| (LANG_DIMENSION, lang.as_str()));
    for (tag, value) in tags
        .map(|(tag, value)| (tag.as_str(), value.as_str()))
        .chain(lang)
    {
        values.insert((survey.to_owned(), tag.to_owned(), value.to_owned()));
    }
}

/// The advisory lock of one identity: 64 bits of its SHA-256. Two identities sharing one only
/// wait for each other.
fn lock_key(survey: &str, identity: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(survey.as_bytes())
        .chain_update([0])
        .chain_update(identity.as_bytes())
        .finalize();
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}
