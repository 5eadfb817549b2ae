use crate::configuration;

const SURVEYS: &str = "[[survey]]\nid = \"nps\"\nkind = \"nps\"\n\
    [survey.texts.fr]\nquestion = \"Nous recommanderiez-vous ?\"\nlow_label = \"Peu probable\"\n\
    high_label = \"Très probable\"\nfollow_up = \"Pourquoi ?\"\nthank_you = \"Merci !\"\nsend = \"Envoyer\"\n\
    [survey.texts.pt]\nquestion = \"Recomendaria-nos?\"\nlow_label = \"Nada provável\"\n\
    high_label = \"Muito provável\"\nfollow_up = \"Porquê?\"\nthank_you = \"Obrigado!\"\nsend = \"Enviar\"\n\
    [survey.texts.ar]\nquestion = \"هل توصي بنا؟\"\nlow_label = \"غير محتمل\"\n\
    high_label = \"محتمل جدا\"\nfollow_up = \"لماذا؟\"\nthank_you = \"شكرا!\"\nsend = \"إرسال\"\n";

#[test]
fn the_widget_gets_the_first_language_asked_for_and_only_its_texts() {
    let surveys = configuration::parse(SURVEYS).unwrap();
    let survey = surveys.get("nps").unwrap();
    let config = survey.widget_config("de-DE,de,fr,en");
    assert_eq!(config.lang.as_deref(), Some("fr"));
    assert_eq!(config.question, "Nous recommanderiez-vous ?");
    assert_eq!(
        (config.low_label.as_str(), config.high_label.as_str()),
        ("Peu probable", "Très probable")
    );
    assert_eq!(config.labels[10], "10 (Très probable)");
    assert_eq!(
        (config.send.as_str(), config.thank_you.as_str()),
        ("Envoyer", "Merci !")
    );
    assert_eq!(
        (config.kind.as_str(), config.first_score, config.scale.len()),
        ("nps", 0, 11)
    );
    let text = serde_json::to_string(&config).unwrap();
    assert!(
        !text.contains("Obrigado") && !text.contains("Thank you"),
        "{text}"
    );
}

#[test]
fn brazilian_portuguese_falls_back_to_portuguese_and_nothing_known_to_the_default_texts() {
    let surveys = configuration::parse(SURVEYS).unwrap();
    let survey = surveys.get("nps").unwrap();
    let brazil = survey.widget_config("pt-BR");
    assert_eq!(
        (brazil.lang.as_deref(), brazil.question.as_str()),
        (Some("pt"), "Recomendaria-nos?")
    );
    assert_eq!(survey.widget_config("AR-eg").lang.as_deref(), Some("ar"));
    for nothing_known in ["", "de,ja", "zz-ZZ", "en-GB"] {
        let config = survey.widget_config(nothing_known);
        assert_eq!(config.lang.as_deref(), Some("en"), "{nothing_known:?}");
        assert_eq!(
            config.question,
            "How likely are you to recommend us to a friend or colleague?"
        );
    }
}

#[test]
fn a_body_may_name_only_a_language_the_survey_speaks_in_any_case() {
    let surveys = configuration::parse(SURVEYS).unwrap();
    let survey = surveys.get("nps").unwrap();
    assert_eq!(survey.language("PT").map(|l| l.as_str()), Some("pt"));
    assert_eq!(survey.language("en").map(|l| l.as_str()), Some("en"));
    assert_eq!(
        survey.language("pt-BR"),
        None,
        "a body names what it was given exactly"
    );
    assert_eq!(survey.language("de"), None);
    assert_eq!(survey.language("not a tag"), None);
}

#[test]
fn each_kind_describes_a_score_for_an_alert() {
    let surveys = configuration::parse(&format!(
        "{SURVEYS}[[survey]]\nid = \"csat\"\n[[survey]]\nid = \"thumbs\"\nscale = [\"👎\", \"👍\"]\nlabels = [\"No\", \"Yes\"]\n"
    ))
    .unwrap();
    let describe = |id: &str, score| surveys.get(id).unwrap().describe_score(score);
    assert_eq!(describe("csat", 1), "😠 Awful (1/5)");
    assert_eq!(describe("thumbs", 1), "👎 No (1/2)");
    assert_eq!(describe("nps", 0), "0/10 (a detractor)");
    assert_eq!(describe("nps", 8), "8/10 (a passive)");
    assert_eq!(describe("nps", 10), "10/10 (a promoter)");
}
