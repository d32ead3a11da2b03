//! The lab: a scenario from the engine's simulator, stepped by the user, shown as a network picture, an
//! event list, a flow graph and a packet inspector. [`model::LabModel`] holds the state and its rules;
//! each card is a component of its own that draws it and sends it actions.

mod client_panel;
mod event_list;
mod explain_card;
mod links_panel;
pub mod model;
mod server_panel;
mod toolbar;
mod topology;

use crate::i18n::{Key, Lang, t};
use crate::packets::{flow, inspector};
use crate::shared::Shared;
use client_panel::ClientPanel;
use event_list::EventList;
use explain_card::ExplainCard;
use gloo_events::EventListener;
use gloo_timers::callback::Interval;
use links_panel::LinksPanel;
use model::{LabAction, LabModel};
use server_panel::{ServerForm, ServerLeases};
use toolbar::LabToolbar;
use topology::Topology;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// The lab's state as the components share it.
pub type LabState = Shared<LabModel>;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
}

/// Props of every card: the language and the lab.
#[derive(Properties, PartialEq)]
pub struct CardProps {
    pub lang: Lang,
    pub lab: UseReducerHandle<LabState>,
}

fn location_hash() -> String {
    web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default()
}

/// Space, → and ← drive the lab, except while typing in a form field.
fn key_listener(lab: UseReducerHandle<LabState>) -> Option<EventListener> {
    let doc = web_sys::window()?.document()?;
    // Not passive: the arrow keys and space must not scroll the page.
    let opts = gloo_events::EventListenerOptions::enable_prevent_default();
    Some(EventListener::new_with_options(&doc, "keydown", opts, move |e| {
        let Some(k) = e.dyn_ref::<web_sys::KeyboardEvent>() else { return };
        let in_field = k
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
        if !in_field && matches!(k.key().as_str(), " " | "ArrowRight" | "ArrowLeft") {
            k.prevent_default();
            lab.dispatch(LabAction::Key(k.key()));
        }
    }))
}

#[component]
pub fn Lab(props: &Props) -> Html {
    let lang = props.lang;
    let lab = use_reducer(|| {
        let (name, seed, step) = model::parse_hash(&location_hash());
        Shared::new(LabModel::new(&name, seed, step))
    });
    {
        let lab = lab.clone();
        use_effect_with((), move |_| {
            let listener = key_listener(lab);
            move || drop(listener)
        });
    }
    // Playing: one step per tick, at the chosen speed.
    let (playing, speed) = (lab.get().playing, lab.get().speed);
    {
        let lab = lab.clone();
        use_effect_with((playing, speed), move |&(playing, speed)| {
            let timer = playing.then(|| Interval::new(1200 / speed.max(1), move || lab.dispatch(LabAction::Tick)));
            move || drop(timer)
        });
    }
    // The URL always reopens what is on screen.
    let hash = lab.get().hash();
    use_effect_with(hash, |h| {
        if let Some(w) = web_sys::window() {
            let _ = w.history().and_then(|hist| hist.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(h)));
        }
    });
    let m = lab.get();
    let (lanes, arrows) = m.flow();
    let on_select = lab.dispatcher().to_callback().reform(|k: u64| LabAction::Select(k as usize));
    let on_field = lab.dispatcher().to_callback().reform(LabAction::SelectField);
    html! {
        <div class="lab">
            <LabToolbar {lang} lab={lab.clone()} />
            <div class="grid">
                <section class="card topo">
                    <h2>{t(lang, Key::Topology)}</h2>
                    <Topology {lang} lab={lab.clone()} />
                </section>
                <ExplainCard {lang} lab={lab.clone()} />
                <section class="card events">
                    <h2>{t(lang, Key::Events)}</h2>
                    <EventList {lang} lab={lab.clone()} />
                </section>
                <section class="card inspector" data-testid="inspector">
                    <h2>{t(lang, Key::Inspector)}</h2>
                    { inspector::view(m.selected_entry().and_then(model::inspected), m.field.as_deref(), &on_field, lang, Key::PickPacket) }
                </section>
                <section class="card flow">
                    <h2>{t(lang, Key::Flow)}</h2>
                    { flow::view(&lanes, &arrows, m.selected.map(|s| s as u64), &on_select) }
                </section>
                <section class="card side">
                    <h2>{t(lang, Key::Client)}</h2>
                    <ClientPanel {lang} lab={lab.clone()} />
                    <ServerForm {lang} lab={lab.clone()} />
                    <ServerLeases {lang} lab={lab.clone()} />
                    <LinksPanel {lang} lab={lab.clone()} />
                </section>
            </div>
        </div>
    }
}
