//! The lease events as they happen, newest first.

use crate::i18n::{Key, Lang, t};
use dhcplab_engine::LeaseEvent;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    /// Newest first.
    pub events: Vec<LeaseEvent>,
}

#[component]
pub fn EventFeed(p: &Props) -> Html {
    html! {
        <section class="card">
            <h2>{t(p.lang, Key::Feed)}</h2>
            if p.events.is_empty() { <p class="muted">{t(p.lang, Key::NoLeaseEvents)}</p> }
            <ul class="feed" data-testid="event-feed">
                { for p.events.iter().map(|e| html! {
                    <li data-kind={e.kind.as_str()}>
                        <span class="muted">{crate::i18n::lease_event(p.lang, e.kind)}</span>{" "}{e.ip.to_string()}{" "}{e.hw.to_string()}
                        // Client-sent text is rendered as text, never as markup.
                        if let Some(h) = &e.hostname { {" "}<i>{h.to_string()}</i> }
                    </li>
                }) }
            </ul>
        </section>
    }
}
