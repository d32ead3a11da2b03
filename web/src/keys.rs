//! Keys that drive a view (space, arrows, Home, End) wherever the focus is, except in a form field.

use gloo_events::EventListener;
use wasm_bindgen::JsCast;
use yew::Callback;

/// Listens for `keys` on the document and hands them to `on_key`; dropping the listener stops it.
pub fn listen(keys: &'static [&'static str], on_key: Callback<String>) -> Option<EventListener> {
    let doc = web_sys::window()?.document()?;
    // Not passive: the arrow keys and space must not scroll the page.
    let opts = gloo_events::EventListenerOptions::enable_prevent_default();
    Some(EventListener::new_with_options(&doc, "keydown", opts, move |e| {
        let Some(k) = e.dyn_ref::<web_sys::KeyboardEvent>() else { return };
        // Fields that take these keys themselves; a file input does not (after a capture is picked with
        // it, the arrows walk the capture).
        let in_field = k.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).is_some_and(|el| {
            matches!(el.tag_name().as_str(), "SELECT" | "TEXTAREA")
                || el.tag_name() == "INPUT" && el.get_attribute("type").as_deref() != Some("file")
        });
        if !in_field && keys.contains(&k.key().as_str()) {
            k.prevent_default();
            on_key.emit(k.key());
        }
    }))
}
