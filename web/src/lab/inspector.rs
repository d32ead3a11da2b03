//! The packet inspector, Wireshark style: frame headers, the decoded DHCP field tree, and the bytes,
//! linked both ways — select a field and its bytes light up; click a byte and its field is selected.

use super::{Lab, Msg};
use crate::i18n::{Lang, t};
use dhcplab_engine::dissect::{Field, dissect};
use dhcplab_engine::sim::{TraceEntry, TraceKind};
use std::ops::Range;
use yew::html::Scope;
use yew::prelude::*;

fn field_at<'a>(fields: &'a [Field], path: &[usize]) -> Option<&'a Field> {
    let (first, rest) = path.split_first()?;
    let f = fields.get(*first)?;
    if rest.is_empty() { Some(f) } else { field_at(&f.children, rest) }
}

fn tree(fields: &[Field], prefix: &mut Vec<usize>, selected: Option<&[usize]>, link: &Scope<Lab>) -> Html {
    html! {
        <ul>
            { for fields.iter().enumerate().map(|(i, f)| {
                prefix.push(i);
                let path = prefix.clone();
                let is_sel = selected == Some(path.as_slice());
                let p = path.clone();
                let onclick = link.callback(move |e: MouseEvent| {
                    e.stop_propagation();
                    Msg::SelectField(p.clone())
                });
                let children = if f.children.is_empty() { html! {} } else { tree(&f.children, prefix, selected, link) };
                prefix.pop();
                html! {
                    <li>
                        <span class={classes!("field", is_sel.then_some("sel"))} data-testid="field" data-name={f.name.clone()} {onclick}>
                            <b>{f.name.clone()}</b>
                            if !f.value.is_empty() { {": "}{f.value.clone()} }
                        </span>
                        {children}
                    </li>
                }
            }) }
        </ul>
    }
}

fn hex_pane(bytes: &[u8], hl: Option<Range<usize>>, link: &Scope<Lab>) -> Html {
    html! {
        <div class="hex" data-testid="hex">
            { for bytes.chunks(16).enumerate().map(|(row, chunk)| html! {
                <div class="hexrow">
                    <span class="off">{format!("{:04x}", row * 16)}</span>
                    { for chunk.iter().enumerate().map(|(i, b)| {
                        let at = row * 16 + i;
                        let on = hl.as_ref().is_some_and(|r| r.contains(&at));
                        let onclick = link.callback(move |_| Msg::SelectByte(at));
                        html! { <span class={classes!("b", on.then_some("hl"))} data-testid="hex-byte" data-offset={at.to_string()} {onclick}>{format!("{b:02x}")}</span> }
                    }) }
                    <span class="ascii">{ chunk.iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '.' }).collect::<String>() }</span>
                </div>
            }) }
        </div>
    }
}

pub fn view(entry: Option<&TraceEntry>, selected: Option<&[usize]>, link: &Scope<Lab>, lang: Lang) -> Html {
    let Some(TraceEntry { kind: TraceKind::Packet { frame, summary, broadcast, .. }, at, .. }) = entry else {
        return html! { <p class="muted">{t(lang, "pick_packet")}</p> };
    };
    let fields = dissect(&frame.payload);
    let hl = selected.and_then(|p| field_at(&fields, p)).map(|f| f.range.clone());
    html! {
        <div class="inspect">
            <ul class="layers">
                <li>{format!("Frame: {} bytes of DHCP at {at}", summary.size)}</li>
                <li>{format!("Ethernet II, Src: {}, Dst: {}{}", frame.src_mac, frame.dst_mac, if *broadcast { " (broadcast)" } else { "" })}</li>
                <li>{format!("Internet Protocol Version 4, Src: {}, Dst: {}", frame.src.ip(), frame.dst.ip())}</li>
                <li>{format!("User Datagram Protocol, Src Port: {}, Dst Port: {}", frame.src.port(), frame.dst.port())}</li>
            </ul>
            <div class="tree" data-testid="field-tree">
                <div class="treehead">{format!("Dynamic Host Configuration Protocol ({})", summary.msg)}</div>
                { tree(&fields, &mut vec![], selected, link) }
            </div>
            <h3>{t(lang, "hex")}</h3>
            { hex_pane(&frame.payload, hl, link) }
        </div>
    }
}
