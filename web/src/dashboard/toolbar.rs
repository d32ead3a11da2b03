//! The dashboard's toolbar: connection status, which daemon (or which watched link), the admin token, the last
//! action's outcome.

use crate::i18n::{Key, Lang, t};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub connected: bool,
    /// The bridge's `ws://…/ws` URL in use.
    pub url: String,
    pub on_url: Callback<String>,
    pub on_token: Callback<String>,
    /// The last sequence number applied.
    pub seq: u64,
    /// The outcome of the last release or reservation: (succeeded, message).
    pub notice: Option<(bool, String)>,
    /// The interface, when the page is served by `dhcplab watch` rather than a daemon.
    pub watching: Option<String>,
}

#[component]
pub fn Toolbar(p: &Props) -> Html {
    let lang = p.lang;
    // The URL as typed: a redraw never resets what the user is typing; it is used on change (Enter, blur).
    let draft = use_state(|| p.url.clone());
    let on_input = {
        let draft = draft.clone();
        Callback::from(move |e: InputEvent| draft.set(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()))
    };
    let on_change = {
        let on_url = p.on_url.clone();
        Callback::from(move |e: Event| on_url.emit(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()))
    };
    let on_token = {
        let on_token = p.on_token.clone();
        Callback::from(move |e: InputEvent| {
            on_token.emit(e.target_unchecked_into::<web_sys::HtmlInputElement>().value())
        })
    };
    let (state, label) = if p.connected { ("connected", Key::Connected) } else { ("disconnected", Key::Disconnected) };
    html! {
        <div class="toolbar">
            <span data-testid="ws-status" data-state={state} class={classes!("status", if p.connected { "up" } else { "down" })}>
                { t(lang, label) }
            </span>
            if let Some(iface) = &p.watching {
                <span data-testid="watching" class="watching" title={t(lang, Key::WatchingHint)}>
                    {t(lang, Key::Watching)}{" "}<b>{iface.clone()}</b>{" · "}{t(lang, Key::ReadOnly)}
                </span>
            }
            <label>{t(lang, if p.watching.is_some() { Key::Watcher } else { Key::Daemon })}{" "}
                <input data-testid="ws-url" size="28" value={(*draft).clone()} oninput={on_input} onchange={on_change} /></label>
            // A watched link has nothing to administer.
            if p.watching.is_none() {
                <label>{t(lang, Key::Token)}{" "}<input data-testid="admin-token" type="password" size="16" oninput={on_token} /></label>
            }
            <span class="muted" title={t(p.lang, Key::SeqHint)}>{format!("{} {}", t(p.lang, Key::Seq), p.seq)}</span>
            if let Some((ok, n)) = &p.notice {
                <span data-testid="notice" class={classes!("notice", ok.then_some("ok"))}>{n.clone()}</span>
            }
        </div>
    }
}
