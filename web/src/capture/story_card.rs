//! "What happened and why" for the selected packet of a capture: the narration, the client state it
//! shows, the RFC rule, what is unusual about it, and how its exchange ended.

use super::CaptureProps;
use crate::i18n::{Key, Lang, t};
use dhcplab_engine::text::Text;
use yew::prelude::*;

fn pick(lang: Lang, text: &Text) -> String {
    if lang == Lang::Zh { text.zh.clone() } else { text.en.clone() }
}

#[component]
pub fn StoryCard(p: &CaptureProps) -> Html {
    let lang = p.lang;
    let m = p.capture.get();
    let Some(pk) = m.selected_packet() else {
        return html! { <section class="card explain" data-testid="capture-story"><p class="muted">{t(lang, Key::NoPackets)}</p></section> };
    };
    let e = &pk.event;
    html! {
        <section class="card explain" data-testid="capture-story" aria-live="polite">
            <h2>{t(lang, Key::Why)}</h2>
            <p class="frame-title">{format!("{} {} · {}", t(lang, Key::FrameNo), pk.number, e.packet.summary.msg)}</p>
            <p class="explanation" data-testid="capture-narration">{pick(lang, &e.text)}</p>
            if let Some(st) = pk.state {
                <p data-testid="capture-state"><b>{t(lang, Key::ClientState)}{": "}</b>{st.to_string()}</p>
            }
            if let Some(r) = &e.rfc { <p class="rfc">{r.clone()}</p> }
            if !pk.findings.is_empty() {
                <ul class="findings">
                    { for pk.findings.iter().map(|f| {
                        let (mark, word) = if f.is_problem() { ("⚠", t(lang, Key::Problem)) } else { ("ℹ", t(lang, Key::Note)) };
                        html! {
                            <li class={classes!("finding", f.is_problem().then_some("problem"))} data-testid="finding">
                                <b>{format!("{mark} {word}: ")}</b>{pick(lang, &f.text())}
                            </li>
                        }
                    }) }
                </ul>
            }
            if let Some(o) = &e.outcome {
                <p class="outcome" data-testid="capture-outcome">{pick(lang, &o.text(&e.client_name()))}</p>
            }
        </section>
    }
}
