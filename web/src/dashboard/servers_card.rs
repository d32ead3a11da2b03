//! The servers sharing the daemon's lease database: up or down by their heartbeats, how long since the
//! last one, and which block of the pools each hands out (the daemon alone when it uses SQLite).

use crate::i18n::{Key, Lang, t};
use dhcplab_engine::bridge::PeerStatus;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub servers: Vec<PeerStatus>,
}

#[component]
pub fn ServersCard(p: &Props) -> Html {
    let lang = p.lang;
    html! {
        <section class="card" data-testid="servers">
            <h2>{t(lang, Key::Servers)}</h2>
            <ul class="servers">
                { for p.servers.iter().map(|s| {
                    let state = if s.up { "up" } else { "down" };
                    html! {
                        <li data-testid="server" data-name={s.name.clone()} data-state={state}>
                            <b>{s.name.clone()}</b>
                            if s.this { {" "}<span class="muted">{format!("({})", t(lang, Key::ThisServer))}</span> }
                            {" "}<span class={classes!("srv-state", state)}>{t(lang, if s.up { Key::ServerUp } else { Key::ServerDown })}</span>
                            <span class="muted">{format!(" · {} {:.1} s", t(lang, Key::HeartbeatAgo), s.heartbeat_age_ms as f64 / 1000.0)}</span>
                            if let Some(share) = s.share {
                                <span class="muted">{format!(" · {} {}/{}", t(lang, Key::ShareOf), share.index + 1, share.of)}</span>
                            }
                        </li>
                    }
                }) }
            </ul>
        </section>
    }
}
