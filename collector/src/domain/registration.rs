//! Interactions a helpdesk registered: a ticket and the tags its rating will carry, vouched for
//! by a write key instead of a signature. A helpdesk can fill a ticket id into a link (its
//! macros know `{{ticket.id}}`) but cannot compute an HMAC, so its links are unsigned and the
//! registry is what makes them trustworthy: a rating for a registered interaction gets the
//! registered tags, whatever its link or widget says.

use super::calendar::unix_ms;
use super::rating::{Interaction, Invalid, Rating, TagSet};
use super::response::Refusal;
use super::survey::{Survey, UnknownInteractions};
use pulsetap_wire::{RegisterInteraction, Tags};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// At most this many registrations in one request (`POST /v1/surveys/{survey}/interactions`).
pub const MAX_REGISTRATIONS_PER_REQUEST: usize = 10_000;

/// Why a registration can't be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(
        "expires must be an RFC 3339 time in the future, like \"2026-12-31T00:00:00Z\"; got {0:?}"
    )]
    Expires(String),
}

impl RegistrationError {
    /// The stable code clients and metrics key on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(invalid) => invalid.code(),
            Self::Expires(_) => "invalid_expires",
        }
    }
}

/// One interaction to register, valid for its survey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub interaction: Interaction,
    pub tags: TagSet,
    /// After this (unix ms) it no longer vouches for a rating; `None`: never.
    pub expires_ms: Option<i64>,
}

impl Registration {
    pub fn parse(
        body: RegisterInteraction,
        survey: &Survey,
        now: OffsetDateTime,
    ) -> Result<Self, RegistrationError> {
        let interaction = Interaction::parse(&body.interaction)?;
        let tags = TagSet::parse(body.tags, survey)?;
        let expires_ms = body
            .expires
            .map(|text| match OffsetDateTime::parse(&text, &Rfc3339) {
                Ok(at) if at > now => Ok(unix_ms(at)),
                _ => Err(RegistrationError::Expires(text)),
            })
            .transpose()?;
        Ok(Self {
            interaction,
            tags,
            expires_ms,
        })
    }
}

/// A registration as the store keeps it. A field added later needs a serde default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub tags: Tags,
    pub expires_ms: Option<i64>,
    /// When it was first registered: the bucket its invitation counts in.
    pub at_ms: i64,
    /// A response exists for it: its invitation was answered (counted once).
    #[serde(default)]
    pub answered: bool,
}

impl Registered {
    /// Whether it still vouches for a rating at `now_ms`.
    pub fn vouches_at(&self, now_ms: i64) -> bool {
        self.expires_ms.is_none_or(|expires| now_ms < expires)
    }
}

/// The rating as the registry vouches for it: a registered interaction takes its registered
/// tags, whatever the rating says; one neither signed nor registered is taken as the survey's
/// `unknown_interactions` says.
pub fn as_vouched<'r>(
    survey: &Survey,
    rating: &'r Rating,
    registration: Option<&Registered>,
) -> Result<Cow<'r, Rating>, Refusal> {
    let subject = &rating.subject;
    if let Some(registration) = registration {
        let mut vouched = rating.clone();
        vouched.subject.tags = TagSet::registered(registration.tags.clone(), survey);
        vouched.subject.registered = true;
        return Ok(Cow::Owned(vouched));
    }
    if subject.interaction.is_none() || subject.signed {
        return Ok(Cow::Borrowed(rating));
    }
    if survey.require_sig {
        return Err(Refusal::SignatureRequired);
    }
    match survey.unknown_interactions {
        UnknownInteractions::Anonymous => Ok(Cow::Borrowed(rating)),
        UnknownInteractions::Accept => {
            let mut untagged = rating.clone();
            untagged.subject.tags = TagSet::default();
            Ok(Cow::Owned(untagged))
        }
        UnknownInteractions::Refuse => Err(Refusal::UnknownInteraction),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn survey() -> Survey {
        let mut survey = Survey::example("support");
        survey.tags = ["agent".to_owned()].into();
        survey
    }

    fn body(expires: Option<&str>) -> RegisterInteraction {
        RegisterInteraction {
            interaction: "T-1".into(),
            tags: [("agent".to_owned(), "alice".to_owned())].into(),
            expires: expires.map(String::from),
        }
    }

    #[test]
    fn an_expiry_must_be_a_time_to_come() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let ok = Registration::parse(body(Some("2030-01-01T00:00:00Z")), &survey(), now).unwrap();
        assert!(ok.expires_ms.is_some());
        for bad in ["2020-01-01T00:00:00Z", "tomorrow", "2030-01-01"] {
            assert_eq!(
                Registration::parse(body(Some(bad)), &survey(), now),
                Err(RegistrationError::Expires(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_registration_vouches_until_it_expires() {
        let registered = Registered {
            tags: Tags::new(),
            expires_ms: Some(1_000),
            at_ms: 0,
            answered: false,
        };
        assert!(registered.vouches_at(999));
        assert!(!registered.vouches_at(1_000));
    }
}
