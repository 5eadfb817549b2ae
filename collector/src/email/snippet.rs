//! The HTML snippet pasted into an email template or signature.
//!
//! Written for the strictest renderers: Outlook for Windows lays HTML out with Word, and Gmail
//! drops `<style>` blocks in many views. So: presentation tables, inline styles only, no
//! script, no form, no image (emoji and numbers are text, readable with images off), and each
//! emoji's label as visible text under it, which screen readers read too. Text colour is left to
//! the mail client where it can be, so dark modes keep it readable.
//!
//! A scale of numbers (NPS's eleven, CES's seven) is one row that shrinks with the message: the
//! table is `width:100%` up to `max-width`, each cell an equal share, so the eleven buttons fit
//! a 320 px phone (about 26 px each) without a media query, which Gmail's apps ignore. Outlook's
//! Word engine knows no `max-width`; a table of fixed width that only Outlook reads (an
//! `[if mso]` conditional comment, which every other client takes for a comment) keeps it from
//! stretching across the window.

use super::html::escape;
use crate::domain::{Kind, Lang, Texts};
use serde::{Deserialize, Serialize};

/// One button of an email: its score, what it shows (an emoji or a number), and where it leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Link {
    pub score: u8,
    /// What the button shows: an emoji, or the number of an NPS or CES scale.
    pub emoji: String,
    pub label: String,
    pub url: String,
}

/// What one email's snippet shows.
#[derive(Debug, Clone, Copy)]
pub struct Snippet<'a> {
    pub kind: Kind,
    /// The language of `texts`: the snippet says so, and reads right to left when it does.
    pub lang: &'a Lang,
    pub texts: &'a Texts,
    /// Lowest score first.
    pub links: &'a [Link],
}

const FONT: &str = "font-family:Arial,Helvetica,sans-serif;";
const EMOJI_FONT: &str =
    "font-family:'Apple Color Emoji','Segoe UI Emoji','Noto Color Emoji',Arial,sans-serif;";
/// The widest a row of numbers grows: eleven buttons of 40 px.
const NUMBERS_MAX_WIDTH: usize = 440;

/// A table with the question above one cell per link.
pub fn snippet(email: &Snippet<'_>) -> String {
    let dir = if email.lang.right_to_left() {
        "rtl"
    } else {
        "ltr"
    };
    let mut html = String::with_capacity(900 + email.links.len() * 800);
    html.push_str("<!-- Pulsetap rating links: each records only when the page it opens is shown in a browser -->\n");
    if email.kind.numbered() {
        numbers(&mut html, email, dir);
    } else {
        emoji(&mut html, email, dir);
    }
    html
}

/// Emoji with their labels under them, on one row.
fn emoji(html: &mut String, email: &Snippet<'_>, dir: &str) {
    let links = email.links;
    // Ten emoji at the five-emoji size would not fit a phone's width.
    let (cell, emoji_px) = if links.len() <= 5 { (64, 32) } else { (44, 24) };
    html.push_str(&format!(
        "<table role=\"presentation\" border=\"0\" cellpadding=\"0\" cellspacing=\"0\" lang=\"{lang}\" dir=\"{dir}\" \
         style=\"border-collapse:collapse;margin:0;\">\n",
        lang = email.lang,
    ));
    html.push_str(&format!(
        "<tr><td colspan=\"{}\" style=\"padding:0 0 8px 0;{FONT}font-size:15px;line-height:22px;\">{}</td></tr>\n<tr>\n",
        links.len(),
        escape(&email.texts.question)
    ));
    for link in links {
        let label = escape(&link.label);
        html.push_str(&format!(
            "<td align=\"center\" valign=\"top\" width=\"{cell}\" style=\"width:{cell}px;padding:0 2px;\">\
             <a href=\"{url}\" target=\"_blank\" title=\"{label}\" aria-label=\"{label}\" \
             style=\"display:block;text-decoration:none;color:#6a737d;{FONT}\">\
             <span style=\"font-size:{emoji_px}px;line-height:{line}px;{EMOJI_FONT}\">{emoji}</span><br>\
             <span style=\"font-size:11px;line-height:16px;color:#6a737d;{FONT}\">{label}</span>\
             </a></td>\n",
            url = escape(&link.url),
            line = emoji_px + 8,
            emoji = escape(&link.emoji),
        ));
    }
    html.push_str("</tr>\n</table>\n");
}

/// Numbers in equal cells of one row that shrinks with the message, the end labels under the
/// two ends.
fn numbers(html: &mut String, email: &Snippet<'_>, dir: &str) {
    let links = email.links;
    let count = links.len().max(1);
    let max_width = NUMBERS_MAX_WIDTH.min(40 * count);
    // Whole percents that add up to at most 100: the last cell takes what is left.
    let share = 100 / count;
    html.push_str(&format!(
        "<!--[if mso]><table role=\"presentation\" border=\"0\" cellpadding=\"0\" cellspacing=\"0\" width=\"{max_width}\"><tr><td><![endif]-->\n\
         <table role=\"presentation\" border=\"0\" cellpadding=\"0\" cellspacing=\"0\" width=\"100%\" lang=\"{lang}\" dir=\"{dir}\" \
         style=\"border-collapse:collapse;margin:0;width:100%;max-width:{max_width}px;\">\n",
        lang = email.lang,
    ));
    html.push_str(&format!(
        "<tr><td colspan=\"{count}\" style=\"padding:0 0 8px 0;{FONT}font-size:15px;line-height:22px;\">{}</td></tr>\n<tr>\n",
        escape(&email.texts.question)
    ));
    for (index, link) in links.iter().enumerate() {
        let label = escape(&link.label);
        let width = if index + 1 == count {
            100 - share * (count - 1)
        } else {
            share
        };
        html.push_str(&format!(
            "<td align=\"center\" valign=\"top\" width=\"{width}%\" style=\"width:{width}%;padding:0 1px;\">\
             <a href=\"{url}\" target=\"_blank\" title=\"{label}\" aria-label=\"{label}\" \
             style=\"display:block;padding:8px 0;border:1px solid #c9ced6;border-radius:6px;\
             text-decoration:none;color:#1f2937;background-color:#f6f8fa;{FONT}font-size:15px;line-height:20px;font-weight:bold;\">\
             {number}</a></td>\n",
            url = escape(&link.url),
            number = escape(&link.emoji),
        ));
    }
    html.push_str("</tr>\n");
    let (low, high) = (&email.texts.low_label, &email.texts.high_label);
    if !low.is_empty() || !high.is_empty() {
        // The two ends share one cell under the whole row: a table of two, start and end.
        let (start, end) = if dir == "rtl" {
            ("right", "left")
        } else {
            ("left", "right")
        };
        html.push_str(&format!(
            "<tr><td colspan=\"{count}\" style=\"padding:6px 0 0 0;\">\
             <table role=\"presentation\" border=\"0\" cellpadding=\"0\" cellspacing=\"0\" width=\"100%\" style=\"border-collapse:collapse;width:100%;\"><tr>\
             <td align=\"{start}\" style=\"{FONT}font-size:12px;line-height:16px;color:#6a737d;\">{low}</td>\
             <td align=\"{end}\" style=\"{FONT}font-size:12px;line-height:16px;color:#6a737d;\">{high}</td>\
             </tr></table></td></tr>\n",
            low = escape(low),
            high = escape(high),
        ));
    }
    html.push_str("</table>\n<!--[if mso]></td></tr></table><![endif]-->\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(score: u8, face: &str, label: &str) -> Link {
        Link {
            score,
            emoji: face.into(),
            label: label.into(),
            url: format!("https://feedback.example.com/r/support/{score}?i=T-1&t=a=b,c=d&s=ab"),
        }
    }

    fn texts(question: &str, low: &str, high: &str) -> Texts {
        Texts {
            question: question.into(),
            labels: Vec::new(),
            low_label: low.into(),
            high_label: high.into(),
            follow_up: String::new(),
            thank_you: String::new(),
            send: String::new(),
            confirm: String::new(),
        }
    }

    /// What no email client may be asked to keep: scripts, forms, images, stylesheets, classes.
    fn assert_nothing_a_client_strips(html: &str) {
        for absent in [
            "<script", "<style", "<form", "<img", "<link", "class=", "@media",
        ] {
            assert!(!html.contains(absent), "{absent}");
        }
    }

    #[test]
    fn the_snippet_is_a_table_of_text_emoji_links_with_labels_and_nothing_an_email_client_strips() {
        let lang = Lang::english();
        let html = snippet(&Snippet {
            kind: Kind::Csat,
            lang: &lang,
            texts: &texts("How <did> we do?", "", ""),
            links: &[link(1, "😠", "Awful"), link(2, "😍", "\"Great\"")],
        });
        assert!(html.contains("How &lt;did&gt; we do?"));
        assert!(html.contains(
            "href=\"https://feedback.example.com/r/support/2?i=T-1&amp;t=a=b,c=d&amp;s=ab\""
        ));
        assert!(html.contains("aria-label=\"&quot;Great&quot;\""));
        assert!(html.contains(">Awful</span>"));
        assert!(html.contains("lang=\"en\" dir=\"ltr\""));
        assert_eq!(html.matches("<a ").count(), 2);
        assert_nothing_a_client_strips(&html);
    }

    #[test]
    fn eleven_numbers_share_one_row_that_shrinks_with_the_message_with_the_end_labels_under_it() {
        let lang = Lang::english();
        let links: Vec<Link> = (0..=10)
            .map(|n| link(n, &n.to_string(), &n.to_string()))
            .collect();
        let html = snippet(&Snippet {
            kind: Kind::Nps,
            lang: &lang,
            texts: &texts("Recommend us?", "Not likely", "Very likely"),
            links: &links,
        });
        assert_eq!(html.matches("<a ").count(), 11);
        let row = html
            .split("<tr>\n")
            .nth(1)
            .and_then(|rest| rest.split("</tr>").next())
            .expect("the row of links");
        assert_eq!(row.matches("<a ").count(), 11, "every number on one row");
        // Ten cells of 9% and the last of 10%: the row fills the table and never overflows it.
        assert_eq!(row.matches("width=\"9%\"").count(), 10);
        assert_eq!(row.matches("width=\"10%\"").count(), 1);
        assert!(html.contains("width:100%;max-width:440px;"));
        assert!(
            html.contains("<!--[if mso]><table"),
            "Outlook gets a fixed width"
        );
        assert!(html.contains(">Not likely</td>") && html.contains(">Very likely</td>"));
        assert!(html.contains(">0</a>") && html.contains(">10</a>"));
        assert_nothing_a_client_strips(&html);
    }

    #[test]
    fn a_right_to_left_email_says_so_and_puts_the_low_end_on_the_right() {
        let lang = Lang::parse("ar").unwrap();
        let links: Vec<Link> = (1..=7).map(|n| link(n, &n.to_string(), "x")).collect();
        let html = snippet(&Snippet {
            kind: Kind::Ces,
            lang: &lang,
            texts: &texts("ما مدى سهولة الحصول على المساعدة؟", "صعب جدا", "سهل جدا"),
            links: &links,
        });
        assert!(html.contains("lang=\"ar\" dir=\"rtl\""));
        assert!(html.contains("<td align=\"right\" style=\"font-family:Arial,Helvetica,sans-serif;font-size:12px;line-height:16px;color:#6a737d;\">صعب جدا</td>"));
        assert!(
            html.contains("max-width:280px;"),
            "seven buttons of 40 px at most"
        );
    }
}
