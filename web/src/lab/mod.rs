//! The lab: a scenario from the engine's simulator, stepped by the user, shown as a network picture, an
//! event list, a flow graph and a packet inspector. The simulator lives in this component; going back is a
//! deterministic replay to the earlier step.

mod panels;
mod topology;

use crate::i18n::{Key, Lang, t};
use dhcplab_engine::message::DhcpMessage;
use dhcplab_engine::sim::scenario::{self, Scenario};
use dhcplab_engine::sim::{Action, NodeId, TraceEntry, TraceKind};
use dhcplab_engine::{Duration, Instant};
use gloo_events::EventListener;
use gloo_timers::callback::Interval;
use wasm_bindgen::JsCast;
use yew::prelude::*;

pub use crate::packets::msg_color;
use crate::packets::{flow, inspector};

/// A simulated packet as the inspector shows it: the frame's Ethernet, IP and UDP headers, then DHCP.
fn inspected(e: &TraceEntry) -> Option<inspector::Inspected<'_>> {
    let TraceKind::Packet { frame, summary, broadcast, .. } = &e.kind else { return None };
    Some(inspector::Inspected {
        layers: vec![
            format!("Frame: {} bytes of DHCP at {}", summary.size, e.at),
            format!(
                "Ethernet II, Src: {}, Dst: {}{}",
                frame.src_mac,
                frame.dst_mac,
                if *broadcast { " (broadcast)" } else { "" }
            ),
            format!("Internet Protocol Version 4, Src: {}, Dst: {}", frame.src.ip(), frame.dst.ip()),
            format!("User Datagram Protocol, Src Port: {}, Dst Port: {}", frame.src.port(), frame.dst.port()),
        ],
        msg: summary.msg,
        payload: &frame.payload,
    })
}

/// The short label of a trace entry for lists.
pub fn entry_label(e: &TraceEntry) -> String {
    match &e.kind {
        TraceKind::Packet { summary, .. } => summary.msg.to_string(),
        TraceKind::ClientState { from, to, .. } => format!("{from} → {to}"),
        TraceKind::Client { event, .. } => format!("{event:?}").split([' ', '{']).next().unwrap_or("").to_string(),
        TraceKind::Lease { event } => format!("lease {}", event.kind.as_str()),
        TraceKind::Arp { ip, .. } => format!("ARP {ip}"),
        TraceKind::Action { what } => what.clone(),
    }
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
}

pub enum Msg {
    SetScenario(String),
    Play,
    Pause,
    Step,
    Back,
    Reset,
    Tick,
    SetSpeed(u32),
    Select(usize),
    SelectField(Vec<usize>),
    Focus(NodeId),
    FilterMessage(String),
    FilterNode(String),
    Act(Action),
    Impair {
        segment: usize,
        loss: Option<f64>,
        delay: Option<u64>,
    },
    /// Apply the server form to the focused server.
    ApplyServerForm,
    ExportPcap,
    Key(String),
}

pub struct Lab {
    name: String,
    seed: u64,
    scenario: Scenario,
    /// How many trace entries are on screen.
    shown: usize,
    selected: Option<usize>,
    field: Option<Vec<usize>>,
    focus: NodeId,
    playing: Option<Interval>,
    speed: u32,
    filter_msg: Option<DhcpMessage>,
    filter_node: Option<NodeId>,
    /// What the user did, in order, with the time it happened: replayed on "back".
    user_actions: Vec<(Instant, Action)>,
    /// Per-segment (loss, delay) the user set.
    impairments: Vec<(usize, f64, u64)>,
    _keys: Option<EventListener>,
    /// The server form's inputs (pool, lease time, reservation MAC and IP).
    form: [NodeRef; 4],
    /// The event list, kept scrolled to the newest row as steps are added.
    events_ref: NodeRef,
    scrolled_at: usize,
}

/// The lab's big network: this many clients booting on one segment within a second.
const CROWD: &str = "crowd";
const CROWD_SIZE: usize = 200;

/// Scenario, seed and step from the URL (`#s=dora&seed=1&step=12`).
fn from_hash() -> (String, u64, usize) {
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    let mut out = ("dora".to_string(), 1, 0);
    for kv in hash.trim_start_matches('#').split('&') {
        match kv.split_once('=') {
            Some(("s", v)) if v == CROWD || scenario::build(v, 1).is_some() => out.0 = v.to_string(),
            Some(("seed", v)) => out.1 = v.parse().unwrap_or(1),
            Some(("step", v)) => out.2 = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    out
}

impl Lab {
    fn build(&self, name: &str, seed: u64) -> Scenario {
        let mut s = if name == CROWD {
            scenario::crowd(CROWD_SIZE, seed)
        } else {
            scenario::build(name, seed).unwrap_or_else(|| scenario::build("dora", seed).expect("dora exists"))
        };
        for &(seg, loss, delay) in &self.impairments {
            if let Some(x) = s.sim.segments.get_mut(seg) {
                x.loss = loss;
                x.delay = Duration::from_millis(delay);
            }
        }
        for (at, a) in &self.user_actions {
            s.sim.schedule(*at, a.clone());
        }
        s
    }

    /// How far stepping may go: the scenario's end, or five minutes after the user's last action.
    fn horizon(&self) -> Instant {
        let after_action = self.user_actions.last().map_or(Instant::ZERO, |a| a.0 + Duration::from_secs(300));
        self.scenario.end.max(after_action)
    }

    /// Rebuilds the scenario and replays it to show `n` entries.
    fn replay_to(&mut self, n: usize) {
        self.scenario = self.build(&self.name.clone(), self.seed);
        if n > 0 {
            let end = self.horizon();
            self.scenario.sim.run_to_entry_until(n - 1, end);
        }
        self.shown = n.min(self.scenario.sim.trace().len());
        if self.selected.is_some_and(|s| s >= self.shown) {
            self.selected = None;
        }
    }

    /// Shows one more entry; false at the end.
    fn step(&mut self) -> bool {
        let horizon = self.horizon();
        let sim = &mut self.scenario.sim;
        let more = sim.trace().len() > self.shown || sim.run_to_entry_until(self.shown, horizon);
        if !more || sim.trace().len() <= self.shown {
            return false;
        }
        self.shown += 1;
        let e = &sim.trace()[self.shown - 1];
        if matches!(e.kind, TraceKind::Packet { .. }) {
            self.selected = Some(e.seq);
            self.field = None;
        }
        true
    }

    fn visible(&self) -> &[TraceEntry] {
        &self.scenario.sim.trace()[..self.shown]
    }

    /// The sequence diagram of the packets on screen: lifelines for the nodes they touch, in order of
    /// first appearance.
    fn flow(&self, link: &html::Scope<Self>) -> Html {
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
        let lanes: Vec<String> = nodes.iter().map(|&n| sim.nodes[n].name.clone()).collect();
        let on_select = link.callback(|k: u64| Msg::Select(k as usize));
        flow::view(&lanes, &arrows, self.selected.map(|s| s as u64), &on_select)
    }

    fn now(&self) -> Instant {
        self.visible().last().map(|e| e.at).unwrap_or(Instant::ZERO)
    }

    fn update_hash(&self) {
        if let Some(w) = web_sys::window() {
            let h = format!("#s={}&seed={}&step={}", self.name, self.seed, self.shown);
            let _ =
                w.history().and_then(|hist| hist.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&h)));
        }
    }

    fn start_timer(&mut self, ctx: &Context<Self>) {
        let link = ctx.link().clone();
        let ms = 1200 / self.speed.max(1);
        self.playing = Some(Interval::new(ms, move || link.send_message(Msg::Tick)));
    }

    fn export_pcap(&self) {
        let frames: Vec<_> = self
            .visible()
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Packet { frame, .. } => Some(frame.clone()),
                _ => None,
            })
            .collect();
        let Ok(bytes) = dhcplab_engine::pcap::write(&frames) else { return };
        let array = js_sys::Uint8Array::from(bytes.as_slice());
        let parts = js_sys::Array::of1(&array);
        let opts = web_sys::BlobPropertyBag::new();
        opts.set_type("application/vnd.tcpdump.pcap");
        let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts) else { return };
        let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
        let doc = web_sys::window().and_then(|w| w.document());
        if let Some(a) =
            doc.and_then(|d| d.create_element("a").ok()).and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        {
            a.set_href(&url);
            a.set_download(&format!("dhcplab-{}.pcap", self.name));
            a.click();
        }
        let _ = web_sys::Url::revoke_object_url(&url);
    }
}

impl Component for Lab {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let (name, seed, step) = from_hash();
        let scenario = if name == CROWD {
            scenario::crowd(CROWD_SIZE, seed)
        } else {
            scenario::build(&name, seed).expect("checked in from_hash")
        };
        let focus = scenario.client;
        let link = ctx.link().clone();
        let keys = web_sys::window().and_then(|w| w.document()).map(|doc| {
            // Not passive: the arrow keys and space must not scroll the page.
            let opts = gloo_events::EventListenerOptions::enable_prevent_default();
            EventListener::new_with_options(&doc, "keydown", opts, move |e| {
                let Some(k) = e.dyn_ref::<web_sys::KeyboardEvent>() else { return };
                // Leave typing in form fields alone.
                let in_field = k
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
                if !in_field && matches!(k.key().as_str(), " " | "ArrowRight" | "ArrowLeft") {
                    k.prevent_default();
                    link.send_message(Msg::Key(k.key()));
                }
            })
        });
        let mut lab = Lab {
            name,
            seed,
            scenario,
            shown: 0,
            selected: None,
            field: None,
            focus,
            playing: None,
            speed: 2,
            filter_msg: None,
            filter_node: None,
            user_actions: vec![],
            impairments: vec![],
            _keys: keys,
            form: Default::default(),
            events_ref: NodeRef::default(),
            scrolled_at: usize::MAX,
        };
        for _ in 0..step {
            if !lab.step() {
                break;
            }
        }
        lab
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::SetScenario(name) => {
                self.name = name;
                self.user_actions.clear();
                self.impairments.clear();
                self.playing = None;
                self.selected = None;
                self.field = None;
                self.replay_to(0);
                self.focus = self.scenario.client;
            }
            Msg::Play => {
                self.start_timer(ctx);
            }
            Msg::Pause => self.playing = None,
            Msg::Step => {
                self.step();
            }
            Msg::Tick => {
                if !self.step() {
                    self.playing = None;
                }
            }
            Msg::Back => {
                if self.shown > 0 {
                    let n = self.shown - 1;
                    self.replay_to(n);
                    self.selected =
                        self.visible().iter().rev().find(|e| matches!(e.kind, TraceKind::Packet { .. })).map(|e| e.seq);
                }
            }
            Msg::Reset => {
                self.playing = None;
                self.user_actions.clear();
                self.selected = None;
                self.field = None;
                self.replay_to(0);
            }
            Msg::SetSpeed(s) => {
                self.speed = s.clamp(1, 20);
                if self.playing.is_some() {
                    self.start_timer(ctx);
                }
            }
            Msg::Select(seq) => {
                self.selected = Some(seq);
                self.field = None;
            }
            Msg::SelectField(path) => self.field = Some(path),
            Msg::Focus(n) => self.focus = n,
            Msg::FilterMessage(m) => self.filter_msg = m.parse().ok(),
            Msg::FilterNode(n) => self.filter_node = n.parse().ok(),
            Msg::Act(a) => {
                // Act at the time on screen: drop what the simulator ran ahead, then apply.
                let at = self.now();
                let n = self.shown;
                self.replay_to(n);
                self.user_actions.push((at, a.clone()));
                self.scenario.sim.schedule(at, a);
                // Show through the action's own entry (events already due at this instant come first).
                let from = self.shown;
                while self.step() {
                    if self.visible()[from..].iter().any(|e| matches!(e.kind, TraceKind::Action { .. })) {
                        break;
                    }
                }
            }
            Msg::Impair { segment, loss, delay } => {
                let cur = self
                    .scenario
                    .sim
                    .segments
                    .get(segment)
                    .map(|s| (s.loss, s.delay.as_millis() as u64))
                    .unwrap_or((0.0, 1));
                let v = (segment, loss.unwrap_or(cur.0), delay.unwrap_or(cur.1));
                self.impairments.retain(|x| x.0 != segment);
                self.impairments.push(v);
                let n = self.shown;
                self.replay_to(n);
            }
            Msg::ApplyServerForm => {
                let Some(server) = self.scenario.sim.server(self.focus) else { return false };
                let value = |r: &NodeRef| r.cast::<web_sys::HtmlInputElement>().map(|i| i.value()).unwrap_or_default();
                let [pool, lease, mac, ip] = self.form.each_ref().map(value);
                let mut cfg = server.config().clone();
                if let Some(sub) = cfg.subnets.first_mut() {
                    if let Ok(p) = pool.trim().parse() {
                        sub.pools = vec![p];
                    }
                    if let Ok(d) = dhcplab_engine::duration_text::parse(&lease) {
                        sub.lease_time = d;
                    }
                    if let (Ok(mac), Ok(ip)) = (mac.trim().parse(), ip.trim().parse()) {
                        sub.reservations.push(dhcplab_engine::config::Reservation {
                            mac: Some(mac),
                            client_id: None,
                            ip,
                            hostname: None,
                        });
                    }
                }
                ctx.link().send_message(Msg::Act(Action::Reconfigure { node: self.focus, config: Box::new(cfg) }));
                return false;
            }
            Msg::ExportPcap => {
                self.export_pcap();
                return false;
            }
            Msg::Key(k) => match k.as_str() {
                " " => {
                    if self.playing.is_some() {
                        self.playing = None;
                    } else {
                        self.start_timer(ctx);
                    }
                }
                "ArrowRight" => {
                    self.step();
                }
                "ArrowLeft" => ctx.link().send_message(Msg::Back),
                _ => return false,
            },
        }
        self.update_hash();
        true
    }

    fn rendered(&mut self, _ctx: &Context<Self>, _first: bool) {
        if self.scrolled_at != self.shown
            && let Some(el) = self.events_ref.cast::<web_sys::Element>()
        {
            el.set_scroll_top(el.scroll_height());
            self.scrolled_at = self.shown;
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let lang = ctx.props().lang;
        let link = ctx.link();
        let on_scenario =
            link.callback(|e: Event| Msg::SetScenario(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()));
        let on_speed = link.callback(|e: Event| {
            Msg::SetSpeed(e.target_unchecked_into::<web_sys::HtmlInputElement>().value().parse().unwrap_or(2))
        });
        let at_end = self.shown >= self.scenario.sim.trace().len()
            && self.scenario.sim.next_event_at().is_none_or(|t| t > self.horizon());
        let selected = self.selected.and_then(|s| self.scenario.sim.trace().get(s));
        html! {
            <div class="lab">
                <div class="toolbar">
                    <label>{t(lang, Key::Scenario)}{" "}
                        <select data-testid="scenario-select" onchange={on_scenario}>
                            { for scenario::list().into_iter().map(|s| {
                                let title = if lang == Lang::Zh { s.title.zh.clone() } else { s.title.en.clone() };
                                html! { <option value={s.name} selected={s.name == self.name}>{format!("{} — {title}", s.name)}</option> }
                            }) }
                            <option value={CROWD} selected={self.name == CROWD}>{format!("{CROWD} — {}", t(lang, Key::Crowd))}</option>
                        </select>
                    </label>
                    <div class="buttons">
                        if self.playing.is_some() {
                            <button data-testid="pause" onclick={link.callback(|_| Msg::Pause)}>{"‖ "}{t(lang, Key::Pause)}</button>
                        } else {
                            <button data-testid="play" disabled={at_end} onclick={link.callback(|_| Msg::Play)}>{"▶ "}{t(lang, Key::Play)}</button>
                        }
                        <button data-testid="back" disabled={self.shown == 0} onclick={link.callback(|_| Msg::Back)}>{"⇤ "}{t(lang, Key::Back)}</button>
                        <button data-testid="step" disabled={at_end} onclick={link.callback(|_| Msg::Step)}>{t(lang, Key::Step)}{" ⇥"}</button>
                        <button data-testid="reset" onclick={link.callback(|_| Msg::Reset)}>{"↺ "}{t(lang, Key::Reset)}</button>
                    </div>
                    <label class="speed">{t(lang, Key::Speed)}{" "}
                        <input data-testid="speed" type="range" min="1" max="20" value={self.speed.to_string()} onchange={on_speed} />
                        {format!(" {}×", self.speed)}
                    </label>
                    <span class="clock" data-testid="clock" title={t(lang, Key::Time)}>{"t = "}{self.now().to_string()}</span>
                    <span class="stepno" data-testid="step-count">{format!("{}/{}", self.shown, self.scenario.sim.trace().len())}</span>
                    <button data-testid="export-pcap" onclick={link.callback(|_| Msg::ExportPcap)}>{t(lang, Key::Export)}</button>
                </div>
                <div class="grid">
                    <section class="card topo">
                        <h2>{t(lang, Key::Topology)}</h2>
                        { topology::view(self, link, lang) }
                    </section>
                    <section class="card explain" data-testid="explain">
                        <h2>{t(lang, Key::Why)}</h2>
                        { match selected.or(self.visible().last()) {
                            Some(e) => html! {
                                <>
                                    <p class="explanation">{ if lang == Lang::Zh { e.text.zh.clone() } else { e.text.en.clone() } }</p>
                                    if let Some(r) = &e.rfc { <p class="rfc">{r.clone()}</p> }
                                </>
                            },
                            None => html! { <p class="muted">{t(lang, Key::Keys)}</p> },
                        } }
                        if at_end && self.shown > 0 { <p class="muted">{t(lang, Key::End)}</p> }
                    </section>
                    <section class="card events">
                        <h2>{t(lang, Key::Events)}</h2>
                        { panels::event_list(self, link, lang) }
                    </section>
                    <section class="card inspector" data-testid="inspector">
                        <h2>{t(lang, Key::Inspector)}</h2>
                        { inspector::view(selected.and_then(inspected), self.field.as_deref(), &link.callback(Msg::SelectField), lang, Key::PickPacket) }
                    </section>
                    <section class="card flow">
                        <h2>{t(lang, Key::Flow)}</h2>
                        { self.flow(link) }
                    </section>
                    <section class="card side">
                        { panels::node_panel(self, link, lang) }
                    </section>
                </div>
            </div>
        }
    }
}
