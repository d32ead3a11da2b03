//! The lab's state and every rule of how it moves: which scenario, how far it is shown, what is selected,
//! what the user did. Plain Rust with no browser calls, so it is tested natively; the components only
//! draw it and send it [`LabAction`]s. Going back is a deterministic replay of the scenario and the
//! user's own actions to the earlier step.

use super::exercise;
use crate::i18n::{self, Lang};
use crate::packets::{flow, inspector};
use crate::shared::Model;
use dhcplab_engine::config::{PoolRange, Reservation, ServerConfig, SubnetConfig};
use dhcplab_engine::message::DhcpMessage;
use dhcplab_engine::pcap::Frame;
use dhcplab_engine::sim::scenario::{self, Scenario};
use dhcplab_engine::sim::{Action, NodeId, NodeKind, SegmentId, Sim, TraceEntry, TraceKind};
use dhcplab_engine::{Duration, Instant};
use std::net::Ipv4Addr;

/// The lab's big networks: this many clients booting on one segment within a second.
pub const CROWDS: [(&str, usize); 2] = [("crowd", 100), ("crowd-1000", 1000)];
/// Working out a scenario's length takes at most this many simulator events at a time, so a big one
/// does not freeze the page: the rest is done between frames, with its progress shown.
const COUNT_CHUNK: u64 = 1500;

fn crowd_size(name: &str) -> Option<usize> {
    CROWDS.iter().find(|c| c.0 == name).map(|c| c.1)
}
/// Stepping stops this long after the user's last action, when the scenario itself is over.
const AFTER_ACTION: Duration = Duration::from_secs(300);

/// What the server form holds when the user applies it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerForm {
    pub pool: String,
    pub lease_time: String,
    pub reserve_mac: String,
    pub reserve_ip: String,
}

pub enum LabAction {
    SetScenario(String),
    Play,
    Pause,
    Step,
    /// The play timer fired.
    Tick,
    Back,
    Reset,
    SetSpeed(u32),
    Select(usize),
    SelectField(Vec<usize>),
    Focus(NodeId),
    FilterMessage(String),
    FilterNode(String),
    Act(Action),
    Impair {
        segment: SegmentId,
        loss: Option<f64>,
        delay: Option<u64>,
    },
    /// Apply the server form to the focused server.
    ApplyServerForm(ServerForm),
    /// A key pressed outside form fields: space, → and ←.
    Key(String),
    /// Work out more of the scenario's length (between frames, while `counting()` says so).
    CountMore,
    /// Start an exercise (by id), or stop it (empty).
    Exercise(String),
    /// The student's prediction of the packet the exercise stopped before.
    Answer(exercise::Answer),
}

/// Something the user did, and exactly where in the run: a replay takes it at the same point, after the
/// same events, so it meets the network in the same state (scheduling it at its time from the start would
/// put it before events already due at that instant, and a release could then find the client not yet
/// bound).
struct UserAction {
    at: Instant,
    /// The simulator's event count when it was taken.
    after_events: u64,
    action: Action,
}

pub struct LabModel {
    pub name: String,
    pub seed: u64,
    pub scenario: Scenario,
    /// How many trace entries are on screen.
    pub shown: usize,
    /// How many the whole scenario has, from its first step to its end, with the user's actions: what the
    /// step counter counts towards.
    pub total: usize,
    /// The trace entry (a packet) in the inspector.
    pub selected: Option<usize>,
    /// The inspector's selected field, as a path in its tree.
    pub field: Option<Vec<usize>>,
    pub focus: NodeId,
    pub playing: bool,
    /// Steps per 1.2 s while playing.
    pub speed: u32,
    pub filter_msg: Option<DhcpMessage>,
    pub filter_node: Option<NodeId>,
    /// What the user did, in order: replayed on "back" and after a link changes.
    user_actions: Vec<UserAction>,
    /// Per-segment (loss, delay in ms) the user set.
    impairments: Vec<(SegmentId, f64, u64)>,
    /// The exercise being done, if any: stepping stops before the packets it asks about.
    pub exercise: Option<exercise::Run>,
    /// A copy of the scenario being run to its end to learn its length, while that is not done.
    counting: Option<Scenario>,
}

/// The exercise a URL hash names (`#x=first-lease`).
pub fn exercise_in_hash(hash: &str) -> Option<&'static exercise::Exercise> {
    hash.trim_start_matches('#').split('&').find_map(|kv| kv.strip_prefix("x=")).and_then(exercise::find)
}

/// Scenario, seed and step from a URL hash (`#s=dora&seed=1&step=12`); unknown parts are ignored.
pub fn parse_hash(hash: &str) -> (String, u64, usize) {
    let mut out = ("dora".to_string(), 1, 0);
    for kv in hash.trim_start_matches('#').split('&') {
        match kv.split_once('=') {
            Some(("s", v)) if crowd_size(v).is_some() || scenario::build(v, 1).is_some() => out.0 = v.to_string(),
            Some(("seed", v)) => out.1 = v.parse().unwrap_or(1),
            Some(("step", v)) => out.2 = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    out
}

fn build_scenario(name: &str, seed: u64) -> Scenario {
    if let Some(n) = crowd_size(name) {
        return scenario::crowd(n, seed);
    }
    scenario::build(name, seed).unwrap_or_else(|| scenario::build("dora", seed).expect("dora exists"))
}

impl LabModel {
    /// The scenario `name` with `seed`, shown up to step `step`.
    pub fn new(name: &str, seed: u64, step: usize) -> Self {
        let scenario = build_scenario(name, seed);
        let mut lab = LabModel {
            name: scenario.name.to_string(),
            seed,
            focus: scenario.client,
            scenario,
            shown: 0,
            total: 0,
            selected: None,
            field: None,
            playing: false,
            speed: 2,
            filter_msg: None,
            filter_node: None,
            user_actions: vec![],
            impairments: vec![],
            exercise: None,
            counting: None,
        };
        if crowd_size(name).is_some() {
            lab.name = name.into();
        }
        lab.count_total();
        for _ in 0..step {
            if !lab.step() {
                break;
            }
        }
        lab
    }

    /// An exercise from its start, stepped to its first question.
    pub fn with_exercise(def: &'static exercise::Exercise) -> Self {
        let mut lab = LabModel::new(def.scenario, 1, 0);
        lab.exercise = Some(exercise::Run::new(def));
        while lab.step() {}
        lab
    }

    /// The URL hash that reopens this state (an exercise reopens at its start, to be done again).
    pub fn hash(&self) -> String {
        match &self.exercise {
            Some(run) => format!("#x={}", run.def.id),
            None => format!("#s={}&seed={}&step={}", self.name, self.seed, self.shown),
        }
    }

    pub fn visible(&self) -> &[TraceEntry] {
        &self.scenario.sim.trace()[..self.shown]
    }

    /// The simulated time on screen.
    pub fn now(&self) -> Instant {
        self.visible().last().map_or(Instant::ZERO, |e| e.at)
    }

    /// How far stepping may go: the scenario's end, or five minutes after the user's last action.
    fn horizon(&self) -> Instant {
        let after_action = self.user_actions.last().map_or(Instant::ZERO, |a| a.at + AFTER_ACTION);
        self.scenario.end.max(after_action)
    }

    /// Whether every step is shown: the counter has reached the scenario's length (which `count_total` ran
    /// to the horizon), or nothing more is due before it.
    pub fn at_end(&self) -> bool {
        let counted = self.counting.is_none() && self.shown >= self.total;
        self.shown >= self.scenario.sim.trace().len()
            && (counted || self.scenario.sim.next_event_at().is_none_or(|t| t > self.horizon()))
    }

    pub fn selected_entry(&self) -> Option<&TraceEntry> {
        self.selected.and_then(|s| self.scenario.sim.trace().get(s))
    }

    /// Runs a copy of the scenario, as the user's actions and impairments make it, to its end and counts
    /// its steps. Called when those change, not on every step. A big scenario is counted a chunk at a time
    /// (`count_more`); until then the total is what is known so far.
    fn count_total(&mut self) {
        self.counting = Some(self.rebuilt());
        self.count_more();
    }

    /// Counts on for one chunk; the lab calls it between frames while [`LabModel::counting`] says so.
    pub fn count_more(&mut self) {
        let horizon = self.horizon();
        let Some(s) = &mut self.counting else { return };
        for _ in 0..COUNT_CHUNK {
            if s.sim.next_event_at().is_none_or(|t| t > horizon) {
                self.total = s.sim.trace().len().max(self.shown);
                self.counting = None;
                return;
            }
            s.sim.step_event();
        }
        self.total = s.sim.trace().len().max(self.shown);
    }

    /// While the scenario's length is being worked out: how far, in percent of its simulated time.
    pub fn counting(&self) -> Option<u32> {
        let s = self.counting.as_ref()?;
        let (now, end) = (s.sim.now().as_millis(), self.horizon().as_millis().max(1));
        Some(u32::try_from(now.saturating_mul(100) / end).unwrap_or(100).min(99))
    }

    /// A fresh copy of the scenario with the user's impairments, and its actions scheduled.
    fn rebuilt(&self) -> Scenario {
        let mut s = build_scenario(&self.name, self.seed);
        for &(seg, loss, delay) in &self.impairments {
            if let Some(x) = s.sim.segments.get_mut(seg) {
                x.loss = loss;
                x.delay = Duration::from_millis(delay);
            }
        }
        for u in &self.user_actions {
            while s.sim.events_processed < u.after_events && s.sim.step_event() {}
            s.sim.schedule(u.at, u.action.clone());
        }
        s
    }

    /// Rebuilds the scenario with the user's impairments and actions, and replays it to show `n` entries.
    fn replay_to(&mut self, n: usize) {
        self.scenario = self.rebuilt();
        if n > 0 {
            let end = self.horizon();
            self.scenario.sim.run_to_entry_until(n - 1, end);
        }
        self.shown = n.min(self.scenario.sim.trace().len());
        if self.selected.is_some_and(|s| s >= self.shown) {
            self.selected = None;
        }
    }

    /// Shows one more entry, selecting it if it is a packet; false at the end.
    pub fn step(&mut self) -> bool {
        let horizon = self.horizon();
        let sim = &mut self.scenario.sim;
        let more = sim.trace().len() > self.shown || sim.run_to_entry_until(self.shown, horizon);
        if !more || sim.trace().len() <= self.shown {
            return false;
        }
        // An exercise asks first about the packet it stops before.
        if let Some(run) = &mut self.exercise {
            let trace = sim.trace();
            let ordinal = trace[..self.shown].iter().filter(|e| matches!(e.kind, TraceKind::Packet { .. })).count();
            if run.stops_before(sim, &trace[self.shown], ordinal) {
                self.playing = false;
                return false;
            }
        }
        self.shown += 1;
        self.total = self.total.max(self.shown);
        let e = &sim.trace()[self.shown - 1];
        if matches!(e.kind, TraceKind::Packet { .. }) {
            self.selected = Some(e.seq);
            self.field = None;
        }
        true
    }

    /// One step back: a replay to the step before, with the last packet then on screen selected.
    fn back(&mut self) {
        if self.shown == 0 {
            return;
        }
        self.replay_to(self.shown - 1);
        self.selected = self.visible().iter().rev().find(|e| matches!(e.kind, TraceKind::Packet { .. })).map(|e| e.seq);
    }

    fn set_scenario(&mut self, name: String) {
        self.exercise = None;
        self.name = name;
        self.user_actions.clear();
        self.impairments.clear();
        self.reset();
        self.focus = self.scenario.client;
    }

    fn reset(&mut self) {
        if let Some(run) = &mut self.exercise {
            *run = exercise::Run::new(run.def);
        }
        self.playing = false;
        self.user_actions.clear();
        self.selected = None;
        self.field = None;
        self.replay_to(0);
        self.count_total();
    }

    /// Acts at the time on screen: what the simulator ran ahead is dropped, then the action applies and the
    /// view steps through its own trace entry (events already due at that instant come first).
    fn act(&mut self, a: Action) {
        let at = self.now();
        self.replay_to(self.shown);
        let after_events = self.scenario.sim.events_processed;
        self.user_actions.push(UserAction { at, after_events, action: a.clone() });
        self.scenario.sim.schedule(at, a);
        let from = self.shown;
        while self.step() {
            if self.visible()[from..].iter().any(|e| matches!(e.kind, TraceKind::Action { .. })) {
                break;
            }
        }
        self.count_total();
    }

    fn impair(&mut self, segment: SegmentId, loss: Option<f64>, delay: Option<u64>) {
        let cur = self.scenario.sim.segments.get(segment).map_or((0.0, 1), |s| (s.loss, s.delay.as_millis() as u64));
        self.impairments.retain(|x| x.0 != segment);
        self.impairments.push((segment, loss.unwrap_or(cur.0), delay.unwrap_or(cur.1)));
        self.replay_to(self.shown);
        self.count_total();
    }

    /// The focused server's config with the form applied: a new pool and lease time where they parse, and
    /// a reservation when both its MAC and IP do.
    pub fn server_form_action(&self, form: &ServerForm) -> Option<Action> {
        let mut cfg = self.scenario.sim.server(self.focus)?.config().clone();
        if let Some(sub) = cfg.subnets.first_mut() {
            if let Ok(p) = form.pool.trim().parse() {
                sub.pools = vec![p];
            }
            if let Ok(d) = dhcplab_engine::duration_text::parse(&form.lease_time) {
                sub.lease_time = d;
            }
            if let (Ok(mac), Ok(ip)) = (form.reserve_mac.trim().parse(), form.reserve_ip.trim().parse()) {
                sub.reservations.push(Reservation { mac: Some(mac), client_id: None, ip, hostname: None });
            }
        }
        Some(Action::Reconfigure { node: self.focus, config: Box::new(cfg) })
    }

    fn key(&mut self, k: &str) {
        match k {
            " " => self.playing = !self.playing && !self.at_end(),
            "ArrowRight" => {
                self.step();
            }
            "ArrowLeft" => self.back(),
            _ => {}
        }
    }

    /// The trace entries the event list shows, after its filters.
    pub fn listed(&self) -> Vec<&TraceEntry> {
        self.visible()
            .iter()
            .filter(|e| self.filter_node.is_none_or(|n| e.node == n))
            .filter(|e| {
                self.filter_msg.is_none()
                    || matches!(&e.kind, TraceKind::Packet { summary, .. } if Some(summary.msg) == self.filter_msg)
            })
            .collect()
    }

    /// The sequence diagram of the packets on screen: lifelines for the nodes they touch, in order of
    /// first appearance.
    pub fn flow(&self) -> (Vec<String>, Vec<flow::Arrow>) {
        let sim = &self.scenario.sim;
        let packets: Vec<&TraceEntry> =
            self.visible().iter().filter(|e| matches!(e.kind, TraceKind::Packet { .. })).collect();
        let packets = &packets[packets.len().saturating_sub(flow::MAX_ROWS)..];
        let mut nodes: Vec<NodeId> = vec![];
        let mut lane = |n: NodeId| {
            nodes.iter().position(|&x| x == n).unwrap_or_else(|| {
                nodes.push(n);
                nodes.len() - 1
            })
        };
        let arrows: Vec<flow::Arrow> = packets
            .iter()
            .filter_map(|e| {
                let TraceKind::Packet { summary, to, .. } = &e.kind else { return None };
                Some(flow::Arrow {
                    key: e.seq as u64,
                    time: e.at.to_string(),
                    from: lane(e.node),
                    to: to.iter().map(|&n| lane(n)).collect(),
                    msg: summary.msg,
                })
            })
            .collect();
        (nodes.iter().map(|&n| sim.nodes[n].name.clone()).collect(), arrows)
    }

    /// The frames on screen, for a pcap.
    pub fn frames(&self) -> Vec<Frame> {
        self.visible()
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Packet { frame, .. } => Some(frame.clone()),
                _ => None,
            })
            .collect()
    }
}

impl Model for LabModel {
    type Action = LabAction;

    fn update(&mut self, action: LabAction) {
        match action {
            LabAction::SetScenario(name) => self.set_scenario(name),
            LabAction::Play => self.playing = !self.at_end(),
            LabAction::Pause => self.playing = false,
            LabAction::Step => {
                self.step();
            }
            LabAction::Tick => self.playing = self.playing && self.step(),
            LabAction::Back => self.back(),
            LabAction::Reset => self.reset(),
            LabAction::SetSpeed(s) => self.speed = s.clamp(1, 20),
            LabAction::Select(seq) => {
                self.selected = Some(seq);
                self.field = None;
            }
            LabAction::SelectField(path) => self.field = Some(path),
            LabAction::Focus(n) => self.focus = n,
            LabAction::FilterMessage(m) => self.filter_msg = m.parse().ok(),
            LabAction::FilterNode(n) => self.filter_node = n.parse().ok(),
            LabAction::Act(a) => self.act(a),
            LabAction::Impair { segment, loss, delay } => self.impair(segment, loss, delay),
            LabAction::ApplyServerForm(form) => {
                if let Some(a) = self.server_form_action(&form) {
                    self.act(a);
                }
            }
            LabAction::Key(k) => self.key(&k),
            LabAction::CountMore => self.count_more(),
            LabAction::Exercise(id) => match exercise::find(&id) {
                Some(def) => *self = LabModel::with_exercise(def),
                None => self.exercise = None,
            },
            LabAction::Answer(a) => {
                if self.exercise.as_mut().is_some_and(|run| run.answer(a)) {
                    // The packet the student predicted, shown and told.
                    self.step();
                }
            }
        }
    }
}

/// The short label of a trace entry for lists. Message and RFC state names stay as the RFC writes them.
pub fn entry_label(e: &TraceEntry, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    match &e.kind {
        TraceKind::Packet { summary, .. } => summary.msg.to_string(),
        TraceKind::ClientState { from, to, .. } => format!("{from} → {to}"),
        TraceKind::Client { event, .. } => i18n::client_event(lang, event).to_string(),
        TraceKind::Lease { event } => i18n::lease_event(lang, event.kind).to_string(),
        TraceKind::Arp { ip, .. } => {
            if zh {
                format!("ARP 探测 {ip}")
            } else {
                format!("ARP {ip}")
            }
        }
        TraceKind::Ping { ip, .. } => {
            if zh {
                format!("ping 探测 {ip}")
            } else {
                format!("ping {ip}")
            }
        }
        TraceKind::Action { what } => {
            if zh {
                what.zh.clone()
            } else {
                what.en.clone()
            }
        }
        TraceKind::Database { ip, stored: true } => {
            if zh {
                format!("已存储 {ip}")
            } else {
                format!("stored {ip}")
            }
        }
        TraceKind::Database { ip, stored: false } => {
            if zh {
                format!("拒绝存储 {ip}")
            } else {
                format!("refused {ip}")
            }
        }
    }
}

/// A simulated packet as the inspector shows it: the frame's Ethernet, IP and UDP headers, then DHCP.
pub fn inspected(e: &TraceEntry) -> Option<inspector::Inspected<'_>> {
    let TraceKind::Packet { frame, summary, broadcast, .. } = &e.kind else { return None };
    Some(inspector::Inspected {
        layers: inspector::frame_layers(
            dhcplab_engine::text::Text::new(
                format!("Frame: {} bytes of DHCP at {}", summary.size, e.at),
                format!("帧：DHCP 报文 {} 字节，时间 {}", summary.size, e.at),
            ),
            &frame.src_mac,
            &frame.dst_mac,
            *broadcast,
            &frame.src,
            &frame.dst,
        ),
        msg: summary.msg,
        link: None,
        payload: &frame.payload,
    })
}

/// A second (or first) server for `segment`: the subnet of a server already there with its own slice of the
/// addresses, or a fresh 192.168.(10+n).0/24.
pub fn new_server(sim: &Sim, segment: SegmentId) -> Action {
    let n = sim.nodes.len();
    let existing = sim.nics.iter().filter(|nic| nic.segment == segment).find_map(|nic| {
        let (addr, _) = nic.fixed?;
        let cfg = sim.server(nic.node)?.config();
        cfg.subnets.iter().find(|s| s.cidr.contains(&addr)).cloned()
    });
    let taken = |ip: Ipv4Addr| sim.nics.iter().any(|x| x.fixed.map(|f| f.0) == Some(ip));
    let (subnet, addr) = match existing {
        Some(mut sub) => {
            let o = sub.cidr.network().octets();
            let addr = (230..=239)
                .map(|h| Ipv4Addr::new(o[0], o[1], o[2], h))
                .find(|&a| !taken(a))
                .unwrap_or(Ipv4Addr::new(o[0], o[1], o[2], 239));
            let first = Ipv4Addr::new(o[0], o[1], o[2], 200);
            let last = Ipv4Addr::new(o[0], o[1], o[2], 219);
            sub.pools = vec![PoolRange(dhcplab_engine::allocator::AddrRange { first, last })];
            sub.reservations.clear();
            (sub, addr)
        }
        None => {
            let third = 10 + segment as u8;
            let mut sub = SubnetConfig::new(
                format!("192.168.{third}.0/24").parse().expect("literal"),
                format!("192.168.{third}.100-192.168.{third}.199").parse::<PoolRange>().expect("literal").0,
            );
            sub.routers = vec![Ipv4Addr::new(192, 168, third, 1)];
            (sub, Ipv4Addr::new(192, 168, third, 240))
        }
    };
    let prefix = subnet.cidr.prefix_len();
    let config = ServerConfig { subnets: vec![subnet], ..ServerConfig::default() };
    Action::AddServer { name: format!("server-{n}"), segment, addr, prefix, config: Box::new(config) }
}

/// Whether a node is a server (for the lease table's choice of server).
pub fn is_server(kind: &NodeKind) -> bool {
    matches!(kind, NodeKind::Server { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets(lab: &LabModel) -> Vec<DhcpMessage> {
        lab.visible()
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Packet { summary, .. } => Some(summary.msg),
                _ => None,
            })
            .collect()
    }

    fn step_until_packets(lab: &mut LabModel, n: usize) {
        while packets(lab).len() < n {
            assert!(lab.step(), "the scenario ended before {n} packets");
        }
    }

    #[test]
    fn a_hash_names_scenario_seed_and_step_and_unknown_parts_are_ignored() {
        assert_eq!(parse_hash("#s=relay&seed=7&step=12"), ("relay".into(), 7, 12));
        assert_eq!(parse_hash("#s=nonsense&step=x&foo=1"), ("dora".into(), 1, 0));
        assert_eq!(parse_hash("#s=crowd"), ("crowd".into(), 1, 0));
        let lab = LabModel::new("relay", 7, 12);
        assert_eq!(lab.hash(), "#s=relay&seed=7&step=12");
    }

    #[test]
    fn the_step_counter_counts_towards_the_whole_scenario_from_the_first_step() {
        for name in ["dora", "renew-rebind", "relay", "reservation"] {
            let mut lab = LabModel::new(name, 1, 0);
            let total = lab.total;
            assert!(total > 10, "{name}: {total}");
            while lab.shown < total {
                assert!(!lab.at_end(), "{name}: not at the end at {}/{total}", lab.shown);
                assert!(lab.step(), "{name}: ended at {}/{total}", lab.shown);
                assert_eq!(lab.total, total, "{name}: the length stays put while stepping");
            }
            assert!(lab.at_end(), "{name}: at the end as soon as the counter says so");
            assert!(!lab.step(), "{name}: the end is where the counter said");
        }
        // An action changes the story, and its length.
        let mut lab = LabModel::new("dora", 1, 20);
        let before = lab.total;
        lab.act(Action::Release { node: lab.scenario.client, nic: 0 });
        assert_ne!(lab.total, before);
        while lab.step() {}
        assert_eq!(lab.shown, lab.total);
    }

    #[test]
    fn a_thousand_clients_are_counted_a_chunk_at_a_time_with_progress_and_stepped_meanwhile() {
        let mut lab = LabModel::new("crowd-1000", 1, 0);
        assert_eq!(lab.scenario.sim.nodes.len(), 1001);
        let mut last = lab.counting().expect("too big to count at once");
        // Stepping does not wait for the count.
        for _ in 0..50 {
            assert!(lab.step());
        }
        assert!(!lab.at_end(), "not at the end while the length is unknown");
        let mut chunks = 0;
        while let Some(p) = lab.counting() {
            assert!(p >= last, "progress goes forward: {last} → {p}");
            last = p;
            lab.update(LabAction::CountMore);
            chunks += 1;
            assert!(chunks < 1000, "never finished");
        }
        assert!(chunks > 1);
        assert!(lab.total > 10_000, "{}", lab.total);
        // Small scenarios are counted at once.
        assert!(LabModel::new("relay", 1, 0).counting().is_none());
    }

    #[test]
    fn stepping_shows_dora_and_back_is_a_replay_of_the_step_before() {
        let mut lab = LabModel::new("dora", 1, 0);
        step_until_packets(&mut lab, 4);
        use DhcpMessage::*;
        assert_eq!(packets(&lab), [Discover, Offer, Request, Ack]);
        let ack = lab.selected.expect("the newest packet is selected");
        let shown = lab.shown;
        lab.update(LabAction::Back);
        assert_eq!(lab.shown, shown - 1);
        assert_eq!(packets(&lab), [Discover, Offer, Request]);
        assert!(lab.selected.is_some_and(|s| s < ack));
        lab.update(LabAction::Key("ArrowRight".into()));
        assert_eq!(packets(&lab), [Discover, Offer, Request, Ack]);
    }

    #[test]
    fn playing_stops_by_itself_at_the_end() {
        let mut lab = LabModel::new("dora", 1, 0);
        lab.update(LabAction::Play);
        let mut ticks = 0;
        while lab.playing {
            lab.update(LabAction::Tick);
            ticks += 1;
            assert!(ticks < 10_000, "never stopped");
        }
        assert!(lab.at_end());
        lab.update(LabAction::Play);
        assert!(!lab.playing, "nothing left to play");
    }

    #[test]
    fn a_user_action_happens_at_the_time_on_screen_and_survives_a_replay() {
        let mut lab = LabModel::new("dora", 1, 0);
        let laptop = lab.focus;
        let bound = |l: &LabModel| {
            l.scenario
                .sim
                .client(laptop, 0)
                .is_some_and(|c| c.state() == dhcplab_engine::client::ClientStateKind::Bound)
        };
        while !bound(&lab) {
            assert!(lab.step(), "never bound");
        }
        lab.update(LabAction::Act(Action::Release { node: laptop, nic: 0 }));
        let actions = |l: &LabModel| l.visible().iter().filter(|e| matches!(e.kind, TraceKind::Action { .. })).count();
        let before = actions(&lab);
        step_until_packets(&mut lab, 5);
        assert_eq!(packets(&lab).last(), Some(&DhcpMessage::Release));
        // Setting a link replays everything from the start, the release included (at the same simulated
        // time: with the timing unchanged, it lands on the bound client again).
        let shown = lab.shown;
        lab.update(LabAction::Impair { segment: 0, loss: Some(0.0), delay: None });
        assert_eq!(lab.shown, shown);
        assert_eq!(actions(&lab), before);
        assert_eq!(packets(&lab).last(), Some(&DhcpMessage::Release));
    }

    #[test]
    fn filters_narrow_the_event_list() {
        let mut lab = LabModel::new("two-servers", 1, 0);
        while lab.step() {}
        lab.update(LabAction::FilterMessage("DHCPOFFER".into()));
        let offers = lab.listed().len();
        assert_eq!(offers, 2, "both servers offer");
        lab.update(LabAction::FilterMessage(String::new()));
        assert!(lab.listed().len() > offers);
    }

    #[test]
    fn the_server_form_reconfigures_pool_lease_time_and_reservation() {
        let mut lab = LabModel::new("dora", 1, 0);
        let server = lab.scenario.sim.nodes.iter().position(|n| is_server(&n.kind)).unwrap();
        lab.update(LabAction::Focus(server));
        let form = ServerForm {
            pool: "192.168.1.150-192.168.1.160".into(),
            lease_time: "30m".into(),
            reserve_mac: "52:54:00:00:00:09".into(),
            reserve_ip: "192.168.1.155".into(),
        };
        let Some(Action::Reconfigure { config, .. }) = lab.server_form_action(&form) else { panic!("no action") };
        let sub = &config.subnets[0];
        assert_eq!(sub.pools[0].to_string(), "192.168.1.150-192.168.1.160");
        assert_eq!(sub.lease_time, Duration::from_secs(1800));
        assert_eq!(sub.reservations.last().map(|r| r.ip), Some("192.168.1.155".parse().unwrap()));
        let bad = ServerForm { pool: "nonsense".into(), ..ServerForm::default() };
        let Some(Action::Reconfigure { config: same, .. }) = lab.server_form_action(&bad) else { panic!() };
        assert_eq!(same.subnets[0].pools, lab.scenario.sim.server(server).unwrap().config().subnets[0].pools);
    }
}
