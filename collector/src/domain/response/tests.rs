use super::*;
use crate::domain::rating::TagSet;
use crate::domain::signature::Secret;
use crate::domain::survey::Alert;
use pulsetap_wire::{RecordResponse, Tags};
use std::time::Duration;

const SECRET: &str = "a long random string for tests";
const ID_A: &str = "3f1c2a5e-8a3b-4c1d-9e2f-0a1b2c3d4e5f";
const ID_B: &str = "7d0e9b1c-2f3a-4b5c-8d6e-1f2a3b4c5d6e";
const HOUR_MS: i64 = 3_600_000;

fn survey() -> Survey {
    let mut survey = Survey::example("support");
    survey.tags = ["agent".to_owned()].into();
    survey.secret = Some(Secret::new(SECRET));
    survey.edit_window = Duration::from_secs(3_600);
    survey.alert = Some(Alert {
        webhook: "https://hooks.example.com/x".into(),
        max_score: 2,
        give_up_after: Duration::from_secs(3 * 86_400),
    });
    survey
}

fn agent(name: &str) -> Tags {
    [("agent".to_owned(), name.to_owned())].into()
}

/// A rating of chat-1, signed with its tags when it has an agent.
fn rating(response_id: &str, score: u8, agent_name: Option<&str>, comment: Option<&str>) -> Rating {
    let tags = agent_name.map(agent).unwrap_or_default();
    let sig =
        agent_name.map(|_| Secret::new(SECRET).sign_interaction("support", Some("chat-1"), &tags));
    let body = RecordResponse {
        survey: "support".into(),
        response_id: response_id.into(),
        score,
        interaction: Some("chat-1".into()),
        sig,
        tags,
        comment: comment.map(str::to_owned),
        lang: None,
    };
    Rating::parse(body, &survey()).unwrap()
}

fn first_answer() -> Response {
    match answer(None, &survey(), &rating(ID_A, 1, Some("alice"), None), 0).unwrap() {
        Change::Created(response) => response,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_first_answer_creates_the_response_with_its_history_and_alerts_when_unhappy() {
    let change = answer(None, &survey(), &rating(ID_A, 1, Some("alice"), None), 5).unwrap();
    assert_eq!(change.status(), WriteStatus::Created);
    assert_eq!(change.response().history, vec![(1, 5)]);
    assert!(change.response().signed);
    assert!(change.alerts(&survey()));
}

#[test]
fn the_same_answer_again_changes_nothing_and_does_not_alert_again() {
    let old = first_answer();
    let change = answer(Some(&old), &survey(), &rating(ID_A, 1, None, None), 10).unwrap();
    assert_eq!(change, Change::Unchanged(old));
    assert!(!change.alerts(&survey()));
}

#[test]
fn a_changed_score_keeps_the_tags_and_adds_to_the_history() {
    let old = first_answer();
    let change = answer(
        Some(&old),
        &survey(),
        &rating(ID_A, 4, None, Some("ok")),
        10,
    )
    .unwrap();
    let after = change.response();
    assert_eq!(change.status(), WriteStatus::Updated);
    assert_eq!((after.score, after.comment.as_deref()), (4, Some("ok")));
    assert_eq!(after.tags["agent"], "alice");
    assert_eq!(after.history, vec![(1, 0), (4, 10)]);
    assert!(!change.alerts(&survey()), "4 is not unhappy");
}

#[test]
fn a_late_comment_alone_does_not_alert_again() {
    let old = first_answer();
    let change = answer(
        Some(&old),
        &survey(),
        &rating(ID_A, 1, None, Some("slow")),
        10,
    )
    .unwrap();
    assert_eq!(change.status(), WriteStatus::Updated);
    assert!(!change.alerts(&survey()));
}

#[test]
fn a_comment_after_an_alert_follows_it_up_once() {
    let mut old = first_answer();
    let comment = |old: &Response, text: &str| {
        answer(Some(old), &survey(), &rating(ID_A, 1, None, Some(text)), 10).unwrap()
    };
    assert!(
        !comment(&old, "slow").follows_up_alert(&survey()),
        "no alert was queued for it, so there is nothing to follow up"
    );
    old.alerted = true;
    let change = comment(&old, "slow");
    assert!(change.follows_up_alert(&survey()));
    assert!(
        change.response().alerted,
        "the response remembers its alert"
    );
    let same_again = comment(change.response(), "slow");
    assert!(
        !same_again.follows_up_alert(&survey()),
        "a retry is no news"
    );
    assert!(!comment(&old, "  ").follows_up_alert(&survey()));
}

#[test]
fn a_new_unhappy_score_with_a_comment_alerts_rather_than_following_up() {
    let mut old = first_answer();
    old.alerted = true;
    let change = answer(
        Some(&old),
        &survey(),
        &rating(ID_A, 2, None, Some("still slow")),
        10,
    )
    .unwrap();
    assert!(change.alerts(&survey()));
    assert!(!change.follows_up_alert(&survey()));
}

#[test]
fn a_stranger_without_a_signature_cannot_answer_an_answered_interaction() {
    let old = first_answer();
    let refused = answer(Some(&old), &survey(), &rating(ID_B, 5, None, None), 10);
    assert_eq!(refused, Err(Refusal::AlreadyAnswered));
}

#[test]
fn signed_tags_move_only_with_a_new_signature() {
    let old = first_answer();
    let moved = answer(
        Some(&old),
        &survey(),
        &rating(ID_B, 5, Some("bob"), None),
        10,
    )
    .unwrap();
    assert_eq!(moved.response().tags["agent"], "bob");

    let mut unsigned = rating(ID_A, 5, None, None);
    unsigned.subject.tags = TagSet::parse(agent("bob"), &survey()).unwrap();
    assert_eq!(
        answer(Some(&old), &survey(), &unsigned, 10),
        Err(Refusal::SignedTagsChanged)
    );
}

#[test]
fn no_unsigned_write_moves_a_signed_answer_to_another_agent() {
    let old = first_answer();
    let bob = || TagSet::parse(agent("bob"), &survey()).unwrap();
    // The same widget, unsigned, naming bob.
    let mut same = rating(ID_A, 5, None, None);
    same.subject.tags = bob();
    assert_eq!(
        answer(Some(&old), &survey(), &same, 10),
        Err(Refusal::SignedTagsChanged)
    );
    // A stranger, unsigned, naming bob.
    let mut stranger = rating(ID_B, 5, None, None);
    stranger.subject.tags = bob();
    assert_eq!(
        answer(Some(&old), &survey(), &stranger, 10),
        Err(Refusal::AlreadyAnswered)
    );
    // A signature over the interaction alone may answer; the tags stay alice's.
    let untagged = signed_without_tags(ID_B, 2);
    let change = answer(Some(&old), &survey(), &untagged, 10).unwrap();
    assert_eq!(change.response().tags["agent"], "alice");
    assert!(change.response().signed);
}

#[test]
fn a_signature_without_tags_does_not_vouch_for_tags_nobody_signed() {
    // Answered unsigned, with a tag the customer's page claimed.
    let mut claimed = rating(ID_A, 3, None, None);
    claimed.subject.tags = TagSet::parse(agent("mallory"), &survey()).unwrap();
    let old = match answer(None, &survey(), &claimed, 0).unwrap() {
        Change::Created(response) => response,
        other => panic!("{other:?}"),
    };
    assert!(!old.signed);
    // A signature over the interaction alone keeps the tag but not as signed: a later
    // signed write for alice may still correct it.
    let change = answer(Some(&old), &survey(), &signed_without_tags(ID_A, 4), 10).unwrap();
    assert_eq!(change.response().tags["agent"], "mallory");
    assert!(!change.response().signed);
}

/// A rating of chat-1 signed for the interaction without tags.
fn signed_without_tags(response_id: &str, score: u8) -> Rating {
    let sig = Secret::new(SECRET).sign_interaction("support", Some("chat-1"), &Tags::new());
    let body = RecordResponse {
        survey: "support".into(),
        response_id: response_id.into(),
        score,
        interaction: Some("chat-1".into()),
        sig: Some(sig),
        tags: Tags::new(),
        comment: None,
        lang: None,
    };
    Rating::parse(body, &survey()).unwrap()
}

#[test]
fn the_edit_window_counts_from_the_first_answer_but_never_refuses_a_retry() {
    let old = first_answer();
    let late = answer(
        Some(&old),
        &survey(),
        &rating(ID_A, 5, None, None),
        HOUR_MS + 1,
    );
    assert_eq!(late, Err(Refusal::EditWindowClosed));
    let retry = answer(
        Some(&old),
        &survey(),
        &rating(ID_A, 1, None, None),
        HOUR_MS + 1,
    );
    assert!(matches!(retry, Ok(Change::Unchanged(_))));
}
