//! The flow graph (sequence diagram): one lifeline per node, time downward, one arrow per packet.

use super::{Lab, Msg, msg_color};
use dhcplab_engine::sim::TraceKind;
use yew::html::Scope;
use yew::prelude::*;

/// At most this many packets are drawn (the latest ones).
const MAX_ROWS: usize = 60;
const COL: f64 = 120.0;
const ROW: f64 = 26.0;

pub fn view(lab: &Lab, link: &Scope<Lab>) -> Html {
    let sim = &lab.scenario.sim;
    let packets: Vec<_> = lab.visible().iter().filter(|e| matches!(e.kind, TraceKind::Packet { .. })).collect();
    let packets = &packets[packets.len().saturating_sub(MAX_ROWS)..];
    // Lifelines for the nodes that appear (senders and receivers), in first-appearance order.
    let mut nodes: Vec<usize> = vec![];
    for e in packets {
        if let TraceKind::Packet { to, .. } = &e.kind {
            for n in std::iter::once(&e.node).chain(to.iter()) {
                if !nodes.contains(n) {
                    nodes.push(*n);
                }
            }
        }
    }
    nodes.truncate(8);
    let col = |n: usize| nodes.iter().position(|&x| x == n).map(|i| 110.0 + i as f64 * COL);
    let height = 40.0 + packets.len() as f64 * ROW + 10.0;
    let width = 110.0 + nodes.len().max(1) as f64 * COL;
    html! {
        <div class="flowwrap">
            <svg class="flowgraph" data-testid="flow" width={width.to_string()} height={height.to_string()}>
                { for nodes.iter().map(|&n| {
                    let x = col(n).unwrap_or(0.0);
                    html! {
                        <g>
                            <text x={x.to_string()} y="16" class="lifename" text-anchor="middle">{sim.nodes[n].name.clone()}</text>
                            <line class="lifeline" x1={x.to_string()} y1="24" x2={x.to_string()} y2={height.to_string()} />
                        </g>
                    }
                }) }
                { for packets.iter().enumerate().map(|(i, e)| {
                    let TraceKind::Packet { summary, to, .. } = &e.kind else { return html! {} };
                    let y = 40.0 + i as f64 * ROW;
                    let color = msg_color(&summary.msg);
                    let seq = e.seq;
                    let selected = lab.selected == Some(seq);
                    let onclick = link.callback(move |_| Msg::Select(seq));
                    let Some(x1) = col(e.node) else { return html! {} };
                    html! {
                        <g class={classes!("arrow", selected.then_some("sel"))} data-testid="flow-row" data-msg={summary.msg.clone()} {onclick}>
                            <text x="4" y={(y + 4.0).to_string()} class="flowtime">{e.at.to_string()}</text>
                            { for to.iter().filter_map(|&n| col(n)).map(|x2| {
                                let dir = if x2 >= x1 { -1.0 } else { 1.0 };
                                let head = format!("{x2},{y} {},{} {},{}", x2 + dir * 7.0, y - 4.0, x2 + dir * 7.0, y + 4.0);
                                html! {
                                    <>
                                        <line x1={x1.to_string()} y1={y.to_string()} x2={x2.to_string()} y2={y.to_string()} stroke={color} />
                                        <polygon points={head} fill={color} />
                                    </>
                                }
                            }) }
                            <text x={(x1 + 6.0).to_string()} y={(y - 4.0).to_string()} class="flowlabel" fill={color}>{summary.msg.trim_start_matches("DHCP").to_string()}</text>
                        </g>
                    }
                }) }
            </svg>
        </div>
    }
}
