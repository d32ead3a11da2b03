//! A capture explained: the DHCP packets of a pcap or pcapng file told as the lab tells its scenarios
//! (who sent what, to whom, and why), with the client state each message shows and what is unusual or
//! wrong — retransmissions, a second or rogue server, a NAK and its likely cause, a REQUEST naming another
//! server, answers missing, relay hops. The lab runs it in the browser on a dropped file; `dhcplab sim
//! --explain` prints it. Built on the watcher's narration (`crate::watch`), fed from a file instead of a link.

mod file;
mod findings;
#[cfg(test)]
mod tests;

pub use file::{CaptureError, CaptureFile, CutShort, Format, Numbered, decode_ethernet, read};
pub use findings::{Finding, receiver_state, sender_state};

use crate::client::ClientStateKind;
use crate::stats::Stats;
use crate::text::counted;
use crate::watch::{Watch, WatchEvent};
use findings::Detector;
use std::net::Ipv4Addr;

/// One DHCP packet of the capture, told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainedPacket {
    /// Its frame number in the file, as Wireshark shows it.
    pub number: usize,
    /// From the file's first frame, to the file's precision (see [`ExplainedPacket::time`]).
    pub since_first: std::time::Duration,
    /// The narration, the packet as the inspector takes it, and how the exchange ended.
    pub event: WatchEvent,
    /// The Ethernet addresses (the narration's packet is the UDP datagram), and whether it was broadcast.
    pub src_mac: crate::HwAddr,
    pub dst_mac: crate::HwAddr,
    pub broadcast: bool,
    /// The client state the message shows (its sender's, or for a reply the state it puts the client in).
    pub state: Option<ClientStateKind>,
    pub findings: Vec<Finding>,
}

impl ExplainedPacket {
    /// Seconds from the file's first frame to the microsecond ("0.000461"), as Wireshark's time column
    /// shows them: the lab's clock (milliseconds) would show a whole DORA on a LAN at 0:00:00.000.
    pub fn time(&self) -> String {
        format!("{}.{:06}", self.since_first.as_secs(), self.since_first.subsec_micros())
    }
}

/// A whole capture, told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// The file's name, which the narration calls the link.
    pub name: String,
    pub format: Format,
    pub packets: Vec<ExplainedPacket>,
    /// Every frame in the file.
    pub frames: usize,
    /// Frames skipped: not IPv4/UDP, UDP but not DHCP, or headers that do not parse.
    pub skipped: usize,
    /// DHCP-port datagrams that are not valid DHCP (counted by why, as the server counts its drops).
    pub malformed: u64,
    pub cut_short: Option<CutShort>,
    /// The clients (by MAC) and servers (by identifier) seen, in order of appearance.
    pub clients: Vec<crate::HwAddr>,
    pub servers: Vec<Ipv4Addr>,
    pub stats: Stats,
}

impl Explained {
    /// One line on the whole file: how many DHCP packets of how many frames, clients and servers.
    pub fn summary(&self) -> crate::text::Text {
        let (name, n, frames, skipped) = (&self.name, self.packets.len(), self.frames, self.skipped);
        let (clients, servers) = (self.clients.len(), self.servers.len());
        crate::text::Text::new(
            format!(
                "{name}: {} in {} ({skipped} skipped, {} malformed DHCP); {}, {}",
                counted(n, "DHCP packet"),
                counted(frames, "frame"),
                self.malformed,
                counted(clients, "client"),
                counted(servers, "server"),
            ),
            format!(
                "{name}：{frames} 帧中有 {n} 个 DHCP 报文（跳过 {skipped} 帧，其中格式错误的 DHCP {} 个）；\
                 {clients} 个客户端，{servers} 台服务器",
                self.malformed
            ),
        )
    }
}

/// What the narration calls the captured link ("asks everyone on the LAN"): a file does not say which
/// link it was, and the word reads the same in both languages.
const LINK: &str = "LAN";

/// Reads and explains a capture. `name` is the file's name.
pub fn explain(name: &str, bytes: &[u8]) -> Result<Explained, CaptureError> {
    let file = read(bytes)?;
    let mut watch = Watch::new(LINK);
    let mut detector = Detector::default();
    let mut packets: Vec<ExplainedPacket> = vec![];
    let mut clients = vec![];
    let mut servers = vec![];
    for n in &file.frames {
        watch.handle_frame(n.frame.at, &n.frame);
        let Some(event) = watch.poll_event() else { continue };
        let s = &event.packet.summary;
        let broadcast = n.frame.dst_mac.as_bytes() == [0xff; 6] || n.frame.dst.ip().is_broadcast();
        let (findings, state) = detector.packet(packets.len(), &n.frame, s, broadcast);
        if !clients.contains(&s.chaddr) {
            clients.push(s.chaddr);
        }
        if !s.msg.from_client() {
            let server = s.server_id.unwrap_or(*n.frame.src.ip());
            if !servers.contains(&server) {
                servers.push(server);
            }
        }
        packets.push(ExplainedPacket {
            number: n.number,
            since_first: n.since_first,
            event,
            src_mac: n.frame.src_mac,
            dst_mac: n.frame.dst_mac,
            broadcast,
            state,
            findings,
        });
    }
    for (i, f) in detector.finish() {
        if let Some(p) = packets.get_mut(i) {
            p.findings.push(f);
        }
    }
    let stats = watch.stats().clone();
    let malformed = stats.dropped_total();
    Ok(Explained {
        name: name.to_string(),
        format: file.format,
        skipped: file.total - packets.len(),
        frames: file.total,
        packets,
        malformed,
        cut_short: file.cut_short,
        clients,
        servers,
        stats,
    })
}
