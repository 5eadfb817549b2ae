//! Tag text: `agent=alice,channel=chat`, the one way tags are written as text.
//!
//! The widget reads it from `data-tags`, the email links carry it in their `t` parameter, the
//! CLI takes it in `--tags`, and the email endpoint in `tags=`. All of them use [`parse`] and
//! [`format`] from here; the loader (`widget/loader/pulsetap.js`) mirrors the same rules when it
//! joins a `tags` object into text.
//!
//! The grammar, chosen so that no escaping is ever needed:
//! - pairs are separated by `,`; a pair is `key=value`, split at the first `=`;
//! - a key is 1 to 32 of `A-Z a-z 0-9 _ -` (the configuration allows no other tag key);
//! - a value is 1 to 200 characters and never holds `,` (it may hold `=`);
//! - spaces around keys and values are not part of them; empty text means no tags;
//! - a key given twice is an error, not "the last one wins".
//!
//! Refusing rather than dropping a bad pair matters: a signature covers the exact tags, and a
//! tag silently dropped on one side and kept on the other makes a signed rating fail later,
//! somewhere harder to see.

use crate::Tags;

/// The longest tag key.
pub const MAX_KEY_LEN: usize = 32;
/// The longest tag value, in characters.
pub const MAX_VALUE_CHARS: usize = 200;

/// Why a text is not tag text. Kept small and message-free for the widget's sake; the
/// collector writes its own sentences from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagTextError {
    /// A pair without `=`, or with an empty key or value.
    NotAPair(String),
    /// A key that is not 1 to 32 of `A-Z a-z 0-9 _ -`.
    BadKey(String),
    /// A value over 200 characters.
    ValueTooLong(String),
    /// The same key twice.
    Repeated(String),
    /// A value that holds `,`, which the text form can't carry (from [`format`] only).
    Unwritable(String),
}

impl core::fmt::Display for TagTextError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotAPair(pair) => write!(
                f,
                "tags must look like agent=alice,channel=chat: {pair:?} is not key=value"
            ),
            Self::BadKey(key) => write!(
                f,
                "tag key {key:?} must be 1 to {MAX_KEY_LEN} letters, digits, '-' or '_'"
            ),
            Self::ValueTooLong(key) => write!(
                f,
                "the value of tag {key:?} is longer than {MAX_VALUE_CHARS} characters"
            ),
            Self::Repeated(key) => write!(f, "tag {key:?} is given twice"),
            Self::Unwritable(key) => write!(
                f,
                "the value of tag {key:?} holds a ',', which tag text can't carry"
            ),
        }
    }
}

impl std::error::Error for TagTextError {}

/// Whether `key` is a valid tag key: 1 to 32 of `A-Z a-z 0-9 _ -`.
pub fn is_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Reads tag text. Whitespace around a pair, a key or a value is ignored; empty text (or only
/// spaces) is no tags.
pub fn parse(text: &str) -> Result<Tags, TagTextError> {
    let mut tags = Tags::new();
    if text.trim().is_empty() {
        return Ok(tags);
    }
    for pair in text.split(',') {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(TagTextError::NotAPair(pair.trim().into()));
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || value.is_empty() {
            return Err(TagTextError::NotAPair(pair.trim().into()));
        }
        if !is_key(key) {
            return Err(TagTextError::BadKey(key.into()));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(TagTextError::ValueTooLong(key.into()));
        }
        if tags.insert(key.into(), value.into()).is_some() {
            return Err(TagTextError::Repeated(key.into()));
        }
    }
    Ok(tags)
}

/// Writes tags as text that [`parse`] reads back to the same tags, sorted by key; an error for
/// tags that have no such text (a bad key, a value with `,`, or surrounding spaces that
/// [`parse`] would drop).
pub fn format(tags: &Tags) -> Result<String, TagTextError> {
    let mut text = String::new();
    for (key, value) in tags {
        if !is_key(key) {
            return Err(TagTextError::BadKey(key.clone()));
        }
        if value.is_empty() || value.contains(',') || value.trim() != value {
            return Err(TagTextError::Unwritable(key.clone()));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(TagTextError::ValueTooLong(key.clone()));
        }
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(key);
        text.push('=');
        text.push_str(value);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pairs_parse_sorted_with_spaces_trimmed_and_equals_signs_kept_in_values() {
        assert_eq!(
            parse(" channel=chat , agent = Zoë = lead ").unwrap(),
            tags(&[("agent", "Zoë = lead"), ("channel", "chat")])
        );
        assert_eq!(parse("").unwrap(), Tags::new());
        assert_eq!(parse("   ").unwrap(), Tags::new());
    }

    #[test]
    fn every_malformed_pair_is_refused_rather_than_dropped() {
        assert_eq!(parse("agent"), Err(TagTextError::NotAPair("agent".into())));
        assert_eq!(parse("=x"), Err(TagTextError::NotAPair("=x".into())));
        assert_eq!(
            parse("agent="),
            Err(TagTextError::NotAPair("agent=".into()))
        );
        assert_eq!(
            parse("agent=a,,channel=b"),
            Err(TagTextError::NotAPair(String::new()))
        );
        assert_eq!(
            parse("agent=a,agent=b"),
            Err(TagTextError::Repeated("agent".into()))
        );
        assert_eq!(
            parse("ag ent=a"),
            Err(TagTextError::BadKey("ag ent".into()))
        );
        assert_eq!(
            parse(&format!("agent={}", "x".repeat(201))),
            Err(TagTextError::ValueTooLong("agent".into()))
        );
    }

    #[test]
    fn formatted_tags_parse_back_to_themselves() {
        let original = tags(&[("agent", "Zoë = lead"), ("channel", "e-mail")]);
        let text = format(&original).unwrap();
        assert_eq!(text, "agent=Zoë = lead,channel=e-mail");
        assert_eq!(parse(&text).unwrap(), original);
        assert_eq!(format(&Tags::new()).unwrap(), "");
    }

    #[test]
    fn tags_without_a_text_form_are_refused_by_format() {
        for bad in [
            tags(&[("agent", "a,b")]),
            tags(&[("agent", " padded")]),
            tags(&[("agent", "")]),
        ] {
            assert_eq!(format(&bad), Err(TagTextError::Unwritable("agent".into())));
        }
        assert_eq!(
            format(&tags(&[("a=b", "x")])),
            Err(TagTextError::BadKey("a=b".into()))
        );
    }
}
