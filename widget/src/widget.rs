//! The rating card: question, emoji radio group, follow-up comment and thank-you.
//!
//! Written for size as much as for clarity: every distinct reactive closure and signal type
//! costs wasm, so the state is one small `Copy` struct in one signal, visibility is driven by
//! classes on the root (the stylesheet hides what is not shown), and the comment is read from
//! the textarea when sent instead of being mirrored into a signal on every keystroke.

use std::{cell::RefCell, rc::Rc};

use leptos::{ev::MouseEvent, prelude::*};
use pulsetap_wire::{RecordImpression, RecordResponse, WidgetConfig};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlElement, HtmlTextAreaElement, KeyboardEvent};

use crate::{
    codec,
    options::{Options, parse_tags},
};

/// Everything that changes after the widget appears.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct State {
    /// The chosen score, `0` before the first tap.
    score: u8,
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
    /// Survey, response id, interaction, tags and presentation, from the loader.
    options: Options,
    /// What the survey shows: question, emoji, labels and texts.
    config: WidgetConfig,
    /// Delivers a body: `send(key, path, body)`, where a newer body under the same key replaces
    /// one not yet delivered (the loader's outbox).
    send: js_sys::Function,
) -> impl IntoView {
    let WidgetConfig {
        question,
        scale,
        labels,
        follow_up,
        thank_you,
        theme,
        satisfied_min,
        ..
    } = config;
    let floating = options.floating;
    let rtl = options.rtl;
    let lang = options.lang.clone();
    let theme = match options.theme.as_deref().unwrap_or(&theme) {
        "light" => "light",
        "dark" => "dark",
        _ => "auto",
    };
    // A preset score (an email link's) shows as chosen but is not sent: only a person's tap,
    // or a comment they send, records it, so a link scanner that runs the page records nothing.
    let preset = options
        .score
        .filter(|&s| s >= 1 && usize::from(s) <= scale.len())
        .unwrap_or(0);
    let state = RwSignal::new(State {
        score: preset,
        open: !floating || options.open,
        ..State::default()
    });
    let sender = Rc::new(Sender::new(&options, send, preset));

    sender.impress_if_open(state);

    let count = scale.len();
    let best = scale.last().cloned();
    let buttons = scale
        .into_iter()
        .enumerate()
        .map(|(index, emoji)| {
            let value = u8::try_from(index + 1).unwrap_or(u8::MAX);
            let label = labels.get(index).cloned().unwrap_or_else(|| emoji.clone());
            let satisfied = value >= satisfied_min;
            let on_click = Rc::clone(&sender);
            let on_key = Rc::clone(&sender);
            view! {
                <button
                    type="button"
                    role="radio"
                    class="e"
                    class:up=satisfied
                    aria-label=label
                    aria-checked=move || bool_attr(state.get().score == value)
                    tabindex=move || if state.get().score.max(1) == value { "0" } else { "-1" }
                    on:click=move |_| on_click.choose(state, value)
                    on:keydown=move |event: KeyboardEvent| {
                        let Some(step) = key_step(&event.key(), rtl) else { return };
                        event.prevent_default();
                        let target = wrap(index, step, count);
                        on_key.choose(state, u8::try_from(target + 1).unwrap_or(u8::MAX));
                        if step != 0 {
                            focus_sibling(&event, target);
                        }
                    }
                >
                    {emoji}
                </button>
            }
        })
        .collect_view();

    let on_tab = Rc::clone(&sender);
    let tab = floating.then(|| {
        view! {
            <button
                type="button"
                class="tab"
                data-e=best
                aria-label=question.clone()
                aria-controls="card"
                aria-expanded=move || bool_attr(state.get().open)
                on:click=move |_| {
                    state.update(|s| s.open = !s.open);
                    on_tab.impress_if_open(state);
                }
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
            <div
                id="card"
                class="card"
                on:keydown=move |event: KeyboardEvent| {
                    if floating && event.key() == "Escape" {
                        state.update(|s| s.open = false);
                        // The focus was inside the card that just disappeared.
                        let tab = event
                            .current_target()
                            .and_then(|card| card.dyn_into::<Element>().ok()?.previous_element_sibling())
                            .and_then(|tab| tab.dyn_into::<HtmlElement>().ok());
                        if let Some(tab) = tab {
                            let _ = tab.focus();
                        }
                    }
                }
            >
                <p id="q" class="q">{question}</p>
                <div role="radiogroup" aria-labelledby="q" class="row">{buttons}</div>
                <div class="fu">
                    <label for="c">{follow_up}</label>
                    <textarea id="c" rows="2" maxlength="1000"></textarea>
                    <button
                        type="button"
                        class="send"
                        aria-label="Send"
                        on:click=move |event: MouseEvent| sender.send_comment(state, &event)
                    >
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

/// The root's classes, which the stylesheet turns into what shows: `open` (the card),
/// `picked` (the follow-up, dimmed other emoji), `sent` (the thank-you instead of the follow-up).
fn root_class(state: State, floating: bool) -> String {
    let mut class = String::from("pt");
    for (on, name) in [
        (floating, " float"),
        (state.open, " open"),
        (state.score > 0, " picked"),
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
    /// A sender whose response starts at `score` (0: none chosen yet).
    fn new(options: &Options, send: js_sys::Function, score: u8) -> Self {
        // Tags are parsed twice rather than cloned: cloning a BTreeMap links more code.
        let impression = RecordImpression {
            survey: options.survey.clone(),
            response_id: options.response_id.clone(),
            interaction: options.interaction.clone(),
            sig: options.sig.clone(),
            tags: parse_tags(&options.tags),
        };
        let response = RecordResponse {
            survey: options.survey.clone(),
            response_id: options.response_id.clone(),
            score,
            interaction: options.interaction.clone(),
            sig: options.sig.clone(),
            tags: parse_tags(&options.tags),
            comment: None,
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
        state.update(|s| s.score = score);
        self.response.borrow_mut().score = score;
        self.respond();
    }

    fn send_comment(&self, state: RwSignal<State>, event: &MouseEvent) {
        let text = event
            .current_target()
            .and_then(|button| {
                button
                    .dyn_into::<Element>()
                    .ok()?
                    .previous_element_sibling()
            })
            .and_then(|area| area.dyn_into::<HtmlTextAreaElement>().ok())
            .map(|area| area.value().trim().to_owned())
            .unwrap_or_default();
        if state.get_untracked().score > 0 && !text.is_empty() {
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

/// Roving tabindex: the newly chosen radio takes the focus from the one the key was pressed on.
fn focus_sibling(event: &KeyboardEvent, index: usize) {
    let sibling = event
        .current_target()
        .and_then(|target| target.dyn_into::<Element>().ok())
        .and_then(|radio| radio.parent_element())
        .and_then(|group| group.children().item(u32::try_from(index).ok()?))
        .and_then(|sibling| sibling.dyn_into::<HtmlElement>().ok());
    if let Some(sibling) = sibling {
        let _ = sibling.focus();
    }
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
            score: 3,
            open: true,
            sent: false,
            seen: true,
        };
        assert_eq!(root_class(state, true), "pt float open picked");
        assert_eq!(root_class(State::default(), false), "pt");
    }
}
