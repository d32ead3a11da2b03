//! The network picture: segments as lines, nodes hanging off them, and the selected packet travelling from
//! its sender to every node that took it in (a broadcast visibly reaches the whole segment).

use super::CardProps;
use super::layout::{BOX_H, BOX_W, DOT_R, Layout, MAX_PER_SEGMENT, W, layout};
use super::model::LabAction;
use crate::i18n::{Key, Lang, t};
use crate::packets::msg_color;
use dhcplab_engine::sim::{NodeKind, NodeRole, Sim, TraceEntry, TraceKind};
use yew::prelude::*;

/// A badge letter and colour per role (drawn, so no icon font is needed).
fn role_badge(r: NodeRole) -> (&'static str, &'static str) {
    match r {
        NodeRole::Client => ("C", "#3d8bfd"),
        NodeRole::Server => ("S", "#1f9d55"),
        NodeRole::Relay => ("R", "#8a5cf6"),
        NodeRole::Static => ("H", "#868e96"),
        NodeRole::Database => ("D", "#c2410c"),
    }
}

/// At most this many trails to single dots of a crowd.
const MAX_TRAILS: usize = 20;

/// The selected packet travelling from its sender to every node that took it in.
fn packet_path(sim: &Sim, l: &Layout, selected: Option<&TraceEntry>) -> Html {
    let top = l.top;
    match selected.map(|e| (e, &e.kind)) {
        Some((e, TraceKind::Packet { id, summary, to, segment, lost, broadcast, .. })) => {
            let from = l.nodes.get(e.node).copied().flatten();
            // A broadcast goes to every node drawn on the segment; a unicast to its receiver.
            let targets: Vec<(usize, (f64, f64))> = sim
                .nodes
                .iter()
                .enumerate()
                .filter(|(n, node)| {
                    *n != e.node
                        && if *broadcast {
                            node.nics().iter().any(|&x| sim.nics[x].segment == *segment && sim.nics[x].up)
                        } else {
                            to.contains(n)
                        }
                })
                .filter_map(|(n, _)| Some((n, l.nodes.get(n).copied().flatten()?)))
                .collect();
            let seg_y = l.segments.get(*segment).copied().unwrap_or(top);
            let color = msg_color(summary.msg);
            // In a crowd, the dots that only hear a broadcast are one trail, to the crowd; at most
            // `MAX_TRAILS` dots that take the packet in get their own. A thousand trails would not animate.
            let (dotted, mut targets): (Vec<_>, Vec<_>) = targets.into_iter().partition(|(n, _)| l.dots[*n]);
            let taking: Vec<_> = dotted.iter().filter(|(n, _)| to.contains(n)).take(MAX_TRAILS).copied().collect();
            if dotted.len() > taking.len()
                && let Some(c) = l.crowds.iter().find(|c| c.segment == *segment)
            {
                let line = l.crowd_line(c);
                targets.push((usize::MAX, (line.x1, line.y1)));
            }
            targets.extend(taking);
            html! {
                <g key={format!("p{id}")} class="packet">
                    { for targets.iter().map(|&(n, (rx, ry))| {
                        let Some((sx, sy)) = from else { return html!{} };
                        let path = format!("M {sx} {sy} L {sx} {seg_y} L {rx} {seg_y} L {rx} {ry}");
                        // Every node on the segment receives a broadcast; only those listening on the port
                        // take it in (drawn solid), the others drop it (drawn faint).
                        let takes = to.contains(&n);
                        html! {
                            <>
                                <path d={path.clone()} class="trail" stroke={color} opacity={if takes { "0.55" } else { "0.2" }} />
                                if !*lost {
                                    <circle r="7" fill={color} opacity={if takes { "1" } else { "0.3" }}>
                                        <animateMotion dur="0.9s" fill="freeze" path={path} />
                                    </circle>
                                }
                            </>
                        }
                    }) }
                    if let Some((sx, sy)) = from {
                        // Written towards the middle of the picture, so it never runs off its edge.
                        <text x={(if sx > W / 2.0 { sx - 14.0 } else { sx + 14.0 }).to_string()} y={(sy - BOX_H / 2.0 - 4.0).to_string()}
                            text-anchor={if sx > W / 2.0 { "end" } else { "start" }} class="pktlabel" fill={color}>{summary.msg.wire_name()}</text>
                    }
                </g>
            }
        }
        _ => html! {},
    }
}

/// What a node's box says under its name: its state and address (or, for a database, its records).
fn status(sim: &Sim, node: &dhcplab_engine::sim::Node, lang: Lang) -> Option<(String, String)> {
    Some(match &node.kind {
        NodeKind::Host { clients, .. } => {
            let c = clients.first()?;
            (c.state().to_string(), c.address().map(|a| a.to_string()).unwrap_or_default())
        }
        NodeKind::Server { online, .. } => (
            crate::i18n::power(lang, *online).to_string(),
            sim.nic_address(node.nics()[0]).map(|a| a.to_string()).unwrap_or_default(),
        ),
        NodeKind::Database { records, .. } => {
            (t(lang, Key::LeaseRecords).replace("{n}", &records.len().to_string()), String::new())
        }
        _ => (
            String::new(),
            node.nics().first().and_then(|&n| sim.nic_address(n)).map(|a| a.to_string()).unwrap_or_default(),
        ),
    })
}

/// The picture in words, for a screen reader: each link and the nodes on it, with their state.
fn describe(sim: &Sim, lang: Lang) -> String {
    let mut out = t(lang, Key::TopologyAlt).to_string();
    for (i, seg) in sim.segments.iter().enumerate() {
        let here: Vec<&dhcplab_engine::sim::Node> =
            sim.nodes.iter().filter(|n| !n.removed && n.nics().iter().any(|&x| sim.nics[x].segment == i)).collect();
        let hosts = here.iter().filter(|n| matches!(n.kind, NodeKind::Host { .. })).count();
        let crowd = hosts > MAX_PER_SEGMENT;
        let mut on: Vec<String> = here
            .iter()
            .filter(|n| !crowd || !matches!(n.kind, NodeKind::Host { .. }))
            .map(|n| {
                let (state, ip) = status(sim, n, lang).unwrap_or_default();
                format!("{} ({})", n.name, format!("{state} {ip}").trim())
            })
            .collect();
        if crowd {
            // A crowd is told by how many clients are in each state.
            let mut states: std::collections::BTreeMap<String, usize> = Default::default();
            for n in here.iter().filter(|n| matches!(n.kind, NodeKind::Host { .. })) {
                *states.entry(status(sim, n, lang).unwrap_or_default().0).or_default() += 1;
            }
            let counts: Vec<String> = states.iter().map(|(s, c)| format!("{c} {s}")).collect();
            on.push(format!("{} ({})", t(lang, Key::CrowdOf).replace("{n}", &hosts.to_string()), counts.join(", ")));
        }
        out.push_str(&format!(" {} {}: {}.", t(lang, Key::Link), seg.name, on.join(", ")));
    }
    out
}

#[component]
pub fn Topology(p: &CardProps) -> Html {
    let lang = p.lang;
    let m = p.lab.get();
    let sim = &m.scenario.sim;
    let l = layout(sim);
    let height = l.bottom;
    let selected = m.selected_entry();
    let anim = packet_path(sim, &l, selected);
    html! {
        <svg class="topology" data-testid="topology" viewBox={format!("0 0 {W} {height}")} role="img" aria-label={describe(sim, lang)}>
            { for sim.segments.iter().enumerate().map(|(i, s)| {
                let y = l.segments[i];
                let more = l.hidden[i];
                let line = l.segment_line(i);
                html! {
                    <g class="segment">
                        <line x1={line.x1.to_string()} y1={y.to_string()} x2={line.x2.to_string()} y2={y.to_string()} />
                        <text x="22" y={(y - 8.0).to_string()} class="seglabel">
                            {t(lang, Key::Link)}{" "}<tspan translate="no">{s.name.clone()}</tspan>
                            if s.loss > 0.0 { {format!(" · {} {:.0}%", t(lang, Key::Loss), s.loss * 100.0)} }
                        </text>
                        if more > 0 { <text x={(line.x2 - 4.0).to_string()} y={(y - 8.0).to_string()} text-anchor="end" class="more">{format!("+{more}")}</text> }
                    </g>
                }
            }) }
            { for l.crowds.iter().map(|c| {
                let line = l.crowd_line(c);
                html! {
                    <g class="crowd">
                        <line class="drop" x1={line.x1.to_string()} y1={line.y1.to_string()} x2={line.x2.to_string()} y2={line.y2.to_string()} />
                        <rect x={c.x1.to_string()} y={c.y1.to_string()} width={(c.x2 - c.x1).to_string()} height={(c.y2 - c.y1).to_string()} rx="8" />
                        <text x={(c.x1 + 8.0).to_string()} y={(c.y1 + 13.0).to_string()} class="nodestate">{t(lang, Key::CrowdOf).replace("{n}", &c.count.to_string())}</text>
                    </g>
                }
            }) }
            { for sim.nodes.iter().enumerate().filter(|(id, _)| l.dots[*id]).filter_map(|(id, node)| {
                let (x, y) = l.nodes[id]?;
                let (state, ip) = status(sim, node, lang)?;
                let bound = matches!(&node.kind, NodeKind::Host { clients, .. } if clients.first().is_some_and(|c| c.address().is_some()));
                let onclick = p.lab.dispatcher().to_callback().reform(move |_| LabAction::Focus(id));
                html! {
                    <circle class={classes!("dot", bound.then_some("bound"), (m.focus == id).then_some("focus"))} cx={x.to_string()} cy={y.to_string()} r={DOT_R.to_string()}
                        data-testid="node" data-name={node.name.clone()} {onclick}>
                        <title>{format!("{} {state} {ip}", node.name)}</title>
                    </circle>
                }.into()
            }) }
            { for sim.nodes.iter().enumerate().filter(|(id, _)| !l.dots[*id]).filter_map(|(id, node)| {
                let (x, y) = l.nodes[id]?;
                let focus = m.focus == id;
                let onclick = p.lab.dispatcher().to_callback().reform(move |_| LabAction::Focus(id));
                let (state, ip) = status(sim, node, lang)?;
                let badge = role_badge(node.role());
                let class = if matches!(node.kind, NodeKind::Database { .. }) { "dblink" } else { "drop" };
                let lines: Html = l.lines(sim, id).iter().map(|ln| html! {
                    <line {class} x1={ln.x1.to_string()} y1={ln.y1.to_string()} x2={ln.x2.to_string()} y2={ln.y2.to_string()} />
                }).collect();
                Some(html! {
                    <g class={classes!("node", focus.then_some("focus"))} data-testid="node" data-name={node.name.clone()} {onclick}>
                        {lines}
                        <rect x={(x - BOX_W / 2.0).to_string()} y={(y - BOX_H / 2.0).to_string()} width={BOX_W.to_string()} height={BOX_H.to_string()} rx="8" />
                        <rect class="badge" x={(x - 56.0).to_string()} y={(y - 16.0).to_string()} width="14" height="14" rx="3" style={format!("fill:{};stroke:none", badge.1)} />
                        <text class="badgetext" x={(x - 49.0).to_string()} y={(y - 5.0).to_string()} text-anchor="middle" translate="no" aria-hidden="true">{badge.0}</text>
                        <text x={(x - 38.0).to_string()} y={(y - 4.0).to_string()} class="nodename" translate="no">{node.name.clone()}</text>
                        <text x={(x - 54.0).to_string()} y={(y + 13.0).to_string()} class="nodestate">{format!("{state} {ip}")}</text>
                    </g>
                })
            }) }
            {anim}
        </svg>
    }
}
