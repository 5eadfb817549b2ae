use super::*;
use crate::domain::survey::UnknownInteractions;

mod kinds;

fn error_of(text: &str) -> (usize, String) {
    let (offset, message) = parse(text).expect_err("the configuration should be refused");
    (line_of(text, offset), message)
}

/// A valid survey `a` on lines 1-3, then survey `b` from line 4 whose line 6 is `setting`:
/// every mistake below is in a survey that is not the first, on a line that is not its
/// header, so a message pointing at either would fail the test.
fn with_setting(setting: &str) -> String {
    format!(
        "[[survey]]\nid = \"a\"\nallowed_origins = [\"*\"]\n[[survey]]\nid = \"b\"\n{setting}\nquestion = \"How was it?\"\n"
    )
}

/// Asserts that `setting` (on line 6) is refused on its own line with a message holding
/// `expected`.
fn refused_on_its_line(setting: &str, expected: &str) {
    let (line, message) = error_of(&with_setting(setting));
    assert_eq!(line, 6, "{setting}: {message}");
    assert!(message.contains(expected), "{expected:?} in {message:?}");
}

#[test]
fn the_contract_example_parses_with_every_field() {
    let surveys = parse(include_str!("../../tests/fixtures/contract-example.toml")).unwrap();
    let survey = surveys.get("support").unwrap();
    assert_eq!(survey.scale.len(), 5);
    assert_eq!(survey.satisfied_min, 4);
    assert_eq!(survey.edit_window, Duration::from_secs(7 * 86_400));
    assert_eq!(survey.alert.as_ref().unwrap().max_score, 2);
    assert!(survey.allows_origin("https://shop.example.com"));
    assert!(!survey.allows_origin("https://evil.example"));
}

#[test]
fn the_readmes_example_of_every_setting_parses_and_means_what_its_comments_say() {
    let readme = include_str!("../../../README.md");
    let example = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README's Configuration section has a toml example");
    let surveys = parse(example).unwrap();
    let survey = surveys.get("support").unwrap();
    assert_eq!(survey.max_unverified_per_day, 10_000);
    assert_eq!(survey.max_tag_values, 1_000);
    assert_eq!(survey.max_impressions_per_visitor_per_day, 1_000);
    let everything = Some(crate::domain::survey::Scope::Everything);
    assert_eq!(surveys.read_scope("marketing-team-key"), everything);
    assert_eq!(surveys.write_scope("site-server-key"), everything);
    assert!(
        surveys
            .write_scope("support-helpdesk-key")
            .unwrap()
            .includes(&survey.id)
    );
    assert!(surveys.read_scope("support-helpdesk-key").is_none());
}

#[test]
fn a_minimal_survey_gets_the_documented_defaults() {
    let surveys = parse("[[survey]]\nid = \"s\"\n").unwrap();
    let survey = surveys.get("s").unwrap();
    assert_eq!(
        survey.texts.labels,
        ["Awful", "Bad", "Okay", "Good", "Great"]
    );
    assert_eq!(survey.satisfied_min, 4);
    assert_eq!(survey.min_group_size, 5);
    assert_eq!(survey.max_per_visitor_per_day, 20);
    assert_eq!(survey.edit_window, DEFAULT_EDIT_WINDOW);
    assert!(
        survey.allowed_origins.is_empty(),
        "no page may post by default"
    );
}

#[test]
fn a_bad_edit_window_names_its_line() {
    refused_on_its_line(
        "edit_window = \"7 weeks\"",
        "edit_window \"7 weeks\" is not a duration",
    );
}

#[test]
fn an_unknown_field_names_its_line() {
    let (line, message) = error_of("[[survey]]\nid = \"s\"\n\nquestoin = \"typo\"\n");
    assert_eq!(line, 4);
    assert!(message.contains("questoin"), "{message}");
}

#[test]
fn a_short_secret_is_refused_on_the_secret_line() {
    refused_on_its_line("secret = \"short\"", "at least 16 characters");
}

#[test]
fn a_scale_of_eleven_emoji_is_refused_on_the_scale_line() {
    let scale = format!("scale = [{}]", ["\"🙂\""; 11].join(", "));
    refused_on_its_line(&scale, "2 to 10 emoji, it has 11");
}

#[test]
fn a_scale_with_the_same_emoji_twice_is_refused_on_that_emojis_line() {
    refused_on_its_line("scale = [\"👎\", \"👍\", \"👎\"]", "scale has \"👎\" twice");
    // Written over several lines, the message points at the repeated emoji itself.
    let text = "[[survey]]\nid = \"s\"\nscale = [\n  \"👎\",\n  \"👍\",\n  \"👍\",\n]\n";
    assert_eq!(error_of(text).0, 6);
}

#[test]
fn a_blank_emoji_in_a_scale_is_refused() {
    refused_on_its_line("scale = [\"👎\", \" \"]", "scale entry 2 is empty");
}

#[test]
fn a_labels_count_that_differs_from_the_scale_is_refused_on_the_labels_line() {
    let text = "[[survey]]\nid = \"a\"\n\n[[survey]]\nid = \"b\"\nscale = [\"👎\", \"👍\"]\nlabels = [\"No\"]\n";
    let (line, message) = error_of(text);
    assert_eq!(line, 7);
    assert!(
        message.contains("labels has 1 entries but scale has 2"),
        "{message}"
    );
    // Against the default scale of five, too.
    refused_on_its_line("labels = [\"No\", \"Yes\"]", "scale has 5");
}

#[test]
fn a_satisfied_min_outside_the_scale_is_refused_on_its_line() {
    refused_on_its_line("satisfied_min = 6", "satisfied_min must be between 1 and 5");
    refused_on_its_line("satisfied_min = 0", "satisfied_min must be between 1 and 5");
}

#[test]
fn a_bad_alert_is_refused_on_the_line_of_the_bad_value() {
    refused_on_its_line(
        "alert = { webhook = \"hooks.example.com/x\" }",
        "alert.webhook \"hooks.example.com/x\" must be an http(s) URL",
    );
    refused_on_its_line(
        "alert = { webhook = \"https://hooks.example.com/x\", max_score = 9 }",
        "alert.max_score must be between 1 and 5",
    );
    // As its own table, each key on its own line.
    let text = "[[survey]]\nid = \"s\"\n[survey.alert]\nwebhook = \"https://hooks.example.com/x\"\nmax_score = 0\n";
    let (line, message) = error_of(text);
    assert_eq!(line, 5);
    assert!(message.contains("alert.max_score"), "{message}");
}

#[test]
fn alert_give_up_after_is_a_duration_of_three_days_by_default() {
    let hook = "alert = { webhook = \"https://hooks.example.com/x\"";
    let give_up = |setting: &str| {
        let surveys = parse(&with_setting(&format!("{hook}{setting} }}"))).unwrap();
        surveys
            .get("b")
            .unwrap()
            .alert
            .as_ref()
            .unwrap()
            .give_up_after
    };
    assert_eq!(give_up(""), Duration::from_secs(3 * 86_400));
    assert_eq!(
        give_up(", give_up_after = \"12h\""),
        Duration::from_secs(43_200)
    );
    refused_on_its_line(
        &format!("{hook}, give_up_after = \"soon\" }}"),
        "alert.give_up_after \"soon\" is not a duration",
    );
    refused_on_its_line(
        &format!("{hook}, give_up_after = \"0s\" }}"),
        "at least \"1s\"",
    );
}

#[test]
fn a_bad_allowed_origin_is_refused_on_its_line() {
    refused_on_its_line(
        "allowed_origins = [\"https://x.com/page\"]",
        "allowed origin \"https://x.com/page\" must be a scheme and host",
    );
}

#[test]
fn an_empty_allowed_origins_is_refused_and_says_how_to_allow_a_site() {
    refused_on_its_line("allowed_origins = []", "no page may post");
    let (_, message) = error_of(&with_setting("allowed_origins = []"));
    assert!(message.contains("https://shop.example.com"), "{message}");
    assert!(message.contains("[\"*\"]"), "{message}");
}

#[test]
fn unknown_interactions_is_one_of_three_choices_and_anonymous_by_default() {
    refused_on_its_line("unknown_interactions = \"drop\"", "\"accept\"");
    let surveys = parse(&with_setting("unknown_interactions = \"refuse\"")).unwrap();
    assert_eq!(
        surveys.get("b").unwrap().unknown_interactions,
        UnknownInteractions::Refuse
    );
    assert_eq!(
        surveys.get("a").unwrap().unknown_interactions,
        UnknownInteractions::Anonymous
    );
}

#[test]
fn a_min_group_size_of_zero_is_refused_on_its_line() {
    refused_on_its_line("min_group_size = 0", "min_group_size must be at least 1");
}

#[test]
fn a_daily_allowance_of_zero_is_refused_on_its_line() {
    refused_on_its_line("max_per_visitor_per_day = 0", "max_per_visitor_per_day = 0");
}

#[test]
fn require_sig_without_a_secret_is_refused_on_its_line() {
    refused_on_its_line("require_sig = true", "needs a secret");
}

#[test]
fn tag_keys_outside_the_tag_text_alphabet_are_refused_on_their_line() {
    let too_long = "k".repeat(33);
    for key in ["agent=x", "a,b", "", "with space", too_long.as_str()] {
        refused_on_its_line(&format!("tags = [\"agent\", {key:?}]"), "tag key");
    }
    refused_on_its_line(
        "tags = [\"agent\", \"agent\"]",
        "tags lists \"agent\" twice",
    );
    let surveys = parse(&with_setting(&format!(
        "tags = [\"agent\", \"channel_2\", \"x-y\", \"{}\"]",
        "k".repeat(32)
    )))
    .unwrap();
    assert_eq!(surveys.get("b").unwrap().tags.len(), 4);
}

#[test]
fn empty_or_blank_read_keys_are_refused_on_their_line() {
    refused_on_its_line("read_keys = [\"\"]", "empty key");
    refused_on_its_line("read_keys = [\"lead-key\", \"   \"]", "empty key");
    refused_on_its_line("read_keys = [\" lead-key\"]", "space");
    refused_on_its_line("read_keys = [\"lead-kéy\"]", "character");
    for global in ["read_keys = [\"\"]", "read_keys = [\"\\t\"]"] {
        let (line, message) = error_of(&format!("\n{global}\n[[survey]]\nid = \"s\"\n"));
        assert_eq!(line, 2, "{message}");
        assert!(message.contains("empty key"), "{message}");
    }
}

#[test]
fn write_keys_are_checked_like_read_keys_and_named_in_their_messages() {
    refused_on_its_line("write_keys = [\"\"]", "write_keys holds an empty key");
    refused_on_its_line("write_keys = [\" helpdesk\"]", "a write key starts or ends");
    refused_on_its_line("write_keys = [\"kéy\"]", "a write key holds a character");
    let (line, message) = error_of("\nwrite_keys = [\"\"]\n[[survey]]\nid = \"s\"\n");
    assert_eq!(line, 2, "{message}");
    assert!(message.contains("write_keys"), "{message}");

    let surveys = parse(
        "read_keys = [\"r\"]\nwrite_keys = [\"w\"]\n[[survey]]\nid = \"a\"\nwrite_keys = [\"wa\"]\n[[survey]]\nid = \"b\"\n",
    )
    .unwrap();
    let a = SurveyId::parse("a").unwrap();
    let b = SurveyId::parse("b").unwrap();
    assert_eq!(
        surveys.write_scope("w"),
        Some(crate::domain::survey::Scope::Everything)
    );
    let wa = surveys.write_scope("wa").unwrap();
    assert!(wa.includes(&a) && !wa.includes(&b));
    assert_eq!(surveys.read_scope("w"), None, "a write key reads nothing");
    assert_eq!(surveys.write_scope("r"), None, "a read key writes nothing");
}

#[test]
fn anonymous_limits_of_zero_are_refused_and_have_documented_defaults() {
    for setting in [
        "max_unverified_per_day = 0",
        "max_tag_values = 0",
        "max_impressions_per_visitor_per_day = 0",
    ] {
        refused_on_its_line(setting, setting);
    }
    let surveys = parse("[[survey]]\nid = \"s\"\n").unwrap();
    let survey = surveys.get("s").unwrap();
    assert_eq!(survey.max_unverified_per_day, 10_000);
    assert_eq!(survey.max_tag_values, 1_000);
    assert_eq!(survey.max_impressions_per_visitor_per_day, 1_000);
}

#[test]
fn a_survey_id_defined_twice_is_refused_on_the_second_id_and_names_the_first() {
    let (line, message) = error_of("[[survey]]\nid = \"a\"\n[[survey]]\n\nid = \"a\"\n");
    assert_eq!(line, 5);
    assert!(
        message.contains("defined twice (first on line 2)"),
        "{message}"
    );
}

#[test]
fn a_zero_flood_limit_is_refused_on_its_line() {
    let text =
        "[[survey]]\nid = \"s\"\n[limits]\nvisitor_requests_per_second = 5\nvisitor_burst = 0\n";
    let (line, message) = error_of(text);
    assert_eq!(line, 5);
    assert!(message.contains("limits.visitor_burst = 0"), "{message}");
}

#[test]
fn a_file_without_surveys_is_refused() {
    for text in [
        "",
        "# nothing yet\n",
        "read_keys = [\"marketing-team-key\"]\n",
    ] {
        let (line, message) = error_of(text);
        assert_eq!(line, 1);
        assert!(message.contains("defines no survey"), "{message}");
    }
}

#[test]
fn a_stray_control_character_is_reported_with_a_message() {
    // Found by `scripts/fuzz.sh` (target `config`): the parser's own message was empty.
    let crash = include_bytes!("../../../fuzz/corpus/config/regression-empty-message.toml");
    let (line, message) = error_of(std::str::from_utf8(crash).unwrap());
    assert_eq!(line, 1);
    assert!(!message.is_empty());
}

#[test]
fn a_store_that_is_not_a_postgresql_url_is_refused_on_its_line() {
    let text = format!("store = \"mysql://db/pulsetap\"\n{}", with_setting(""));
    let (line, message) = error_of(&text);
    assert_eq!(line, 1);
    assert!(message.contains("PostgreSQL URL"), "{message}");

    let text = format!("store = \"postgres://db/pulsetap\"\n{}", with_setting(""));
    let config = parse_config(&text).unwrap();
    assert_eq!(config.store.as_deref(), Some("postgres://db/pulsetap"));
}
