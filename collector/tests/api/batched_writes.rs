//! Many ratings in one transaction (`Backend::apply`, what the writer thread does under load)
//! mean the same as recording them one by one.

use crate::helpers::*;
use pulsetap_collector::domain::Rating;
use pulsetap_collector::domain::Refusal;
use pulsetap_collector::store::{Outcome, RecordError, Recorded, Write};
use pulsetap_wire::{RecordResponse, WriteStatus};
use time::OffsetDateTime;
use time::macros::datetime;

fn rating(app: &TestApp, response_id: &str, interaction: &str, score: u8) -> Rating {
    let survey = app.state.surveys.get("support").unwrap();
    let body = RecordResponse {
        survey: "support".into(),
        response_id: response_id.into(),
        score,
        interaction: Some(interaction.into()),
        sig: None,
        tags: [("agent".to_string(), "ana".to_string())].into(),
        comment: None,
        lang: None,
    };
    Rating::parse(body, survey).unwrap()
}

fn support(app: &TestApp) -> pulsetap_collector::domain::SurveyId {
    app.state.surveys.get("support").unwrap().id.clone()
}

/// Records `ratings` to the support survey in one transaction, as the writer thread does.
fn record_batch(
    app: &TestApp,
    ratings: &[Rating],
    now: OffsetDateTime,
) -> Vec<Result<Recorded, RecordError>> {
    let writes: Vec<Write> = ratings
        .iter()
        .map(|rating| Write::Rating {
            survey: app.state.surveys.get("support").unwrap().id.clone(),
            rating: rating.clone(),
            now,
            allowance_left: true,
        })
        .collect();
    // A backend blocks: run it off the async runtime, on a thread of its own as the writer does.
    let (backend, surveys) = (app.state.store.backend(), &app.state.surveys);
    let outcomes = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let outcomes = backend.apply(surveys, &writes).unwrap();
                backend.flush().unwrap();
                outcomes
            })
            .join()
            .unwrap()
    });
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Outcome::Rating(result) => result.map(|recorded| *recorded),
            other => panic!("a rating answered {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn a_refused_rating_in_a_batch_leaves_the_others_recorded() {
    let app = spawn_app().await;
    let now = datetime!(2026-11-10 12:00 UTC);
    let first = new_id();
    let ratings = [
        rating(&app, &first, "chat-1", 5),
        rating(&app, &new_id(), "chat-1", 1),
        rating(&app, &new_id(), "chat-2", 4),
    ];

    let results = record_batch(&app, &ratings, now);

    assert_eq!(results[0].as_ref().unwrap().status, WriteStatus::Created);
    assert!(matches!(
        results[1],
        Err(RecordError::Refused(Refusal::AlreadyAnswered))
    ));
    assert_eq!(results[2].as_ref().unwrap().status, WriteStatus::Created);
    let survey = support(&app);
    let kept = app.state.store.find(&survey, Some("chat-1"), &first);
    assert_eq!(
        kept.await.unwrap().unwrap().score,
        5,
        "the stranger changed nothing"
    );
    let summary = app
        .summary("support", "from=2026-11-10&to=2026-11-10")
        .await;
    assert_eq!(summary.figures.responses, 2);
    assert!(app.state.store.audit().await.unwrap().mismatches.is_empty());
}

#[tokio::test]
async fn one_identity_changed_within_a_batch_is_created_then_updated_and_counted_once() {
    let app = spawn_app().await;
    let now = datetime!(2026-11-10 12:00 UTC);
    let id = new_id();
    let ratings = [
        rating(&app, &id, "chat-1", 2),
        rating(&app, &id, "chat-1", 5),
        rating(&app, &id, "chat-1", 5),
    ];

    let statuses: Vec<WriteStatus> = record_batch(&app, &ratings, now)
        .into_iter()
        .map(|result| result.unwrap().status)
        .collect();

    assert_eq!(
        statuses,
        [
            WriteStatus::Created,
            WriteStatus::Updated,
            WriteStatus::Unchanged
        ]
    );
    let summary = app
        .summary("support", "from=2026-11-10&to=2026-11-10")
        .await;
    assert_eq!(summary.figures.responses, 1);
    assert_eq!(summary.figures.counts["5"], 1);
    assert_eq!(summary.figures.counts["2"], 0);
    let stored = app
        .state
        .store
        .find(&support(&app), Some("chat-1"), &id)
        .await
        .unwrap();
    let history: Vec<u8> = stored.unwrap().history.iter().map(|(s, _)| *s).collect();
    assert_eq!(history, [2, 5]);
    assert!(app.state.store.audit().await.unwrap().mismatches.is_empty());
}
