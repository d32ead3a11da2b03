//! `dhcplab sim`: a lab scenario run headless on the same engine and simulator as the browser.

use anyhow::{Context, Result};
use dhcplab_engine::client::ClientStateKind;
use dhcplab_engine::sim::scenario;
use dhcplab_engine::sim::{TraceEntry, TraceKind};
use std::io::Write;
use std::path::Path;

/// Which language the explanations are printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    En,
    Zh,
}

pub fn list(out: &mut impl Write) -> Result<()> {
    for s in scenario::list() {
        writeln!(out, "{:<14} {}", s.name, s.title.en)?;
    }
    Ok(())
}

/// One trace line: time, node, what (message or state), and the explanation.
fn line(sim: &dhcplab_engine::sim::Sim, e: &TraceEntry, lang: Lang) -> String {
    let what = match &e.kind {
        TraceKind::Packet { summary, frame, lost, .. } => {
            let lost = if *lost { " (lost)" } else { "" };
            format!("{:<13} {} → {}{lost}", summary.msg, frame.src, frame.dst)
        }
        TraceKind::ClientState { from, to, .. } => format!("{from} → {to}"),
        TraceKind::Client { .. } => "client".into(),
        TraceKind::Lease { event } => format!("lease {}", event.kind.as_str()),
        TraceKind::Arp { ip, .. } => format!("ARP probe {ip}"),
        TraceKind::Ping { ip, .. } => format!("ping {ip}"),
        TraceKind::Action { what } => {
            if lang == Lang::Zh {
                what.zh.clone()
            } else {
                what.en.clone()
            }
        }
        TraceKind::Database { ip, stored: true } => format!("stored {ip}"),
        TraceKind::Database { ip, stored: false } => format!("refused {ip}"),
    };
    let text = match lang {
        Lang::En => &e.text.en,
        Lang::Zh => &e.text.zh,
    };
    format!("{:>4}  {}  {:<12} {:<52} {}", e.seq, e.at, sim.nodes[e.node].name, what, text)
}

/// Runs `name`; prints the trace (or JSON), writes the pcap if asked. Returns false for an unknown name.
pub fn run(name: &str, seed: u64, pcap: Option<&Path>, json: bool, lang: Lang, out: &mut impl Write) -> Result<bool> {
    let Some(mut s) = scenario::build(name, seed) else { return Ok(false) };
    s.run();
    if let Some(path) = pcap {
        let bytes = s.sim.pcap().context("encoding the pcap")?;
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, s.sim.trace())?;
        writeln!(out)?;
        return Ok(true);
    }
    writeln!(out, "scenario {name} (seed {seed}): {} steps over {}", s.sim.trace().len(), s.end)?;
    for e in s.sim.trace() {
        writeln!(out, "{}", line(&s.sim, e, lang))?;
    }
    // What `ipconfig /all` would show on the client the scenario follows.
    for nic in 0.. {
        let Some(c) = s.sim.client(s.client, nic) else { break };
        let host = &s.sim.nodes[s.client].name;
        writeln!(out, "\n{host} eth{nic}: {}", c.state())?;
        if let Some(l) = c.lease() {
            let list = |v: &[std::net::Ipv4Addr]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
            writeln!(out, "   IPv4 address . . . : {}", l.ip)?;
            writeln!(out, "   Subnet mask  . . . : {}", l.mask)?;
            writeln!(out, "   Default gateway  . : {}", list(&l.routers))?;
            writeln!(out, "   DNS servers  . . . : {}", list(&l.dns))?;
            writeln!(out, "   DHCP server  . . . : {}", l.server)?;
            if c.state() != ClientStateKind::Static {
                writeln!(out, "   Lease obtained . . : {}", l.obtained)?;
                writeln!(out, "   Lease expires  . . : {}", l.expires)?;
            }
        } else if let Some(ll) = c.link_local().filter(|l| l.claimed) {
            writeln!(out, "   Autoconfiguration IPv4 address : {} (no DHCP server answered)", ll.ip)?;
        }
    }
    Ok(true)
}
