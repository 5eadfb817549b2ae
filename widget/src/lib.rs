//! The Pulsetap widget: one tap on an emoji or a number records a rating.
//!
//! The loader (`loader/pulsetap.js`) fetches the survey's configuration and calls [`mount`] once
//! per widget. This crate draws the widget inside the host element's shadow root and builds
//! every request body from the wire types; the loader delivers them (outbox, retries). Nothing
//! here throws into the host page.

mod codec;
mod options;
pub mod scale;
mod widget;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{Element, HtmlElement, ShadowRootInit, ShadowRootMode};

pub use options::Options;
pub use widget::Widget;

/// The widget's whole stylesheet, placed inside each shadow root.
const CSS: &str = include_str!("widget.css");

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// Mounts a widget into a shadow root of `host`.
///
/// `options` is the loader's plain object of strings (see [`Options`]), `config` the parsed
/// `GET /v1/surveys/{survey}/widget` answer (`WidgetConfig`), and `send(key, path, body)` the
/// loader's outbox. A host that already has a shadow root is left alone, so mounting the same
/// element twice shows one widget. Tags that are not tag text (`agent=alice,channel=chat`)
/// mount nothing: a rating without them, or with some dropped, would not match its signature
/// or its interaction.
#[wasm_bindgen]
pub fn mount(host: Element, options: JsValue, config: JsValue, send: js_sys::Function) {
    quiet_panics();
    let (Some(options), Some(config)) = (Options::from_js(&options), codec::from_js(config)) else {
        return;
    };
    if pulsetap_wire::tags::parse(&options.tags).is_err() {
        warn("data-tags must look like agent=alice,channel=chat");
        return;
    }
    let Some(container) = shadow_container(&host) else {
        return;
    };
    let root = container.clone();
    mount_to(
        root,
        move || view! { <Widget container options config send /> },
    )
    .forget();
}

/// A panic must not print an error on the host page's console (the trap that follows it is
/// caught by the loader). The message is not formatted: that would link the formatting code
/// for every panic message in the dependency tree.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|_| warn("internal error")));
}

fn warn(message: &str) {
    web_sys::console::warn_2(&JsValue::from_str("pulsetap:"), &JsValue::from_str(message));
}

fn shadow_container(host: &Element) -> Option<HtmlElement> {
    let root = host
        .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
        .ok()?;
    let document = host.owner_document()?;
    let style = document.create_element("style").ok()?;
    style.set_text_content(Some(CSS));
    root.append_child(&style).ok()?;
    let container: HtmlElement = document.create_element("div").ok()?.dyn_into().ok()?;
    root.append_child(&container).ok()?;
    Some(container)
}
