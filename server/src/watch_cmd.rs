//! `dhcplab watch IFACE`: listens to a link's DHCP (read-only, in promiscuous mode) and prints each packet as
//! it happens, narrated by the engine (`dhcplab_engine::watch`), each exchange summed up when it ends;
//! `--pcap FILE` keeps the frames as they were on the wire; `--http ADDR` serves the dashboard's live view of
//! the link over the daemon's own `/ws` contract, answering its API from the leases seen.

use crate::bridge::publisher::{BACKLOG, Publisher};
use crate::daemon::clock::Clock;
use crate::daemon::command::Snapshot;
use crate::daemon::{Command, CommandSender, command};
use crate::http::AppState;
use crate::http_guard::Guard;
use crate::raw_link::RawLink;
use crate::sim_cmd::Lang;
use crate::web_app::WebApp;
use anyhow::{Context, Result};
use dhcplab_engine::bridge::{DaemonStats, PAGE_SCAN_BUDGET, SNAPSHOT_MAX_LEASES, Update};
use dhcplab_engine::pcap::PcapStream;
use dhcplab_engine::watch::{Watch, WatchEvent};
use dhcplab_engine::{Instant, LeaseState};
use serde::Serialize;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::broadcast;

/// What `dhcplab watch` is told.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// The interface to listen on. Nothing is sent on it, and it is not configured.
    pub iface: String,
    /// Also write every DHCP frame, as it was on the wire, to this pcap file (Wireshark, tshark).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Serve the dashboard for this link here (e.g. 127.0.0.1:8068): its live packets, inspector and the
    /// leases seen, over the same /ws as the daemon's.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Serve the web app from this directory (default: the copy built in, or a built dist/ nearby).
    #[arg(long, value_name = "DIR")]
    pub web_root: Option<PathBuf>,
    /// Print one JSON object per packet instead of sentences.
    #[arg(long)]
    pub json: bool,
    /// The narration's language.
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
    /// Stop after this many DHCP packets.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

/// One packet as `--json` prints it.
#[derive(Serialize)]
struct Line<'a> {
    at: Instant,
    client: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a str>,
    msg: &'static str,
    src: SocketAddr,
    dst: SocketAddr,
    xid: u32,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rfc: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a dhcplab_engine::watch::Outcome>,
}

/// The time of day (UTC) of a daemon-clock instant, as log lines show it.
fn time_of_day(at: Instant) -> String {
    let ms = at.as_millis();
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}.{:03}", s / 3600, (s / 60) % 60, s % 60, ms % 1000)
}

fn print(e: &WatchEvent, args: &WatchArgs, out: &mut impl Write) -> std::io::Result<()> {
    let text = if args.lang == Lang::Zh { &e.text.zh } else { &e.text.en };
    let who = e.client_name();
    let outcome = e.outcome.as_ref().map(|o| {
        let t = o.text(&who);
        if args.lang == Lang::Zh { t.zh } else { t.en }
    });
    let s = &e.packet.summary;
    if args.json {
        let line = Line {
            at: e.packet.at,
            client: e.client.to_string(),
            hostname: e.hostname.as_deref(),
            msg: s.msg.wire_name(),
            src: e.packet.src.into(),
            dst: e.packet.dst.into(),
            xid: s.xid,
            text,
            rfc: e.rfc.as_deref(),
            outcome: e.outcome.as_ref(),
        };
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)?;
    } else {
        let rfc = e.rfc.as_ref().map(|r| format!(" [{r}]")).unwrap_or_default();
        writeln!(
            out,
            "{} {} {:<12} xid {:#010x}  {text}{rfc}",
            time_of_day(e.packet.at),
            e.client,
            s.msg.short_name(),
            s.xid
        )?;
        if let Some(o) = outcome {
            // A blank line closes each exchange, so a busy link reads as one story per client.
            writeln!(out, "{} {o}\n", time_of_day(e.packet.at))?;
        }
    }
    out.flush()
}

/// The leases seen and the counters, as a dashboard's first message.
fn snapshot(watch: &Watch, seq: u64, link: &str) -> Snapshot {
    let leases = watch.leases().take(SNAPSHOT_MAX_LEASES).cloned().collect();
    Snapshot {
        seq,
        leases,
        leases_total: watch.leases().count(),
        stats: stats(watch),
        reserved: vec![],
        servers: vec![],
        watching: Some(link.to_string()),
    }
}

fn stats(watch: &Watch) -> DaemonStats {
    let by_state = LeaseState::ALL.iter().map(|s| watch.leases().filter(|l| l.state == *s).count()).collect();
    DaemonStats {
        engine: watch.stats().clone(),
        leases: watch.leases().count(),
        bound: watch.leases().filter(|l| l.state == LeaseState::Bound).count(),
        by_state,
        ..Default::default()
    }
}

/// The API's questions, answered from what was seen. Changes (release, reservations, reload) need the admin
/// token, which a watcher never has, so they are refused before they get here.
fn answer(cmd: Command, watch: &Watch, seq: u64, link: &str) {
    match cmd {
        Command::Ping(tx) => {
            let _ = tx.send(());
        }
        Command::Leases(r, tx) => {
            let _ = tx.send(r.query.page(watch.leases_after(r.after), r.limit, PAGE_SCAN_BUDGET));
        }
        Command::Lease(ip, tx) => {
            let _ = tx.send(watch.lease(ip).cloned());
        }
        Command::Stats(tx) => {
            let _ = tx.send(stats(watch));
        }
        Command::Snapshot(tx) => {
            let _ = tx.send(snapshot(watch, seq, link));
        }
        Command::Reservations(tx) => {
            let _ = tx.send(vec![]);
        }
        // Dropping the answer channel tells the handler the engine cannot do this.
        Command::Release(..)
        | Command::Reconfigure(..)
        | Command::Pin(..)
        | Command::CheckReservation(..)
        | Command::AddReservation(..)
        | Command::Shared(..)
        | Command::Peers(..) => {}
    }
}

/// Starts the dashboard's HTTP server for the watched link.
async fn serve_dashboard(
    args: &WatchArgs,
    listen: SocketAddr,
    commands: CommandSender,
    updates: broadcast::Sender<crate::bridge::publisher::Published>,
) -> Result<()> {
    let app = AppState {
        commands,
        admin_token: None,
        reload: None,
        updates,
        config_path: None,
        edits: Default::default(),
        guard: Arc::new(Guard::new(&[], &[])),
        watchers: Default::default(),
        max_watchers: 16,
        watchers_refused: Default::default(),
        counters: Default::default(),
        peers: Default::default(),
        links: vec![args.iface.clone()],
    };
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding HTTP {listen}"))?;
    eprintln!("dhcplab watch: the dashboard for {} on http://{}/#dashboard", args.iface, listener.local_addr()?);
    let web = args
        .web_root
        .clone()
        .map(WebApp::Dir)
        .or_else(WebApp::embedded)
        .or_else(|| crate::serve::find_web_root().map(WebApp::Dir));
    tokio::spawn(async move {
        if let Err(e) = crate::serve::serve_http(app, listener, web).await {
            eprintln!("dhcplab watch: HTTP: {e:#}");
        }
    });
    Ok(())
}

pub fn run(args: &WatchArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let link = RawLink::open(&args.iface, true)?;
        let mut pcap = match &args.pcap {
            Some(p) => {
                Some(PcapStream::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)?)
            }
            None => None,
        };
        let (updates, _) = broadcast::channel(BACKLOG);
        let mut publisher = Publisher::new(updates.clone());
        let (cmd_tx, mut commands) = command::channel(64)?;
        if let Some(listen) = args.http {
            serve_dashboard(args, listen, cmd_tx, updates).await?;
        } else {
            drop(cmd_tx);
        }
        eprintln!("dhcplab watch: listening to DHCP on {} (read only); Ctrl-C stops", args.iface);
        let clock = Clock::new();
        let mut watch = Watch::new(&args.iface);
        let mut out = std::io::stdout().lock();
        let mut told = 0u64;
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                received = link.recv(|| clock.now()) => {
                    let (frame, bytes) = received?;
                    if let Some(p) = &mut pcap {
                        p.write(frame.at, &bytes)?;
                    }
                    watch.handle_frame(clock.now(), &frame);
                    while let Some(e) = watch.poll_event() {
                        print(&e, args, &mut out)?;
                        if let Some(ev) = e.lease.clone() {
                            publisher.publish(|seq| Update::Lease { seq, event: ev });
                        }
                        let packet = Box::new(e.packet);
                        publisher.publish(|seq| Update::Packet { seq, packet });
                        told += 1;
                    }
                    if args.count.is_some_and(|n| told >= n) {
                        break;
                    }
                }
                Some(cmd) = commands.recv() => answer(cmd, &watch, publisher.seq(), &args.iface),
                _ = tick.tick() => {
                    watch.handle_timeout(clock.now());
                    if publisher.watched() {
                        let stats = stats(&watch);
                        publisher.publish(|seq| Update::Stats { seq, stats });
                    }
                }
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
            }
        }
        Ok(())
    })
}
