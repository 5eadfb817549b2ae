//! HMAC-SHA256 signatures with a survey's secret.
//!
//! An interaction signature covers survey, interaction and the sorted tags: whoever holds it may
//! answer (and change the answer of) exactly that interaction with exactly those tags. An email
//! link signature also covers the score, so a link can't be edited into another rating, and the
//! language the email was written in (links made before links had one are signed without it).
//!
//! Fields are joined with `\n`, which no survey id, interaction or tag may contain, so two
//! different inputs can never produce the same signed message.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;

type HmacSha256 = Hmac<Sha256>;

/// A survey's signing secret. Never serialized, never logged.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    pub fn new(text: &str) -> Self {
        Self(text.as_bytes().to_vec())
    }

    /// Hex signature for an interaction and its tags.
    pub fn sign_interaction(
        &self,
        survey: &str,
        interaction: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> String {
        hex::encode(
            self.mac(&interaction_message(survey, interaction, tags))
                .finalize()
                .into_bytes(),
        )
    }

    /// Constant-time check of an interaction signature.
    pub fn verify_interaction(
        &self,
        survey: &str,
        interaction: Option<&str>,
        tags: &BTreeMap<String, String>,
        sig_hex: &str,
    ) -> bool {
        self.verify(&interaction_message(survey, interaction, tags), sig_hex)
    }

    /// Hex signature for one link of an email, in `lang`.
    pub fn sign_link(&self, link: &LinkFields<'_>) -> String {
        hex::encode(self.mac(&link_message(link)).finalize().into_bytes())
    }

    /// Constant-time check of an email link signature.
    pub fn verify_link(&self, link: &LinkFields<'_>, sig_hex: &str) -> bool {
        self.verify(&link_message(link), sig_hex)
    }

    fn mac(&self, message: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(message.as_bytes());
        mac
    }

    fn verify(&self, message: &str, sig_hex: &str) -> bool {
        let Ok(sig) = hex::decode(sig_hex.trim()) else {
            return false;
        };
        // `verify_slice` compares in constant time, so timing can't reveal a valid prefix.
        self.mac(message).verify_slice(&sig).is_ok()
    }
}

fn interaction_message(
    survey: &str,
    interaction: Option<&str>,
    tags: &BTreeMap<String, String>,
) -> String {
    let mut message = format!(
        "pulsetap-interaction-v1\n{survey}\n{}",
        interaction.unwrap_or("")
    );
    append_tags(&mut message, tags);
    message
}

/// What an email link's signature covers.
#[derive(Debug, Clone, Copy)]
pub struct LinkFields<'a> {
    pub survey: &'a str,
    pub score: u8,
    pub interaction: &'a str,
    pub tags: &'a BTreeMap<String, String>,
    /// The language of the email; `None` for links made before links carried one.
    pub lang: Option<&'a str>,
}

fn link_message(link: &LinkFields<'_>) -> String {
    let LinkFields {
        survey,
        score,
        interaction,
        tags,
        lang,
    } = *link;
    // A link with a language is signed under its own version, so no link of either form can
    // pass for one of the other.
    let mut message = match lang {
        None => format!("pulsetap-email-link-v1\n{survey}\n{score}\n{interaction}"),
        Some(lang) => {
            format!("pulsetap-email-link-v2\n{survey}\n{score}\n{interaction}\n{lang}")
        }
    };
    append_tags(&mut message, tags);
    message
}

fn append_tags(message: &mut String, tags: &BTreeMap<String, String>) {
    // BTreeMap iterates sorted by key: the order a client sent tags in never matters.
    for (key, value) in tags {
        message.push('\n');
        message.push_str(key);
        message.push('=');
        message.push_str(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_signature_verifies_and_any_edit_breaks_it() {
        let secret = Secret::new("s3cret");
        let sig = secret.sign_interaction("support", Some("chat-1"), &tags(&[("agent", "alice")]));
        assert!(secret.verify_interaction(
            "support",
            Some("chat-1"),
            &tags(&[("agent", "alice")]),
            &sig
        ));
        assert!(!secret.verify_interaction(
            "support",
            Some("chat-2"),
            &tags(&[("agent", "alice")]),
            &sig
        ));
        assert!(!secret.verify_interaction(
            "support",
            Some("chat-1"),
            &tags(&[("agent", "bob")]),
            &sig
        ));
        assert!(!secret.verify_interaction("support", Some("chat-1"), &tags(&[]), &sig));
        assert!(!Secret::new("other").verify_interaction(
            "support",
            Some("chat-1"),
            &tags(&[("agent", "alice")]),
            &sig
        ));
        assert!(!secret.verify_interaction(
            "support",
            Some("chat-1"),
            &tags(&[("agent", "alice")]),
            "zz"
        ));
    }

    #[test]
    fn a_link_signature_covers_the_score_and_the_language() {
        let secret = Secret::new("s3cret");
        let none = tags(&[]);
        let link = |score, lang| LinkFields {
            survey: "support",
            score,
            interaction: "T-1",
            tags: &none,
            lang,
        };
        let sig = secret.sign_link(&link(5, Some("fr")));
        assert!(secret.verify_link(&link(5, Some("fr")), &sig));
        assert!(!secret.verify_link(&link(1, Some("fr")), &sig));
        assert!(!secret.verify_link(&link(5, Some("de")), &sig));
        assert!(!secret.verify_link(&link(5, None), &sig));
        // Links made before they had a language still verify as they were signed.
        let old = secret.sign_link(&link(5, None));
        assert!(secret.verify_link(&link(5, None), &old));
        assert!(!secret.verify_link(&link(5, Some("en")), &old));
        // A link signature is not an interaction signature.
        assert!(!secret.verify_interaction("support", Some("T-1"), &none, &sig));
    }
}
