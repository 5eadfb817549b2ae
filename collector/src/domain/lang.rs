//! Languages: the tags a survey's texts are written in, and which of them a visitor gets.

/// The longest tag accepted. Real tags are far shorter (`zh-Hant-TW` is 10); the bound keeps a
/// tag a small, safe value for keys, URLs and counters.
const MAX_TAG_LEN: usize = 35;

/// Languages whose script is written right to left (Arabic, Hebrew, Persian, Urdu and their
/// neighbours), by primary subtag. The widget keeps the same list (`widget/src/scale.rs`).
const RIGHT_TO_LEFT: [&str; 11] = [
    "ar", "he", "iw", "fa", "ur", "ps", "sd", "yi", "ug", "ckb", "dv",
];

/// A well-formed BCP 47 language tag (`fr`, `pt-BR`, `zh-Hant-TW`), kept in its canonical case:
/// language lower case, script title case, region upper case. Two spellings of one tag
/// (`pt-br`, `PT-BR`) are the same `Lang`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lang(String);

impl Lang {
    /// A tag made of a language of 2 or 3 letters (an ISO 639 code: BCP 47's longer language
    /// subtags are reserved, none is in use), then subtags of 1 to 8 letters or digits,
    /// separated by `-`; `None` for anything else, such as `french`.
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > MAX_TAG_LEN {
            return None;
        }
        let mut canonical = String::with_capacity(text.len());
        // Past a one-character subtag (an extension such as `-u-`), case conventions end.
        let mut in_extension = false;
        for (position, subtag) in text.split('-').enumerate() {
            let ok = if position == 0 {
                matches!(subtag.len(), 2 | 3) && subtag.bytes().all(|b| b.is_ascii_alphabetic())
            } else {
                (1..=8).contains(&subtag.len()) && subtag.bytes().all(|b| b.is_ascii_alphanumeric())
            };
            if !ok {
                return None;
            }
            if position > 0 {
                canonical.push('-');
            }
            let letters = subtag.bytes().all(|b| b.is_ascii_alphabetic());
            in_extension |= position > 0 && subtag.len() == 1;
            if position > 0 && !in_extension && subtag.len() == 2 && letters {
                canonical.push_str(&subtag.to_ascii_uppercase());
            } else if position > 0 && !in_extension && subtag.len() == 4 && letters {
                canonical.push_str(&subtag[..1].to_ascii_uppercase());
                canonical.push_str(&subtag[1..].to_ascii_lowercase());
            } else {
                canonical.push_str(&subtag.to_ascii_lowercase());
            }
        }
        Some(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// English, the language of the texts a survey gets when it writes none of its own.
    pub fn english() -> Self {
        Self("en".into())
    }

    /// Whether texts in this language read right to left.
    pub fn right_to_left(&self) -> bool {
        let primary = self.0.split('-').next().unwrap_or_default();
        RIGHT_TO_LEFT.contains(&primary)
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The first language of `requested` that `available` has, or `None`.
///
/// `requested` is a comma-separated list, most wanted first: `navigator.languages` joined by
/// commas (what the widget sends), or an `Accept-Language` value (its `;q=` weights are
/// ignored; browsers list the languages in order). Each is looked up as RFC 4647 §3.4 does: the
/// tag itself, then without its last subtag, and so on, so `pt-BR` finds `pt` and `zh-Hant-TW`
/// finds `zh-Hant`; a survey's `pt-BR` is never given to someone who asked for `pt` alone or
/// for `pt-PT`. Malformed entries are skipped.
pub fn negotiate<'a>(
    requested: &str,
    available: impl IntoIterator<Item = &'a Lang> + Clone,
) -> Option<&'a Lang> {
    for wanted in requested.split(',') {
        let tag = wanted.split(';').next().unwrap_or_default().trim();
        let Some(mut wanted) = Lang::parse(&tag.replace('_', "-")) else {
            continue;
        };
        loop {
            if let Some(found) = available.clone().into_iter().find(|lang| **lang == wanted) {
                return Some(found);
            }
            match wanted.0.rfind('-') {
                Some(cut) => {
                    wanted.0.truncate(cut);
                    // A singleton (`-x-`, `-u-`) means nothing without what followed it.
                    if wanted.0.len() >= 2 && wanted.0.as_bytes()[wanted.0.len() - 2] == b'-' {
                        wanted.0.truncate(wanted.0.len() - 2);
                    }
                }
                None => break,
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn langs(tags: &[&str]) -> Vec<Lang> {
        tags.iter().map(|t| Lang::parse(t).expect(t)).collect()
    }

    fn chosen<'a>(requested: &str, available: &'a [Lang]) -> Option<&'a str> {
        negotiate(requested, available).map(Lang::as_str)
    }

    #[test]
    fn a_tag_is_kept_in_its_canonical_case() {
        assert_eq!(Lang::parse("pt-br").unwrap().as_str(), "pt-BR");
        assert_eq!(Lang::parse("ZH-hant-tw").unwrap().as_str(), "zh-Hant-TW");
        assert_eq!(Lang::parse("es-419").unwrap().as_str(), "es-419");
        assert_eq!(
            Lang::parse("de-CH-u-co-phonebk").unwrap().as_str(),
            "de-CH-u-co-phonebk"
        );
        assert_eq!(Lang::parse("PT-BR"), Lang::parse("pt-BR"));
    }

    #[test]
    fn malformed_tags_are_refused() {
        for bad in [
            "",
            "f",
            "fran",
            "french",
            "fr_FR",
            "fr-",
            "-fr",
            "fr--FR",
            "fr FR",
            "fr-abcdefghi",
            "12",
            "français",
            "en-US;q=0.9",
        ] {
            assert_eq!(Lang::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Lang::parse(&format!("en-{}", "a1-".repeat(12))), None);
    }

    #[test]
    fn the_first_requested_language_the_survey_has_wins() {
        let available = langs(&["en", "fr", "pt", "ar"]);
        assert_eq!(chosen("de,fr,en", &available), Some("fr"));
        assert_eq!(chosen("ar-EG,en", &available), Some("ar"));
        assert_eq!(chosen("EN-gb", &available), Some("en"));
    }

    #[test]
    fn a_regional_tag_falls_back_to_its_language_and_never_the_other_way() {
        let available = langs(&["en", "pt", "zh-Hant"]);
        assert_eq!(chosen("pt-BR", &available), Some("pt"));
        assert_eq!(chosen("zh-Hant-TW", &available), Some("zh-Hant"));
        assert_eq!(chosen("zh-CN", &available), None, "zh-Hant is not zh");
        let brazilian = langs(&["en", "pt-BR"]);
        assert_eq!(chosen("pt", &brazilian), None);
        assert_eq!(chosen("pt-PT", &brazilian), None);
        assert_eq!(chosen("pt-br", &brazilian), Some("pt-BR"));
        // The fallback of the first language beats an exact match further down the list.
        assert_eq!(chosen("pt-PT,pt-BR", &langs(&["pt", "pt-BR"])), Some("pt"));
    }

    #[test]
    fn nothing_usable_chooses_nothing() {
        let available = langs(&["en", "fr"]);
        assert_eq!(chosen("", &available), None);
        assert_eq!(chosen("de,ja", &available), None);
        assert_eq!(
            chosen("*,%%%,fr_FR", &available),
            Some("fr"),
            "underscores are read as -"
        );
        assert_eq!(chosen("fr-x-private", &available), Some("fr"));
        assert_eq!(chosen("de-CH;q=0.9, fr;q=0.8", &available), Some("fr"));
    }

    #[test]
    fn arabic_hebrew_persian_and_urdu_read_right_to_left() {
        for tag in ["ar", "ar-EG", "he", "fa-IR", "ur"] {
            assert!(Lang::parse(tag).unwrap().right_to_left(), "{tag}");
        }
        for tag in ["fr", "en-US", "arn"] {
            assert!(!Lang::parse(tag).unwrap().right_to_left(), "{tag}");
        }
    }
}
