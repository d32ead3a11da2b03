//! The focused computer's IP configuration, one block per NIC, with what the user can do to it.

use super::CardProps;
use super::model::LabAction;
use crate::i18n::{Key, Lang, t};
use dhcplab_engine::client::{Client, ClientStateKind};
use dhcplab_engine::sim::{Action, NodeId, NodeKind, Sim};
use std::net::Ipv4Addr;
use yew::prelude::*;

fn list(v: &[Ipv4Addr], lang: Lang) -> String {
    if v.is_empty() {
        t(lang, Key::None).to_string()
    } else {
        v.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
    }
}

/// What `ipconfig` would show for one NIC.
fn config_rows(c: &Client, lang: Lang) -> Html {
    let row = |k: Key, v: String| html! { <tr><th>{t(lang, k)}</th><td>{v}</td></tr> };
    html! {
        <table>
            { row(Key::State, c.state().to_string()) }
            if let Some(l) = c.lease() {
                { row(Key::Address, l.ip.to_string()) }
                { row(Key::Mask, l.mask.to_string()) }
                { row(Key::Gateway, list(&l.routers, lang)) }
                { row(Key::Dns, list(&l.dns, lang)) }
                { row(Key::Server, l.server.to_string()) }
                if c.state() != ClientStateKind::Static {
                    { row(Key::Obtained, l.obtained.to_string()) }
                    { row(Key::Expires, l.expires.to_string()) }
                }
            }
            if let Some(ll) = c.link_local().filter(|l| l.claimed) {
                { row(Key::Autoconf, ll.ip.to_string()) }
            }
        </table>
    }
}

/// The actions on NIC `i` of `node`.
fn actions(sim: &Sim, node: NodeId, i: usize, lang: Lang, d: &Callback<LabAction>) -> Html {
    let act = |a: Action| d.reform(move |_| LabAction::Act(a.clone()));
    let cur_seg = sim.nodes[node].nics().get(i).map_or(0, |&n| sim.nics[n].segment);
    let on_move = d.reform(move |e: Event| {
        let s = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value().parse().unwrap_or(0);
        LabAction::Act(Action::Move { node, nic: i, segment: s })
    });
    html! {
        <div class="actions">
            <span class="muted">{t(lang, Key::Actions)}{": "}</span>
            <button data-testid="act-release" onclick={act(Action::Release { node, nic: i })}>{t(lang, Key::Release)}</button>
            <button data-testid="act-renew" onclick={act(Action::Renew { node, nic: i })}>{t(lang, Key::Renew)}</button>
            <button data-testid="act-reboot" onclick={act(Action::Reboot { node, nic: i })}>{t(lang, Key::Reboot)}</button>
            <button data-testid="act-unplug" onclick={act(Action::Unplug { node, nic: i })}>{t(lang, Key::Unplug)}</button>
            if i == 0 {
                <button data-testid="act-add-nic" onclick={act(Action::AddNic { node, segment: cur_seg })}>{t(lang, Key::AddNic)}</button>
            }
            if sim.segments.len() > 1 {
                <label>{t(lang, Key::Move)}{" "}
                    <select data-testid="act-move" onchange={on_move}>
                        { for sim.segments.iter().enumerate().map(|(s, seg)| html! {
                            <option value={s.to_string()} selected={s == cur_seg}>{seg.name.clone()}</option>
                        }) }
                    </select>
                </label>
            }
        </div>
    }
}

#[component]
pub fn ClientPanel(p: &CardProps) -> Html {
    let lang = p.lang;
    let d = p.lab.dispatcher().to_callback();
    let m = p.lab.get();
    let sim = &m.scenario.sim;
    let focus = m.focus;
    let Some(node) = sim.nodes.get(focus) else { return html! {} };
    let NodeKind::Host { clients, .. } = &node.kind else { return html! {} };
    html! {
        <>
            { for clients.iter().enumerate().map(|(i, c)| html! {
                <div class="clientinfo" data-testid="client-info" data-state={c.state().to_string()} data-ip={c.address().map(|a| a.to_string()).unwrap_or_default()}>
                    <h3>{format!("{} eth{i} — {}", node.name, c.config().hw)}</h3>
                    { config_rows(c, lang) }
                    { actions(sim, focus, i, lang, &d) }
                </div>
            }) }
            <div class="actions"><button data-testid="node-remove" onclick={d.reform(move |_| LabAction::Act(Action::Remove { node: focus }))}>{t(lang, Key::Remove)}</button></div>
        </>
    }
}
