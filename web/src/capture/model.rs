//! An opened capture as the lab shows it: the engine's explanation of the file, which packet is selected,
//! and the parties its flow graph draws. Plain Rust, tested natively; the components only draw it.

use crate::packets::{flow, inspector};
use crate::shared::Model;
use dhcplab_engine::HwAddr;
use dhcplab_engine::capture::{Explained, ExplainedPacket};
use dhcplab_engine::message::{CLIENT_PORT, SERVER_PORT};
use std::net::Ipv4Addr;
use std::rc::Rc;

/// One lifeline of the flow graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Party {
    Client(HwAddr),
    Relay(Ipv4Addr),
    Server(Ipv4Addr),
    /// A broadcast no server in the capture answered.
    Everyone,
}

pub enum CaptureAction {
    Select(usize),
    SelectField(Vec<usize>),
    /// Only packets with a problem in the list.
    ProblemsOnly(bool),
    /// → and ← move the selection; Home and End jump.
    Key(String),
}

pub struct CaptureModel {
    pub x: Rc<Explained>,
    /// The packet (index into `x.packets`) in the inspector and the story card.
    pub selected: usize,
    pub field: Option<Vec<usize>>,
    pub problems_only: bool,
    /// Lifelines, clients first, then relays, then servers, each in order of appearance.
    pub parties: Vec<Party>,
    /// Per packet: the lifelines it goes from and to.
    ends: Vec<(usize, Vec<usize>)>,
}

/// Who sent a packet, and who it reaches, read from its addresses.
fn ends(p: &ExplainedPacket, servers: &[Party]) -> (Party, Vec<Party>) {
    let pk = &p.event.packet;
    let s = &pk.summary;
    let client = Party::Client(s.chaddr);
    if s.msg.from_client() {
        let from = if pk.src.port() == SERVER_PORT { Party::Relay(*pk.src.ip()) } else { client };
        let to = if p.broadcast {
            if servers.is_empty() { vec![Party::Everyone] } else { servers.to_vec() }
        } else {
            vec![Party::Server(*pk.dst.ip())]
        };
        (from, to)
    } else {
        let from = if !s.giaddr.is_unspecified() && *pk.src.ip() == s.giaddr {
            Party::Relay(s.giaddr)
        } else {
            Party::Server(*pk.src.ip())
        };
        let to = if pk.dst.port() == CLIENT_PORT { client } else { Party::Relay(*pk.dst.ip()) };
        (from, vec![to])
    }
}

impl CaptureModel {
    pub fn new(x: Rc<Explained>) -> Self {
        // Servers are the senders of replies that are not a relay passing one down.
        let mut servers: Vec<Party> = vec![];
        for p in &x.packets {
            let pk = &p.event.packet;
            let relay_down = !pk.summary.giaddr.is_unspecified() && *pk.src.ip() == pk.summary.giaddr;
            let server = Party::Server(*pk.src.ip());
            if !pk.summary.msg.from_client() && !relay_down && !servers.contains(&server) {
                servers.push(server);
            }
        }
        let mut parties: Vec<Party> = vec![];
        let mut raw = vec![];
        for p in &x.packets {
            let (from, to) = ends(p, &servers);
            for party in std::iter::once(from).chain(to.iter().copied()) {
                if !parties.contains(&party) {
                    parties.push(party);
                }
            }
            raw.push((from, to));
        }
        // Clients on the left, servers on the right, as the scenarios draw them.
        let rank = |p: &Party| match p {
            Party::Client(_) => 0,
            Party::Relay(_) => 1,
            Party::Server(_) => 2,
            Party::Everyone => 3,
        };
        parties.sort_by_key(rank);
        let lane = |p: &Party| parties.iter().position(|x| x == p).unwrap_or(0);
        let ends = raw.iter().map(|(f, t)| (lane(f), t.iter().map(lane).collect())).collect();
        CaptureModel { x, selected: 0, field: None, problems_only: false, parties, ends }
    }

    pub fn selected_packet(&self) -> Option<&ExplainedPacket> {
        self.x.packets.get(self.selected)
    }

    /// The packets the list shows (index, packet), after its filter.
    pub fn listed(&self) -> Vec<(usize, &ExplainedPacket)> {
        self.x
            .packets
            .iter()
            .enumerate()
            .filter(|(_, p)| !self.problems_only || p.findings.iter().any(|f| f.is_problem()))
            .collect()
    }

    /// A client's lifeline name: the hostname it gave, else its MAC.
    pub fn client_name(&self, hw: HwAddr) -> String {
        self.x
            .packets
            .iter()
            .find(|p| p.event.client == hw && p.event.hostname.is_some())
            .and_then(|p| p.event.hostname.as_deref().map(String::from))
            .unwrap_or_else(|| hw.to_string())
    }

    /// The arrows of a window of packets around the selection (the flow graph draws at most
    /// `flow::MAX_ROWS`).
    pub fn arrows(&self) -> Vec<flow::Arrow> {
        let n = self.x.packets.len();
        let start = self.selected.saturating_sub(flow::MAX_ROWS / 2).min(n.saturating_sub(flow::MAX_ROWS));
        (start..n.min(start + flow::MAX_ROWS))
            .map(|i| {
                let p = &self.x.packets[i];
                let (from, to) = self.ends[i].clone();
                flow::Arrow { key: i as u64, time: p.time(), from, to, msg: p.event.packet.summary.msg }
            })
            .collect()
    }

    /// The selected packet as the inspector shows it.
    pub fn inspected(&self) -> Option<inspector::Inspected<'_>> {
        let p = self.selected_packet()?;
        let pk = &p.event.packet;
        Some(inspector::Inspected {
            layers: inspector::frame_layers(
                dhcplab_engine::text::Text::new(
                    format!("Frame {}: {} bytes of DHCP at {} s", p.number, pk.payload.len(), p.time()),
                    format!("第 {} 帧：DHCP 报文 {} 字节，时间 {} 秒", p.number, pk.payload.len(), p.time()),
                ),
                &p.src_mac,
                &p.dst_mac,
                p.broadcast,
                &pk.src,
                &pk.dst,
            ),
            msg: pk.summary.msg,
            link: None,
            payload: &pk.payload,
        })
    }

    fn select(&mut self, i: usize) {
        if i < self.x.packets.len() && i != self.selected {
            self.selected = i;
            self.field = None;
        }
    }

    /// The next (or previous) packet the list shows.
    fn step(&mut self, forward: bool) {
        let listed: Vec<usize> = self.listed().into_iter().map(|(i, _)| i).collect();
        let next = if forward {
            listed.iter().find(|&&i| i > self.selected)
        } else {
            listed.iter().rev().find(|&&i| i < self.selected)
        };
        if let Some(&i) = next {
            self.select(i);
        }
    }
}

impl Model for CaptureModel {
    type Action = CaptureAction;

    fn update(&mut self, action: CaptureAction) {
        match action {
            CaptureAction::Select(i) => self.select(i),
            CaptureAction::SelectField(path) => self.field = Some(path),
            CaptureAction::ProblemsOnly(on) => {
                self.problems_only = on;
                let listed: Vec<usize> = self.listed().iter().map(|(i, _)| *i).collect();
                if let Some(&first) = listed.first()
                    && !listed.contains(&self.selected)
                {
                    self.select(first);
                }
            }
            CaptureAction::Key(k) => match k.as_str() {
                "ArrowRight" | "ArrowDown" => self.step(true),
                "ArrowLeft" | "ArrowUp" => self.step(false),
                "Home" => self.select(0),
                "End" => self.select(self.x.packets.len().saturating_sub(1)),
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcplab_engine::capture::explain;
    use dhcplab_engine::message::DhcpMessage;

    fn open(name: &str) -> CaptureModel {
        let path = format!("{}/../engine/tests/fixtures/captures/{name}.pcap", env!("CARGO_MANIFEST_DIR"));
        CaptureModel::new(Rc::new(explain(name, &std::fs::read(path).unwrap()).unwrap()))
    }

    #[test]
    fn two_clients_and_one_server_are_three_lifelines_clients_first() {
        let m = open("lan-2clients");
        assert_eq!(m.parties.len(), 3);
        assert!(matches!(m.parties[0], Party::Client(_)) && matches!(m.parties[1], Party::Client(_)));
        assert_eq!(m.parties[2], Party::Server("198.51.100.1".parse().unwrap()));
        let arrows = m.arrows();
        assert_eq!(arrows.len(), 8);
        // The first DISCOVER is broadcast, and reaches the server; its OFFER comes back to that client.
        assert_eq!((arrows[0].from, arrows[0].to.clone()), (0, vec![2]));
        assert_eq!((arrows[1].from, arrows[1].to.clone()), (2, vec![0]));
        assert_eq!(arrows[2].msg, DhcpMessage::Discover);
        assert_eq!(arrows[2].from, 1, "the second client");
    }

    #[test]
    fn a_relayed_capture_draws_the_relay_between_client_side_and_server() {
        let m = open("perfdhcp-relay-unicast");
        assert_eq!(
            m.parties,
            [Party::Relay("10.200.255.254".parse().unwrap()), Party::Server("192.0.2.1".parse().unwrap())]
        );
        let a = m.arrows();
        assert_eq!((a[0].from, a[0].to.clone()), (0, vec![1]));
        assert_eq!((a[1].from, a[1].to.clone()), (1, vec![0]));
    }

    #[test]
    fn keys_walk_the_list_and_the_problem_filter_narrows_it() {
        let mut m = open("perfdhcp-relay-unicast");
        assert_eq!(m.selected, 0, "the first packet is told at once");
        m.update(CaptureAction::Key("ArrowRight".into()));
        m.update(CaptureAction::Key("ArrowRight".into()));
        assert_eq!(m.selected, 2);
        m.update(CaptureAction::Key("ArrowLeft".into()));
        assert_eq!(m.selected, 1);
        m.update(CaptureAction::Key("End".into()));
        assert_eq!(m.selected, 5);
        m.update(CaptureAction::Key("ArrowRight".into()));
        assert_eq!(m.selected, 5, "stays at the end");
        // Only the offer nobody took is a problem.
        m.update(CaptureAction::Key("Home".into()));
        m.update(CaptureAction::ProblemsOnly(true));
        assert_eq!(m.listed().iter().map(|(i, _)| *i).collect::<Vec<_>>(), [5]);
        assert_eq!(m.selected, 5, "the selection moves into the filtered list");
        let layers = m.inspected().unwrap().layers;
        assert!(layers[0].en.starts_with("Frame 6: "), "{layers:?}");
    }
}
