//! The daemon's live packets: the lab's sequence diagram and inspector over the bytes on the wire, with a
//! client to follow and a pause.

use super::live;
use super::use_bridge::{LiveAction, LiveState};
use crate::i18n::{Key, Lang, t};
use crate::packets::{flow, inspector};
use dhcplab_engine::event::PacketSeen;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub live: UseReducerHandle<LiveState>,
    /// Only packets about this MAC, IP, xid or hostname.
    pub follow: String,
    pub on_follow: Callback<String>,
}

#[component]
pub fn LivePackets(p: &Props) -> Html {
    let lang = p.lang;
    // The packet in the inspector, kept even after it scrolls out of the ring.
    let picked = use_state(|| None::<(u64, PacketSeen)>);
    let field = use_state(|| None::<Vec<usize>>);
    let live = p.live.get();
    let shown: Vec<&(u64, PacketSeen)> =
        live.ring.packets.iter().filter(|(_, pk)| live::matches(pk, &p.follow)).collect();
    let (lanes, arrows) = live::diagram(&shown, live.watching.as_deref(), lang);
    let on_select = {
        let (picked, field, state) = (picked.clone(), field.clone(), p.live.clone());
        Callback::from(move |seq: u64| {
            picked.set(state.get().ring.get(seq).map(|pk| (seq, pk.clone())));
            field.set(None);
        })
    };
    let on_field = {
        let field = field.clone();
        Callback::from(move |path: Vec<usize>| field.set(Some(path)))
    };
    let on_follow = {
        let on_follow = p.on_follow.clone();
        Callback::from(move |e: InputEvent| {
            on_follow.emit(e.target_unchecked_into::<web_sys::HtmlInputElement>().value())
        })
    };
    // The packets on screen (after the follow filter), made into frames only when asked.
    let on_export = {
        let (state, follow) = (p.live.clone(), p.follow.clone());
        Callback::from(move |_| {
            let live = state.get();
            let frames: Vec<_> = live
                .ring
                .packets
                .iter()
                .filter(|(_, pk)| live::matches(pk, &follow))
                .map(|(_, pk)| pk.frame())
                .collect();
            if let Ok(bytes) = dhcplab_engine::pcap::write(&frames) {
                crate::download::offer("dhcplab-live.pcap", &bytes);
            }
        })
    };
    let on_pause = {
        let state = p.live.clone();
        Callback::from(move |_| state.dispatch(LiveAction::TogglePause))
    };
    html! {
        <div class="dgrid live">
            <section class="card flow">
                <h2>{t(lang, Key::LiveFlow)}</h2>
                <div class="filters">
                    <input data-testid="packet-follow" size="24" placeholder={t(lang, Key::Follow)} value={p.follow.clone()} oninput={on_follow} />
                    <button data-testid="flow-pause" onclick={on_pause}>
                        { if live.paused { format!("▶ {}", t(lang, Key::Resume)) } else { format!("‖ {}", t(lang, Key::Pause)) } }
                    </button>
                    <button data-testid="live-export-pcap" title={t(lang, Key::ExportLiveHint)} disabled={shown.is_empty()} onclick={on_export}>{t(lang, Key::Export)}</button>
                    if live.paused && live.held > 0 { <span class="muted">{format!("+{} {}", live.held, t(lang, Key::Held))}</span> }
                </div>
                if arrows.is_empty() {
                    <p class="muted">{t(lang, Key::NoPackets)}</p>
                } else {
                    { flow::view(&lanes, &arrows, picked.as_ref().map(|(s, _)| *s), &on_select, lang) }
                }
            </section>
            <section class="card inspector" data-testid="inspector">
                <h2>{t(lang, Key::Inspector)}</h2>
                { inspector::view(picked.as_ref().map(|(_, pk)| live::inspected(pk)), field.as_deref(), &on_field, lang, Key::PickLivePacket) }
            </section>
        </div>
    }
}
