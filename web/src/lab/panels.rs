//! The event list (Packet Tracer style) and the panel for the focused node: a client's IP configuration
//! with actions, a server's lease table, and the links' impairments.

use super::{Lab, Msg, entry_label, msg_color};
use crate::i18n::{Key, Lang, t};
use dhcplab_engine::client::ClientStateKind;
use dhcplab_engine::config::{PoolRange, ServerConfig, SubnetConfig};
use dhcplab_engine::message::DhcpMessage;
use dhcplab_engine::sim::{Action, NodeKind, SegmentId, Sim, TraceKind};
use std::net::Ipv4Addr;
use yew::html::Scope;
use yew::prelude::*;

/// At most this many rows are drawn (the latest ones), so a big network stays smooth.
const MAX_ROWS: usize = 120;

pub fn event_list(lab: &Lab, link: &Scope<Lab>, lang: Lang) -> Html {
    let sim = &lab.scenario.sim;
    let rows: Vec<_> = lab
        .visible()
        .iter()
        .filter(|e| lab.filter_node.is_none_or(|n| e.node == n))
        .filter(|e| {
            lab.filter_msg.is_none()
                || matches!(&e.kind, TraceKind::Packet { summary, .. } if Some(summary.msg) == lab.filter_msg)
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
                    <option value="" selected={lab.filter_msg.is_none()}>{t(lang, Key::AllMessages)}</option>
                    { for DhcpMessage::ALL.iter().map(|&m| html! { <option value={m.wire_name()} selected={lab.filter_msg == Some(m)}>{m.wire_name()}</option> }) }
                </select>
                <select data-testid="filter-node" onchange={on_node}>
                    <option value="" selected={lab.filter_node.is_none()}>{t(lang, Key::AllNodes)}</option>
                    { for sim.nodes.iter().enumerate().take(60).map(|(i, n)| html! {
                        <option value={i.to_string()} selected={lab.filter_node == Some(i)}>{n.name.clone()}</option>
                    }) }
                </select>
            </div>
            <div class="eventlist" ref={lab.events_ref.clone()}>
                <table>
                    <tbody>
                        { for rows.iter().map(|e| {
                            let seq = e.seq;
                            let (msg, kind_class) = match &e.kind {
                                TraceKind::Packet { summary, .. } => (Some(summary.msg), "pkt"),
                                TraceKind::ClientState { .. } => (None, "state"),
                                TraceKind::Lease { .. } => (None, "lease"),
                                _ => (None, "note"),
                            };
                            let color = msg.map_or("transparent", msg_color);
                            let text = if lang == Lang::Zh { e.text.zh.clone() } else { e.text.en.clone() };
                            let onclick = link.callback(move |_| Msg::Select(seq));
                            html! {
                                <tr class={classes!(kind_class, (lab.selected == Some(seq)).then_some("sel"))}
                                    data-testid="event-row" data-msg={msg.map_or("", DhcpMessage::wire_name)} data-seq={seq.to_string()} {onclick} title={text}>
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

/// A second (or first) server for `segment`: the subnet of a server already there with its own slice of the
/// addresses, or a fresh 192.168.(10+n).0/24.
fn new_server(sim: &Sim, segment: SegmentId) -> Action {
    let n = sim.nodes.len();
    let existing = sim.nics.iter().filter(|nic| nic.segment == segment).find_map(|nic| {
        let (addr, _) = nic.fixed?;
        let cfg = sim.server(nic.node)?.config();
        cfg.subnets.iter().find(|s| s.cidr.contains(&addr)).cloned()
    });
    let taken = |ip: Ipv4Addr| sim.nics.iter().any(|x| x.fixed.map(|f| f.0) == Some(ip));
    let (subnet, addr) = match existing {
        Some(mut sub) => {
            let o = sub.cidr.network().octets();
            let addr = (230..=239)
                .map(|h| Ipv4Addr::new(o[0], o[1], o[2], h))
                .find(|&a| !taken(a))
                .unwrap_or(Ipv4Addr::new(o[0], o[1], o[2], 239));
            let first = Ipv4Addr::new(o[0], o[1], o[2], 200);
            let last = Ipv4Addr::new(o[0], o[1], o[2], 219);
            sub.pools = vec![PoolRange(dhcplab_engine::allocator::AddrRange { first, last })];
            sub.reservations.clear();
            (sub, addr)
        }
        None => {
            let third = 10 + segment as u8;
            let mut sub = SubnetConfig::new(
                format!("192.168.{third}.0/24").parse().expect("literal"),
                format!("192.168.{third}.100-192.168.{third}.199").parse::<PoolRange>().expect("literal").0,
            );
            sub.routers = vec![Ipv4Addr::new(192, 168, third, 1)];
            (sub, Ipv4Addr::new(192, 168, third, 240))
        }
    };
    let prefix = subnet.cidr.prefix_len();
    let config = ServerConfig { subnets: vec![subnet], ..ServerConfig::default() };
    Action::AddServer { name: format!("server-{n}"), segment, addr, prefix, config: Box::new(config) }
}

fn list(v: &[Ipv4Addr], lang: Lang) -> String {
    if v.is_empty() {
        t(lang, Key::None).to_string()
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
                let row = |k: Key, v: String| html! { <tr><th>{t(lang, k)}</th><td>{v}</td></tr> };
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
                            { row(Key::State, c.state().to_string()) }
                            if let Some(l) = lease {
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
                        <div class="actions">
                            <span class="muted">{t(lang, Key::Actions)}{": "}</span>
                            <button data-testid="act-release" onclick={act(Action::Release { node: focus, nic: i })}>{t(lang, Key::Release)}</button>
                            <button data-testid="act-renew" onclick={act(Action::Renew { node: focus, nic: i })}>{t(lang, Key::Renew)}</button>
                            <button data-testid="act-reboot" onclick={act(Action::Reboot { node: focus, nic: i })}>{t(lang, Key::Reboot)}</button>
                            <button data-testid="act-unplug" onclick={act(Action::Unplug { node: focus, nic: i })}>{t(lang, Key::Unplug)}</button>
                            if i == 0 {
                                <button data-testid="act-add-nic" onclick={act(Action::AddNic { node: focus, segment: cur_seg })}>{t(lang, Key::AddNic)}</button>
                            }
                            if segs > 1 {
                                <label>{t(lang, Key::Move)}{" "}
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
    let remove = link.callback(move |_| Msg::Act(Action::Remove { node: focus }));
    let server_form = match &node.kind {
        NodeKind::Server { server, online, .. } => {
            let sub = server.config().subnets.first();
            let pool = sub.and_then(|s| s.pools.first()).map(|p| p.to_string()).unwrap_or_default();
            let lease = sub.map(|s| dhcplab_engine::duration_text::format(s.lease_time)).unwrap_or_default();
            let on = *online;
            let power = link.callback(move |_| Msg::Act(Action::ServerPower { node: focus, online: !on }));
            html! {
                <div class="serverform" data-testid="server-form">
                    <h3>{node.name.clone()}</h3>
                    <label>{t(lang, Key::Pool)}{" "}<input data-testid="server-pool" ref={lab.form[0].clone()} value={pool} /></label>
                    <label>{t(lang, Key::LeaseTime)}{" "}<input data-testid="server-lease" ref={lab.form[1].clone()} value={lease} size="6" /></label>
                    <label>{t(lang, Key::Reserve)}{" MAC "}<input data-testid="server-res-mac" ref={lab.form[2].clone()} placeholder="52:54:00:00:00:02" size="17" /></label>
                    <label>{" IP "}<input data-testid="server-res-ip" ref={lab.form[3].clone()} placeholder="192.168.1.50" size="13" /></label>
                    <div class="actions">
                        <button data-testid="server-apply" onclick={link.callback(|_| Msg::ApplyServerForm)}>{t(lang, Key::Apply)}</button>
                        <button data-testid="server-power" onclick={power}>{ if on { t(lang, Key::PowerOff) } else { t(lang, Key::PowerOn) } }</button>
                        <button data-testid="node-remove" onclick={remove.clone()}>{t(lang, Key::Remove)}</button>
                    </div>
                </div>
            }
        }
        NodeKind::Host { .. } => html! {
            <div class="actions"><button data-testid="node-remove" onclick={remove}>{t(lang, Key::Remove)}</button></div>
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
            <h2>{t(lang, Key::Client)}</h2>
            {body}
            {server_form}
            if let Some((n, server)) = leases {
                <h2>{format!("{} — {}", t(lang, Key::Leases), sim.nodes[n].name)}</h2>
                <table class="leases">
                    <thead><tr><th>{"IP"}</th><th>{"MAC"}</th><th>{t(lang, Key::State)}</th><th>{t(lang, Key::Expires)}</th></tr></thead>
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
                if server.leases().next().is_none() { <p class="muted">{t(lang, Key::NoLeases)}</p> }
                <h3>{t(lang, Key::Log)}</h3>
                <ul class="serverlog" data-testid="server-log">
                    { for lab.visible().iter().rev().filter(|e| e.node == n).take(8).map(|e| html! {
                        <li><span class="t">{e.at.to_string()}</span>{" "}{ if lang == Lang::Zh { e.text.zh.clone() } else { e.text.en.clone() } }</li>
                    }) }
                </ul>
            }
            <h2>{t(lang, Key::Link)}</h2>
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
                    let n = sim.nodes.len();
                    let add_client = link.callback(move |_| Msg::Act(Action::AddHost { name: format!("pc-{n}"), segment: s }));
                    let server = new_server(sim, s);
                    let add_server = link.callback(move |_| Msg::Act(server.clone()));
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
