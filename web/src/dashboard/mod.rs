//! The dashboard: a running daemon's leases, pools, events and packets, live over its `/ws` bridge.
//! `use_bridge` keeps the socket and the model ([`model::Live`]); each card is a component of its own.

pub mod api;
mod event_feed;
mod lease_table;
pub mod live;
mod live_packets;
pub mod model;
mod servers_card;
mod subnets_card;
mod toolbar;
pub mod use_bridge;

use crate::i18n::Lang;
use event_feed::EventFeed;
use lease_table::LeaseTable;
use live_packets::LivePackets;
use servers_card::ServersCard;
use std::net::Ipv4Addr;
use subnets_card::SubnetsCard;
use toolbar::Toolbar;
use use_bridge::use_bridge;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
}

/// The bridge of the daemon that served this page.
fn default_url() -> String {
    let loc = web_sys::window().map(|w| w.location());
    let host = loc.as_ref().and_then(|l| l.host().ok()).unwrap_or_else(|| "127.0.0.1:8067".into());
    let secure = loc.and_then(|l| l.protocol().ok()).is_some_and(|p| p == "https:");
    format!("{}://{host}/ws", if secure { "wss" } else { "ws" })
}

/// The outcome of the last admin action: (succeeded, message).
type Notice = Option<(bool, String)>;

/// Runs an admin call with the token and shows its outcome.
fn admin_call<F, Fut>(url: &str, token: &str, notice: &UseStateHandle<Notice>, call: F) -> Callback<Ipv4Addr>
where
    F: Fn(String, String, Ipv4Addr) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<String, String>> + 'static,
{
    let (url, token, notice) = (url.to_string(), token.to_string(), notice.clone());
    Callback::from(move |ip: Ipv4Addr| {
        let (fut, notice) = (call(url.clone(), token.clone(), ip), notice.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let r = fut.await;
            notice.set(Some(match r {
                Ok(m) => (true, m),
                Err(m) => (false, m),
            }));
        });
    })
}

#[component]
pub fn Dashboard(props: &Props) -> Html {
    let lang = props.lang;
    let url = use_state(default_url);
    let token = use_state(String::new);
    let notice = use_state(|| None);
    // Only packets about this MAC, IP, xid or hostname (a lease's MAC sets it).
    let follow = use_state(String::new);
    let bridge = use_bridge(&url);
    let on_url = {
        let url = url.clone();
        Callback::from(move |u: String| url.set(u))
    };
    let on_token = {
        let token = token.clone();
        Callback::from(move |t: String| token.set(t))
    };
    let on_follow = {
        let follow = follow.clone();
        Callback::from(move |f: String| follow.set(f))
    };
    let on_release = admin_call(&url, &token, &notice, |u, t, ip| async move { api::release(&u, &t, ip).await });
    let on_reserve = admin_call(&url, &token, &notice, |u, t, ip| async move { api::reserve(&u, &t, ip).await });
    let live = bridge.live.get();
    let feed: Vec<_> = live.feed.iter().take(40).cloned().collect();
    html! {
        <div class="dash" data-testid="dashboard">
            <Toolbar {lang} connected={bridge.connected} url={(*url).clone()} {on_url} {on_token}
                seq={live.seq} notice={(*notice).clone()} watching={live.watching.clone()} />
            <div class="dgrid">
                <SubnetsCard {lang} subnets={live.subnets.clone()} rates={live.packet_rates()} bound={live.bound_counts()} />
                <EventFeed {lang} events={feed} />
            </div>
            if live.servers.len() > 1 || live.servers.iter().any(|s| s.share.is_some()) {
                <ServersCard {lang} servers={live.servers.clone()} />
            }
            <LivePackets {lang} live={bridge.live.clone()} follow={(*follow).clone()} on_follow={on_follow.clone()} />
            <LeaseTable {lang} url={(*url).clone()} live={bridge.live.clone()} {on_release} {on_reserve} {on_follow}
                read_only={live.watching.is_some()} />
        </div>
    }
}
