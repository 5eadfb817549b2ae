//! The options of one mount, as the loader hands them over.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// What one widget shows and sends.
///
/// The loader merges the script tag's `data-*` defaults, the element's `data-*` attributes and
/// the options of `pulsetap.mount`/`pulsetap.open` into one plain object of strings, so the
/// precedence rules live in one place (the loader) and this side only reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub survey: String,
    /// Made by the loader: a fresh UUID, or the one remembered for a rated interaction.
    pub response_id: String,
    pub interaction: Option<String>,
    pub sig: Option<String>,
    /// `key=value,…`, checked by [`crate::mount`] and parsed with `pulsetap_wire::tags` where a
    /// body needs it.
    pub tags: String,
    /// `data-lang`: the language asked for, used when the collector's answer names none.
    pub lang: Option<String>,
    /// `light`, `dark` or `auto`; `None` defers to the survey's configured theme.
    pub theme: Option<String>,
    /// Whether the page around the widget reads right to left (`dir`), which decides when the
    /// texts' language is unknown.
    pub rtl: bool,
    /// A score chosen before the widget appeared (an email link): shown as chosen, and sent
    /// only once a person taps (that emoji or another) or sends a comment, so a link scanner
    /// that runs the page records nothing.
    pub score: Option<u8>,
    /// A corner tab that opens the card, instead of a card inline in the page.
    pub floating: bool,
    /// Whether a floating widget starts with its card open (`pulsetap.open`).
    pub open: bool,
}

impl Options {
    /// Reads the loader's object; `None` without a survey or a response id, since such a
    /// widget could record nothing.
    pub fn from_js(object: &JsValue) -> Option<Self> {
        let text = |key: &str| {
            Reflect::get(object, &JsValue::from_str(key))
                .ok()
                .and_then(|v| v.as_string())
                .filter(|v| !v.is_empty())
        };
        let flag =
            |key: &str| Reflect::get(object, &JsValue::from_str(key)).is_ok_and(|v| v.is_truthy());
        Some(Self {
            survey: text("survey")?,
            response_id: text("response_id")?,
            interaction: text("interaction"),
            sig: text("sig"),
            tags: text("tags").unwrap_or_default(),
            lang: text("lang"),
            theme: text("theme"),
            rtl: text("dir").is_some_and(|d| d.eq_ignore_ascii_case("rtl")),
            score: text("score").and_then(|s| s.trim().parse().ok()),
            floating: flag("floating"),
            open: flag("open"),
        })
    }
}
