//! "What happened and why": the selected (or latest) step in plain words, with the RFC rule it follows.

use super::CardProps;
use crate::i18n::{Key, Lang, t};
use yew::prelude::*;

#[component]
pub fn ExplainCard(p: &CardProps) -> Html {
    let lang = p.lang;
    let m = p.lab.get();
    let at_end = m.at_end();
    html! {
        <section class="card explain" data-testid="explain">
            <h2>{t(lang, Key::Why)}</h2>
            { match m.selected_entry().or(m.visible().last()) {
                Some(e) => html! {
                    <>
                        <p class="explanation">{ if lang == Lang::Zh { e.text.zh.clone() } else { e.text.en.clone() } }</p>
                        if let Some(r) = &e.rfc { <p class="rfc">{r.clone()}</p> }
                    </>
                },
                None => html! { <p class="muted">{t(lang, Key::Keys)}</p> },
            } }
            if at_end && m.shown > 0 { <p class="muted">{t(lang, Key::End)}</p> }
        </section>
    }
}
