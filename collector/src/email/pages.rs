//! The pages an email link opens: the landing page, the thank-you page after a form confirm,
//! and a friendly page for every way a link can fail.
//!
//! Every page is rendered on the server from escaped values, in the link's language: the
//! survey's texts in it, the page's `lang` and its direction. Besides the survey's texts the
//! landing and thank-you pages hold no words of their own, so they speak every language the
//! survey does; the pages for broken links are in English. The HTTP side (status, and the
//! headers a page behind a signed link needs) is `routes::email`'s.

use super::Invitation;
use super::html::escape;
use crate::domain::Score;

const STYLE: &str = include_str!("landing.css");

/// `/r/landing.js`: reveals the confirm form when the widget can't run.
pub const LANDING_SCRIPT: &str = include_str!("landing.js");

/// What the customer sees after opening a link: the widget with their answer chosen and the
/// follow-up open, and a line asking for one tap (the survey's `confirm` text, which
/// `landing.js` turns into its thank-you once tapped). Nothing is recorded until that tap (on the
/// chosen emoji or another) or a sent comment: mail scanners open links in real browsers that
/// run the page, but they don't tap (ARCHITECTURE.md, "Email links and scanners"). Until the
/// widget shows, the host element's own content shows the choice (a shadow root hides it once
/// attached). A browser that can't run the widget gets a card with the same choice and a form
/// that confirms on the server.
pub fn landing(invitation: &Invitation<'_>, score: Score) -> String {
    let survey = invitation.survey();
    let texts = invitation.texts();
    let value = score.get();
    let face = face(invitation, score);
    let query = invitation.link_query(value);
    // The widget asks for the link's language; a link without one lets the browser choose.
    let lang = query.l.as_deref().map_or(String::new(), |lang| {
        format!(" data-lang=\"{}\"", escape(lang))
    });
    let lang_field = query.l.as_deref().map_or(String::new(), |lang| {
        format!(
            "\n<input type=\"hidden\" name=\"l\" value=\"{}\">",
            escape(lang)
        )
    });
    let body = format!(
        r#"<p class="hint" id="pt-hint" data-thanks="{thank_you}">{confirm}</p>
<div data-pulsetap="{survey_id}" data-interaction="{interaction}"{sig} data-tags="{tags}" data-score="{value}"{lang}>
<p class="pending">{face}</p>
</div>
<div class="fallback card">
<h1>{question}</h1>
<p class="choice">{face}</p>
<form method="post" action="/r/{survey_id}/{value}/confirm">
<input type="hidden" name="i" value="{interaction}">
<input type="hidden" name="t" value="{tags}">{lang_field}
<input type="hidden" name="s" value="{link_sig}">
<label for="comment">{follow_up}</label>
<textarea id="comment" name="comment" maxlength="{max_comment}" rows="4"></textarea>
<button type="submit">{send}</button>
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
        question = escape(&texts.question),
        follow_up = escape(&texts.follow_up),
        send = escape(&texts.send),
        confirm = escape(&texts.confirm),
        thank_you = escape(&texts.thank_you),
        link_sig = escape(&query.s),
        max_comment = crate::domain::rating::MAX_COMMENT_CHARS,
        others = others(invitation, value),
    );
    let head = "<noscript><style>.fallback{display:block}[data-pulsetap],.hint{display:none}</style></noscript>\n\
                <script async src=\"/pulsetap.js\"></script>\n\
                <script defer src=\"/r/landing.js\"></script>";
    document(page_lang(invitation), &texts.question, head, &body)
}

/// After the form confirmed a rating.
pub fn thanks(invitation: &Invitation<'_>, score: Score) -> String {
    let texts = invitation.texts();
    let body = format!(
        r#"<div class="card">
<h1>{thank_you}</h1>
<p class="choice">{face}</p>
{others}
</div>"#,
        thank_you = escape(&texts.thank_you),
        face = face(invitation, score),
        others = others(invitation, score.get()),
    );
    document(page_lang(invitation), &texts.thank_you, "", &body)
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
        document(PageLang::ENGLISH, title, "", &body)
    }
}

/// The chosen button as the page shows it: its emoji (or number) large, and its label; a number
/// is its own label, so only the words of a scale's ends follow it.
fn face(invitation: &Invitation<'_>, score: Score) -> String {
    let survey = invitation.survey();
    let texts = invitation.texts();
    let shown = survey.face(score.get()).unwrap_or_default();
    let (class, label) = if survey.kind.numbered() {
        let end = if score.get() == survey.first_score() {
            texts.low_label.as_str()
        } else if score.get() == survey.max_score() {
            texts.high_label.as_str()
        } else {
            ""
        };
        ("number", end)
    } else {
        let index = usize::from(score.get() - survey.first_score());
        (
            "emoji",
            texts.labels.get(index).map_or(shown, String::as_str),
        )
    };
    // A number is read aloud; an emoji is read by its label instead.
    let hidden = if class == "emoji" {
        " aria-hidden=\"true\""
    } else {
        ""
    };
    format!(
        "<span class=\"{class}\"{hidden}>{}</span><strong>{}</strong>",
        escape(shown),
        escape(label)
    )
}

/// Every button of the survey as a link to its own landing page, the current one marked: a
/// changed mind is one tap away. Named by the question, so it needs no words of its own.
fn others(invitation: &Invitation<'_>, current: u8) -> String {
    let survey = invitation.survey();
    let texts = invitation.texts();
    let class = if survey.kind.numbered() {
        "number"
    } else {
        "emoji"
    };
    let mut items = String::new();
    for ((shown, label), score) in survey.scale.iter().zip(&texts.labels).zip(survey.scores()) {
        let marked = if score == current {
            " aria-current=\"true\""
        } else {
            ""
        };
        items.push_str(&format!(
            "<li><a href=\"{href}\" aria-label=\"{label}\" title=\"{label}\"{marked}><span class=\"{class}\" aria-hidden=\"true\">{shown}</span></a></li>",
            href = escape(&invitation.path(score)),
            label = escape(label),
            shown = escape(shown),
        ));
    }
    format!(
        "<nav class=\"others {class}\" aria-label=\"{question}\"><ul>{items}</ul></nav>",
        question = escape(&texts.question)
    )
}

/// The language a page is written in, and so its direction.
#[derive(Debug, Clone, Copy)]
struct PageLang<'a> {
    tag: &'a str,
    right_to_left: bool,
}

impl PageLang<'_> {
    const ENGLISH: PageLang<'static> = PageLang {
        tag: "en",
        right_to_left: false,
    };
}

fn page_lang<'i>(invitation: &'i Invitation<'_>) -> PageLang<'i> {
    let lang = invitation.lang().unwrap_or(&invitation.survey().lang);
    PageLang {
        tag: lang.as_str(),
        right_to_left: lang.right_to_left(),
    }
}

fn document(lang: PageLang<'_>, title: &str, head: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="{lang}" dir="{dir}">
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
        lang = escape(lang.tag),
        dir = if lang.right_to_left { "rtl" } else { "ltr" },
        title = escape(title),
    )
}
