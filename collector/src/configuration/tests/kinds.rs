//! Survey kinds and their texts in every language.

use super::*;
use crate::domain::{Kind, Lang};

#[test]
fn an_nps_survey_gets_eleven_numbers_from_0_and_its_own_texts() {
    let surveys = parse("[[survey]]\nid = \"s\"\nkind = \"nps\"\n").unwrap();
    let survey = surveys.get("s").unwrap();
    assert_eq!(survey.kind, Kind::Nps);
    assert_eq!(
        survey.scale,
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
    );
    assert_eq!(survey.scores(), 0..=10);
    assert_eq!(survey.satisfied_min, 9, "promoters answer 9 or 10");
    assert_eq!(
        survey.texts.question,
        "How likely are you to recommend us to a friend or colleague?"
    );
    assert_eq!(
        (
            survey.texts.low_label.as_str(),
            survey.texts.high_label.as_str()
        ),
        ("Not likely", "Very likely")
    );
    assert_eq!(survey.texts.labels[0], "0 (Not likely)");
    assert_eq!(survey.texts.labels[5], "5");
    assert_eq!(survey.texts.labels[10], "10 (Very likely)");
    assert_eq!(survey.lang.as_str(), "en");
}

#[test]
fn a_ces_survey_gets_seven_numbers_from_1_and_counts_5_or_above_as_easy() {
    let text = "[[survey]]\nid = \"s\"\nkind = \"ces\"\nlow_label = \"Hard\"\nalert = { webhook = \"https://hooks.example.com/x\" }\n";
    let surveys = parse(text).unwrap();
    let survey = surveys.get("s").unwrap();
    assert_eq!(survey.scores(), 1..=7);
    assert_eq!(survey.satisfied_min, 5);
    assert_eq!(survey.texts.question, "How easy was it to get help today?");
    assert_eq!(survey.texts.labels[0], "1 (Hard)");
    assert_eq!(survey.texts.labels[6], "7 (Very easy)");
    assert_eq!(survey.alert.as_ref().unwrap().max_score, 3);
}

#[test]
fn an_unknown_kind_is_refused_on_its_line() {
    refused_on_its_line(
        "kind = \"loyalty\"",
        "kind \"loyalty\" is not a kind of survey",
    );
}

#[test]
fn a_scale_or_a_satisfied_min_that_means_nothing_for_the_kind_is_refused_on_its_line() {
    let text = |setting: &str| with_setting(&format!("kind = \"nps\"\n{setting}"));
    for (setting, expected) in [
        (
            "scale = [\"👎\", \"👍\"]",
            "shows the numbers 0 to 10, so it takes no scale",
        ),
        (
            "satisfied_min = 7",
            "satisfied_min of a kind = \"nps\" survey is always 9",
        ),
        (
            "labels = [\"low\", \"high\"]",
            "labels has 2 entries but the 11 numbers",
        ),
    ] {
        let (line, message) = error_of(&text(setting));
        assert_eq!(line, 7, "{setting}: {message}");
        assert!(message.contains(expected), "{expected:?} in {message:?}");
    }
    assert!(
        parse(&text("satisfied_min = 9")).is_ok(),
        "the fixed value may be written"
    );
    let (line, message) = error_of(&with_setting("kind = \"ces\"\nsatisfied_min = 4"));
    assert_eq!(line, 7, "{message}");
    assert!(message.contains("5 or above counts as easy"), "{message}");
    refused_on_its_line(
        "low_label = \"Bad\"",
        "an emoji scale (kind = \"csat\") has none",
    );
}

#[test]
fn an_nps_alert_takes_scores_from_0_to_10_and_defaults_to_detractors() {
    let alert = |setting: &str| {
        format!(
            "[[survey]]\nid = \"s\"\nkind = \"nps\"\nalert = {{ webhook = \"https://hooks.example.com/x\"{setting} }}\n"
        )
    };
    let max_score = |text: &str| {
        parse(text)
            .unwrap()
            .get("s")
            .unwrap()
            .alert
            .as_ref()
            .unwrap()
            .max_score
    };
    assert_eq!(max_score(&alert("")), 6, "detractors answer 0 to 6");
    assert_eq!(max_score(&alert(", max_score = 0")), 0);
    let (line, message) = error_of(&alert(", max_score = 11"));
    assert_eq!(line, 4);
    assert!(
        message.contains("alert.max_score must be between 0 and 10"),
        "{message}"
    );
    // A CSAT survey has no 0.
    refused_on_its_line(
        "alert = { webhook = \"https://hooks.example.com/x\", max_score = 0 }",
        "alert.max_score must be between 1 and 5",
    );
}

/// An NPS survey in English, French and Brazilian Portuguese, the texts of each language on
/// their own lines from line 4.
const TRANSLATED: &str = "[[survey]]\nid = \"s\"\nkind = \"nps\"\n\
    [survey.texts.fr]\nquestion = \"Nous recommanderiez-vous ?\"\nlow_label = \"Peu probable\"\n\
    high_label = \"Très probable\"\nfollow_up = \"Pourquoi ?\"\nthank_you = \"Merci !\"\nsend = \"Envoyer\"\n\
    [survey.texts.pt-br]\nquestion = \"Você nos recomendaria?\"\nlow_label = \"Improvável\"\n\
    high_label = \"Muito provável\"\nfollow_up = \"Por quê?\"\nthank_you = \"Obrigado!\"\nsend = \"Enviar\"\n";

#[test]
fn texts_in_other_languages_are_kept_per_canonical_tag_with_their_own_number_labels() {
    let surveys = parse(TRANSLATED).unwrap();
    let survey = surveys.get("s").unwrap();
    let languages: Vec<&str> = survey.languages().map(Lang::as_str).collect();
    assert_eq!(languages, ["en", "fr", "pt-BR"]);
    let french = survey.texts_in(&Lang::parse("fr").unwrap());
    assert_eq!(french.question, "Nous recommanderiez-vous ?");
    assert_eq!(french.labels[0], "0 (Peu probable)");
    assert_eq!(french.labels[10], "10 (Très probable)");
}

#[test]
fn a_language_missing_a_text_is_refused_on_its_tables_line_naming_the_text() {
    for key in [
        "question",
        "low_label",
        "high_label",
        "follow_up",
        "thank_you",
        "send",
    ] {
        // Without the French table's line for `key` (its first in the file).
        let mut removed = false;
        let text: String = TRANSLATED
            .lines()
            .filter(|line| {
                let drop = !removed && line.starts_with(&format!("{key} ="));
                removed |= drop;
                !drop
            })
            .collect::<Vec<_>>()
            .join("\n");
        let (line, message) = error_of(&text);
        assert_eq!(line, 4, "{key}: {message}");
        assert!(
            message.contains(&format!("texts.fr has no {key}")),
            "{key}: {message}"
        );
    }
    // An emoji survey's translations need their labels too (the defaults are English words).
    let emoji = "[[survey]]\nid = \"s\"\n[survey.texts.de]\nquestion = \"Wie war es?\"\nfollow_up = \"Was können wir besser machen?\"\nthank_you = \"Danke!\"\nsend = \"Senden\"\n";
    let (line, message) = error_of(emoji);
    assert_eq!(line, 3);
    assert!(message.contains("texts.de has no labels"), "{message}");
}

#[test]
fn a_survey_that_signs_email_links_needs_the_landing_page_line_in_every_language() {
    // Without a secret no landing page is shown, so no language needs its line.
    assert!(parse(TRANSLATED).is_ok());
    let emails = TRANSLATED.replace(
        "kind = \"nps\"\n",
        "kind = \"nps\"\nsecret = \"a long random string for tests\"\n",
    );
    let (line, message) = error_of(&emails);
    assert_eq!(line, 5, "{message}");
    assert!(message.contains("texts.fr has no confirm"), "{message}");
    let answered = emails
        .replace(
            "send = \"Envoyer\"\n",
            "send = \"Envoyer\"\nconfirm = \"Touchez votre note.\"\n",
        )
        .replace(
            "send = \"Enviar\"\n",
            "send = \"Enviar\"\nconfirm = \"Toque na sua nota.\"\n",
        );
    let surveys = parse(&answered).unwrap();
    let survey = surveys.get("s").unwrap();
    let french = survey.texts_in(&Lang::parse("fr").unwrap());
    assert_eq!(french.confirm, "Touchez votre note.");
    assert_eq!(
        survey.texts.confirm,
        "Tap your answer to send it, or pick another."
    );
}

#[test]
fn a_language_tag_that_is_malformed_or_repeated_is_refused_on_its_line() {
    refused_on_its_line("lang = \"french\"", "\"french\" is not a language tag");
    let repeated = TRANSLATED.replace("[survey.texts.pt-br]", "[survey.texts.FR]");
    let (line, message) = error_of(&repeated);
    assert_eq!(line, 11);
    assert!(
        message.contains("texts.FR repeats the language fr"),
        "{message}"
    );
    let default = TRANSLATED.replace("[survey.texts.pt-br]", "[survey.texts.en]");
    assert!(
        error_of(&default)
            .1
            .contains("default texts are in lang = \"en\"")
    );
    let bad = TRANSLATED.replace("[survey.texts.pt-br]", "[survey.texts.x_y]");
    assert_eq!(error_of(&bad).0, 11);
}

#[test]
fn a_tag_named_lang_is_refused_because_every_response_has_a_language() {
    refused_on_its_line("tags = [\"agent\", \"lang\"]", "tag key \"lang\" is taken");
}

#[test]
fn durations_take_the_documented_units() {
    assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
    assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("d"), None);
    assert_eq!(parse_duration("3w"), None);
}
