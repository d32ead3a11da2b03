//! The lab's toolbar: the scenario picker, play/pause/back/step/reset, speed, the clock, the step count
//! the pcap export, and opening a capture instead.

use super::LabState;
use super::exercise;
use super::model::{CROWDS, LabAction};
use crate::capture::{CaptureOpener, Opened};
use crate::i18n::{Key, Lang, t};
use dhcplab_engine::sim::scenario;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub lab: UseReducerHandle<LabState>,
    pub on_open: Callback<Opened>,
}

#[component]
pub fn LabToolbar(p: &Props) -> Html {
    let lang = p.lang;
    let d = p.lab.dispatcher().to_callback();
    let m = p.lab.get();
    let on_scenario =
        d.reform(|e: Event| LabAction::SetScenario(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()));
    let on_exercise =
        d.reform(|e: Event| LabAction::Exercise(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()));
    let current = m.exercise.as_ref().map(|r| r.def.id);
    let on_speed = d.reform(|e: Event| {
        LabAction::SetSpeed(e.target_unchecked_into::<web_sys::HtmlInputElement>().value().parse().unwrap_or(2))
    });
    let on_export = {
        let lab = p.lab.clone();
        Callback::from(move |_| {
            let m = lab.get();
            if let Ok(bytes) = dhcplab_engine::pcap::write(&m.frames()) {
                crate::download::offer(&format!("dhcplab-{}.pcap", m.name), &bytes);
            }
        })
    };
    let button = |action: fn() -> LabAction| d.reform(move |_| action());
    let at_end = m.at_end();
    html! {
        <div class="toolbar">
            <label>{t(lang, Key::Scenario)}{" "}
                <select data-testid="scenario-select" onchange={on_scenario}>
                    { for scenario::list().into_iter().map(|s| {
                        let title = if lang == Lang::Zh { s.title.zh.clone() } else { s.title.en.clone() };
                        html! { <option value={s.name} selected={s.name == m.name}>{format!("{} — {title}", s.name)}</option> }
                    }) }
                    { for CROWDS.iter().map(|&(name, n)| html! {
                        <option value={name} selected={m.name == name}>{format!("{name} — {}", t(lang, Key::Crowd).replace("{n}", &n.to_string()))}</option>
                    }) }
                </select>
            </label>
            <label>{t(lang, Key::Exercise)}{" "}
                <select data-testid="exercise-select" onchange={on_exercise}>
                    <option value="" selected={current.is_none()}>{t(lang, Key::NoExercise)}</option>
                    { for exercise::all().map(|x| html! {
                        <option value={x.id} selected={current == Some(x.id)}>{ if lang == Lang::Zh { x.title.1 } else { x.title.0 } }</option>
                    }) }
                </select>
            </label>
            <div class="buttons">
                if m.playing {
                    <button data-testid="pause" onclick={button(|| LabAction::Pause)}>{"‖ "}{t(lang, Key::Pause)}</button>
                } else {
                    <button data-testid="play" disabled={at_end} onclick={button(|| LabAction::Play)}>{"▶ "}{t(lang, Key::Play)}</button>
                }
                <button data-testid="back" disabled={m.shown == 0} onclick={button(|| LabAction::Back)}>{"⇤ "}{t(lang, Key::Back)}</button>
                <button data-testid="step" disabled={at_end} onclick={button(|| LabAction::Step)}>{t(lang, Key::Step)}{" ⇥"}</button>
                <button data-testid="reset" onclick={button(|| LabAction::Reset)}>{"↺ "}{t(lang, Key::Reset)}</button>
            </div>
            <label class="speed">{t(lang, Key::Speed)}{" "}
                <input data-testid="speed" type="range" min="1" max="20" value={m.speed.to_string()} onchange={on_speed} />
                {format!(" {}×", m.speed)}
            </label>
            <span class="clock" data-testid="clock" title={t(lang, Key::Time)}>{t(lang, Key::Clock)}{" "}{m.now().to_string()}</span>
            <span class="stepno" data-testid="step-count">{format!("{}/{}", m.shown, m.total)}{ if m.counting().is_some() { "+" } else { "" } }</span>
            if let Some(p) = m.counting() {
                <span class="counting" data-testid="counting" role="status">{t(lang, Key::Counting).replace("{p}", &p.to_string())}</span>
            }
            <button data-testid="export-pcap" onclick={on_export}>{t(lang, Key::Export)}</button>
            <CaptureOpener {lang} on_open={p.on_open.clone()} />
        </div>
    }
}
