//! The network picture: segments as lines, nodes hanging off them, and the selected packet travelling from
//! its sender to every node that took it in (a broadcast visibly reaches the whole segment).

use super::CardProps;
use super::model::LabAction;
use crate::i18n::{Key, t};
use crate::packets::msg_color;
use dhcplab_engine::sim::{NodeKind, NodeRole, Sim, TraceEntry, TraceKind};
use yew::prelude::*;

const W: f64 = 760.0;
const SEG_GAP: f64 = 150.0;
/// The first segment's height, and its height when nodes also hang above it.
const TOP: f64 = 40.0;
const TOP_CROWDED: f64 = 95.0;
/// Beyond this many nodes per segment the picture shows a count instead.
const MAX_PER_SEGMENT: usize = 8;
/// Up to this many nodes hang below the line; more alternate above and below.
const ONE_ROW: usize = 5;

/// Where each node is drawn, and where each segment runs.
pub struct Layout {
    pub nodes: Vec<Option<(f64, f64)>>,
    pub segments: Vec<f64>,
    pub hidden: Vec<usize>,
    pub top: f64,
    /// The lowest point drawn (a lease database hangs below its servers).
    pub bottom: f64,
}

pub fn layout(sim: &Sim) -> Layout {
    let mut per_seg: Vec<Vec<usize>> = vec![vec![]; sim.segments.len()];
    let mut nodes = vec![None; sim.nodes.len()];
    let mut multi = vec![];
    for (id, node) in sim.nodes.iter().enumerate() {
        if node.removed {
            continue;
        }
        let segs: Vec<usize> = node.nics().iter().map(|&n| sim.nics[n].segment).collect();
        let mut uniq = segs.clone();
        uniq.sort();
        uniq.dedup();
        if uniq.len() > 1 {
            multi.push((id, uniq));
        } else if let Some(&s) = uniq.first() {
            per_seg[s].push(id);
        }
    }
    let top = if per_seg.iter().any(|v| v.len() > ONE_ROW) { TOP_CROWDED } else { TOP };
    let segments: Vec<f64> = (0..sim.segments.len()).map(|i| top + i as f64 * SEG_GAP).collect();
    for (id, segs) in multi {
        // A router or multi-homed server sits between its segments, on the right.
        let y = segs.iter().map(|&s| segments[s]).sum::<f64>() / segs.len() as f64;
        nodes[id] = Some((W - 90.0, y));
    }
    let mut hidden = vec![0; segments.len()];
    for (s, ids) in per_seg.iter().enumerate() {
        let shown = ids.len().min(MAX_PER_SEGMENT);
        hidden[s] = ids.len() - shown;
        let span = W - 240.0;
        for (i, &id) in ids.iter().take(shown).enumerate() {
            let x = 70.0 + if shown > 1 { span * i as f64 / (shown - 1) as f64 } else { span / 2.0 };
            let below = i % 2 == 0 || shown <= ONE_ROW;
            nodes[id] = Some((x, segments[s] + if below { 55.0 } else { -55.0 }));
        }
    }
    // A lease database hangs below the servers that share it, linked to each of them.
    let mut bottom = segments.last().copied().unwrap_or(top) + 60.0;
    for (id, node) in sim.nodes.iter().enumerate() {
        if let NodeKind::Database { servers, .. } = &node.kind {
            let at: Vec<(f64, f64)> = servers.iter().filter_map(|&s| nodes.get(s).copied().flatten()).collect();
            if at.is_empty() {
                continue;
            }
            let x = at.iter().map(|p| p.0).sum::<f64>() / at.len() as f64;
            let y = at.iter().map(|p| p.1).fold(f64::MIN, f64::max) + 85.0;
            nodes[id] = Some((x, y));
            bottom = bottom.max(y + 30.0);
        }
    }
    Layout { nodes, segments, hidden, top, bottom }
}

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
                        <text x={(sx + 14.0).to_string()} y={(sy - 26.0).to_string()} class="pktlabel" fill={color}>{summary.msg.wire_name()}</text>
                    }
                </g>
            }
        }
        _ => html! {},
    }
}

#[component]
pub fn Topology(p: &CardProps) -> Html {
    let lang = p.lang;
    let m = p.lab.get();
    let sim = &m.scenario.sim;
    let l = layout(sim);
    let height = (l.top + (sim.segments.len().max(1) - 1) as f64 * SEG_GAP + 100.0).max(l.bottom);
    let selected = m.selected_entry();
    let anim = packet_path(sim, &l, selected);
    html! {
        <svg class="topology" data-testid="topology" viewBox={format!("0 0 {W} {height}")} role="img">
            { for sim.segments.iter().enumerate().map(|(i, s)| {
                let y = l.segments[i];
                let more = l.hidden[i];
                html! {
                    <g class="segment">
                        <line x1="20" y1={y.to_string()} x2={(W - 160.0).to_string()} y2={y.to_string()} />
                        <text x="22" y={(y - 8.0).to_string()} class="seglabel">
                            {format!("{} {}", t(lang, Key::Link), s.name)}
                            if s.loss > 0.0 { {format!(" · {} {:.0}%", t(lang, Key::Loss), s.loss * 100.0)} }
                        </text>
                        if more > 0 { <text x={(W - 150.0).to_string()} y={(y + 5.0).to_string()} class="more">{format!("+{more}")}</text> }
                    </g>
                }
            }) }
            { for sim.nodes.iter().enumerate().filter_map(|(id, node)| {
                let (x, y) = l.nodes[id]?;
                let focus = m.focus == id;
                let onclick = p.lab.dispatcher().to_callback().reform(move |_| LabAction::Focus(id));
                let (state, ip) = match &node.kind {
                    NodeKind::Host { clients, .. } => {
                        let c = clients.first()?;
                        (c.state().to_string(), c.address().map(|a| a.to_string()).unwrap_or_default())
                    }
                    NodeKind::Server { online, .. } => (if *online { "ON".into() } else { "OFF".into() }, sim.nic_address(node.nics()[0]).map(|a| a.to_string()).unwrap_or_default()),
                    NodeKind::Database { records, .. } => (t(lang, Key::LeaseRecords).replace("{n}", &records.len().to_string()), String::new()),
                    _ => (String::new(), node.nics().first().and_then(|&n| sim.nic_address(n)).map(|a| a.to_string()).unwrap_or_default()),
                };
                let badge = role_badge(node.role());
                let mut lines: Html = node.nics().iter().map(|&n| {
                    let sy = l.segments[sim.nics[n].segment];
                    html! { <line class="drop" x1={x.to_string()} y1={y.to_string()} x2={x.to_string()} y2={sy.to_string()} /> }
                }).collect();
                if let NodeKind::Database { servers, .. } = &node.kind {
                    lines = servers.iter().filter_map(|&s| l.nodes.get(s).copied().flatten()).map(|(sx, sy)| html! {
                        <line class="dblink" x1={x.to_string()} y1={(y - 22.0).to_string()} x2={sx.to_string()} y2={(sy + 22.0).to_string()} />
                    }).collect();
                }
                Some(html! {
                    <g class={classes!("node", focus.then_some("focus"))} data-testid="node" data-name={node.name.clone()} {onclick}>
                        {lines}
                        <rect x={(x - 62.0).to_string()} y={(y - 22.0).to_string()} width="124" height="44" rx="8" />
                        <rect class="badge" x={(x - 56.0).to_string()} y={(y - 16.0).to_string()} width="14" height="14" rx="3" style={format!("fill:{};stroke:none", badge.1)} />
                        <text class="badgetext" x={(x - 49.0).to_string()} y={(y - 5.0).to_string()} text-anchor="middle">{badge.0}</text>
                        <text x={(x - 38.0).to_string()} y={(y - 4.0).to_string()} class="nodename">{node.name.clone()}</text>
                        <text x={(x - 54.0).to_string()} y={(y + 13.0).to_string()} class="nodestate">{format!("{state} {ip}")}</text>
                    </g>
                })
            }) }
            {anim}
        </svg>
    }
}
