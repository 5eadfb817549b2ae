use super::*;

fn survey() -> Survey {
    let mut survey = Survey::example("support");
    survey.tags = ["agent".to_owned()].into();
    survey
}

fn agent(value: &str) -> Tags {
    [("agent".to_owned(), value.to_owned())].into()
}

/// The bidi controls and other invisible formatting characters a customer could use to make
/// text show as something else.
const HIDDEN: [char; 17] = [
    '\u{061C}',
    '\u{200E}',
    '\u{200F}',
    '\u{202A}',
    '\u{202B}',
    '\u{202C}',
    '\u{202D}',
    '\u{202E}',
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}',
    '\u{200B}',
    '\u{2060}',
    '\u{FEFF}',
    '\u{00AD}',
    '\u{E0041}',
];

#[test]
fn bidi_controls_and_invisible_formatting_are_refused_in_interactions_and_tag_values() {
    for hidden in HIDDEN {
        let text = format!("alice{hidden}bob");
        assert_eq!(
            Interaction::parse(&text),
            Err(Invalid::Interaction),
            "{hidden:?}"
        );
        assert_eq!(
            TagSet::parse(agent(&text), &survey()),
            Err(Invalid::TagValue("agent".into())),
            "{hidden:?}"
        );
    }
}

#[test]
fn invisible_formatting_is_removed_from_comments_and_the_rest_is_kept() {
    let comment = Comment::parse("\u{202E}Great service\u{202C}, fast\u{200B} reply")
        .unwrap()
        .unwrap();
    assert_eq!(comment.as_str(), "Great service, fast reply");
    assert_eq!(Comment::parse("\u{200B}\u{FEFF} \u{202E}").unwrap(), None);
}

#[test]
fn joiners_emoji_sequences_and_flags_survive_as_typed() {
    for text in [
        "👩\u{200D}💻",
        "می\u{200C}خواهم",
        "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
        "👍🏽 merci",
        "1\u{FE0F}\u{20E3}",
    ] {
        assert_eq!(Interaction::parse(text).unwrap().as_str(), text);
        assert_eq!(
            TagSet::parse(agent(text), &survey()).unwrap().as_map()["agent"],
            text
        );
        assert_eq!(Comment::parse(text).unwrap().unwrap().as_str(), text);
    }
}

#[test]
fn tag_characters_outside_a_flag_are_hidden_text_and_go() {
    // "hi" spelled in tag characters: invisible, but there for whatever reads the text.
    let smuggled = "ok\u{E0068}\u{E0069}";
    assert_eq!(without_hidden_formatting(smuggled), "ok");
    // A flag followed by far more tags than any region code is not a flag.
    let long = format!("🏴{}\u{E007F}", "\u{E0061}".repeat(20));
    assert_eq!(without_hidden_formatting(&long), "🏴");
    // Without its cancel tag, neither.
    assert_eq!(without_hidden_formatting("🏴\u{E0067}\u{E0062}"), "🏴");
}
