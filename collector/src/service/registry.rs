//! Registering interactions for a helpdesk: a batch of `{"interaction", "tags", "expires"}`
//! checked whole, then written through the writer in chunks.
//!
//! Bad input changes nothing: every registration of a request is checked before the first is
//! written, and the first bad one is named by its position. Memory stays bounded: the route
//! caps the body (`routes::interactions`), at most `MAX_REGISTRATIONS_PER_REQUEST` are taken,
//! each is checked as it is parsed (the wire form is never held as a whole), and the writer
//! gets them `CHUNK` at a time, so a large request never holds the writer for long nor fills
//! its queue.

use crate::domain::Survey;
use crate::domain::registration::{
    MAX_REGISTRATIONS_PER_REQUEST, Registered, Registration, RegistrationError,
};
use crate::store::{Store, StoreError};
use pulsetap_wire::{RegisterInteraction, Registered as Report};
use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};
use std::fmt;
use time::OffsetDateTime;

/// Registrations per write: one writer transaction of this many takes a few milliseconds.
pub const CHUNK: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the body is not a registration or an array of them: {0}")]
    Malformed(String),
    /// One registration breaks a rule; `at` is its position in an array.
    #[error("{}{error}", at.map(|at| format!("registration {at} (counting from 0): ")).unwrap_or_default())]
    Invalid {
        at: Option<usize>,
        error: RegistrationError,
    },
    #[error(
        "at most {MAX_REGISTRATIONS_PER_REQUEST} registrations per request: send the rest in another"
    )]
    TooMany,
    /// Nothing was written when it is the first chunk; registering again is safe either way.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Parses and checks a body of one registration or an array of them, then stores them.
pub async fn register(
    store: &Store,
    survey: &Survey,
    body: &[u8],
) -> Result<Report, RegistryError> {
    let now = OffsetDateTime::now_utc();
    let registrations = parse(body, survey, now)?;
    let mut report = Report::default();
    let mut rest = registrations;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(CHUNK));
        let chunk = std::mem::replace(&mut rest, tail);
        let written = store.register(survey.id.clone(), chunk, now).await?;
        report.created += written.created;
        report.updated += written.updated;
        report.unchanged += written.unchanged;
    }
    Ok(report)
}

/// The registration of an interaction when it vouches for a rating now (not expired).
pub async fn vouching(
    store: &Store,
    survey: &Survey,
    interaction: &str,
) -> Result<Option<Registered>, StoreError> {
    let now_ms = crate::domain::calendar::unix_ms(OffsetDateTime::now_utc());
    Ok(store
        .registration(&survey.id, interaction)
        .await?
        .filter(|registration| registration.vouches_at(now_ms)))
}

/// Every registration of the body, checked, in order.
fn parse(
    body: &[u8],
    survey: &Survey,
    now: OffsetDateTime,
) -> Result<Vec<Registration>, RegistryError> {
    let is_array = body
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|&byte| byte == b'[');
    if !is_array {
        let one: RegisterInteraction = serde_json::from_slice(body)
            .map_err(|error| RegistryError::Malformed(error.to_string()))?;
        let registration = Registration::parse(one, survey, now)
            .map_err(|error| RegistryError::Invalid { at: None, error })?;
        return Ok(vec![registration]);
    }
    let mut failure = None;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = Each {
        survey,
        now,
        failure: &mut failure,
    }
    .deserialize(&mut deserializer)
    .and_then(|registrations| deserializer.end().map(|()| registrations));
    match (parsed, failure) {
        (_, Some(failure)) => Err(failure),
        (Ok(registrations), None) => Ok(registrations),
        (Err(error), None) => Err(RegistryError::Malformed(error.to_string())),
    }
}

/// Reads a JSON array one registration at a time, checking each as it comes.
struct Each<'a> {
    survey: &'a Survey,
    now: OffsetDateTime,
    /// Why it stopped, when the reason is not JSON's.
    failure: &'a mut Option<RegistryError>,
}

impl<'de> DeserializeSeed<'de> for Each<'_> {
    type Value = Vec<Registration>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Each<'_> {
    type Value = Vec<Registration>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of registrations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut registrations = Vec::new();
        while let Some(body) = seq.next_element::<RegisterInteraction>()? {
            if registrations.len() == MAX_REGISTRATIONS_PER_REQUEST {
                *self.failure = Some(RegistryError::TooMany);
                return Err(serde::de::Error::custom("too many"));
            }
            match Registration::parse(body, self.survey, self.now) {
                Ok(registration) => registrations.push(registration),
                Err(error) => {
                    *self.failure = Some(RegistryError::Invalid {
                        at: Some(registrations.len()),
                        error,
                    });
                    return Err(serde::de::Error::custom("invalid"));
                }
            }
        }
        if registrations.is_empty() {
            *self.failure = Some(RegistryError::Malformed(
                "an empty array registers nothing".into(),
            ));
            return Err(serde::de::Error::custom("empty"));
        }
        Ok(registrations)
    }
}
