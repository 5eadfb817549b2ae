use super::*;
use crate::configuration;

const CONFIG: &str = r#"
[[survey]]
id = "support"
tags = ["agent", "channel"]
secret = "a long random string for tests"

[[survey]]
id = "open"
"#;

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn query_of(url: &str) -> LinkQuery {
    let query = url.split_once('?').expect("a query").1;
    decode_query(query)
}

/// Decodes a query the way axum's `Query` does.
fn decode_query(query: &str) -> LinkQuery {
    let mut i = None;
    let mut t = String::new();
    let mut l = None;
    let mut s = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "i" => i = Some(value.into_owned()),
            "t" => t = value.into_owned(),
            "l" => l = Some(value.into_owned()),
            "s" => s = Some(value.into_owned()),
            other => panic!("unexpected parameter {other}"),
        }
    }
    LinkQuery {
        i: i.expect("i"),
        t,
        l,
        s: s.expect("s"),
    }
}

#[test]
fn every_link_reads_back_as_the_invitation_and_score_it_was_made_for() {
    let surveys = configuration::parse(CONFIG).unwrap();
    let survey = surveys.get("support").unwrap();
    let base = BaseUrl::parse("https://feedback.example.com/").unwrap();
    let invitation = Invitation::new(
        survey,
        "ticket 42 & co+",
        tags(&[("agent", "Zoë = lead"), ("channel", "email")]),
    )
    .unwrap();
    let links = invitation.links(&base);
    assert_eq!(links.len(), 5);
    for link in &links {
        assert!(
            link.url.starts_with(&format!(
                "https://feedback.example.com/r/support/{}?i=ticket%2042%20%26%20co%2B&t=agent=Zo%C3%AB%20=%20lead,channel=email&l=en&s=",
                link.score
            )),
            "{}",
            link.url
        );
        let (back, score) =
            Invitation::from_link(survey, link.score, &query_of(&link.url)).unwrap();
        assert_eq!(score.get(), link.score);
        assert_eq!(back.interaction(), "ticket 42 & co+");
        assert_eq!(back.tags(), invitation.tags());
    }
}

#[test]
fn an_edited_link_is_a_bad_signature_whatever_was_edited() {
    let surveys = configuration::parse(CONFIG).unwrap();
    let survey = surveys.get("support").unwrap();
    let invitation = Invitation::new(survey, "T-1", tags(&[("agent", "alice")])).unwrap();
    let good = invitation.link_query(5);
    let edits = [
        (4, good.clone()),
        (9, good.clone()),
        (
            5,
            LinkQuery {
                i: "T-2".into(),
                ..good.clone()
            },
        ),
        (
            5,
            LinkQuery {
                t: "agent=bob".into(),
                ..good.clone()
            },
        ),
        (
            5,
            LinkQuery {
                t: String::new(),
                ..good.clone()
            },
        ),
        (
            5,
            LinkQuery {
                t: "agent=alice,agent=alice".into(),
                ..good.clone()
            },
        ),
        (
            5,
            LinkQuery {
                s: good.s[..20].to_owned(),
                ..good.clone()
            },
        ),
        (
            5,
            LinkQuery {
                l: Some("fr".into()),
                ..good.clone()
            },
        ),
        (
            5,
            LinkQuery {
                l: None,
                ..good.clone()
            },
        ),
    ];
    for (score, query) in edits {
        assert!(
            matches!(
                Invitation::from_link(survey, score, &query),
                Err(LinkError::BadSignature)
            ),
            "score {score}, {query:?}"
        );
    }
    assert!(Invitation::from_link(survey, 5, &good).is_ok());
}

#[test]
fn an_email_speaks_the_language_asked_for_and_so_do_its_links() {
    let config = format!(
        "{CONFIG}kind = \"nps\"\nsecret = \"a long random string for tests\"\n\
         [survey.texts.pt]\nquestion = \"Recomendaria?\"\nlow_label = \"Nada provável\"\n\
         high_label = \"Muito provável\"\nfollow_up = \"Porquê?\"\nthank_you = \"Obrigado!\"\n\
         send = \"Enviar\"\nconfirm = \"Toque na sua nota para a enviar.\"\n"
    );
    let surveys = configuration::parse(&config).unwrap();
    let survey = surveys.get("open").unwrap();
    let base = BaseUrl::parse("https://feedback.example.com").unwrap();
    let email = Invitation::new(survey, "T-1", Tags::new())
        .unwrap()
        .speaking("pt-BR,en")
        .email(&base);
    assert_eq!(
        (email.lang.as_str(), email.question.as_str()),
        ("pt", "Recomendaria?")
    );
    assert_eq!(email.links.len(), 11);
    assert_eq!((email.links[0].score, email.links[10].score), (0, 10));
    assert_eq!(email.links[0].label, "0 (Nada provável)");
    let (back, score) = Invitation::from_link(survey, 0, &query_of(&email.links[0].url)).unwrap();
    assert_eq!(score.get(), 0);
    assert_eq!(back.lang().map(Lang::as_str), Some("pt"));
    assert_eq!(back.texts().thank_you, "Obrigado!");
    // Without a language the survey speaks, the email is in its default texts.
    let default = Invitation::new(survey, "T-1", Tags::new())
        .unwrap()
        .speaking("de")
        .email(&base);
    assert_eq!(default.lang, "en");
}

#[test]
fn a_link_made_before_links_had_a_language_still_records_in_the_default_texts() {
    let surveys = configuration::parse(CONFIG).unwrap();
    let survey = surveys.get("support").unwrap();
    let none = Tags::new();
    let old = LinkQuery {
        i: "T-1".into(),
        t: String::new(),
        l: None,
        s: survey.secret.as_ref().unwrap().sign_link(&LinkFields {
            survey: "support",
            score: 4,
            interaction: "T-1",
            tags: &none,
            lang: None,
        }),
    };
    let (invitation, score) = Invitation::from_link(survey, 4, &old).unwrap();
    assert_eq!((score.get(), invitation.lang()), (4, None));
    assert_eq!(invitation.texts().question, "How did we do today?");
    assert!(invitation.path(4).contains("&s="));
    assert!(!invitation.path(4).contains("&l="));
}

#[test]
fn a_survey_without_a_secret_can_make_no_links_and_accepts_none() {
    let surveys = configuration::parse(CONFIG).unwrap();
    let open = surveys.get("open").unwrap();
    assert!(matches!(
        Invitation::new(open, "T-1", Tags::new()),
        Err(LinkError::NoSecret(_))
    ));
    let query = LinkQuery {
        i: "T-1".into(),
        t: String::new(),
        l: None,
        s: "00".into(),
    };
    assert!(matches!(
        Invitation::from_link(open, 5, &query),
        Err(LinkError::BadSignature)
    ));
}

#[test]
fn tags_the_widget_could_not_send_back_exactly_are_refused() {
    let surveys = configuration::parse(CONFIG).unwrap();
    let survey = surveys.get("support").unwrap();
    for bad in ["a,b", " alice", "alice "] {
        assert!(
            matches!(
                Invitation::new(survey, "T-1", tags(&[("agent", bad)])),
                Err(LinkError::TagNotWritable(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Invitation::new(survey, "T-1", tags(&[("team", "x")])),
        Err(LinkError::Invalid(Invalid::UnknownTag(_)))
    ));
}

#[test]
fn a_base_url_is_an_origin_and_nothing_more() {
    assert_eq!(
        BaseUrl::parse("https://Feedback.Example.com/")
            .unwrap()
            .as_str(),
        "https://feedback.example.com"
    );
    assert_eq!(
        BaseUrl::parse("http://127.0.0.1:8080").unwrap().as_str(),
        "http://127.0.0.1:8080"
    );
    for bad in [
        "feedback.example.com",
        "ftp://feedback.example.com",
        "https://feedback.example.com/pulsetap",
        "https://feedback.example.com/?x=1",
        "https://user@feedback.example.com",
    ] {
        assert!(BaseUrl::parse(bad).is_err(), "{bad}");
    }
}
