//! The event list (Packet Tracer style) and the panel for the focused node: a client's IP configuration
//! with actions, a server's lease table, and the links' impairments.

use super::{Lab, Msg, entry_label, msg_color};
use crate::i18n::{Lang, t};
use dhcplab_engine::client::ClientStateKind;
use dhcplab_engine::sim::{Action, NodeKind, TraceKind};
use std::net::Ipv4Addr;
use yew::html::Scope;
use yew::prelude::*;

/// At most this many rows are drawn (the latest ones), so a big network stays smooth.
const MAX_ROWS: usize = 120;
const MESSAGES: [&str; 8] =
    ["DHCPDISCOVER", "DHCPOFFER", "DHCPREQUEST", "DHCPACK", "DHCPNAK", "DHCPDECLINE", "DHCPRELEASE", "DHCPINFORM"];

pub fn event_list(lab: &Lab, link: &Scope<Lab>, lang: Lang) -> Html {
    let sim = &lab.scenario.sim;
    let rows: Vec<_> = lab
        .visible()
        .iter()
        .filter(|e| lab.filter_node.is_none_or(|n| e.node == n))
        .filter(|e| {
            lab.filter_msg.is_empty()
                || matches!(&e.kind, TraceKind::Packet { summary, .. } if summary.msg == lab.filter_msg)
        })
        .collect();
    let rows = &rows[rows.len().saturating_sub(MAX_ROWS)..];
    let on_msg =
        link.callback(|e: Event| Msg::FilterMessage(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()));
    let on_node =
        link.callback(|e: Event| Msg::FilterNode(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()));
    html! {
        <>
            <div class="filters">
                <select data-testid="filter-msg" onchange={on_msg}>
                    <option value="" selected={lab.filter_msg.is_empty()}>{t(lang, "all_messages")}</option>
                    { for MESSAGES.iter().map(|m| html! { <option value={*m} selected={lab.filter_msg == *m}>{*m}</option> }) }
                </select>
                <select data-testid="filter-node" onchange={on_node}>
                    <option value="" selected={lab.filter_node.is_none()}>{t(lang, "all_nodes")}</option>
                    { for sim.nodes.iter().enumerate().take(60).map(|(i, n)| html! {
                        <option value={i.to_string()} selected={lab.filter_node == Some(i)}>{n.name.clone()}</option>
                    }) }
                </select>
            </div>
            <div class="eventlist">
                <table>
                    <tbody>
                        { for rows.iter().map(|e| {
                            let seq = e.seq;
                            let (msg, kind_class) = match &e.kind {
                                TraceKind::Packet { summary, .. } => (summary.msg.clone(), "pkt"),
                                TraceKind::ClientState { .. } => (String::new(), "state"),
                                TraceKind::Lease { .. } => (String::new(), "lease"),
                                _ => (String::new(), "note"),
                            };
                            let color = if msg.is_empty() { "transparent" } else { msg_color(&msg) };
                            let text = if lang == Lang::Zh { e.text.zh.clone() } else { e.text.en.clone() };
                            let onclick = link.callback(move |_| Msg::Select(seq));
                            html! {
                                <tr class={classes!(kind_class, (lab.selected == Some(seq)).then_some("sel"))}
                                    data-testid="event-row" data-msg={msg.clone()} data-seq={seq.to_string()} {onclick} title={text}>
                                    <td class="t">{e.at.to_string()}</td>
                                    <td class="n">{sim.nodes[e.node].name.clone()}</td>
                                    <td class="m"><span class="dot" style={format!("background:{color}")}></span>{entry_label(e)}</td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
        </>
    }
}

fn list(v: &[Ipv4Addr], lang: Lang) -> String {
    if v.is_empty() {
        t(lang, "none").to_string()
    } else {
        v.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
    }
}

pub fn node_panel(lab: &Lab, link: &Scope<Lab>, lang: Lang) -> Html {
    let sim = &lab.scenario.sim;
    let Some(node) = sim.nodes.get(lab.focus) else { return html! {} };
    let focus = lab.focus;
    let body = match &node.kind {
        NodeKind::Host { clients, .. } => html! {
            <>
            { for clients.iter().enumerate().map(|(i, c)| {
                let row = |k: &str, v: String| html! { <tr><th>{t(lang, k)}</th><td>{v}</td></tr> };
                let lease = c.lease();
                let act = |a: Action| link.callback(move |_| Msg::Act(a.clone()));
                let segs = sim.segments.len();
                let cur_seg = sim.nics[node.nics()[i]].segment;
                let on_move = link.callback(move |e: Event| {
                    let s = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value().parse().unwrap_or(0);
                    Msg::Act(Action::Move { node: focus, nic: i, segment: s })
                });
                html! {
                    <div class="clientinfo" data-testid="client-info" data-state={c.state().to_string()} data-ip={c.address().map(|a| a.to_string()).unwrap_or_default()}>
                        <h3>{format!("{} eth{i} — {}", node.name, c.config().hw)}</h3>
                        <table>
                            { row("state", c.state().to_string()) }
                            if let Some(l) = lease {
                                { row("address", l.ip.to_string()) }
                                { row("mask", l.mask.to_string()) }
                                { row("gateway", list(&l.routers, lang)) }
                                { row("dns", list(&l.dns, lang)) }
                                { row("server", l.server.to_string()) }
                                if c.state() != ClientStateKind::Static {
                                    { row("obtained", l.obtained.to_string()) }
                                    { row("expires", l.expires.to_string()) }
                                }
                            }
                            if let Some(ll) = c.link_local().filter(|l| l.claimed) {
                                { row("autoconf", ll.ip.to_string()) }
                            }
                        </table>
                        <div class="actions">
                            <span class="muted">{t(lang, "actions")}{": "}</span>
                            <button data-testid="act-release" onclick={act(Action::Release { node: focus, nic: i })}>{t(lang, "release")}</button>
                            <button data-testid="act-renew" onclick={act(Action::Renew { node: focus, nic: i })}>{t(lang, "renew")}</button>
                            <button data-testid="act-reboot" onclick={act(Action::Reboot { node: focus, nic: i })}>{t(lang, "reboot")}</button>
                            <button data-testid="act-unplug" onclick={act(Action::Unplug { node: focus, nic: i })}>{t(lang, "unplug")}</button>
                            if segs > 1 {
                                <label>{t(lang, "move")}{" "}
                                    <select data-testid="act-move" onchange={on_move}>
                                        { for sim.segments.iter().enumerate().map(|(s, seg)| html! {
                                            <option value={s.to_string()} selected={s == cur_seg}>{seg.name.clone()}</option>
                                        }) }
                                    </select>
                                </label>
                            }
                        </div>
                    </div>
                }
            }) }
            </>
        },
        _ => html! {},
    };
    // The lease table of the focused server, else of the first server.
    let server_node = match node.kind {
        NodeKind::Server { .. } => Some(focus),
        _ => sim.nodes.iter().position(|n| matches!(n.kind, NodeKind::Server { .. })),
    };
    let leases = server_node.and_then(|n| sim.server(n).map(|s| (n, s)));
    html! {
        <>
            <h2>{t(lang, "client")}</h2>
            {body}
            if let Some((n, server)) = leases {
                <h2>{format!("{} — {}", t(lang, "leases"), sim.nodes[n].name)}</h2>
                <table class="leases">
                    <thead><tr><th>{"IP"}</th><th>{"MAC"}</th><th>{t(lang, "state")}</th><th>{t(lang, "expires")}</th></tr></thead>
                    <tbody>
                    { for {
                        let mut v: Vec<_> = server.leases().collect();
                        v.sort_by_key(|l| l.ip);
                        v.into_iter().take(60).map(|l| html! {
                            <tr data-testid="lease-row" data-ip={l.ip.to_string()} data-mac={l.hw.to_string()} data-state={l.state.as_str()}>
                                <td>{l.ip.to_string()}</td><td>{l.hw.to_string()}</td>
                                <td class={format!("st-{}", l.state.as_str())}>{l.state.as_str()}</td><td>{l.expires.to_string()}</td>
                            </tr>
                        }).collect::<Vec<_>>()
                    } }
                    </tbody>
                </table>
                if server.leases().next().is_none() { <p class="muted">{t(lang, "no_leases")}</p> }
            }
            <h2>{t(lang, "link")}</h2>
            <table class="links">
                { for sim.segments.iter().enumerate().map(|(s, seg)| {
                    let on_loss = link.callback(move |e: Event| Msg::Impair {
                        segment: s,
                        loss: e.target_unchecked_into::<web_sys::HtmlInputElement>().value().parse::<f64>().ok().map(|p| p / 100.0),
                        delay: None,
                    });
                    let on_delay = link.callback(move |e: Event| Msg::Impair {
                        segment: s,
                        loss: None,
                        delay: e.target_unchecked_into::<web_sys::HtmlInputElement>().value().parse().ok(),
                    });
                    html! {
                        <tr>
                            <th>{seg.name.clone()}</th>
                            <td><label>{t(lang, "loss")}{" % "}<input data-testid="link-loss" type="number" min="0" max="90" value={format!("{:.0}", seg.loss * 100.0)} onchange={on_loss} /></label></td>
                            <td><label>{t(lang, "delay")}{" ms "}<input data-testid="link-delay" type="number" min="0" max="5000" value={seg.delay.as_millis().to_string()} onchange={on_delay} /></label></td>
                        </tr>
                    }
                }) }
            </table>
        </>
    }
}
