//! The lab: a scenario from the engine's simulator, stepped by the user, shown as a network picture, an
//! event list, a flow graph and a packet inspector. [`model::LabModel`] holds the state and its rules;
//! each card is a component of its own that draws it and sends it actions.

mod client_panel;
mod event_list;
mod exercise;
mod exercise_card;
mod explain_card;
mod layout;
mod links_panel;
pub mod model;
mod question_form;
mod server_panel;
mod toolbar;
mod topology;

use crate::capture::{CaptureView, Opened, Shown, dropped_file, read_file};
use crate::i18n::{Key, Lang, t};
use crate::packets::{flow, inspector};
use crate::shared::Shared;
use client_panel::ClientPanel;
use dhcplab_engine::capture;
use dhcplab_engine::text::Text;
use event_list::EventList;
use exercise_card::ExerciseCard;
use explain_card::ExplainCard;
use gloo_timers::callback::Interval;
use links_panel::LinksPanel;
use model::{LabAction, LabModel};
use server_panel::{ServerForm, ServerLeases};
use std::rc::Rc;
use toolbar::LabToolbar;
use topology::Topology;
use yew::prelude::*;

/// The lab's state as the components share it.
pub type LabState = Shared<LabModel>;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
}

#[derive(Properties, PartialEq)]
struct ScenarioProps {
    lang: Lang,
    on_open: Callback<Opened>,
}

/// What the last file opened gave: its explanation, or why it could not be read. `generation` tells one
/// opening from the next, so a new file starts a fresh view.
#[derive(Clone, PartialEq)]
struct Opening {
    generation: u32,
    result: Result<Shown, Text>,
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

/// The lab: the scenarios, or a capture file opened in their place.
#[component]
pub fn Lab(props: &Props) -> Html {
    let lang = props.lang;
    let opening = use_state(|| None::<Opening>);
    let on_open = {
        let opening = opening.clone();
        Callback::from(move |(name, bytes): Opened| {
            let generation = opening.as_ref().map_or(0, |o| o.generation + 1);
            let result = capture::explain(&name, &bytes).map(|x| Shown(Rc::new(x))).map_err(|e| e.text());
            opening.set(Some(Opening { generation, result }));
        })
    };
    let on_close = {
        let opening = opening.clone();
        Callback::from(move |()| opening.set(None))
    };
    // A file dropped anywhere on the lab opens it.
    let ondragover = Callback::from(|e: DragEvent| e.prevent_default());
    let ondrop = {
        let on_open = on_open.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            if let Some(file) = dropped_file(&e) {
                read_file(file, on_open.clone());
            }
        })
    };
    let body = match opening.as_ref() {
        Some(Opening { generation, result: Ok(shown) }) => html! {
            <CaptureView key={*generation} {lang} shown={shown.clone()} on_open={on_open.clone()} {on_close} />
        },
        other => html! {
            <>
                if let Some(Opening { result: Err(why), .. }) = other {
                    <p class="warn banner" role="alert" data-testid="capture-error">
                        {"⚠ "}{t(lang, Key::CaptureUnreadable)}{" "}{ if lang == Lang::Zh { why.zh.clone() } else { why.en.clone() } }
                    </p>
                }
                <ScenarioLab {lang} {on_open} />
            </>
        },
    };
    html! { <div class="labroot" {ondragover} {ondrop}>{body}</div> }
}

/// The scenarios of the engine's simulator, stepped by the user.
#[component]
fn ScenarioLab(props: &ScenarioProps) -> Html {
    let lang = props.lang;
    let lab = use_reducer(|| {
        let hash = location_hash();
        if let Some(def) = model::exercise_in_hash(&hash) {
            return Shared::new(LabModel::with_exercise(def));
        }
        let (name, seed, step) = model::parse_hash(&hash);
        Shared::new(LabModel::new(&name, seed, step))
    });
    {
        let lab = lab.clone();
        use_effect_with((), move |_| {
            let listener = crate::keys::listen(
                &[" ", "ArrowRight", "ArrowLeft"],
                lab.dispatcher().to_callback().reform(LabAction::Key),
            );
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
    // A big scenario's length is worked out a chunk at a time, between frames, so the page never freezes.
    let counting = lab.get().counting().is_some();
    {
        let lab = lab.clone();
        let version = lab.version();
        use_effect_with((counting, version), move |&(counting, _)| {
            let timer =
                counting.then(|| gloo_timers::callback::Timeout::new(0, move || lab.dispatch(LabAction::CountMore)));
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
            <LabToolbar {lang} lab={lab.clone()} on_open={props.on_open.clone()} />
            <div class="grid">
                <section class="card topo">
                    <h2>{t(lang, Key::Topology)}</h2>
                    <Topology {lang} lab={lab.clone()} />
                </section>
                if m.exercise.is_some() {
                    <ExerciseCard {lang} lab={lab.clone()} />
                } else {
                    <ExplainCard {lang} lab={lab.clone()} />
                }
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
                    { flow::view(&lanes, &arrows, m.selected.map(|s| s as u64), &on_select, lang) }
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
