//! `dhcplab sim --explain FILE`: a capture's DHCP told in the terminal, packet by packet, with the same
//! narration and findings the lab shows when the file is opened there (`dhcplab_engine::capture`).

use crate::sim_cmd::Lang;
use anyhow::{Context, Result};
use dhcplab_engine::capture::{self, ExplainedPacket, Finding};
use dhcplab_engine::text::Text;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

fn pick(t: &Text, lang: Lang) -> &str {
    if lang == Lang::Zh { &t.zh } else { &t.en }
}

/// One packet as `--json` prints it: one object per line.
#[derive(Serialize)]
struct Line<'a> {
    frame: usize,
    /// Seconds from the file's first frame, to the microsecond (tshark's `frame.time_relative`).
    time: f64,
    msg: &'static str,
    src: std::net::SocketAddrV4,
    dst: std::net::SocketAddrV4,
    client: String,
    xid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rfc: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a dhcplab_engine::watch::Outcome>,
    findings: &'a [Finding],
}

fn print_packet(p: &ExplainedPacket, lang: Lang, json: bool, out: &mut impl Write) -> Result<()> {
    let e = &p.event;
    let s = &e.packet.summary;
    if json {
        let line = Line {
            frame: p.number,
            time: p.since_first.as_secs_f64(),
            msg: s.msg.wire_name(),
            src: e.packet.src,
            dst: e.packet.dst,
            client: e.client_name(),
            xid: s.xid,
            state: p.state.map(|st| st.to_string()),
            text: pick(&e.text, lang),
            rfc: e.rfc.as_deref(),
            outcome: e.outcome.as_ref(),
            findings: &p.findings,
        };
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)?;
        return Ok(());
    }
    let state = p.state.map(|st| format!("  [{st}]")).unwrap_or_default();
    writeln!(
        out,
        "{:>4}  {:>9}  {:<13} {} → {}  xid {:#010x}{state}",
        p.number,
        p.time(),
        s.msg.wire_name(),
        e.packet.src,
        e.packet.dst,
        s.xid
    )?;
    let rfc = e.rfc.as_ref().map(|r| format!(" ({r})")).unwrap_or_default();
    writeln!(out, "      {}{rfc}", pick(&e.text, lang))?;
    for f in &p.findings {
        let mark = if f.is_problem() { "!" } else { "·" };
        writeln!(out, "    {mark} {}", pick(&f.text(), lang))?;
    }
    if let Some(o) = &e.outcome {
        writeln!(out, "      {}", pick(&o.text(&e.client_name()), lang))?;
    }
    Ok(())
}

/// Explains `path`. A file that is not a capture is an error naming it; a file cut short is explained up
/// to the cut, and the cut is said.
pub fn run(path: &Path, lang: Lang, json: bool, out: &mut impl Write) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let x = capture::explain(&name, &bytes)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), pick(&e.text(), lang)))?;
    if !json {
        writeln!(out, "{}\n", pick(&x.summary(), lang))?;
    }
    for p in &x.packets {
        print_packet(p, lang, json, out)?;
    }
    if let Some(cut) = x.cut_short {
        if json {
            serde_json::to_writer(
                &mut *out,
                &serde_json::json!({ "cut_short": cut, "text": pick(&cut.text(), lang) }),
            )?;
            writeln!(out)?;
        } else {
            writeln!(out, "\n! {}", pick(&cut.text(), lang))?;
        }
    }
    Ok(())
}
