//! The question before a packet: which message, who sends it, broadcast or unicast, which fields it fills
//! in, and the teacher's
//! "why" where there is one. Radio groups in fieldsets, so it is done by keyboard alone (Tab, arrows,
//! Enter) and read out by a screen reader; the first choice has the focus when it appears.

use super::exercise::{self, Answer, Question};
use crate::i18n::{Key, Lang, t};
use dhcplab_engine::message::DhcpMessage;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    /// The exercise's id (its text is looked up by it).
    pub exercise: &'static str,
    pub question: Question,
    pub on_answer: Callback<Answer>,
}

/// One radio button of a group.
fn radio(
    group: &str,
    testid: &'static str,
    value: String,
    label: String,
    checked: bool,
    onchange: Callback<Event>,
    first: Option<NodeRef>,
) -> Html {
    html! {
        <label class="choice">
            <input type="radio" name={group.to_string()} data-testid={testid} value={value} {checked} {onchange} ref={first.unwrap_or_default()} />
            {" "}{label}
        </label>
    }
}

#[component]
pub fn QuestionForm(p: &Props) -> Html {
    let lang = p.lang;
    // No field ticked is an answer too (a DISCOVER fills in none of them).
    let draft = use_state(|| Answer { fields: Some(0), ..Answer::default() });
    let first = use_node_ref();
    {
        let first = first.clone();
        use_effect_with((), move |_| {
            if let Some(el) = first.cast::<web_sys::HtmlElement>() {
                let _ = el.focus();
            }
        });
    }
    let set = |f: fn(&mut Answer, &str)| {
        let draft = draft.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<web_sys::HtmlInputElement>().value();
            let mut a = *draft;
            f(&mut a, &v);
            draft.set(a);
        })
    };
    let on_msg = set(|a, v| a.msg = v.parse().ok());
    let on_from = set(|a, v| a.from = v.parse().ok());
    let on_to = set(|a, v| a.broadcast = Some(v == "broadcast"));
    let on_why = set(|a, v| a.why = v.parse().ok());
    let on_field = {
        let draft = draft.clone();
        Callback::from(move |e: Event| {
            let input = e.target_unchecked_into::<web_sys::HtmlInputElement>();
            let Ok(i) = input.value().parse::<u8>() else { return };
            let mut a = *draft;
            let mask = a.fields.unwrap_or(0);
            a.fields = Some(if input.checked() { mask | (1 << i) } else { mask & !(1 << i) });
            draft.set(a);
        })
    };
    let onsubmit = {
        let (draft, on_answer) = (draft.clone(), p.on_answer.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            on_answer.emit(*draft);
        })
    };
    let why = p.question.why.and_then(|i| exercise::find(p.exercise).map(|x| &x.why[i].1));
    let say = |w: exercise::Words| if lang == Lang::Zh { w.1 } else { w.0 };
    let d = *draft;
    html! {
        <form class="question" data-testid="exercise-question" {onsubmit}>
            <p><b>{t(lang, Key::Predict)}</b></p>
            <fieldset>
                <legend>{t(lang, Key::AskMsg)}</legend>
                { for DhcpMessage::ALL.iter().enumerate().map(|(i, &msg)| radio("x-msg", "answer-msg", msg.wire_name().into(), msg.wire_name().into(), d.msg == Some(msg), on_msg.clone(), (i == 0).then(|| first.clone()))) }
            </fieldset>
            <fieldset>
                <legend>{t(lang, Key::AskFrom)}</legend>
                { for p.question.senders.iter().map(|(id, name)| radio("x-from", "answer-from", id.to_string(), name.clone(), d.from == Some(*id), on_from.clone(), None)) }
            </fieldset>
            <fieldset>
                <legend>{t(lang, Key::AskTo)}</legend>
                { radio("x-to", "answer-to", "broadcast".into(), t(lang, Key::Broadcast).into(), d.broadcast == Some(true), on_to.clone(), None) }
                { radio("x-to", "answer-to", "unicast".into(), t(lang, Key::Unicast).into(), d.broadcast == Some(false), on_to.clone(), None) }
            </fieldset>
            <fieldset>
                <legend>{t(lang, Key::AskFields)}</legend>
                { for exercise::FIELDS.iter().enumerate().map(|(i, name)| html! {
                    <label class="choice">
                        <input type="checkbox" data-testid="answer-field" value={i.to_string()}
                            checked={d.fields.unwrap_or(0) & (1 << i) != 0} onchange={on_field.clone()} />
                        {" "}<span translate="no">{*name}</span>
                    </label>
                }) }
            </fieldset>
            if let Some(w) = why {
                <fieldset>
                    <legend>{t(lang, Key::AskWhy)}{": "}{say(w.question)}</legend>
                    { for w.choices.iter().enumerate().map(|(i, c)| radio("x-why", "answer-why", i.to_string(), say(*c).into(), d.why == Some(i), on_why.clone(), None)) }
                </fieldset>
            }
            <button type="submit" data-testid="exercise-check">{t(lang, Key::Check)}</button>
        </form>
    }
}
