//! The event list (Packet Tracer style): every step on screen, filtered by message and node, kept
//! scrolled to the newest.

use super::CardProps;
use super::model::{LabAction, entry_label};
use crate::i18n::{Key, Lang, t};
use crate::packets::msg_color;
use dhcplab_engine::message::DhcpMessage;
use dhcplab_engine::sim::TraceKind;
use yew::prelude::*;

/// At most this many rows are drawn (the latest ones), so a big network stays smooth.
const MAX_ROWS: usize = 120;

#[component]
pub fn EventList(p: &CardProps) -> Html {
    let lang = p.lang;
    let d = p.lab.dispatcher().to_callback();
    let m = p.lab.get();
    let list = use_node_ref();
    {
        let list = list.clone();
        use_effect_with(m.shown, move |_| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                el.set_scroll_top(el.scroll_height());
            }
        });
    }
    let rows = m.listed();
    let rows = &rows[rows.len().saturating_sub(MAX_ROWS)..];
    let on_msg =
        d.reform(|e: Event| LabAction::FilterMessage(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()));
    let on_node =
        d.reform(|e: Event| LabAction::FilterNode(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()));
    let sim = &m.scenario.sim;
    html! {
        <>
            <div class="filters">
                <select data-testid="filter-msg" aria-label={t(lang, Key::Message)} onchange={on_msg}>
                    <option value="" selected={m.filter_msg.is_none()}>{t(lang, Key::AllMessages)}</option>
                    { for DhcpMessage::ALL.iter().map(|&msg| html! { <option value={msg.wire_name()} selected={m.filter_msg == Some(msg)}>{msg.wire_name()}</option> }) }
                </select>
                <select data-testid="filter-node" aria-label={t(lang, Key::AllNodes)} onchange={on_node}>
                    <option value="" selected={m.filter_node.is_none()}>{t(lang, Key::AllNodes)}</option>
                    { for sim.nodes.iter().enumerate().take(60).map(|(i, n)| html! {
                        <option value={i.to_string()} selected={m.filter_node == Some(i)}>{n.name.clone()}</option>
                    }) }
                </select>
            </div>
            <div class="eventlist" ref={list} tabindex="0" role="region" aria-label={t(lang, Key::Events)}>
                <table>
                    <tbody>
                        { for rows.iter().map(|e| {
                            let seq = e.seq;
                            let (msg, kind_class) = match &e.kind {
                                TraceKind::Packet { summary, .. } => (Some(summary.msg), "pkt"),
                                TraceKind::ClientState { .. } => (None, "state"),
                                TraceKind::Lease { .. } => (None, "lease"),
                                TraceKind::Database { .. } => (None, "db"),
                                _ => (None, "note"),
                            };
                            let color = msg.map_or("transparent", msg_color);
                            let text = if lang == Lang::Zh { e.text.zh.clone() } else { e.text.en.clone() };
                            let onclick = d.reform(move |_| LabAction::Select(seq));
                            html! {
                                <tr class={classes!(kind_class, (m.selected == Some(seq)).then_some("sel"))}
                                    data-testid="event-row" data-msg={msg.map_or("", DhcpMessage::wire_name)} data-seq={seq.to_string()} {onclick} title={text}>
                                    <td class="t">{e.at.to_string()}</td>
                                    <td class="n" translate="no">{sim.nodes[e.node].name.clone()}</td>
                                    <td class="m"><span class="dot" style={format!("background:{color}")}></span>{entry_label(e, lang)}</td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
        </>
    }
}
