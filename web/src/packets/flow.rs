//! The flow graph (sequence diagram): one lifeline per party, time downward, one arrow per packet.

use super::msg_color;
use crate::i18n::{Key, Lang, t};
use dhcplab_engine::message::DhcpMessage;
use yew::prelude::*;

/// At most this many arrows are drawn (the caller passes the latest ones).
pub const MAX_ROWS: usize = 60;
/// At most this many lifelines.
pub const MAX_LANES: usize = 8;
/// The narrowest column; a wider lifeline name widens every column, so names never overlap.
const COL: f64 = 120.0;
/// About the width of a lifeline name's character (12 px bold).
const CHAR: f64 = 7.5;
const ROW: f64 = 26.0;

/// One packet: from one lane to one or more (a broadcast reaches several).
#[derive(Clone, PartialEq)]
pub struct Arrow {
    /// What selecting it reports back (a trace index, a sequence number).
    pub key: u64,
    pub time: String,
    pub from: usize,
    pub to: Vec<usize>,
    pub msg: DhcpMessage,
}

/// The diagram in words, for a screen reader: one sentence per arrow, oldest first.
pub fn describe(lanes: &[String], arrows: &[Arrow], lang: Lang) -> String {
    let name = |i: usize| lanes.get(i).cloned().unwrap_or_default();
    let mut out = t(lang, Key::FlowAlt).replace("{n}", &arrows.len().to_string());
    for a in arrows {
        let to: Vec<String> = a.to.iter().map(|&i| name(i)).collect();
        out.push_str(&format!(" {} {}: {} → {}.", a.time, a.msg.wire_name(), name(a.from), to.join(", ")));
    }
    out
}

/// Draws `arrows` between `lanes` (lifeline names, indexed by `Arrow::from`/`to`); lanes past `MAX_LANES`
/// are left out, and so are arrows that would only touch them.
pub fn view(lanes: &[String], arrows: &[Arrow], selected: Option<u64>, on_select: &Callback<u64>, lang: Lang) -> Html {
    let arrows = &arrows[arrows.len().saturating_sub(MAX_ROWS)..];
    let lanes = &lanes[..lanes.len().min(MAX_LANES)];
    let widest = lanes.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let step = COL.max(widest as f64 * CHAR + 16.0);
    let col = |n: usize| (n < lanes.len()).then_some(110.0 + n as f64 * step);
    let height = 40.0 + arrows.len() as f64 * ROW + 10.0;
    let width = 110.0 + lanes.len().max(1) as f64 * step;
    html! {
        <div class="flowwrap" tabindex="0" role="region" aria-label={t(lang, Key::Flow)}>
            <svg class="flowgraph" data-testid="flow" width={width.to_string()} height={height.to_string()} role="img" aria-label={describe(lanes, arrows, lang)}>
                { for lanes.iter().enumerate().map(|(i, name)| {
                    let x = col(i).unwrap_or(0.0);
                    html! {
                        <g>
                            <text x={x.to_string()} y="16" class="lifename" text-anchor="middle" data-testid="lifeline">{name.clone()}</text>
                            <line class="lifeline" x1={x.to_string()} y1="24" x2={x.to_string()} y2={height.to_string()} />
                        </g>
                    }
                }) }
                { for arrows.iter().enumerate().map(|(i, a)| {
                    let y = 40.0 + i as f64 * ROW;
                    let color = msg_color(a.msg);
                    let key = a.key;
                    let onclick = on_select.reform(move |_: MouseEvent| key);
                    let Some(x1) = col(a.from) else { return html! {} };
                    html! {
                        <g class={classes!("arrow", (selected == Some(key)).then_some("sel"))} data-testid="flow-row" data-msg={a.msg.wire_name()} {onclick}>
                            // The whole row is the target, not just a 1-pixel line.
                            <rect class="hit" x="0" y={(y - ROW / 2.0).to_string()} width={width.to_string()} height={ROW.to_string()} fill="transparent" />
                            <text x="4" y={(y + 4.0).to_string()} class="flowtime">{a.time.clone()}</text>
                            { for a.to.iter().filter_map(|&n| col(n)).map(|x2| {
                                let dir = if x2 >= x1 { -1.0 } else { 1.0 };
                                let head = format!("{x2},{y} {},{} {},{}", x2 + dir * 7.0, y - 4.0, x2 + dir * 7.0, y + 4.0);
                                html! {
                                    <>
                                        <line x1={x1.to_string()} y1={y.to_string()} x2={x2.to_string()} y2={y.to_string()} stroke={color} />
                                        <polygon points={head} fill={color} />
                                    </>
                                }
                            }) }
                            <text x={(x1 + 6.0).to_string()} y={(y - 4.0).to_string()} class="flowlabel" fill={color}>{a.msg.short_name()}</text>
                        </g>
                    }
                }) }
            </svg>
        </div>
    }
}
