//! Escaping for HTML text and attribute values.

/// Escapes `text` for use between tags or inside a quoted attribute value. Every value put into
/// the snippet or a page goes through this, whoever wrote it: survey texts come from the
/// configuration, but interactions and tags come from links anyone can type.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_quotes_become_entities_and_other_text_is_kept() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>Tom & Jerry</a> 😍"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt; 😍"
        );
    }
}
