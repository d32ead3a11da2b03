//! The network's segments: add a computer or a server to one, and set its loss and delay.

use super::CardProps;
use super::model::{LabAction, new_server};
use crate::i18n::{Key, t};
use dhcplab_engine::sim::Action;
use yew::prelude::*;

#[component]
pub fn LinksPanel(p: &CardProps) -> Html {
    let lang = p.lang;
    let d = p.lab.dispatcher().to_callback();
    let m = p.lab.get();
    let sim = &m.scenario.sim;
    let value = |e: &Event| e.target_unchecked_into::<web_sys::HtmlInputElement>().value();
    html! {
        <>
            <h2>{t(lang, Key::Link)}</h2>
            <table class="links">
                { for sim.segments.iter().enumerate().map(|(s, seg)| {
                    let on_loss = d.reform(move |e: Event| LabAction::Impair {
                        segment: s,
                        loss: value(&e).parse::<f64>().ok().map(|p| p / 100.0),
                        delay: None,
                    });
                    let on_delay = d.reform(move |e: Event| LabAction::Impair { segment: s, loss: None, delay: value(&e).parse().ok() });
                    let n = sim.nodes.len();
                    let add_client = d.reform(move |_| LabAction::Act(Action::AddHost { name: format!("pc-{n}"), segment: s }));
                    let server = new_server(sim, s);
                    let add_server = d.reform(move |_| LabAction::Act(server.clone()));
                    html! {
                        <tr>
                            <th>{seg.name.clone()}</th>
                            <td><button data-testid="add-client" onclick={add_client}>{"+ "}{t(lang, Key::ClientWord)}</button></td>
                            <td><button data-testid="add-server" onclick={add_server}>{"+ "}{t(lang, Key::ServerWord)}</button></td>
                            <td><label>{t(lang, Key::Loss)}{" % "}<input data-testid="link-loss" type="number" min="0" max="90" value={format!("{:.0}", seg.loss * 100.0)} onchange={on_loss} /></label></td>
                            <td><label>{t(lang, Key::Delay)}{" ms "}<input data-testid="link-delay" type="number" min="0" max="5000" value={seg.delay.as_millis().to_string()} onchange={on_delay} /></label></td>
                        </tr>
                    }
                }) }
            </table>
        </>
    }
}
