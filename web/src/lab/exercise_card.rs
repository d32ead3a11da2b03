//! The exercise in progress: its title and score, the question before the next packet (or how the last
//! answer was marked), and the story of the packet once shown.

use super::CardProps;
use super::exercise::{self, Marked, Words};
use super::question_form::QuestionForm;
use crate::i18n::{Key, Lang, t};
use yew::prelude::*;

fn say(lang: Lang, w: Words) -> &'static str {
    if lang == Lang::Zh { w.1 } else { w.0 }
}

/// One marked part: what it was, right or wrong in words (not only colour), and the right answer.
fn part(lang: Lang, what: Key, ok: bool, right: String) -> Html {
    let (mark, word) = if ok { ("✓", t(lang, Key::Right)) } else { ("✗", t(lang, Key::Wrong)) };
    html! {
        <li class={if ok { "ok" } else { "bad" }}>
            <b>{t(lang, what)}{": "}</b>{format!("{mark} {word} — {} {right}", t(lang, Key::RightAnswer))}
        </li>
    }
}

/// The fields of a mask, by the RFC's names, or "none".
fn fields(lang: Lang, mask: u8) -> String {
    let set: Vec<&str> =
        exercise::FIELDS.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, n)| *n).collect();
    if set.is_empty() { t(lang, Key::None).to_string() } else { set.join(", ") }
}

fn feedback(lang: Lang, m: &Marked, def: &exercise::Exercise, name: impl Fn(usize) -> String) -> Html {
    let (got, of) = m.points();
    let to = if m.right.broadcast { t(lang, Key::Broadcast) } else { t(lang, Key::Unicast) };
    let why = m.why.map(|(i, ok)| {
        let w = &def.why[i].1;
        part(lang, Key::AskWhy, ok, say(lang, w.choices[w.right]).to_string())
    });
    html! {
        <div class="feedback" data-testid="exercise-feedback" data-points={format!("{got}/{of}")} role="status">
            <ul>
                { part(lang, Key::AskMsg, m.msg_ok, m.right.msg.wire_name().to_string()) }
                { part(lang, Key::AskFrom, m.from_ok, name(m.right.from)) }
                { part(lang, Key::AskTo, m.to_ok, to.to_string()) }
                { part(lang, Key::AskFields, m.fields_ok, fields(lang, m.right.fields)) }
                { why.unwrap_or_default() }
            </ul>
        </div>
    }
}

#[component]
pub fn ExerciseCard(p: &CardProps) -> Html {
    let lang = p.lang;
    let m = p.lab.get();
    let Some(run) = &m.exercise else { return html! {} };
    let def = run.def;
    let (got, of) = run.score();
    let on_answer = p.lab.dispatcher().to_callback().reform(super::model::LabAction::Answer);
    let name = |id: usize| m.scenario.sim.nodes.get(id).map(|n| n.name.clone()).unwrap_or_default();
    let shown = m.selected_entry().or(m.visible().last());
    html! {
        <section class="card explain exercise" data-testid="exercise">
            <h2>{t(lang, Key::Exercise)}</h2>
            <h3 class="xtitle">{say(lang, def.title)}</h3>
            <p class="muted">{say(lang, def.intro)}</p>
            <p class="score" data-testid="exercise-score">{format!("{} {got}/{of}", t(lang, Key::Score))}</p>
            if let Some(q) = &run.question {
                <QuestionForm key={q.ordinal} {lang} exercise={def.id} question={q.clone()} {on_answer} />
            } else {
                if let Some(last) = run.marked.last() { { feedback(lang, last, def, name) } }
                if let Some(e) = shown {
                    <p class="explanation">{ if lang == Lang::Zh { e.text.zh.clone() } else { e.text.en.clone() } }</p>
                    if let Some(r) = &e.rfc { <p class="rfc">{r.clone()}</p> }
                }
                if run.done() {
                    <p class="done" data-testid="exercise-done">{format!("{} {got}/{of}", t(lang, Key::ExerciseDone))}</p>
                } else {
                    <p class="muted">{t(lang, Key::ExerciseNext)}</p>
                }
            }
        </section>
    }
}
