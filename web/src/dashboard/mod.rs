//! The dashboard: a running daemon's leases, live over its `/ws` bridge. Messages are buffered and applied
//! a few times a second, so thousands of changes per second cost a few renders, not thousands.

pub mod api;
pub mod live;
pub mod model;

use crate::i18n::{Key, Lang, t};
use crate::packets::{flow, inspector};
use dhcplab_engine::LeaseState;
use dhcplab_engine::event::PacketSeen;
use gloo_timers::callback::{Interval, Timeout};
use model::{Filters, Live, SortBy};
use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use yew::prelude::*;

/// Rows per page of the lease table: the DOM stays small however many leases there are.
const PAGE: usize = 100;

pub enum Msg {
    Connect,
    Opened,
    Closed,
    Flush,
    Page(usize),
    Query(String),
    State(String),
    Subnet(String),
    Sort(SortBy),
    Url(String),
    /// The daemon URL as typed, kept so a redraw never resets what the user is typing.
    UrlDraft(String),
    Token(String),
    Release(Ipv4Addr),
    Reserve(Ipv4Addr),
    Done(Result<String, String>),
    SelectPacket(u64),
    SelectField(Vec<usize>),
    Follow(String),
    ToggleLive,
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
}

pub struct Dashboard {
    url: String,
    url_draft: String,
    token: String,
    connected: bool,
    attempts: u32,
    ws: Option<web_sys::WebSocket>,
    _message: Option<Closure<dyn FnMut(web_sys::MessageEvent)>>,
    _close: Option<Closure<dyn FnMut(web_sys::CloseEvent)>>,
    _open: Option<Closure<dyn FnMut(web_sys::Event)>>,
    _retry: Option<Timeout>,
    _tick: Interval,
    /// Messages as they arrive, straight from the socket's handler (not one component update each);
    /// applied together on the next flush.
    inbox: Rc<RefCell<Vec<String>>>,
    /// When the view was last drawn (ms), so an idle flush redraws only for the countdowns, once a second.
    drawn_at: f64,
    page: usize,
    /// Everything the bridge said, applied.
    live: Live,
    filters: Filters,
    /// The outcome of the last admin action: (succeeded, message).
    notice: Option<(bool, String)>,
    /// The packet in the inspector, kept even after it scrolls out of the ring.
    picked: Option<(u64, PacketSeen)>,
    field: Option<Vec<usize>>,
    /// Only packets about this MAC, IP, xid or hostname.
    follow: String,
}

fn default_url() -> String {
    let loc = web_sys::window().map(|w| w.location());
    let host = loc.as_ref().and_then(|l| l.host().ok()).unwrap_or_else(|| "127.0.0.1:8067".into());
    let secure = loc.and_then(|l| l.protocol().ok()).is_some_and(|p| p == "https:");
    format!("{}://{host}/ws", if secure { "wss" } else { "ws" })
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

impl Dashboard {
    fn connect(&mut self, ctx: &Context<Self>) {
        if let Some(ws) = self.ws.take() {
            // Detach first: the handlers' closures are dropped below, and the old socket must not call them.
            ws.set_onclose(None);
            ws.set_onmessage(None);
            ws.set_onopen(None);
            let _ = ws.close();
        }
        // Nothing from the old socket may be applied to the new one's state.
        self.inbox.borrow_mut().clear();
        let Ok(ws) = web_sys::WebSocket::new(&self.url) else {
            self.schedule_retry(ctx);
            return;
        };
        let inbox = self.inbox.clone();
        let on_msg = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(s) = e.data().as_string() {
                inbox.borrow_mut().push(s);
            }
        });
        let link = ctx.link().clone();
        let on_close = Closure::<dyn FnMut(web_sys::CloseEvent)>::new(move |_| link.send_message(Msg::Closed));
        let link = ctx.link().clone();
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| link.send_message(Msg::Opened));
        ws.set_onmessage(Some(on_msg.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        self._message = Some(on_msg);
        self._close = Some(on_close);
        self._open = Some(on_open);
        self.ws = Some(ws);
    }

    /// Capped exponential backoff: 0.5 s, 1 s, 2 s … 30 s.
    fn schedule_retry(&mut self, ctx: &Context<Self>) {
        let ms = (500u32 << self.attempts.min(6)).min(30_000);
        self.attempts += 1;
        let link = ctx.link().clone();
        self._retry = Some(Timeout::new(ms, move || link.send_message(Msg::Connect)));
    }

    /// The live packets: the sequence diagram and the inspector, as in the lab.
    fn live_view(&self, ctx: &Context<Self>) -> Html {
        let lang = ctx.props().lang;
        let link = ctx.link();
        let shown: Vec<&(u64, PacketSeen)> =
            self.live.ring.packets.iter().filter(|(_, p)| live::matches(p, &self.follow)).collect();
        let (lanes, arrows) = live::diagram(&shown, "dhcplab");
        let on_follow =
            link.callback(|e: InputEvent| Msg::Follow(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()));
        html! {
            <div class="dgrid live">
                <section class="card flow">
                    <h2>{t(lang, Key::LiveFlow)}</h2>
                    <div class="filters">
                        <input data-testid="packet-follow" size="24" placeholder={t(lang, Key::Follow)} value={self.follow.clone()} oninput={on_follow} />
                        <button data-testid="flow-pause" onclick={link.callback(|_| Msg::ToggleLive)}>
                            { if self.live.paused { format!("▶ {}", t(lang, Key::Resume)) } else { format!("‖ {}", t(lang, Key::Pause)) } }
                        </button>
                        if self.live.paused && self.live.held > 0 { <span class="muted">{format!("+{} {}", self.live.held, t(lang, Key::Held))}</span> }
                    </div>
                    if arrows.is_empty() {
                        <p class="muted">{t(lang, Key::NoPackets)}</p>
                    } else {
                        { flow::view(&lanes, &arrows, self.picked.as_ref().map(|(s, _)| *s), &link.callback(Msg::SelectPacket)) }
                    }
                </section>
                <section class="card inspector" data-testid="inspector">
                    <h2>{t(lang, Key::Inspector)}</h2>
                    { inspector::view(self.picked.as_ref().map(|(_, p)| live::inspected(p)), self.field.as_deref(), &link.callback(Msg::SelectField), lang, Key::PickLivePacket) }
                </section>
            </div>
        }
    }
}

fn countdown(expires: u64) -> String {
    let now = now_ms();
    if expires <= now {
        return "—".into();
    }
    let s = (expires - now) / 1000;
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

fn sparkline(points: &[f64], color: &str) -> Html {
    let max = points.iter().cloned().fold(1.0_f64, f64::max);
    let n = points.len().max(2) as f64;
    let path: String = points
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                i as f64 * 300.0 / (n - 1.0),
                58.0 - v / max * 54.0
            )
        })
        .collect();
    html! { <svg class="spark" viewBox="0 0 300 60" preserveAspectRatio="none"><path d={path} stroke={color.to_string()} /></svg> }
}

impl Component for Dashboard {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let link = ctx.link().clone();
        let mut d = Dashboard {
            url: default_url(),
            url_draft: default_url(),
            token: String::new(),
            connected: false,
            attempts: 0,
            ws: None,
            _message: None,
            _close: None,
            _open: None,
            _retry: None,
            _tick: Interval::new(250, move || link.send_message(Msg::Flush)),
            inbox: Rc::default(),
            drawn_at: 0.0,
            page: 0,
            live: Live::default(),
            filters: Filters::default(),
            notice: None,
            picked: None,
            field: None,
            follow: String::new(),
        };
        d.connect(ctx);
        d
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Connect => self.connect(ctx),
            Msg::Opened => {
                self.connected = true;
                self.attempts = 0;
            }
            Msg::Closed => {
                self.connected = false;
                self.schedule_retry(ctx);
            }
            Msg::Flush => {
                // Apply everything that arrived since the last flush, then draw once.
                let batch = std::mem::take(&mut *self.inbox.borrow_mut());
                if batch.is_empty() && js_sys::Date::now() - self.drawn_at < 1000.0 {
                    return false;
                }
                self.live.ingest(batch);
            }
            Msg::Page(p) => self.page = p,
            Msg::Query(q) => {
                self.filters.text = q;
                self.page = 0;
            }
            Msg::State(s) => {
                self.filters.state = s;
                self.page = 0;
            }
            Msg::Subnet(s) => {
                self.filters.subnet = s;
                self.page = 0;
            }
            Msg::Sort(s) => self.filters.sort = s,
            Msg::UrlDraft(u) => {
                self.url_draft = u;
                return false;
            }
            Msg::Url(u) => {
                self.url_draft = u.clone();
                self.url = u;
                self.attempts = 0;
                self.live = Live::default();
                self.connect(ctx);
            }
            Msg::Token(t) => self.token = t,
            Msg::Release(ip) => {
                let (url, token) = (self.url.clone(), self.token.clone());
                ctx.link().send_future(async move { Msg::Done(api::release(&url, &token, ip).await) });
            }
            Msg::Reserve(ip) => {
                let (url, token) = (self.url.clone(), self.token.clone());
                ctx.link().send_future(async move { Msg::Done(api::reserve(&url, &token, ip).await) });
            }
            Msg::Done(r) => {
                self.notice = Some(match r {
                    Ok(m) => (true, m),
                    Err(m) => (false, m),
                });
            }
            Msg::SelectPacket(seq) => {
                self.picked = self.live.ring.get(seq).map(|p| (seq, p.clone()));
                self.field = None;
            }
            Msg::SelectField(path) => self.field = Some(path),
            Msg::Follow(f) => self.follow = f,
            Msg::ToggleLive => self.live.toggle_pause(),
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let lang = ctx.props().lang;
        let link = ctx.link();
        let input = |f: fn(String) -> Msg| {
            link.callback(move |e: InputEvent| f(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()))
        };
        let select = |f: fn(String) -> Msg| {
            link.callback(move |e: Event| f(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()))
        };
        let rows = self.filters.rows(&self.live.leases);
        let pages = rows.len().div_ceil(PAGE).max(1);
        let page = self.page.min(pages - 1);
        let first = page * PAGE;
        let shown = rows.len().saturating_sub(first).min(PAGE);
        let (rates, bound) = (self.live.packet_rates(), self.live.bound_counts());
        let sort = |s: SortBy, label: Key| {
            let cb = link.callback(move |_| Msg::Sort(s));
            html! { <th class={classes!("sortable", (self.filters.sort == s).then_some("on"))} onclick={cb}>{t(lang, label)}</th> }
        };
        let url_change =
            link.callback(|e: Event| Msg::Url(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()));
        html! {
            <div class="dash" data-testid="dashboard">
                <div class="toolbar">
                    <span data-testid="ws-status" data-state={if self.connected { "connected" } else { "disconnected" }}
                        class={classes!("status", if self.connected { "up" } else { "down" })}>
                        { t(lang, if self.connected { Key::Connected } else { Key::Disconnected }) }
                    </span>
                    <label>{t(lang, Key::Daemon)}{" "}<input data-testid="ws-url" size="28" value={self.url_draft.clone()} oninput={input(Msg::UrlDraft)} onchange={url_change} /></label>
                    <label>{t(lang, Key::Token)}{" "}<input data-testid="admin-token" type="password" size="16" oninput={input(Msg::Token)} /></label>
                    <span class="muted">{format!("seq {}", self.live.seq)}</span>
                    if let Some((ok, n)) = &self.notice {
                        <span data-testid="notice" class={classes!("notice", ok.then_some("ok"))}>{n.clone()}</span>
                    }
                </div>
                <div class="dgrid">
                    <section class="card">
                        <h2>{t(lang, Key::Subnets)}</h2>
                        { for self.live.subnets.iter().map(|s| {
                            let model::Utilization { used, percent: pct, level } = model::utilization(s);
                            let level = level.as_str();
                            html! {
                                <div class="util" data-testid="subnet-util" data-cidr={s.cidr.to_string()} data-level={level}>
                                    <div class="utilhead"><b>{s.cidr.to_string()}</b><span>{format!("{used}/{} ({pct:.0}%)", s.pool_size)}</span></div>
                                    <div class="bar"><div class={classes!("fill", level)} style={format!("width:{pct:.1}%")}></div></div>
                                </div>
                            }
                        }) }
                        <h2>{t(lang, Key::Rates)}</h2>
                        <div class="charts">
                            <div><span class="muted">{t(lang, Key::PktRate)}</span>{ sparkline(&rates, "#3d8bfd") }</div>
                            <div><span class="muted">{t(lang, Key::BoundCount)}</span>{ sparkline(&bound, "#1f9d55") }</div>
                        </div>
                    </section>
                    <section class="card">
                        <h2>{t(lang, Key::Feed)}</h2>
                        <ul class="feed" data-testid="event-feed">
                            { for self.live.feed.iter().take(40).map(|e| html! {
                                <li data-kind={e.kind.as_str()}>
                                    <span class="muted">{e.kind.as_str()}</span>{" "}{e.ip.to_string()}{" "}{e.hw.to_string()}
                                    if let Some(h) = &e.hostname { {" "}<i>{h.clone()}</i> }
                                </li>
                            }) }
                        </ul>
                    </section>
                </div>
                { self.live_view(ctx) }
                <section class="card">
                    <h2>{format!("{} ({}/{})", t(lang, Key::LeasesLive), rows.len(), self.live.leases.len())}</h2>
                    <div class="filters">
                        <input data-testid="lease-search" placeholder={t(lang, Key::Search)} oninput={input(Msg::Query)} />
                        <select data-testid="lease-state" onchange={select(Msg::State)}>
                            <option value="" selected={self.filters.state.is_empty()}>{t(lang, Key::AllStates)}</option>
                            { for LeaseState::ALL.iter().map(|s| html! { <option value={s.as_str()} selected={self.filters.state == s.as_str()}>{s.as_str()}</option> }) }
                        </select>
                        <select data-testid="lease-subnet" onchange={select(Msg::Subnet)}>
                            <option value="" selected={self.filters.subnet.is_empty()}>{t(lang, Key::AllSubnets)}</option>
                            { for self.live.subnets.iter().map(|s| html! { <option value={s.cidr.to_string()} selected={self.filters.subnet == s.cidr.to_string()}>{s.cidr.to_string()}</option> }) }
                        </select>
                    </div>
                    <div class="tablewrap">
                    <table class="leases live">
                        <thead><tr>{sort(SortBy::Ip, Key::Ip)}<th>{"MAC"}</th>{sort(SortBy::Host, Key::Hostname)}{sort(SortBy::State, Key::State)}{sort(SortBy::Expires, Key::ExpiresIn)}<th></th></tr></thead>
                        <tbody>
                            { for rows.iter().skip(first).take(PAGE).map(|l| {
                                let ip = l.ip;
                                let release = link.callback(move |_| Msg::Release(ip));
                                let reserve = link.callback(move |_| Msg::Reserve(ip));
                                let mac = l.hw.to_string();
                                let follow = link.callback(move |_| Msg::Follow(mac.clone()));
                                let pinned = self.live.reserved.contains(&l.ip);
                                html! {
                                    <tr data-testid="lease-row" data-ip={l.ip.to_string()} data-mac={l.hw.to_string()} data-state={l.state.as_str()}>
                                        <td>{l.ip.to_string()}
                                            if pinned { {" "}<span class="pin" data-testid="lease-reserved" title={t(lang, Key::Reserved)}>{t(lang, Key::ReservedBadge)}</span> }
                                        </td>
                                        <td><a class="follow" data-testid="lease-follow" title={t(lang, Key::FollowPackets)} onclick={follow}>{l.hw.to_string()}</a></td>
                                        // Client-sent text is rendered as text, never as markup.
                                        <td data-testid="lease-host">{l.hostname.clone().unwrap_or_default()}</td>
                                        <td class={format!("st-{}", l.state.as_str())}>{l.state.as_str()}</td>
                                        <td>{ if l.state == LeaseState::Bound { countdown(l.expires.as_millis()) } else { String::new() } }</td>
                                        <td class="acts">
                                            if l.state == LeaseState::Bound { <button data-testid="lease-release" onclick={release}>{t(lang, Key::Release)}</button> }
                                            if !pinned && l.state != LeaseState::Declined {
                                                <button data-testid="lease-reserve" title={t(lang, Key::ReserveHint)} onclick={reserve}>{t(lang, Key::Reserve)}</button>
                                            }
                                        </td>
                                    </tr>
                                }
                            }) }
                        </tbody>
                    </table>
                    </div>
                    if rows.is_empty() {
                        <p class="muted" data-testid="no-leases">{ if self.live.leases.is_empty() { t(lang, Key::NoLeases) } else { t(lang, Key::NoMatch) } }</p>
                    }
                    if pages > 1 {
                        <div class="pager">
                            <button data-testid="lease-prev" disabled={page == 0} onclick={link.callback(move |_| Msg::Page(page.saturating_sub(1)))}>{"‹"}</button>
                            <span data-testid="lease-page">{format!("{}–{} / {}", first + 1, first + shown, rows.len())}</span>
                            <button data-testid="lease-next" disabled={page + 1 >= pages} onclick={link.callback(move |_| Msg::Page(page + 1))}>{"›"}</button>
                        </div>
                    }
                </section>
            </div>
        }
    }

    fn rendered(&mut self, _ctx: &Context<Self>, _first: bool) {
        self.drawn_at = js_sys::Date::now();
    }
}
