//! The daemon's live packets as the lab draws simulated ones: a sequence diagram (the server and the
//! clients or relays it talks to) and the inspector, over the exact bytes that were on the wire.

use crate::i18n::{Key, Lang, t};
use crate::packets::{flow, inspector};
use dhcplab_engine::event::{Direction, PacketSeen};
use dhcplab_engine::text::Text;
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

/// Packets kept for the view; older ones scroll away.
pub const KEEP: usize = 300;
/// Arrows drawn at most.
const ROWS: usize = 40;

/// The latest packets, each with its sequence number on the bridge.
#[derive(Default)]
pub struct Ring {
    pub packets: VecDeque<(u64, PacketSeen)>,
}

impl Ring {
    pub fn push(&mut self, seq: u64, p: PacketSeen) {
        self.packets.push_back((seq, p));
        while self.packets.len() > KEEP {
            self.packets.pop_front();
        }
    }

    pub fn get(&self, seq: u64) -> Option<&PacketSeen> {
        self.packets.iter().find(|(s, _)| *s == seq).map(|(_, p)| p)
    }
}

/// Whether a packet concerns what the user follows: a MAC, an IP (any address field), an xid, a hostname.
pub fn matches(p: &PacketSeen, follow: &str) -> bool {
    let f = follow.trim().to_lowercase();
    if f.is_empty() {
        return true;
    }
    let s = &p.summary;
    s.chaddr.to_string().contains(&f)
        || [s.ciaddr, s.yiaddr, s.giaddr].iter().chain(s.requested_ip.iter()).any(|ip| ip.to_string() == f)
        || format!("{:08x}", s.xid) == f.trim_start_matches("0x")
        || s.hostname.as_ref().is_some_and(|h| h.to_lowercase().contains(&f))
}

/// The other party of a packet: the relay when it came through one, else the client (by MAC).
fn party(p: &PacketSeen, lang: Lang) -> String {
    let s = &p.summary;
    if s.giaddr != Ipv4Addr::UNSPECIFIED {
        format!("{} {}", t(lang, Key::RelayWord), s.giaddr)
    } else {
        s.chaddr.to_string()
    }
}

/// A lifeline's label: a client's hostname (from any of its packets; replies do not carry it) or its MAC,
/// cut to fit the column. The full text is the lane's tooltip.
fn label(party: &str, names: &HashMap<String, String>) -> String {
    let name = names.get(party).map_or(party, String::as_str);
    if name.chars().count() > 17 {
        format!("{}…", name.chars().take(16).collect::<String>())
    } else {
        name.to_string()
    }
}

/// The time of day of a daemon timestamp (Unix milliseconds), in UTC.
pub fn clock(ms: u64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    let iso: String = d.to_iso_string().into();
    iso.get(11..23).unwrap_or(&iso).to_string()
}

/// The live flow's lifelines and arrows, newest packets last. A daemon's packets go between `dhcplab` and
/// its clients; on a link that `dhcplab watch` listens to (`watching`), each server heard has a lifeline of
/// its own, so a second (rogue) server shows as one, and a broadcast reaches every server.
pub fn diagram(packets: &[&(u64, PacketSeen)], watching: Option<&str>, lang: Lang) -> (Vec<String>, Vec<flow::Arrow>) {
    let names: HashMap<String, String> = packets
        .iter()
        .filter(|(_, p)| p.summary.giaddr == Ipv4Addr::UNSPECIFIED)
        .filter_map(|(_, p)| Some((party(p, lang), p.summary.hostname.as_deref()?.to_string())))
        .collect();
    let server = |ip: &Ipv4Addr| format!("{} {ip}", t(lang, Key::ServerWord));
    let mut parties: Vec<String> = match watching {
        None => vec!["dhcplab".to_string()],
        Some(link) => {
            let mut heard: Vec<String> = vec![];
            for (_, p) in packets.iter().rev().filter(|(_, p)| p.dir == Direction::Out) {
                let s = server(p.src.ip());
                if !heard.contains(&s) && heard.len() + 1 < flow::MAX_LANES {
                    heard.push(s);
                }
            }
            if heard.is_empty() { vec![link.to_string()] } else { heard }
        }
    };
    let servers = parties.len();
    let mut arrows = vec![];
    for (seq, p) in packets.iter().rev() {
        let who = party(p, lang);
        let lane = match parties.iter().position(|l| *l == who) {
            Some(i) => i,
            None if parties.len() < flow::MAX_LANES => {
                parties.push(who);
                parties.len() - 1
            }
            None => break,
        };
        // The server end: the daemon; or the server that sent it, or the one it was sent to (a broadcast
        // reaches them all).
        let at = |ip: &Ipv4Addr| parties[..servers].iter().position(|l| *l == server(ip));
        let ends: Vec<usize> = match (watching, p.dir) {
            (None, _) => vec![0],
            (Some(_), Direction::Out) => at(p.src.ip()).into_iter().collect(),
            (Some(_), Direction::In) => at(p.dst.ip()).map_or_else(|| (0..servers).collect(), |i| vec![i]),
        };
        let (from, to) = match p.dir {
            Direction::In => (lane, ends),
            Direction::Out => (ends.first().copied().unwrap_or(0), vec![lane]),
        };
        arrows.push(flow::Arrow { key: *seq, time: clock(p.at.as_millis()), from, to, msg: p.summary.msg });
        if arrows.len() == ROWS {
            break;
        }
    }
    arrows.reverse();
    let lanes =
        parties.iter().enumerate().map(|(i, p)| if i < servers { p.clone() } else { label(p, &names) }).collect();
    (lanes, arrows)
}

/// What the inspector shows for a live packet: which link, which way, the UDP addresses.
pub fn inspected(p: &PacketSeen) -> inspector::Inspected<'_> {
    let (at, n, link) = (clock(p.at.as_millis()), p.payload.len(), &p.link);
    let heard = if p.dir == Direction::In {
        Text::new(
            format!("Received on link {link} at {at} UTC: {n} bytes of DHCP"),
            format!("{at} UTC 在链路 {link} 上收到：DHCP 报文 {n} 字节"),
        )
    } else {
        Text::new(
            format!("Sent on link {link} at {at} UTC: {n} bytes of DHCP"),
            format!("{at} UTC 从链路 {link} 发出：DHCP 报文 {n} 字节"),
        )
    };
    inspector::Inspected {
        layers: vec![heard, inspector::ip_layer(&p.src, &p.dst), inspector::udp_layer(&p.src, &p.dst)],
        link: Some(p.link.clone()),
        msg: p.summary.msg,
        payload: &p.payload,
    }
}
