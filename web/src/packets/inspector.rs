//! The packet inspector, Wireshark style: the layers around the DHCP message, the decoded field tree, and
//! the bytes, linked both ways — select a field and its bytes light up; click a byte and its field is
//! selected. The bytes are dissected here, by the engine's `dissect`, so the lab and the dashboard agree.

use crate::i18n::{Key, Lang, t};
use dhcplab_engine::HwAddr;
use dhcplab_engine::dissect::{Field, dissect};
use dhcplab_engine::message::DhcpMessage;
use dhcplab_engine::text::Text;
use std::net::SocketAddrV4;
use std::ops::Range;
use yew::prelude::*;

/// What to show: one-line descriptions of the outer layers, the message name, and the DHCP payload.
pub struct Inspected<'a> {
    pub layers: Vec<Text>,
    /// The link's name where a layer mentions it (data, not words to translate).
    pub link: Option<String>,
    pub msg: DhcpMessage,
    pub payload: &'a [u8],
}

/// The layers of an Ethernet frame around its DHCP message, as Wireshark lists them, under `title` (the
/// frame line: its number or time and size). Protocol names stay as written; the words around them are
/// translated.
pub fn frame_layers(
    title: Text,
    src_mac: &HwAddr,
    dst_mac: &HwAddr,
    broadcast: bool,
    src: &SocketAddrV4,
    dst: &SocketAddrV4,
) -> Vec<Text> {
    let (b_en, b_zh) = if broadcast { (" (broadcast)", "（广播）") } else { ("", "") };
    vec![
        title,
        Text::new(
            format!("Ethernet II, Src: {src_mac}, Dst: {dst_mac}{b_en}"),
            format!("以太网 Ethernet II，源：{src_mac}，目的：{dst_mac}{b_zh}"),
        ),
        ip_layer(src, dst),
        udp_layer(src, dst),
    ]
}

/// The IPv4 layer's line.
pub fn ip_layer(src: &SocketAddrV4, dst: &SocketAddrV4) -> Text {
    Text::new(
        format!("Internet Protocol Version 4, Src: {}, Dst: {}", src.ip(), dst.ip()),
        format!("网际协议 IPv4，源：{}，目的：{}", src.ip(), dst.ip()),
    )
}

/// The UDP layer's line.
pub fn udp_layer(src: &SocketAddrV4, dst: &SocketAddrV4) -> Text {
    Text::new(
        format!("User Datagram Protocol, Src Port: {}, Dst Port: {}", src.port(), dst.port()),
        format!("用户数据报协议 UDP，源端口：{}，目的端口：{}", src.port(), dst.port()),
    )
}

fn field_at<'a>(fields: &'a [Field], path: &[usize]) -> Option<&'a Field> {
    let (first, rest) = path.split_first()?;
    let f = fields.get(*first)?;
    if rest.is_empty() { Some(f) } else { field_at(&f.children, rest) }
}

fn tree(
    fields: &[Field],
    prefix: &mut Vec<usize>,
    selected: Option<&[usize]>,
    on_field: &Callback<Vec<usize>>,
    lang: Lang,
) -> Html {
    html! {
        <ul>
            { for fields.iter().enumerate().map(|(i, f)| {
                prefix.push(i);
                let path = prefix.clone();
                let is_sel = selected == Some(path.as_slice());
                let emit = on_field.clone();
                let onclick = Callback::from(move |e: MouseEvent| {
                    e.stop_propagation();
                    emit.emit(path.clone());
                });
                let children = if f.children.is_empty() { html! {} } else { tree(&f.children, prefix, selected, on_field, lang) };
                prefix.pop();
                let (name, value) = f.label(lang == Lang::Zh);
                let (name, value) = (name.to_string(), value.to_string());
                html! {
                    <li>
                        <span class={classes!("field", is_sel.then_some("sel"))} data-testid="field" data-name={f.name.clone()} {onclick}>
                            <b>{name}</b>
                            if !value.is_empty() { {": "}<span translate={if f.value == f.value_zh { "no" } else { "yes" }}>{value}</span> }
                        </span>
                        {children}
                    </li>
                }
            }) }
        </ul>
    }
}

/// The bytes as Wireshark's "copy as hex dump": offset, sixteen spaced bytes, their ASCII.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&format!("{:04x}  {:<47}  {}\n", row * 16, hex.join(" "), ascii(chunk)));
    }
    out
}

/// The bytes as one unbroken hex string ("copy as hex stream").
pub fn hex_stream(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn ascii(chunk: &[u8]) -> String {
    chunk.iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '.' }).collect()
}

/// Puts `text` on the clipboard (the page must have the user's gesture; the browser may refuse silently).
fn copy(text: String) {
    if let Some(w) = web_sys::window() {
        let _ = w.navigator().clipboard().write_text(&text);
    }
}

fn hex_pane(
    bytes: &[u8],
    fields: &[Field],
    hl: Option<Range<usize>>,
    on_field: &Callback<Vec<usize>>,
    label: &str,
) -> Html {
    // Real spaces between the bytes and columns, so selecting and copying gives a spaced dump.
    html! {
        <div class="hex" data-testid="hex" tabindex="0" role="region" aria-label={label.to_string()} translate="no">
            { for bytes.chunks(16).enumerate().map(|(row, chunk)| html! {
                <div class="hexrow">
                    <span class="off">{format!("{:04x}", row * 16)}</span>{"  "}
                    { for chunk.iter().enumerate().map(|(i, b)| {
                        let at = row * 16 + i;
                        let on = hl.as_ref().is_some_and(|r| r.contains(&at));
                        let onclick = Field::path_at(fields, at).map(|p| on_field.reform(move |_: MouseEvent| p.clone()));
                        let gap = if i + 1 < chunk.len() { " " } else { "" };
                        html! { <><span class={classes!("b", on.then_some("hl"))} data-testid="hex-byte" data-offset={at.to_string()} {onclick}>{format!("{b:02x}")}</span>{gap}</> }
                    }) }
                    {"  "}<span class="ascii">{ ascii(chunk) }</span>
                </div>
            }) }
        </div>
    }
}

/// `hint` (an i18n key) is shown until a packet is picked.
pub fn view(
    packet: Option<Inspected<'_>>,
    selected: Option<&[usize]>,
    on_field: &Callback<Vec<usize>>,
    lang: Lang,
    hint: Key,
) -> Html {
    let Some(p) = packet else {
        return html! { <p class="muted">{t(lang, hint)}</p> };
    };
    let fields = dissect(p.payload);
    let hl = selected.and_then(|s| field_at(&fields, s)).map(|f| f.range.clone());
    html! {
        <div class="inspect">
            <ul class="layers" data-link={p.link.clone()}>
                { for p.layers.iter().map(|l| html! { <li>{ if lang == Lang::Zh { l.zh.clone() } else { l.en.clone() } }</li> }) }
            </ul>
            <div class="tree" data-testid="field-tree" tabindex="0" role="region" aria-label={format!("Dynamic Host Configuration Protocol ({})", p.msg)}>
                <div class="treehead">{ if lang == Lang::Zh { format!("动态主机配置协议 DHCP ({})", p.msg) } else { format!("Dynamic Host Configuration Protocol ({})", p.msg) } }</div>
                { tree(&fields, &mut vec![], selected, on_field, lang) }
            </div>
            <h3>{t(lang, Key::Hex)}
                <button class="copy" data-testid="copy-hex-dump" onclick={{ let d = hex_dump(p.payload); move |_| copy(d.clone()) }}>{t(lang, Key::CopyHexDump)}</button>
                <button class="copy" data-testid="copy-hex-stream" onclick={{ let d = hex_stream(p.payload); move |_| copy(d.clone()) }}>{t(lang, Key::CopyHexStream)}</button>
            </h3>
            { hex_pane(p.payload, &fields, hl, on_field, t(lang, Key::Hex)) }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_copies_are_spaced_dumps_or_one_stream() {
        let bytes: Vec<u8> = (0u8..20).chain(*b"dhcp").collect();
        let dump = hex_dump(&bytes);
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines[0], "0000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f  ................");
        assert_eq!(lines[1], "0010  10 11 12 13 64 68 63 70                          ....dhcp");
        assert_eq!(hex_stream(&bytes[..4]), "00010203");
    }
}
