//! The live lease table: search, filters, sorting and paging, with release and one-click reservation.
//! With every lease in the snapshot it filters and sorts here; with more (a daemon of a million leases)
//! the daemon serves each page, in address order, and the page is read again every few seconds while
//! changes arrive.

use super::model::{Filters, SortBy};
use super::use_bridge::LiveState;
use crate::i18n::{Key, Lang, t};
use dhcplab_engine::{Lease, LeaseState};
use std::net::Ipv4Addr;
use yew::prelude::*;

/// Rows per page: the DOM stays small however many leases there are.
const PAGE: usize = 100;
/// While changes arrive, a page the daemon serves is read again at most this often.
const REFRESH_MS: f64 = 2_000.0;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    /// The daemon's bridge URL (its API serves the pages).
    pub url: String,
    pub live: UseReducerHandle<LiveState>,
    pub on_release: Callback<Ipv4Addr>,
    pub on_reserve: Callback<Ipv4Addr>,
    /// Follow a client's packets (its MAC).
    pub on_follow: Callback<String>,
    /// Leases seen on a link `dhcplab watch` listens to: nothing to release or reserve.
    pub read_only: bool,
}

/// Time left from `now` until `expires` (Unix milliseconds), as h:mm:ss.
fn countdown(now: u64, expires: u64) -> String {
    if expires <= now {
        return "—".into();
    }
    let s = (expires - now) / 1000;
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

#[derive(Properties, PartialEq)]
struct RowProps {
    lang: Lang,
    lease: Lease,
    reserved: bool,
    /// The time of this draw (Unix milliseconds, whole seconds), so the countdown moves.
    now: u64,
    on_release: Callback<Ipv4Addr>,
    on_reserve: Callback<Ipv4Addr>,
    on_follow: Callback<String>,
    /// Several servers share the lease database: show which one made the lease.
    shared: bool,
    /// Release and reserve buttons (not on a watched link).
    actions: bool,
    /// Columns for the client class and the DNS name, when some lease on the page has one.
    class_column: bool,
    dns_column: bool,
}

#[component]
fn LeaseRow(p: &RowProps) -> Html {
    let (lang, l) = (p.lang, &p.lease);
    let ip = l.ip;
    let release = p.on_release.reform(move |_| ip);
    let reserve = p.on_reserve.reform(move |_| ip);
    let mac = l.hw.to_string();
    let follow = p.on_follow.reform(move |_| mac.clone());
    html! {
        <tr data-testid="lease-row" data-ip={l.ip.to_string()} data-mac={l.hw.to_string()} data-state={l.state.as_str()}>
            <td>{l.ip.to_string()}
                if p.reserved { {" "}<span class="pin" data-testid="lease-reserved" title={t(lang, Key::Reserved)}>{t(lang, Key::ReservedBadge)}</span> }
            </td>
            <td><a class="follow" data-testid="lease-follow" title={t(lang, Key::FollowPackets)} onclick={follow}>{l.hw.to_string()}</a></td>
            // Client-sent text is rendered as text, never as markup.
            <td data-testid="lease-host" translate="no">{l.hostname.as_deref().unwrap_or_default().to_string()}</td>
            <td class={format!("st-{}", l.state.as_str())}>{crate::i18n::lease_state(lang, l.state)}</td>
            if p.shared { <td data-testid="lease-server">{l.server.as_deref().unwrap_or("")}</td> }
            if p.class_column { <td data-testid="lease-class">{l.class.as_deref().unwrap_or("")}</td> }
            if p.dns_column { <td data-testid="lease-dns-name">{l.dns_name.as_deref().unwrap_or("")}</td> }
            <td>{ if l.state == LeaseState::Bound { countdown(p.now, l.expires.as_millis()) } else { String::new() } }</td>
            <td class="acts">
                if p.actions && l.state == LeaseState::Bound { <button data-testid="lease-release" onclick={release}>{t(lang, Key::Release)}</button> }
                if p.actions && !p.reserved && l.state != LeaseState::Declined {
                    <button data-testid="lease-reserve" title={t(lang, Key::ReserveHint)} onclick={reserve}>{t(lang, Key::Reserve)}</button>
                }
            </td>
        </tr>
    }
}

/// A page as the daemon served it.
#[derive(Clone, Default, PartialEq)]
struct Served {
    leases: Vec<Lease>,
    next: Option<Ipv4Addr>,
    error: Option<String>,
}

#[component]
pub fn LeaseTable(p: &Props) -> Html {
    let lang = p.lang;
    let filters = use_state(Filters::default);
    let page = use_state(|| 0usize);
    // Daemon pages: the cursors of the pages before this one (the first has none), and this page.
    let cursors = use_state(Vec::<Option<Ipv4Addr>>::new);
    let served = use_state(Served::default);
    // Each filter change starts again at the first page.
    let set = |f: fn(&mut Filters, String)| {
        let (filters, page, cursors) = (filters.clone(), page.clone(), cursors.clone());
        move |v: String| {
            let mut next = (*filters).clone();
            f(&mut next, v);
            filters.set(next);
            page.set(0);
            cursors.set(vec![]);
        }
    };
    let live = p.live.get();
    let daemon = !live.complete();
    let after = cursors.last().copied().flatten();
    // Read again when the filters or the page change, and every REFRESH_MS while the bridge brings news
    // (each bridge flush redraws this table).
    let refresh = if daemon { (js_sys::Date::now() / REFRESH_MS) as u64 } else { 0 };
    {
        let served = served.clone();
        let deps = (daemon, (*filters).clone(), after, refresh, p.url.clone());
        use_effect_with(deps, move |(daemon, filters, after, _, url)| {
            if *daemon {
                let (filters, after, url) = (filters.clone(), *after, url.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    let query = |limit, after| filters.api_query(limit, after);
                    served.set(match super::api::lease_page_filled(&url, PAGE, after, query).await {
                        Ok((leases, next)) => Served { leases, next, error: None },
                        Err(e) => Served { error: Some(e), ..(*served).clone() },
                    });
                });
            }
        });
    }
    let on_text = {
        let set = set(|f, v| f.text = v);
        Callback::from(move |e: InputEvent| set(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()))
    };
    let on_state = {
        let set = set(|f, v| f.state = v);
        Callback::from(move |e: Event| set(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()))
    };
    let on_subnet = {
        let set = set(|f, v| f.subnet = v);
        Callback::from(move |e: Event| set(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()))
    };
    let sort = |s: SortBy, label: Key| {
        let filters = filters.clone();
        let on = filters.sort == s;
        let onclick = Callback::from(move |_| filters.set(Filters { sort: s, ..(*filters).clone() }));
        html! { <th class={classes!("sortable", on.then_some("on"))} {onclick}>{t(lang, label)}</th> }
    };
    let shared = live.servers.len() > 1;
    let now = js_sys::Date::now() as u64 / 1000 * 1000;
    let go = |to: usize| {
        let page = page.clone();
        Callback::from(move |_| page.set(to))
    };
    let (rows, heading, pager): (Vec<&Lease>, String, Html) = if daemon {
        let back = {
            let cursors = cursors.clone();
            Callback::from(move |_| cursors.set(cursors[..cursors.len().saturating_sub(1)].to_vec()))
        };
        let next = served.next;
        let forward = {
            let cursors = cursors.clone();
            Callback::from(move |_| cursors.set([&cursors[..], &[next]].concat()))
        };
        let pager = html! {
            <div class="pager">
                <button data-testid="lease-prev" disabled={cursors.is_empty()} onclick={back}>{"‹"}</button>
                <span data-testid="lease-page">{format!("{} {}", t(lang, Key::Page), cursors.len() + 1)}</span>
                <button data-testid="lease-next" disabled={next.is_none()} onclick={forward}>{"›"}</button>
            </div>
        };
        let heading = format!("{} ({})", t(lang, Key::LeasesLive), live.leases_total);
        (served.leases.iter().collect(), heading, pager)
    } else {
        let rows = filters.rows(&live.leases);
        let pages = rows.len().div_ceil(PAGE).max(1);
        let current = (*page).min(pages - 1);
        let first = current * PAGE;
        let shown = rows.len().saturating_sub(first).min(PAGE);
        let pager = if pages > 1 {
            html! {
                <div class="pager">
                    <button data-testid="lease-prev" disabled={current == 0} onclick={go(current.saturating_sub(1))}>{"‹"}</button>
                    <span data-testid="lease-page">{format!("{}–{} / {}", first + 1, first + shown, rows.len())}</span>
                    <button data-testid="lease-next" disabled={current + 1 >= pages} onclick={go(current + 1)}>{"›"}</button>
                </div>
            }
        } else {
            Html::default()
        };
        let title = if p.read_only { Key::LeasesSeen } else { Key::LeasesLive };
        let heading = format!("{} ({}/{})", t(lang, title), rows.len(), live.leases.len());
        (rows.into_iter().skip(first).take(PAGE).collect(), heading, pager)
    };
    let class_column = rows.iter().any(|l| l.class.is_some());
    let dns_column = rows.iter().any(|l| l.dns_name.is_some());
    // Sorting reorders what the browser holds; the daemon's pages come in address order.
    let sort = |s: SortBy, label: Key| {
        if daemon {
            html! { <th>{t(lang, label)}</th> }
        } else {
            sort(s, label)
        }
    };
    html! {
        <section class="card">
            <h2>{heading}</h2>
            if daemon {
                <p class="muted" data-testid="daemon-pages">{t(lang, Key::DaemonPages)}
                    if let Some(e) = &served.error { {" "}<span class="bad">{e.clone()}</span> }
                </p>
            }
            <div class="filters">
                <input data-testid="lease-search" aria-label={t(lang, Key::Search)} placeholder={t(lang, Key::Search)} oninput={on_text} />
                <select data-testid="lease-state" aria-label={t(lang, Key::State)} onchange={on_state}>
                    <option value="" selected={filters.state.is_empty()}>{t(lang, Key::AllStates)}</option>
                    { for LeaseState::ALL.iter().map(|s| html! { <option value={s.as_str()} selected={filters.state == s.as_str()}>{crate::i18n::lease_state(lang, *s)}</option> }) }
                </select>
                if !live.subnets.is_empty() {
                    <select data-testid="lease-subnet" aria-label={t(lang, Key::Subnets)} onchange={on_subnet}>
                        <option value="" selected={filters.subnet.is_empty()}>{t(lang, Key::AllSubnets)}</option>
                        { for live.subnets.iter().map(|s| html! { <option value={s.cidr.to_string()} selected={filters.subnet == s.cidr.to_string()}>{s.cidr.to_string()}</option> }) }
                    </select>
                }
            </div>
            <div class="tablewrap">
            <table class="leases live">
                <thead><tr>{sort(SortBy::Ip, Key::Ip)}<th>{"MAC"}</th>{sort(SortBy::Host, Key::Hostname)}{sort(SortBy::State, Key::State)}
                    if shared { <th>{t(lang, Key::MadeBy)}</th> }
                    if class_column { <th>{t(lang, Key::ClientClass)}</th> }
                    if dns_column { <th>{t(lang, Key::DnsName)}</th> }
                    {sort(SortBy::Expires, Key::ExpiresIn)}<th><span class="sr-only">{t(lang, Key::Actions)}</span></th></tr></thead>
                <tbody>
                    { for rows.iter().map(|l| html! {
                        <LeaseRow key={l.ip.to_string()} {lang} lease={(*l).clone()} reserved={live.reserved.contains(&l.ip)} {now}
                            on_release={p.on_release.clone()} on_reserve={p.on_reserve.clone()} on_follow={p.on_follow.clone()} {shared} actions={!p.read_only} {class_column} {dns_column} />
                    }) }
                </tbody>
            </table>
            </div>
            if rows.is_empty() {
                <p class="muted" data-testid="no-leases">{ if live.leases_total == 0 { t(lang, Key::NoLeases) } else { t(lang, Key::NoMatch) } }</p>
            }
            {pager}
        </section>
    }
}
