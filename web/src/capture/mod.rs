//! A capture opened in the lab: its DHCP packets in a list, the flow graph and the inspector, each told as
//! the scenarios are, with what is unusual or wrong. [`model::CaptureModel`] holds the state; the engine's
//! `capture::explain` did the reading and the telling, in the browser.

pub mod model;
mod opener;
mod packet_list;
mod story_card;

pub use opener::{CaptureOpener, Opened, dropped_file, read_file};

use crate::i18n::{Key, Lang, t};
use crate::packets::{flow, inspector};
use crate::shared::Shared;
use dhcplab_engine::capture::Explained;
use model::{CaptureAction, CaptureModel, Party};
use packet_list::PacketList;
use std::rc::Rc;
use story_card::StoryCard;
use yew::prelude::*;

pub type CaptureState = Shared<CaptureModel>;

/// An explained capture, compared by identity: a new file is a new value.
#[derive(Clone)]
pub struct Shown(pub Rc<Explained>);

impl PartialEq for Shown {
    fn eq(&self, o: &Self) -> bool {
        Rc::ptr_eq(&self.0, &o.0)
    }
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub shown: Shown,
    pub on_open: Callback<Opened>,
    pub on_close: Callback<()>,
}

/// Props of the capture's cards.
#[derive(Properties, PartialEq)]
pub struct CaptureProps {
    pub lang: Lang,
    pub capture: UseReducerHandle<CaptureState>,
}

fn lane_name(m: &CaptureModel, p: &Party, lang: Lang) -> String {
    match p {
        Party::Client(hw) => m.client_name(*hw),
        Party::Relay(ip) => format!("{} {ip}", t(lang, Key::RelayWord)),
        Party::Server(ip) => format!("{} {ip}", t(lang, Key::ServerWord)),
        Party::Everyone => t(lang, Key::Everyone).to_string(),
    }
}

#[component]
pub fn CaptureView(p: &Props) -> Html {
    let lang = p.lang;
    let capture = {
        let x = p.shown.0.clone();
        use_reducer(move || Shared::new(CaptureModel::new(x)))
    };
    {
        let capture = capture.clone();
        use_effect_with((), move |_| {
            let on_key = capture.dispatcher().to_callback().reform(CaptureAction::Key);
            let listener =
                crate::keys::listen(&["ArrowRight", "ArrowLeft", "ArrowUp", "ArrowDown", "Home", "End"], on_key);
            move || drop(listener)
        });
    }
    let m = capture.get();
    let lanes: Vec<String> = m.parties.iter().map(|party| lane_name(&m, party, lang)).collect();
    let arrows = m.arrows();
    let on_select = capture.dispatcher().to_callback().reform(|k: u64| CaptureAction::Select(k as usize));
    let on_field = capture.dispatcher().to_callback().reform(CaptureAction::SelectField);
    let pick = |text: &dhcplab_engine::text::Text| if lang == Lang::Zh { text.zh.clone() } else { text.en.clone() };
    let on_close = p.on_close.reform(|_: MouseEvent| ());
    html! {
        <div class="lab capture">
            <div class="toolbar">
                <button data-testid="close-capture" onclick={on_close}>{"⇠ "}{t(lang, Key::CloseCapture)}</button>
                <CaptureOpener {lang} on_open={p.on_open.clone()} />
                <span class="summary" data-testid="capture-summary" data-file={m.x.name.clone()}>{pick(&m.x.summary())}</span>
                <span class="muted">{t(lang, Key::CaptureKeys)}</span>
            </div>
            if let Some(cut) = &m.x.cut_short {
                <p class="warn banner" role="alert" data-testid="capture-cut">{"⚠ "}{pick(&cut.text())}</p>
            }
            <div class="grid">
                <section class="card events">
                    <h2>{t(lang, Key::CapturePackets)}</h2>
                    <PacketList {lang} capture={capture.clone()} />
                </section>
                <StoryCard {lang} capture={capture.clone()} />
                <section class="card inspector" data-testid="inspector">
                    <h2>{t(lang, Key::Inspector)}</h2>
                    { inspector::view(m.inspected(), m.field.as_deref(), &on_field, lang, Key::PickPacket) }
                </section>
                <section class="card flow">
                    <h2>{t(lang, Key::Flow)}</h2>
                    { flow::view(&lanes, &arrows, Some(m.selected as u64), &on_select, lang) }
                </section>
            </div>
        </div>
    }
}
