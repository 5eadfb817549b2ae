//! What the embedded store's tests share.

use crate::domain::Response;

/// A response of the survey `support`, scored 1 with a comment, whose latest event is
/// `last_event`.
pub(super) fn response(id: &str, last_event: u64) -> Response {
    Response {
        survey: "support".into(),
        response_id: id.into(),
        interaction: None,
        score: 1,
        tags: Default::default(),
        comment: Some(format!("comment of {id}")),
        signed: false,
        created_ms: 1_700_000_000_000,
        updated_ms: 1_700_000_000_000,
        history: vec![(1, 1_700_000_000_000)],
        last_event,
        lang: None,
        alerted: false,
        registered: false,
    }
}
