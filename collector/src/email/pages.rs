//! The pages an email link opens: the landing page, the thank-you page after a form confirm,
//! and a friendly page for every way a link can fail.
//!
//! Every page is rendered on the server from escaped values. The HTTP side (status, and the
//! headers a page behind a signed link needs) is `routes::email`'s.

use super::Invitation;
use super::html::escape;
use crate::domain::Score;

const STYLE: &str = include_str!("landing.css");

/// `/r/landing.js`: reveals the confirm form when the widget can't run.
pub const LANDING_SCRIPT: &str = include_str!("landing.js");

/// What the customer sees after opening a link: the widget with their emoji chosen and the
/// follow-up open, and a line asking for one tap. Nothing is recorded until that tap (on the
/// chosen emoji or another) or a sent comment: mail scanners open links in real browsers that
/// run the page, but they don't tap (ARCHITECTURE.md, "Email links and scanners"). Until the
/// widget shows, the host element's own content shows the choice (a shadow root hides it once
/// attached). A browser that can't run the widget gets a card with the same choice and a form
/// that confirms on the server.
pub fn landing(invitation: &Invitation<'_>, score: Score) -> String {
    let survey = invitation.survey();
    let value = score.get();
    let (emoji, label) = face(invitation, score);
    let query = invitation.link_query(value);
    let body = format!(
        r#"<p class="hint" id="pt-hint">Tap <span class="emoji" aria-hidden="true">{emoji}</span> <strong>{label}</strong> to send your rating, or pick another.</p>
<div data-pulsetap="{survey_id}" data-interaction="{interaction}"{sig} data-tags="{tags}" data-score="{value}">
<p class="pending"><span class="emoji" aria-hidden="true">{emoji}</span><span>You picked <strong>{label}</strong>…</span></p>
</div>
<div class="fallback card">
<h1>{question}</h1>
<p class="choice"><span class="emoji" aria-hidden="true">{emoji}</span><span>You picked <strong>{label}</strong>.</span></p>
<form method="post" action="/r/{survey_id}/{value}/confirm">
<input type="hidden" name="i" value="{interaction}">
<input type="hidden" name="t" value="{tags}">
<input type="hidden" name="s" value="{link_sig}">
<label for="comment">{follow_up} <span class="muted">(optional)</span></label>
<textarea id="comment" name="comment" maxlength="{max_comment}" rows="4"></textarea>
<button type="submit">Send my rating</button>
</form>
{others}
</div>"#,
        survey_id = escape(survey.id.as_str()),
        interaction = escape(invitation.interaction()),
        // A registered interaction needs no signature: the registry vouches for its rating.
        sig = invitation
            .interaction_sig()
            .map(|sig| format!(" data-sig=\"{}\"", escape(&sig)))
            .unwrap_or_default(),
        tags = escape(&invitation.tags_text()),
        question = escape(&survey.question),
        follow_up = escape(&survey.follow_up),
        link_sig = escape(&query.s),
        max_comment = crate::domain::rating::MAX_COMMENT_CHARS,
        others = others(invitation, value),
    );
    let head = "<noscript><style>.fallback{display:block}[data-pulsetap],.hint{display:none}</style></noscript>\n\
                <script async src=\"/pulsetap.js\"></script>\n\
                <script defer src=\"/r/landing.js\"></script>";
    document(&survey.question, head, &body)
}

/// After the form confirmed a rating.
pub fn thanks(invitation: &Invitation<'_>, score: Score, commented: bool) -> String {
    let survey = invitation.survey();
    let (emoji, label) = face(invitation, score);
    let saved = if commented {
        "Your rating and your comment are saved"
    } else {
        "Your rating is saved"
    };
    let body = format!(
        r#"<div class="card">
<p class="sign emoji" aria-hidden="true">{emoji}</p>
<h1>{thank_you}</h1>
<p>{saved}: <strong>{label}</strong>.</p>
{others}
</div>"#,
        thank_you = escape(&survey.thank_you),
        others = others(invitation, score.get()),
    );
    document(&survey.thank_you, "", &body)
}

/// Every way following a link can fail, each with a page a customer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Not a link we signed: edited, or cut short by a mail client.
    DamagedLink,
    UnknownSurvey,
    /// A link we signed, but the survey has changed since (a tag or an emoji removed).
    Outdated,
    EditWindowClosed,
    CommentTooLong,
    TooManyRequests,
    /// It may have been stored: the server could not confirm it.
    Unavailable,
    /// The server is too busy to take it now: nothing was stored.
    Busy,
    /// A helpdesk's link for a ticket the registry does not know, or no longer vouches for.
    NotRegistered,
}

impl Problem {
    fn text(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::DamagedLink => (
                "🔗",
                "This link doesn't look right",
                "It may have been changed, or cut short when it was copied. Nothing was recorded. \
                 Please use the buttons in the original email.",
            ),
            Self::UnknownSurvey => (
                "🔎",
                "This survey doesn't exist any more",
                "Nothing was recorded. Thank you for wanting to tell us how we did.",
            ),
            Self::Outdated => (
                "🗓️",
                "This link no longer works",
                "The survey it belongs to has changed since the email was sent. Nothing was recorded.",
            ),
            Self::EditWindowClosed => (
                "⏳",
                "This rating can no longer be changed",
                "It's been a while since you answered, so your earlier answer stays. Thank you!",
            ),
            Self::CommentTooLong => (
                "✂️",
                "Your comment is too long",
                "Nothing was recorded. Please go back, shorten it to 2,000 characters and send it again.",
            ),
            Self::TooManyRequests => (
                "✋",
                "That was a lot of clicks",
                "Nothing was recorded just now. Please wait a moment and try again.",
            ),
            Self::Unavailable => (
                "🔧",
                "We couldn't confirm your rating was saved",
                "Something went wrong on our side, and it may or may not have been saved. Please \
                 try again in a moment: sending it twice never counts it twice.",
            ),
            Self::Busy => (
                "⏳",
                "We're very busy right now",
                "Nothing was recorded just now. Please try again in a minute.",
            ),
            Self::NotRegistered => (
                "🗂️",
                "We can't find this conversation",
                "This link is for a conversation we don't know, or it has expired. Nothing was \
                 recorded. Please use the buttons in the most recent email from us.",
            ),
        }
    }

    /// The page that explains the problem.
    pub fn page(self) -> String {
        let (sign, title, message) = self.text();
        let body = format!(
            "<div class=\"card\">\n<p class=\"sign emoji\" aria-hidden=\"true\">{sign}</p>\n<h1>{title}</h1>\n<p class=\"muted\">{message}</p>\n</div>"
        );
        document(title, "", &body)
    }
}

/// The emoji and label of a score.
fn face(invitation: &Invitation<'_>, score: Score) -> (String, String) {
    let survey = invitation.survey();
    let index = usize::from(score.get()) - 1;
    (escape(&survey.scale[index]), escape(&survey.labels[index]))
}

/// Every emoji of the survey as a link to its own landing page, the current one marked.
fn others(invitation: &Invitation<'_>, current: u8) -> String {
    let survey = invitation.survey();
    let mut items = String::new();
    for ((emoji, label), score) in survey
        .scale
        .iter()
        .zip(&survey.labels)
        .zip(1..=survey.max_score())
    {
        let marked = if score == current {
            " aria-current=\"true\""
        } else {
            ""
        };
        items.push_str(&format!(
            "<li><a href=\"{href}\" aria-label=\"{label}\" title=\"{label}\"{marked}><span class=\"emoji\" aria-hidden=\"true\">{emoji}</span></a></li>",
            href = escape(&invitation.path(score)),
            label = escape(label),
            emoji = escape(emoji),
        ));
    }
    format!(
        "<nav class=\"others\" aria-label=\"Change your answer\"><p>Changed your mind? Pick another:</p><ul>{items}</ul></nav>"
    )
}

fn document(title: &str, head: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="robots" content="noindex, nofollow">
<title>{title}</title>
<style>
{STYLE}</style>
{head}
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"#,
        title = escape(title),
    )
}
