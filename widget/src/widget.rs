//! The rating card: question, radio group (emoji, or numbers with end labels), follow-up
//! comment and thank-you.
//!
//! Written for size as much as for clarity: every distinct reactive closure and signal type
//! costs wasm, so the state is one small `Copy` struct in one signal, visibility is driven by
//! classes on the root (the stylesheet hides what is not shown), and the comment is read from
//! the textarea when sent instead of being mirrored into a signal on every keystroke.

use std::cell::RefCell;

use leptos::prelude::*;
use pulsetap_wire::{RecordImpression, RecordResponse, WidgetConfig, tags};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use web_sys::{Element, Event, HtmlElement, HtmlTextAreaElement, KeyboardEvent};

use crate::{codec, options::Options, scale};

/// Everything that changes after the widget appears.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct State {
    /// The chosen score, `None` before the first tap (an NPS score can be 0).
    score: Option<u8>,
    /// Whether the card shows (always, for an inline widget).
    open: bool,
    /// Whether a comment has been sent (the thank-you replaces the follow-up).
    sent: bool,
    /// Whether the impression has been sent.
    seen: bool,
}

/// A rating widget, inline or as a floating corner tab that opens the card.
#[component]
pub fn Widget(
    /// The element the widget is mounted in: its one event listener goes there.
    container: HtmlElement,
    /// Survey, response id, interaction, tags and presentation, from the loader.
    options: Options,
    /// What the survey shows: question, scale, labels and texts, in one language.
    config: WidgetConfig,
    /// Delivers a body: `send(key, path, body)`, where a newer body under the same key replaces
    /// one not yet delivered (the loader's outbox).
    send: js_sys::Function,
) -> impl IntoView {
    let WidgetConfig {
        kind,
        lang,
        question,
        scale: steps,
        labels,
        first_score,
        low_label,
        high_label,
        follow_up,
        thank_you,
        send: send_label,
        theme,
        satisfied_min,
        ..
    } = config;
    let floating = options.floating;
    // Every body says which language the texts were in: the one the collector chose.
    let texts_lang = lang.clone();
    // The collector names the language of its texts; one that names none leaves the page's
    // `data-lang` standing.
    let lang = lang.or_else(|| options.lang.clone());
    let rtl = scale::right_to_left(lang.as_deref(), options.rtl);
    let theme = match options.theme.as_deref().unwrap_or(&theme) {
        "light" => "light",
        "dark" => "dark",
        _ => "auto",
    };
    let count = steps.len();
    let preset = options
        .score
        .filter(|&s| scale::index_of(first_score, count, s).is_some());
    // A preset score (an email link's) shows as chosen but is not sent: only a person's tap,
    // or a comment they send, records it, so a link scanner that runs the page records nothing.
    let state = RwSignal::new(State {
        score: preset,
        open: !floating || options.open,
        ..State::default()
    });
    let sender = Sender::new(&options, send, preset.unwrap_or_default(), texts_lang);
    sender.impress_if_open(state);
    listen(Input {
        container,
        state,
        sender,
        first_score,
        count,
        rtl,
        floating,
    });

    // Numbered buttons sit in a grid of two tracks per button, so that a shorter second row
    // can move half a button inwards; emoji share one row whatever their number.
    let numbered = scale::numbered(&kind);
    let row_class = if numbered { "row num" } else { "row" };
    let columns = if numbered {
        2 * scale::per_row(count)
    } else {
        count
    };
    // The corner tab's icon: the happiest emoji, or a speech balloon for a scale of numbers.
    let icon = if numbered {
        Some("💬".to_owned())
    } else {
        steps.last().cloned()
    };
    let buttons = steps
        .into_iter()
        .enumerate()
        .map(|(index, shown)| {
            let value = scale::score_of(first_score, index);
            let label = labels.get(index).cloned().unwrap_or_else(|| shown.clone());
            let satisfied = value >= satisfied_min;
            view! {
                <button
                    type="button"
                    role="radio"
                    class=if numbered { "n" } else { "e" }
                    class:o=numbered && scale::shifted(index, count)
                    class:up=satisfied
                    value=value.to_string()
                    aria-label=label
                    aria-checked=move || bool_attr(state.get().score == Some(value))
                    tabindex=move || {
                        if state.get().score.unwrap_or(first_score) == value { "0" } else { "-1" }
                    }
                >
                    {shown}
                </button>
            }
        })
        .collect_view();
    // Words under the two ends of a numbered scale ("Not likely" … "Very likely").
    let ends = (!low_label.is_empty() || !high_label.is_empty()).then(|| {
        view! {
            <div class="ends">
                <span>{low_label}</span>
                <span>{high_label}</span>
            </div>
        }
    });

    let tab = floating.then(|| {
        view! {
            <button
                type="button"
                id="t"
                class="tab"
                data-e=icon
                aria-label=question.clone()
                aria-controls="card"
                aria-expanded=move || bool_attr(state.get().open)
            >
                {question.clone()}
            </button>
        }
    });

    view! {
        <div
            class=move || root_class(state.get(), floating)
            data-theme=theme
            dir=if rtl { "rtl" } else { "ltr" }
            lang=lang
        >
            {tab}
            <div id="card" class="card">
                <p id="q" class="q">{question}</p>
                <div class="sc">
                    <div
                        role="radiogroup"
                        aria-labelledby="q"
                        class=row_class
                        style=["--c:", &columns.to_string()].concat()
                    >
                        {buttons}
                    </div>
                    {ends}
                </div>
                <div class="fu">
                    <label for="c">{follow_up}</label>
                    <textarea id="c" rows="2" maxlength="1000"></textarea>
                    <button type="button" id="s" class="send" aria-label=send_label>
                        <svg viewBox="0 0 24 24" aria-hidden="true">
                            <path d="M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z"></path>
                        </svg>
                    </button>
                </div>
                <p class="ty" role="status">{move || state.get().sent.then(|| thank_you.clone())}</p>
            </div>
        </div>
    }
}

/// What the widget's one event listener needs.
struct Input {
    /// The element the listener is on, around the whole widget.
    container: HtmlElement,
    state: RwSignal<State>,
    sender: Sender,
    first_score: u8,
    count: usize,
    rtl: bool,
    floating: bool,
}

/// Handles every click and key press in the widget with one listener on its container.
///
/// One wasm-bindgen closure instead of Leptos's `on:` handlers: those wrap each handler in a
/// `SendWrapper`, which links std's thread registry (and a second allocator for it), and each
/// handler is a generic instance of its own. Measured with `scripts/build-widget.sh`: the wasm
/// went from 38,206 to 31,587 bytes of brotli.
fn listen(input: Input) {
    let container = input.container.clone();
    let handler = Closure::<dyn Fn(Event)>::new(move |event: Event| input.handle(&event));
    for kind in ["click", "keydown"] {
        let _ = container.add_event_listener_with_callback(kind, handler.as_ref().unchecked_ref());
    }
    // The widget lives as long as the page (a replaced floating widget's container is gone
    // from the page, and its listener with it).
    handler.forget();
}

impl Input {
    fn handle(&self, event: &Event) {
        let state = self.state;
        let key = event.dyn_ref::<KeyboardEvent>().map(KeyboardEvent::key);
        if self.floating && key.as_deref() == Some("Escape") {
            // Wherever the focus was in the card, the card goes, and the focus returns to the tab.
            state.update(|s| s.open = false);
            let tab = self
                .container
                .query_selector("#t")
                .ok()
                .flatten()
                .and_then(|tab| tab.dyn_into::<HtmlElement>().ok());
            if let Some(tab) = tab {
                let _ = tab.focus();
            }
            return;
        }
        let Some(button) = event
            .target()
            .and_then(|target| target.dyn_into::<Element>().ok())
            .and_then(|target| target.closest("button").ok().flatten())
        else {
            return;
        };
        // Only the radios carry a value: the score they record.
        let score: Option<u8> = button.get_attribute("value").and_then(|v| v.parse().ok());
        match (key, score) {
            (Some(key), Some(score)) => self.radio_key(event, &button, &key, score),
            (Some(_), None) => {}
            (None, Some(score)) => self.sender.choose(state, score),
            (None, None) if button.id() == "t" => {
                state.update(|s| s.open = !s.open);
                self.sender.impress_if_open(state);
            }
            (None, None) if button.id() == "s" => self.sender.send_comment(state, &button),
            (None, None) => {}
        }
    }

    /// Arrow keys move the choice (and the focus, roving tabindex), Enter and Space choose.
    fn radio_key(&self, event: &Event, radio: &Element, key: &str, score: u8) {
        let Some(step) = key_step(key, self.rtl) else {
            return;
        };
        event.prevent_default();
        let index = usize::from(score.saturating_sub(self.first_score));
        let target = wrap(index, step, self.count);
        self.sender
            .choose(self.state, scale::score_of(self.first_score, target));
        if step != 0 {
            let sibling = radio
                .parent_element()
                .and_then(|group| group.children().item(u32::try_from(target).ok()?))
                .and_then(|sibling| sibling.dyn_into::<HtmlElement>().ok());
            if let Some(sibling) = sibling {
                let _ = sibling.focus();
            }
        }
    }
}

/// The root's classes, which the stylesheet turns into what shows: `open` (the card),
/// `picked` (the follow-up, dimmed other emoji), `sent` (the thank-you instead of the follow-up).
fn root_class(state: State, floating: bool) -> String {
    let mut class = String::from("pt");
    for (on, name) in [
        (floating, " float"),
        (state.open, " open"),
        (state.score.is_some(), " picked"),
        (state.sent, " sent"),
    ] {
        if on {
            class.push_str(name);
        }
    }
    class
}

/// Everything a widget sends, under its one `response_id`.
struct Sender {
    send: js_sys::Function,
    /// The response as last sent: a tap changes its score, a comment its comment.
    response: RefCell<RecordResponse>,
    impression: RecordImpression,
}

impl Sender {
    /// A sender whose response starts at `score`, sent only once a person chooses or comments;
    /// every body names `lang`, the language of the texts shown.
    fn new(options: &Options, send: js_sys::Function, score: u8, lang: Option<String>) -> Self {
        // Tags are parsed twice rather than cloned: cloning a BTreeMap links more code.
        let impression = RecordImpression {
            survey: options.survey.clone(),
            response_id: options.response_id.clone(),
            interaction: options.interaction.clone(),
            sig: options.sig.clone(),
            tags: tags::parse(&options.tags).unwrap_or_default(),
            lang: lang.clone(),
        };
        let response = RecordResponse {
            survey: options.survey.clone(),
            response_id: options.response_id.clone(),
            score,
            interaction: options.interaction.clone(),
            sig: options.sig.clone(),
            tags: tags::parse(&options.tags).unwrap_or_default(),
            comment: None,
            lang,
        };
        Self {
            send,
            response: RefCell::new(response),
            impression,
        }
    }

    /// A tap (or arrow key) records at once. A comment sent earlier stays in the body, so
    /// changing the emoji afterwards does not erase it.
    fn choose(&self, state: RwSignal<State>, score: u8) {
        state.update(|s| s.score = Some(score));
        self.response.borrow_mut().score = score;
        self.respond();
    }

    /// Sends the comment typed in the textarea before the send `button`.
    fn send_comment(&self, state: RwSignal<State>, button: &Element) {
        let text = button
            .previous_element_sibling()
            .and_then(|area| area.dyn_into::<HtmlTextAreaElement>().ok())
            .map(|area| area.value().trim().to_owned())
            .unwrap_or_default();
        if state.get_untracked().score.is_some() && !text.is_empty() {
            state.update(|s| s.sent = true);
            self.response.borrow_mut().comment = Some(text);
            self.respond();
        }
    }

    fn impress_if_open(&self, state: RwSignal<State>) {
        let now = state.get_untracked();
        if now.open && !now.seen {
            state.update(|s| s.seen = true);
            self.post("i:", "v1/impressions", codec::to_json(&self.impression));
        }
    }

    fn respond(&self) {
        self.post(
            "r:",
            "v1/responses",
            codec::to_json(&*self.response.borrow()),
        );
    }

    fn post(&self, kind: &str, path: &str, json: Option<String>) {
        if let Some(json) = json {
            let key = [kind, &self.impression.response_id].concat();
            let _ = self
                .send
                .call3(&JsValue::NULL, &key.into(), &path.into(), &json.into());
        }
    }
}

fn bool_attr(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// How a key moves the choice in a radio group: arrows step (Left and Right follow the reading
/// direction), Enter and Space choose the focused emoji (step 0), anything else is not ours.
pub fn key_step(key: &str, rtl: bool) -> Option<isize> {
    let forward = if rtl { -1 } else { 1 };
    match key {
        "ArrowRight" => Some(forward),
        "ArrowLeft" => Some(-forward),
        "ArrowDown" => Some(1),
        "ArrowUp" => Some(-1),
        "Enter" | " " => Some(0),
        _ => None,
    }
}

/// The index `step` places from `index` in a group of `count`, wrapping at both ends.
pub fn wrap(index: usize, step: isize, count: usize) -> usize {
    index
        .checked_add_signed(step)
        .map_or(count.saturating_sub(1), |i| if i >= count { 0 } else { i })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_follow_the_reading_direction_and_enter_or_space_choose_in_place() {
        assert_eq!(key_step("ArrowRight", false), Some(1));
        assert_eq!(key_step("ArrowRight", true), Some(-1));
        assert_eq!(key_step("ArrowLeft", true), Some(1));
        assert_eq!(key_step("ArrowDown", true), Some(1));
        assert_eq!(key_step("Enter", false), Some(0));
        assert_eq!(key_step(" ", false), Some(0));
        assert_eq!(key_step("Tab", false), None);
    }

    #[test]
    fn stepping_wraps_around_both_ends_of_the_group() {
        assert_eq!(wrap(4, 1, 5), 0);
        assert_eq!(wrap(0, -1, 5), 4);
        assert_eq!(wrap(2, 1, 5), 3);
        assert_eq!(wrap(2, 0, 5), 2);
    }

    #[test]
    fn the_root_class_names_every_visible_part() {
        let state = State {
            score: Some(0),
            open: true,
            sent: false,
            seen: true,
        };
        assert_eq!(root_class(state, true), "pt float open picked");
        assert_eq!(root_class(State::default(), false), "pt");
    }
}
