//! Raw bytes through the whole ingest path: JSON parsing, the domain checks (score, tags,
//! comment, response id), the signature check, and the store's transaction. Whatever comes in,
//! nothing panics, and a stored response always satisfies the rules that let it in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulsetap_collector::configuration;
use pulsetap_collector::domain::{Rating, Surveys};
use pulsetap_collector::store::{Backend, EmbeddedStore, Outcome, Write};
use pulsetap_wire::RecordResponse;
use std::sync::OnceLock;

const CONFIG: &str = r#"
[[survey]]
id = "support"
tags = ["agent", "channel"]
secret = "a long random string for fuzzing"

[[survey]]
id = "signed"
tags = ["agent"]
secret = "a long random string for fuzzing"
require_sig = true
"#;

struct World {
    surveys: Surveys,
    store: EmbeddedStore,
    _dir: std::path::PathBuf,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pulsetap-fuzz-{}", std::process::id()));
        World { surveys: configuration::parse(CONFIG).unwrap(), store: EmbeddedStore::open(&dir).unwrap(), _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let Ok(body) = serde_json::from_slice::<RecordResponse>(data) else { return };
    let Some(survey) = world.surveys.get(&body.survey) else { return };
    let Ok(rating) = Rating::parse(body, survey) else { return };
    assert!((1..=survey.max_score()).contains(&rating.score.get()));
    assert!(rating.comment.as_ref().is_none_or(|c| c.as_str().chars().count() <= 2_000));
    let score = rating.score.get();
    let write = Write::Rating {
        survey: survey.id.clone(),
        rating,
        now: time::OffsetDateTime::now_utc(),
        allowance_left: true,
    };
    if let Ok(outcomes) = world.store.apply(&world.surveys, &[write])
        && let [Outcome::Rating(Ok(recorded))] = outcomes.as_slice()
    {
        assert_eq!(recorded.response.score, score);
        assert!(recorded.response.tags.keys().all(|key| survey.tags.contains(key)));
    }
});
