//! How the `responses` tree keeps a response: a version byte, then postcard (varints, no field
//! names). Records written before it are JSON, and still read.
//!
//! Why: every rating writes its response to fjall's journal, then to a table, then again each
//! time a compaction moves it, so its size is paid many times over. As JSON a response with two
//! tags took 315 bytes, 103 here; with the counters' varints (`store::counts`), a rating at half
//! load writes 1.5–2.2 KB to the disk instead of 2.5–3.7 (BENCHMARKS.md, "Fewer bytes per
//! rating"). The domain's `Response` keeps its JSON shape (the field names, the attributes that
//! leave empty fields out) for everything else: this mirror of it is the stored shape, and
//! postcard, which names no field, needs every field written in a fixed order.

use crate::domain::Response;
use crate::store::backend::StoreError;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The first byte of a compact record. A JSON record starts with `{`.
const COMPACT: u8 = 1;

/// A response in the order postcard writes it. Borrowed when written, owned when read.
#[derive(Serialize, Deserialize)]
struct Compact<'a> {
    survey: Cow<'a, str>,
    response_id: Cow<'a, str>,
    interaction: Option<Cow<'a, str>>,
    score: u8,
    tags: Cow<'a, BTreeMap<String, String>>,
    comment: Option<Cow<'a, str>>,
    signed: bool,
    created_ms: i64,
    updated_ms: i64,
    history: Cow<'a, [(u8, i64)]>,
    last_event: u64,
    lang: Option<Cow<'a, str>>,
    alerted: bool,
    registered: bool,
}

fn borrowed(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(Cow::Borrowed)
}

/// A response as the `responses` tree keeps it.
pub(super) fn encode(response: &Response) -> Vec<u8> {
    let compact = Compact {
        survey: Cow::Borrowed(&response.survey),
        response_id: Cow::Borrowed(&response.response_id),
        interaction: borrowed(&response.interaction),
        score: response.score,
        tags: Cow::Borrowed(&response.tags),
        comment: borrowed(&response.comment),
        signed: response.signed,
        created_ms: response.created_ms,
        updated_ms: response.updated_ms,
        history: Cow::Borrowed(&response.history),
        last_event: response.last_event,
        lang: borrowed(&response.lang),
        alerted: response.alerted,
        registered: response.registered,
    };
    postcard::to_extend(&compact, vec![COMPACT]).expect("a response always serializes")
}

/// A response read from the `responses` tree, in either format.
pub(super) fn decode(bytes: &[u8]) -> Result<Response, StoreError> {
    let corrupt = || StoreError::Corrupt("response".to_owned());
    let Some((&COMPACT, rest)) = bytes.split_first() else {
        return super::trees::decode(bytes, "response");
    };
    let (compact, unread) =
        postcard::take_from_bytes::<Compact<'_>>(rest).map_err(|_| corrupt())?;
    if !unread.is_empty() {
        return Err(corrupt());
    }
    let owned = |text: Option<Cow<'_, str>>| text.map(Cow::into_owned);
    Ok(Response {
        survey: compact.survey.into_owned(),
        response_id: compact.response_id.into_owned(),
        interaction: owned(compact.interaction),
        score: compact.score,
        tags: compact.tags.into_owned(),
        comment: owned(compact.comment),
        signed: compact.signed,
        created_ms: compact.created_ms,
        updated_ms: compact.updated_ms,
        history: compact.history.into_owned(),
        last_event: compact.last_event,
        lang: owned(compact.lang),
        alerted: compact.alerted,
        registered: compact.registered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response() -> Response {
        Response {
            survey: "help-center".into(),
            response_id: "0b9a3c52-8f0e-4d7e-9a51-4c8f1f0d2e6b".into(),
            interaction: Some("ticket-48213".into()),
            score: 4,
            tags: BTreeMap::from([
                ("agent".into(), "agent-17".into()),
                ("channel".into(), "chat".into()),
            ]),
            comment: Some("Quick and kind — thank you".into()),
            signed: true,
            created_ms: 1_764_849_600_000,
            updated_ms: 1_764_849_660_000,
            history: vec![(2, 1_764_849_600_000), (4, 1_764_849_660_000)],
            last_event: 1_234_567,
            lang: Some("pt-BR".into()),
            alerted: true,
            registered: true,
        }
    }

    #[test]
    fn a_response_reads_back_exactly_as_written() {
        let written = response();
        assert_eq!(decode(&encode(&written)).unwrap(), written);
        let bare = Response {
            interaction: None,
            tags: BTreeMap::new(),
            comment: None,
            lang: None,
            history: vec![],
            ..response()
        };
        assert_eq!(decode(&encode(&bare)).unwrap(), bare);
    }

    #[test]
    fn a_response_stored_as_json_before_still_reads() {
        let written = response();
        let json = serde_json::to_vec(&written).unwrap();
        assert_eq!(decode(&json).unwrap(), written);
    }

    #[test]
    fn the_compact_record_is_under_half_the_json() {
        let written = response();
        let compact = encode(&written).len();
        let json = serde_json::to_vec(&written).unwrap().len();
        assert!(compact * 2 < json, "{compact} bytes against {json} as JSON");
    }

    #[test]
    fn a_damaged_record_is_refused_as_corrupt_not_misread() {
        let record = encode(&response());
        for damaged in [
            &record[..record.len() - 1],
            &[record.as_slice(), &[0]].concat()[..],
            &[COMPACT][..],
            b"\x02anything",
        ] {
            assert!(
                matches!(decode(damaged), Err(StoreError::Corrupt(_))),
                "{damaged:?} was read"
            );
        }
    }
}
