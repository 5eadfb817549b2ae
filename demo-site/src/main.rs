//! `demo-site`: Kettle & Co., a fictional coffee-gear shop that uses Pulsetap every way a site
//! owner can: an inline widget on a help article, a rating after a support chat, emoji links in
//! a support email, the script tag to copy, alerts on unhappy customers, and the dashboard.
//!
//! It runs on its own origin, as a real shop would, and does what a shop's server does: signs
//! each chat's interaction id with the survey secret (so customers can't rate other chats or
//! agents), and plays its helpdesk: registers each solved ticket with its agent and fills the
//! ticket id into the helpdesk template snippet, both with its write key (vouching for whom a
//! rating counts is a write power: the shop's read key could not).
//!
//!     demo-site --listen 127.0.0.1:8000 --collector http://127.0.0.1:8080

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use clap::Parser;
use pulsetap_collector::configuration;
use pulsetap_collector::domain::Secret;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Debug, Parser)]
#[command(name = "demo-site", about = "The Pulsetap demo shop")]
struct Args {
    #[arg(long, env = "DEMO_LISTEN", default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// Where the collector runs, as the customer's browser reaches it.
    #[arg(long, env = "DEMO_COLLECTOR", default_value = "http://127.0.0.1:8080")]
    collector: String,
    /// The collector's configuration, for the survey secret (the shop's server knows it).
    #[arg(long, default_value = "demo-site/pulsetap.toml")]
    config: PathBuf,
    /// A write key, to fetch the email snippet the way a helpdesk's server would.
    #[arg(
        long,
        env = "DEMO_WRITE_KEY",
        default_value = "demo-helpdesk-write-key"
    )]
    write_key: String,
}

#[derive(Clone)]
struct Shop {
    collector: String,
    write_key: String,
    secret: Secret,
    http: reqwest::Client,
    /// Alerts the collector posted, newest first: the "team inbox".
    alerts: Arc<Mutex<VecDeque<serde_json::Value>>>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let surveys = match configuration::load(&args.config) {
        Ok(surveys) => surveys,
        Err(error) => {
            eprintln!("error: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let Some(secret) = surveys
        .get("support")
        .and_then(|survey| survey.secret.clone())
    else {
        eprintln!(
            "error: {} has no `support` survey with a secret",
            args.config.display()
        );
        return std::process::ExitCode::FAILURE;
    };
    let shop = Shop {
        collector: args.collector.trim_end_matches('/').to_owned(),
        write_key: args.write_key,
        secret,
        http: reqwest::Client::new(),
        alerts: Arc::default(),
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", args.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    println!(
        "demo shop listening on http://{}",
        listener.local_addr().expect("bound")
    );
    let served = axum::serve(listener, app(shop)).with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    match served.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn app(shop: Shop) -> Router {
    Router::new()
        .route(
            "/",
            get(|State(shop): State<Shop>| async move {
                page(&shop, "Home", include_str!("../pages/index.html"), &[])
            }),
        )
        .route(
            "/help/descaling",
            get(|State(shop): State<Shop>| async move {
                page(
                    &shop,
                    "How to descale your kettle",
                    include_str!("../pages/help.html"),
                    &[],
                )
            }),
        )
        .route("/chat", get(chat))
        .route("/email", get(email))
        .route(
            "/install",
            get(|State(shop): State<Shop>| async move {
                page(
                    &shop,
                    "Add Pulsetap to your site",
                    include_str!("../pages/install.html"),
                    &[],
                )
            }),
        )
        .route("/alerts", get(alerts))
        .route("/hooks/pulsetap-alert", post(receive_alert))
        .route(
            "/favicon.ico",
            get(|| async { static_file("image/svg+xml", include_str!("../pages/favicon.svg")) }),
        )
        .route(
            "/static/site.css",
            get(|| async { static_file("text/css", include_str!("../pages/site.css")) }),
        )
        .route(
            "/static/chat.js",
            get(|| async { static_file("text/javascript", include_str!("../pages/chat.js")) }),
        )
        .with_state(shop)
}

/// A page in the shop's layout with `{{NAME}}` placeholders filled. Values are escaped unless the name ends in
/// `_HTML` (markup we made or the collector made for us).
fn page(shop: &Shop, title: &str, content: &str, values: &[(&str, String)]) -> Response {
    let mut html = include_str!("../pages/layout.html").replacen("{{CONTENT_HTML}}", content, 1);
    html = html
        .replace("{{COLLECTOR}}", &escape(&shop.collector))
        .replace("{{TITLE}}", &escape(title));
    for (name, value) in values {
        let filled = if name.ends_with("_HTML") {
            value.clone()
        } else {
            escape(value)
        };
        html = html.replace(&format!("{{{{{name}}}}}"), &filled);
    }
    let mut response = Html(html).into_response();
    // The policy a host page needs for Pulsetap (README: "Content security policy").
    let csp = format!(
        "default-src 'self'; script-src 'self' {c} 'wasm-unsafe-eval'; connect-src 'self' {c}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        c = shop.collector
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// A support chat. The shop's server picks the chat id and signs it, with the agent's tag, so
/// the rating can't be moved to another chat or agent.
async fn chat(State(shop): State<Shop>) -> Response {
    let interaction = format!("chat-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let tags: BTreeMap<String, String> = [
        ("agent".to_owned(), "maya".to_owned()),
        ("channel".to_owned(), "chat".to_owned()),
    ]
    .into();
    let sig = shop
        .secret
        .sign_interaction("support", Some(&interaction), &tags);
    page(
        &shop,
        "Support chat",
        include_str!("../pages/chat.html"),
        &[("INTERACTION", interaction), ("SIG", sig)],
    )
}

/// A support email as the customer receives it, sent the way a helpdesk sends it: the
/// "helpdesk" registers the solved ticket with its agent (`POST …/interactions`), then fills
/// the ticket id into the Zendesk template snippet (`GET …/email?template=zendesk`), as a
/// Zendesk trigger fills `{{ticket.id}}`.
async fn email(State(shop): State<Shop>) -> Response {
    let ticket = (4000 + uuid::Uuid::new_v4().as_u128() % 9000).to_string();
    let snippet = match helpdesk_email(&shop, &ticket).await {
        Ok(snippet) => snippet,
        Err(problem) => format!("<p>{problem}</p>"),
    };
    page(
        &shop,
        "Support email",
        include_str!("../pages/email.html"),
        &[("TICKET", ticket), ("SNIPPET_HTML", snippet)],
    )
}

/// Registers `ticket` for Sam, then the template snippet with the ticket id filled in.
async fn helpdesk_email(shop: &Shop, ticket: &str) -> Result<String, String> {
    let not_running = |_| {
        "The collector is not running: start the demo with <code>./scripts/demo.sh</code>."
            .to_owned()
    };
    let registration = serde_json::json!({"interaction": ticket,
        "tags": {"agent": "sam", "channel": "email"}});
    let registered = shop
        .http
        .post(format!(
            "{}/v1/surveys/support/interactions",
            shop.collector
        ))
        .bearer_auth(&shop.write_key)
        .json(&registration)
        .send()
        .await
        .map_err(not_running)?;
    if !registered.status().is_success() {
        return Err(format!(
            "The collector answered {} to the ticket's registration.",
            registered.status()
        ));
    }
    let template = shop
        .http
        .get(format!(
            "{}/v1/surveys/support/email?template=zendesk",
            shop.collector
        ))
        .bearer_auth(&shop.write_key)
        .send()
        .await
        .map_err(not_running)?;
    if !template.status().is_success() {
        return Err(format!(
            "The collector answered {} for the email template.",
            template.status()
        ));
    }
    let template = template.text().await.unwrap_or_default();
    Ok(template.replace("{{ticket.id}}", ticket))
}

async fn receive_alert(State(shop): State<Shop>, body: String) -> StatusCode {
    let Ok(alert) = serde_json::from_str::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut alerts = shop
        .alerts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    alerts.push_front(alert);
    alerts.truncate(50);
    StatusCode::NO_CONTENT
}

async fn alerts(State(shop): State<Shop>) -> Response {
    let alerts = shop
        .alerts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let items: String = if alerts.is_empty() {
        "<li class=\"empty\">No unhappy customer yet. Rate the chat 😠 or 🙁 and this page shows it within seconds.</li>".into()
    } else {
        alerts
            .iter()
            .map(|alert| {
                let text = alert["text"].as_str().unwrap_or("(no text)");
                format!("<li>{}</li>", escape(text))
            })
            .collect()
    };
    page(
        &shop,
        "Team inbox",
        include_str!("../pages/alerts.html"),
        &[("ALERTS_HTML", items)],
    )
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn escape(text: &str) -> String {
    html_escape::encode_safe(text).into_owned()
}
