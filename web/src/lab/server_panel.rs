//! The focused server's form (pool, lease time, a reservation, power) and a server's lease table and log.

use super::CardProps;
use super::model::{LabAction, ServerForm as Form, is_server};
use crate::i18n::{Key, Lang, t};
use dhcplab_engine::sim::{Action, NodeKind};
use yew::prelude::*;

#[component]
pub fn ServerForm(p: &CardProps) -> Html {
    let lang = p.lang;
    let refs = [use_node_ref(), use_node_ref(), use_node_ref(), use_node_ref()];
    let m = p.lab.get();
    let focus = m.focus;
    let Some(node) = m.scenario.sim.nodes.get(focus) else { return html! {} };
    let NodeKind::Server { server, online, .. } = &node.kind else { return html! {} };
    let sub = server.config().subnets.first();
    let pool = sub.and_then(|s| s.pools.first()).map(|p| p.to_string()).unwrap_or_default();
    let lease = sub.map(|s| dhcplab_engine::duration_text::format(s.lease_time)).unwrap_or_default();
    let d = p.lab.dispatcher().to_callback();
    let on = *online;
    let power = d.reform(move |_| LabAction::Act(Action::ServerPower { node: focus, online: !on }));
    let remove = d.reform(move |_| LabAction::Act(Action::Remove { node: focus }));
    let apply = {
        let refs = refs.clone();
        d.reform(move |_| {
            let value = |r: &NodeRef| r.cast::<web_sys::HtmlInputElement>().map(|i| i.value()).unwrap_or_default();
            let [pool, lease_time, reserve_mac, reserve_ip] = refs.each_ref().map(value);
            LabAction::ApplyServerForm(Form { pool, lease_time, reserve_mac, reserve_ip })
        })
    };
    html! {
        <div class="serverform" data-testid="server-form">
            <h3>{node.name.clone()}</h3>
            <label>{t(lang, Key::Pool)}{" "}<input data-testid="server-pool" ref={refs[0].clone()} value={pool} /></label>
            <label>{t(lang, Key::LeaseTime)}{" "}<input data-testid="server-lease" ref={refs[1].clone()} value={lease} size="6" /></label>
            <label>{t(lang, Key::Reserve)}{" MAC "}<input data-testid="server-res-mac" ref={refs[2].clone()} placeholder="52:54:00:00:00:02" size="17" /></label>
            <label>{" IP "}<input data-testid="server-res-ip" ref={refs[3].clone()} placeholder="192.168.1.50" size="13" /></label>
            <div class="actions">
                <button data-testid="server-apply" onclick={apply}>{t(lang, Key::Apply)}</button>
                <button data-testid="server-power" onclick={power}>{ if on { t(lang, Key::PowerOff) } else { t(lang, Key::PowerOn) } }</button>
                <button data-testid="node-remove" onclick={remove}>{t(lang, Key::Remove)}</button>
            </div>
        </div>
    }
}

/// The lease table of the focused server, else of the first server, and that server's latest log lines.
#[component]
pub fn ServerLeases(p: &CardProps) -> Html {
    let lang = p.lang;
    let m = p.lab.get();
    let sim = &m.scenario.sim;
    let focused = sim.nodes.get(m.focus).is_some_and(|n| is_server(&n.kind));
    let shown = if focused { Some(m.focus) } else { sim.nodes.iter().position(|n| is_server(&n.kind)) };
    let Some((n, server)) = shown.and_then(|n| sim.server(n).map(|s| (n, s))) else { return html! {} };
    let mut leases: Vec<_> = server.leases().collect();
    leases.sort_by_key(|l| l.ip);
    html! {
        <>
            <h2>{format!("{} — {}", t(lang, Key::Leases), sim.nodes[n].name)}</h2>
            <table class="leases">
                <thead><tr><th>{"IP"}</th><th>{"MAC"}</th><th>{t(lang, Key::State)}</th><th>{t(lang, Key::Expires)}</th></tr></thead>
                <tbody>
                { for leases.iter().take(60).map(|l| html! {
                    <tr data-testid="lease-row" data-ip={l.ip.to_string()} data-mac={l.hw.to_string()} data-state={l.state.as_str()}>
                        <td>{l.ip.to_string()}</td><td>{l.hw.to_string()}</td>
                        <td class={format!("st-{}", l.state.as_str())}>{crate::i18n::lease_state(lang, l.state)}</td><td>{l.expires.to_string()}</td>
                    </tr>
                }) }
                </tbody>
            </table>
            if leases.is_empty() { <p class="muted">{t(lang, Key::NoLeases)}</p> }
            <h3>{t(lang, Key::Log)}</h3>
            <ul class="serverlog" data-testid="server-log">
                { for m.visible().iter().rev().filter(|e| e.node == n).take(8).map(|e| html! {
                    <li><span class="t">{e.at.to_string()}</span>{" "}{ if lang == Lang::Zh { e.text.zh.clone() } else { e.text.en.clone() } }</li>
                }) }
            </ul>
        </>
    }
}
