//! The HTML snippet pasted into an email template or signature.
//!
//! Written for the strictest renderers: Outlook for Windows lays HTML out with Word, and Gmail
//! drops `<style>` blocks in many views. So: a presentation table, inline styles only, no
//! script, no form, no image (the emoji are text, readable with images off), and each emoji's
//! label as visible text under it, which screen readers read too. Text colour is left to the
//! mail client where it can be, so dark modes keep it readable.

use super::html::escape;
use serde::{Deserialize, Serialize};

/// One emoji of an email: its score, what it shows, and where it leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Link {
    pub score: u8,
    pub emoji: String,
    pub label: String,
    pub url: String,
}

/// A table with the question above one cell per emoji link.
pub fn snippet(question: &str, links: &[Link]) -> String {
    // Ten emoji at the five-emoji size would not fit a phone's width.
    let (cell, emoji_px) = if links.len() <= 5 { (64, 32) } else { (44, 24) };
    let font = "font-family:Arial,Helvetica,sans-serif;";
    let emoji_font =
        "font-family:'Apple Color Emoji','Segoe UI Emoji','Noto Color Emoji',Arial,sans-serif;";
    let mut html = String::with_capacity(600 + links.len() * 700);
    html.push_str("<!-- Pulsetap rating links: each records only when the page it opens is shown in a browser -->\n");
    html.push_str(
        "<table role=\"presentation\" border=\"0\" cellpadding=\"0\" cellspacing=\"0\" \
         style=\"border-collapse:collapse;margin:0;\">\n",
    );
    html.push_str(&format!(
        "<tr><td colspan=\"{}\" style=\"padding:0 0 8px 0;{font}font-size:15px;line-height:22px;\">{}</td></tr>\n<tr>\n",
        links.len(),
        escape(question)
    ));
    for link in links {
        let label = escape(&link.label);
        html.push_str(&format!(
            "<td align=\"center\" valign=\"top\" width=\"{cell}\" style=\"width:{cell}px;padding:0 2px;\">\
             <a href=\"{url}\" target=\"_blank\" title=\"{label}\" aria-label=\"{label}\" \
             style=\"display:block;text-decoration:none;color:#6a737d;{font}\">\
             <span style=\"font-size:{emoji_px}px;line-height:{line}px;{emoji_font}\">{emoji}</span><br>\
             <span style=\"font-size:11px;line-height:16px;color:#6a737d;{font}\">{label}</span>\
             </a></td>\n",
            url = escape(&link.url),
            line = emoji_px + 8,
            emoji = escape(&link.emoji),
        ));
    }
    html.push_str("</tr>\n</table>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(score: u8, label: &str) -> Link {
        Link {
            score,
            emoji: "😍".into(),
            label: label.into(),
            url: format!("https://feedback.example.com/r/support/{score}?i=T-1&t=a=b,c=d&s=ab"),
        }
    }

    #[test]
    fn the_snippet_is_a_table_of_text_emoji_links_with_labels_and_nothing_an_email_client_strips() {
        let html = snippet(
            "How <did> we do?",
            &[link(1, "Awful"), link(2, "\"Great\"")],
        );
        assert!(html.contains("How &lt;did&gt; we do?"));
        assert!(html.contains(
            "href=\"https://feedback.example.com/r/support/2?i=T-1&amp;t=a=b,c=d&amp;s=ab\""
        ));
        assert!(html.contains("aria-label=\"&quot;Great&quot;\""));
        assert!(html.contains(">Awful</span>"));
        assert_eq!(html.matches("<a ").count(), 2);
        for absent in ["<script", "<style", "<form", "<img", "<link", "class="] {
            assert!(!html.contains(absent), "{absent}");
        }
    }
}
