//! The capture's packets, Wireshark style: number, time, source, destination, message and the state it
//! shows, with a marked row (a sign and a word, not only a colour) where something is wrong.

use super::CaptureProps;
use super::model::CaptureAction;
use crate::i18n::{Key, t};
use crate::packets::msg_color;
use dhcplab_engine::capture::ExplainedPacket;
use yew::prelude::*;

/// At most this many rows are drawn, around the selection, so a long capture stays smooth.
const MAX_ROWS: usize = 200;

/// The rows drawn: a window of `listed` around the selection.
fn window(listed: &[(usize, &ExplainedPacket)], selected: usize) -> (usize, usize) {
    let at = listed.iter().position(|(i, _)| *i == selected).unwrap_or(0);
    let start = at.saturating_sub(MAX_ROWS / 2).min(listed.len().saturating_sub(MAX_ROWS));
    (start, (start + MAX_ROWS).min(listed.len()))
}

#[component]
pub fn PacketList(p: &CaptureProps) -> Html {
    let lang = p.lang;
    let d = p.capture.dispatcher().to_callback();
    let m = p.capture.get();
    let on_filter = d.reform(|e: Event| {
        CaptureAction::ProblemsOnly(e.target_unchecked_into::<web_sys::HtmlInputElement>().checked())
    });
    let listed = m.listed();
    let (from, to) = window(&listed, m.selected);
    html! {
        <>
            <div class="filters">
                <label><input type="checkbox" data-testid="capture-problems-only" checked={m.problems_only} onchange={on_filter} />{" "}{t(lang, Key::ProblemsOnly)}</label>
            </div>
            <div class="eventlist" tabindex="0" role="region" aria-label={t(lang, Key::CapturePackets)}>
                <table class="packets">
                    <thead><tr>
                        <th>{t(lang, Key::FrameNo)}</th><th>{t(lang, Key::TimeWord)}</th><th>{t(lang, Key::Source)}</th>
                        <th>{t(lang, Key::Destination)}</th><th>{t(lang, Key::Message)}</th><th>{t(lang, Key::ClientState)}</th><th><span class="sr-only">{t(lang, Key::Problem)}</span></th>
                    </tr></thead>
                    <tbody>
                        { for listed[from..to].iter().map(|&(i, pk)| {
                            let s = &pk.event.packet.summary;
                            let problems = pk.findings.iter().filter(|f| f.is_problem()).count();
                            let onclick = d.reform(move |_| CaptureAction::Select(i));
                            let selected = m.selected == i;
                            html! {
                                <tr class={classes!("pkt", selected.then_some("sel"), (problems > 0).then_some("problem"))}
                                    data-testid="capture-row" data-number={pk.number.to_string()} data-msg={s.msg.wire_name()}
                                    data-problem={(problems > 0).to_string()} aria-selected={selected.to_string()} {onclick}>
                                    <td class="t">{pk.number}</td>
                                    <td class="t" data-testid="capture-time">{pk.time()}</td>
                                    <td>{pk.event.packet.src.to_string()}</td>
                                    <td>{pk.event.packet.dst.to_string()}</td>
                                    <td class="m"><span class="dot" style={format!("background:{}", msg_color(s.msg))}></span>{s.msg.wire_name()}</td>
                                    <td>{pk.state.map(|st| st.to_string()).unwrap_or_default()}</td>
                                    <td>if problems > 0 { <span class="warn">{"⚠ "}{t(lang, Key::Problem)}</span> }</td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
        </>
    }
}
