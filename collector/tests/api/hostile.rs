//! Hostile input: every reply a clear JSON error, nothing stored, other visitors unaffected.

use crate::helpers::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The default per-visitor flood limit (20/s, bursts of 60), unlike the tests' usual config.
const DEFAULT_LIMITS: &str = r#"
read_keys = ["marketing-team-key"]
[[survey]]
id = "support"
allowed_origins = ["https://shop.example.com"]
tags = ["agent"]
max_per_visitor_per_day = 1000
"#;

async fn assert_error(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"], code, "{body}");
}

async fn assert_nothing_stored(app: &TestApp) {
    assert_eq!(app.summary("support", "").await.figures.responses, 0);
    assert!(app.export("support").await.is_empty());
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_a_crash() {
    let app = spawn_app().await;
    let nested = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    let response = app
        .post_raw(
            "/v1/responses",
            nested,
            &[("Content-Type", "application/json")],
        )
        .await;
    assert!(
        response.status() == 400 || response.status() == 413,
        "{}",
        response.status()
    );
    let deep_object = format!(
        r#"{{"survey":"support","response_id":"{}","score":5,"tags":{}1{}}}"#,
        new_id(),
        "{\"a\":".repeat(300),
        "}".repeat(300)
    );
    assert_error(
        app.post_raw("/v1/responses", deep_object, &[]).await,
        400,
        "malformed_json",
    )
    .await;
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn invalid_utf8_is_a_400() {
    let app = spawn_app().await;
    let mut body = br#"{"survey":"support","response_id":"x","score":5,"comment":""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    body.extend_from_slice(br#""}"#);
    assert_error(
        app.post_raw("/v1/responses", body, &[]).await,
        400,
        "malformed_json",
    )
    .await;
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn a_huge_tag_map_is_refused() {
    let app = spawn_app().await;
    let small: serde_json::Map<String, Value> =
        (0..25).map(|i| (format!("agent{i}"), json!("x"))).collect();
    let mut body = rating(5);
    body["tags"] = Value::Object(small);
    assert_error(app.post_response(&body).await, 422, "too_many_tags").await;
    let huge: serde_json::Map<String, Value> =
        (0..2_000).map(|i| (format!("k{i}"), json!("v"))).collect();
    body["tags"] = Value::Object(huge);
    assert_error(app.post_response(&body).await, 413, "body_too_large").await;
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn a_ten_thousand_character_comment_is_refused() {
    let app = spawn_app().await;
    let mut body = rating(1);
    body["comment"] = json!("a".repeat(10_000));
    assert_error(app.post_response(&body).await, 413, "body_too_large").await;
    // Under the byte limit but over the character limit: 2,001 three-byte characters.
    body["comment"] = json!("€".repeat(2_001));
    assert_error(app.post_response(&body).await, 422, "comment_too_long").await;
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn headers_of_every_shape_get_a_clear_answer() {
    let app = spawn_app().await;
    let body = rating(5).to_string();
    for origin in [
        "null",
        "https://shop.example.com.evil.example",
        "HTTPS://SHOP.EXAMPLE.COM",
        "https://shop.example.com/",
    ] {
        let response = app
            .post_raw("/v1/responses", body.clone(), &[("Origin", origin)])
            .await;
        assert_error(response, 403, "origin_not_allowed").await;
    }
    let response = app
        .client
        .post(format!("{}/v1/responses", app.address))
        .header(
            "Origin",
            reqwest::header::HeaderValue::from_bytes(b"https://\xffshop").unwrap(),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "origin_not_allowed").await;
    for authorization in ["Bearer", "Bearer ", "Basic abc", &"x".repeat(6_000)] {
        let response = app
            .client
            .get(format!("{}/v1/surveys/support/summary", app.address))
            .header("Authorization", authorization)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{authorization:.20}");
    }
    // Auth schemes are case-insensitive (RFC 9110), so any spelling of Bearer works.
    for authorization in ["bearer marketing-team-key", "BEARER marketing-team-key"] {
        let response = app
            .client
            .get(format!("{}/v1/surveys/support/summary", app.address))
            .header("Authorization", authorization)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{authorization}");
    }
    let long_agent = "a".repeat(8_000);
    let response = app
        .post_raw(
            "/v1/responses",
            body,
            &[("Origin", SHOP), ("User-Agent", &long_agent)],
        )
        .await;
    assert_eq!(
        response.status(),
        201,
        "an odd user agent is no reason to lose a rating"
    );
}

#[tokio::test]
async fn malformed_and_unknown_requests_count_against_the_flood_limit_too() {
    let app = spawn_app_with(LOW_FLOOD_LIMIT).await;
    let junk = [
        ("/v1/responses", "{not json".to_owned()),
        (
            "/v1/responses",
            json!({"survey": "nope", "response_id": new_id(), "score": 1}).to_string(),
        ),
        (
            "/v1/responses",
            json!({"survey": "support", "response_id": "x", "score": 1}).to_string(),
        ),
        ("/v1/impressions", "[]".to_owned()),
    ];
    let mut limited = 0;
    for n in 0..60 {
        let (path, body) = &junk[n % junk.len()];
        let response = app
            .post_raw(path, body.clone(), &[("User-Agent", "scanner/2.0")])
            .await;
        if response.status() == 429 {
            limited += 1;
        }
    }
    assert!(
        limited >= 30,
        "junk is cut off too: {limited} of 60 refused"
    );
}

/// A low flood limit, so the test does not depend on how fast this machine answers. Behind a
/// trusted proxy, so a test can be two visitors.
const LOW_FLOOD_LIMIT: &str = r#"
read_keys = ["marketing-team-key"]
[limits]
visitor_requests_per_second = 2
visitor_burst = 20
trust_x_forwarded_for = true
[[survey]]
id = "support"
allowed_origins = ["https://shop.example.com"]
tags = ["agent"]
max_per_visitor_per_day = 1000
"#;

#[tokio::test]
async fn a_flood_from_one_visitor_is_cut_off_and_others_are_unaffected() {
    let app = spawn_app_with(LOW_FLOOD_LIMIT).await;
    let flooder = [("X-Forwarded-For", "203.0.113.66")];
    let mut statuses = Vec::new();
    for _ in 0..100 {
        let response = app
            .post_raw("/v1/responses", rating(4).to_string(), &flooder)
            .await;
        statuses.push(response.status().as_u16());
    }
    let limited = statuses.iter().filter(|&&s| s == 429).count();
    assert!(limited >= 50, "the flood was cut: {limited} of 100 refused");
    // The flood goes on and is refused with a time to come back. The bucket refills two a
    // second, so a machine that stalls between two requests may let one through: the flooder
    // keeps sending until refused, as a real one would.
    let mut refused = None;
    for _ in 0..20 {
        let response = app
            .post_raw("/v1/responses", rating(4).to_string(), &flooder)
            .await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            refused = Some(response);
            break;
        }
    }
    let response = refused.expect("the flood goes on being refused");
    assert_eq!(response.headers()["retry-after"], "1");
    assert_error(response, 429, "rate_limited").await;
    let person = app
        .post_raw(
            "/v1/responses",
            rating(5).to_string(),
            &[("X-Forwarded-For", "198.51.100.20")],
        )
        .await;
    assert_eq!(person.status(), 201, "another visitor still gets through");
    let accepted = statuses.iter().filter(|&&s| s == 201).count() as u64;
    assert_eq!(
        app.summary("support", "").await.figures.responses,
        accepted + 1,
        "refused requests stored nothing"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_is_its_own_visitor() {
    let config = DEFAULT_LIMITS.replace("[[survey]]", "[limits]\nvisitor_burst = 2\nvisitor_requests_per_second = 1\ntrust_x_forwarded_for = true\n\n[[survey]]");
    let app = spawn_app_with(&config).await;
    let post_from = |address: &'static str| {
        let app = &app;
        async move {
            let headers = [("User-Agent", "Same Browser"), ("X-Forwarded-For", address)];
            app.post_raw("/v1/responses", rating(3).to_string(), &headers)
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        [
            post_from("203.0.113.1").await,
            post_from("203.0.113.1").await,
            post_from("203.0.113.1").await
        ],
        [201, 201, 429]
    );
    assert_eq!(
        post_from("203.0.113.2").await,
        201,
        "another customer behind the same proxy"
    );
    // Only the entry the proxy appended counts: a client can't pick a fresh address.
    assert_eq!(post_from("198.51.100.7, 203.0.113.1").await, 429);
}

#[tokio::test]
async fn a_slow_loris_client_is_disconnected_and_others_are_served() {
    let app = spawn_app().await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    // Headers that never finish, one byte at a time.
    let mut slow_headers = TcpStream::connect(&host).await.unwrap();
    slow_headers
        .write_all(b"POST /v1/responses HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A body that never finishes: headers promise 200 bytes, 10 arrive.
    let mut slow_body = TcpStream::connect(&host).await.unwrap();
    slow_body
        .write_all(b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"survey\":")
        .await
        .unwrap();
    assert_eq!(
        app.post_response(&rating(5)).await.status(),
        201,
        "others are served meanwhile"
    );

    let mut answer = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(20), slow_body.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the slow body was cut off");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"timeout\""), "{answer}");

    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if slow_headers.write_all(b"X: y\r\n").await.is_err() {
                break;
            }
            let mut buffer = [0u8; 256];
            match tokio::time::timeout(Duration::from_millis(500), slow_headers.read(&mut buffer))
                .await
            {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => rest.extend_from_slice(&buffer[..n]),
                Err(_) => {}
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the slow headers were cut off");
    assert!(started.elapsed() < Duration::from_secs(25));
    assert_eq!(app.summary("support", "").await.figures.responses, 1);
}
