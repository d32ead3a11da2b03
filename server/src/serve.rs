//! `dhcplab serve`: wires the engine, the links, the lease store, the HTTP API and (without a config) the
//! loopback demo together, and runs until SIGINT or SIGTERM. SIGHUP reloads the config file.

use crate::bridge::publisher::{BACKLOG, Publisher};
use crate::config_file::{self, ConfigFile};
use crate::daemon::committer::CommitWindow;
use crate::daemon::peers::{PeerBoard, PeerWatch};
use crate::daemon::{Clock, Counters, Engine, command};
use crate::demo::Demo;
use crate::http::{self, AppState};
use crate::http_guard::Guard;
use crate::link::Link;
use crate::privileges;
use crate::reload::Reloader;
use crate::store::{LeaseDb, LeaseStore, LoadSink, PgConnect, PgPeers, PgStore, SqliteStore, StoreError};
use crate::web_app::WebApp;
use anyhow::{Context, Result};
use dhcplab_engine::Server;
use dhcplab_engine::bridge::PeerStatus;
use dhcplab_engine::config::{PoolRange, SubnetConfig};
use dhcplab_engine::stored_leases::StoredLeases;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc};
use tracing::{error, info, warn};

/// Options of `dhcplab serve`.
pub struct ServeOptions {
    pub config: Option<PathBuf>,
    pub http: Option<SocketAddr>,
    pub web_root: Option<PathBuf>,
    pub demo_clients: usize,
    pub demo_port: u16,
}

/// An error that means "bad configuration" (exit code 2) rather than a runtime failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadConfig(pub String);

/// The demo's network: 192.0.2.0/24 (a documentation range; it never leaves loopback), short leases so
/// renewals and expiries show within minutes.
fn demo_config() -> ConfigFile {
    let mut s = SubnetConfig::new(
        "192.0.2.0/24".parse().expect("literal"),
        "192.0.2.100-192.0.2.199".parse::<PoolRange>().expect("literal").0,
    );
    s.routers = vec![Ipv4Addr::new(192, 0, 2, 1)];
    s.dns = vec![Ipv4Addr::new(192, 0, 2, 1)];
    s.domain_name = Some("demo.dhcplab".into());
    s.lease_time = std::time::Duration::from_secs(120);
    ConfigFile { subnet: vec![s], ..ConfigFile::default() }
}

const DEMO_SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// The built web app: beside the binary (`dist/`), in the source tree it was built in
/// (`target/release/../../dist`), or installed (`/usr/share/dhcplab/web`). Never the working directory:
/// what the daemon serves must not depend on where it was started.
pub(crate) fn find_web_root() -> Option<PathBuf> {
    let mut candidates = vec![];
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join("dist"));
        candidates.push(dir.join("../../dist"));
    }
    candidates.push(PathBuf::from("/usr/share/dhcplab/web"));
    candidates.into_iter().find(|d| d.join("index.html").is_file())
}

/// 128 bits from the OS's random source, as hex, for the demo's admin token. Without that source there
/// is no token at all rather than a guessable one.
fn random_token() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no OS randomness for the demo's admin token: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// DNS changes waiting for the updater; more are counted as failed, never waited for.
const DNS_QUEUE: usize = 4096;

pub async fn serve(opts: ServeOptions) -> Result<()> {
    let demo = opts.config.is_none();
    let cfg = match &opts.config {
        Some(path) => config_file::load(path).map_err(|e| BadConfig(e.to_string()))?,
        None => demo_config(),
    };
    let clock = Clock::new();
    let db = lease_db(&cfg, demo);
    let seed = clock.now().as_millis();
    // The PostgreSQL client blocks (it runs a runtime of its own): it is opened off this async runtime.
    // The store reads on that thread while this one indexes what it has read.
    let started = std::time::Instant::now();
    let (opened, server) = std::thread::scope(|s| {
        let (batches, loaded) = std::sync::mpsc::sync_channel(4);
        let reader = s.spawn(|| open_store(&cfg, &db, Opener::Daemon, &mut Batches(batches)));
        let server = restore_server(&cfg, loaded, seed);
        (reader.join(), server)
    });
    let opened = opened.map_err(|_| anyhow::anyhow!("opening the lease database panicked"))??;
    let mut server = server?;
    if let LeaseDb::Postgres(_) = &db {
        server.set_name(&server_name(&cfg));
    }
    let loaded = dhcplab_engine::text::counted(server.leases().count(), "lease");
    info!("lease database {db}: {loaded} loaded in {:.2} s", started.elapsed().as_secs_f64());

    // The engine gets a thread of its own, with its own loop over its links (no async runtime): the HTTP
    // API and the WebSocket fan-out (however many dashboards) run on this runtime and never take turns with
    // the packet loop.
    let demo_clients = if demo { Some(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?) } else { None };
    let (links, demo_socket) = bind_links(&cfg, &opts, demo_clients)?;
    let links = Arc::new(links);

    let counters = Arc::new(Counters { file_lag: opened.store.file_lag(), ..Counters::default() });
    let (updates, _) = broadcast::channel(BACKLOG);
    let (cmd_tx, cmd_rx) = command::channel(256).context("the engine's command channel")?;
    let publisher = Publisher::new(updates.clone());
    // On its own (SQLite), this server is the whole board; with a shared database the watcher fills it.
    let alone = vec![PeerStatus { name: server_name(&cfg), up: true, heartbeat_age_ms: 0, share: None, this: true }];
    let peer_board = PeerBoard::new(std::sync::Mutex::new(alone.clone()));
    let store = (opened.store, CommitWindow::new(cfg.dhcp.commit_delay));
    let mut engine = Engine::new(server, links.clone(), store, clock, counters.clone(), publisher, cmd_tx.clone())
        .context("starting the lease store's thread")?
        .with_peers(alone);
    if let Some(section) = &cfg.ddns {
        let updater =
            crate::ddns::Updater::new(section, counters.dns.clone()).map_err(|e| BadConfig(format!("[ddns]: {e}")))?;
        let (dns_tx, dns_rx) = mpsc::channel(DNS_QUEUE);
        tokio::spawn(updater.run(dns_rx));
        engine = engine.with_dns(dns_tx);
        info!("dynamic DNS: {} through {}", section.forward_zone, section.server);
    }
    if let Some(mut watch) = opened.peers {
        watch.engine = cmd_tx.clone();
        watch.board = peer_board.clone();
        std::thread::Builder::new()
            .name("lease-peers".into())
            .spawn(move || watch.run())
            .context("starting the shared database's watcher")?;
    }
    std::thread::Builder::new()
        .name("dhcp-engine".into())
        .spawn(move || engine.run(cmd_rx))
        .context("starting the DHCP engine's thread")?;
    if let Some(sock) = demo_socket {
        let server_addr = links[0].socket.local_addr()?;
        tokio::spawn(Demo::new(sock, server_addr, clock, opts.demo_clients, seed).run());
    }

    let reload = opts
        .config
        .clone()
        .map(|path| Reloader::new(path, cmd_tx.clone(), cfg.dhcp.interfaces.clone(), cfg.dhcp.threads));
    if let Some(r) = reload.clone() {
        tokio::spawn(reload_on_sighup(r));
    }
    let token = admin_token(&cfg, demo)?;
    tokio::spawn(crate::systemd::watchdog(cmd_tx.clone()));
    let app = AppState {
        commands: cmd_tx,
        admin_token: token.clone().map(Into::into),
        reload,
        updates,
        config_path: opts.config.clone(),
        edits: Default::default(),
        guard: Arc::new(Guard::new(&cfg.http.allowed_hosts, &cfg.http.allowed_origins)),
        watchers: Default::default(),
        max_watchers: cfg.http.max_watchers,
        watchers_refused: Default::default(),
        links: cfg.dhcp.interfaces.clone(),
        counters,
        peers: peer_board,
    };
    if demo && let Some(t) = &token {
        info!("demo admin token: {t}");
    }
    let listen = opts.http.unwrap_or(cfg.http.listen);
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding HTTP {listen}"))?;
    // Everything that needed root is done: sockets bound, database open.
    if let Some(user) = &cfg.dhcp.user {
        let file = match &db {
            LeaseDb::Sqlite(path) => Some(path.as_path()),
            LeaseDb::Postgres(_) => None,
        };
        privileges::become_user(user, file).map_err(|e| BadConfig(e.to_string()))?;
        info!("running as {user}");
    }
    yield_cpu_to_dhcp();
    // --web-root, else the copy built into the binary, else one installed or built nearby.
    let web =
        opts.web_root.clone().map(WebApp::Dir).or_else(WebApp::embedded).or_else(|| find_web_root().map(WebApp::Dir));
    serve_http(app, listener, web).await?;
    if demo && let LeaseDb::Sqlite(path) = &db {
        remove_db(path);
    }
    Ok(())
}

/// The lease database: the config's, or for the demo a fresh scratch file.
fn lease_db(cfg: &ConfigFile, demo: bool) -> LeaseDb {
    if !demo {
        return cfg.dhcp.lease_db.clone();
    }
    let p = std::env::temp_dir().join(format!("dhcplab-demo-{}.sqlite3", std::process::id()));
    remove_db(&p);
    LeaseDb::Sqlite(p)
}

/// An open lease store, and for a shared database the watcher of the other servers (its engine channel and
/// board are filled in by the caller).
pub(crate) struct Opened {
    pub(crate) store: Box<dyn LeaseStore>,
    peers: Option<PeerWatch>,
}

/// What a load sends the indexing thread.
enum Loaded {
    Expect(usize),
    Batch(Vec<dhcplab_engine::Lease>),
}

/// A load sent batch by batch to the thread that indexes it. Once that thread has stopped (the config
/// was refused), the rest is read and dropped: the error that stopped it is the one reported.
struct Batches(std::sync::mpsc::SyncSender<Loaded>);

impl LoadSink for Batches {
    fn expect(&mut self, leases: usize) {
        let _ = self.0.send(Loaded::Expect(leases));
    }
    fn take(&mut self, batch: Vec<dhcplab_engine::Lease>) {
        let _ = self.0.send(Loaded::Batch(batch));
    }
}

/// Who opens the lease database.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opener {
    /// The daemon, serving from it alone (a SQLite file's commits go to its change log).
    Daemon,
    /// A command that reads or writes it and ends (`leases import`, `leases export`).
    Tool,
}

/// Opens the lease database and reads every lease it holds into `sink`.
pub(crate) fn open_store(cfg: &ConfigFile, db: &LeaseDb, opener: Opener, sink: &mut dyn LoadSink) -> Result<Opened> {
    let check = |e: StoreError| match db {
        LeaseDb::Sqlite(p) => anyhow::anyhow!("{e} (`dhcplab check --db {}` checks it)", p.display()),
        LeaseDb::Postgres(_) => anyhow::anyhow!("{e}"),
    };
    match db {
        LeaseDb::Sqlite(path) => {
            let store = match opener {
                Opener::Daemon => SqliteStore::open_serving(path),
                Opener::Tool => SqliteStore::open(path),
            };
            let mut store = store.map_err(check).with_context(|| format!("opening the lease database {db}"))?;
            store.load_into(sink).map_err(check).with_context(|| format!("reading the lease database {db}"))?;
            Ok(Opened { store: Box::new(store), peers: None })
        }
        LeaseDb::Postgres(target) => {
            let name = server_name(cfg);
            let pg = PgConnect::new(target, cfg.dhcp.lease_db_password_file.as_deref()).map_err(check)?;
            let mut store = PgStore::open(pg.clone(), &name)
                .map_err(check)
                .with_context(|| format!("connecting to the lease database {db}"))?;
            store.load_into(sink).map_err(check).with_context(|| format!("reading the lease database {db}"))?;
            let peers = PgPeers::open(pg, &name).map_err(check).context("a second connection for the heartbeats")?;
            info!("server {name} shares the lease database {db}");
            // A placeholder: `serve` gives it the engine's sender before the watcher starts.
            let (engine, _) = command::channel(1).context("a command channel")?;
            let watch = PeerWatch {
                peers,
                mark: store.mark(),
                takeover_after: cfg.dhcp.takeover_after,
                engine,
                board: PeerBoard::default(),
            };
            Ok(Opened { store: Box::new(store), peers: Some(watch) })
        }
    }
}

/// This server's name in a shared database: the config's, or the host name.
fn server_name(cfg: &ConfigFile) -> String {
    cfg.dhcp.server_name.clone().unwrap_or_else(|| {
        nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "dhcplab".into())
    })
}

/// Removes a SQLite database with its WAL, shared-memory files and change log.
fn remove_db(db: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let _ = std::fs::remove_dir_all(crate::store::change_log::dir_of(db));
}

/// The engine for `cfg`, with the stored leases loaded: a lease that conflicts with one already loaded (a
/// second holder of its address) is logged and left out.
fn restore_server(cfg: &ConfigFile, stored: std::sync::mpsc::Receiver<Loaded>, seed: u64) -> Result<Server> {
    let mut server = Server::new(cfg.server_config(), seed)
        .map_err(|errs| BadConfig(errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")))?;
    // Each batch is sorted by address as it comes, while the store reads the next; the table is then
    // built from the sorted batches in one pass.
    let mut leases = StoredLeases::default();
    for loaded in stored {
        match loaded {
            Loaded::Expect(n) => leases.reserve_runs(n.div_ceil(crate::store::LOAD_BATCH)),
            Loaded::Batch(batch) => leases.add(batch),
        }
    }
    for e in server.restore_all(leases) {
        warn!("stored lease not loaded: {e}");
    }
    // Loading held the records twice over (the sorted batches, then the tree): hand the freed heap back to
    // the system, or a million leases keep that peak resident.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's heap; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
    Ok(server)
}

/// Opens the demo's loopback link and every configured interface.
fn bind_links(
    cfg: &ConfigFile,
    opts: &ServeOptions,
    demo_clients: Option<UdpSocket>,
) -> Result<(Vec<Link>, Option<UdpSocket>)> {
    let mut links = Vec::new();
    let mut demo_socket = None;
    if let Some(clients) = demo_clients {
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, opts.demo_port));
        let link = Link::demo(0, listen, DEMO_SERVER_ADDR, clients.local_addr()?, cfg.dhcp.threads)
            .with_context(|| format!("binding the demo DHCP socket {listen}"))?;
        info!("demo: DHCP on {listen} (loopback only), subnet 192.0.2.0/24, {} clients", opts.demo_clients);
        links.push(link);
        demo_socket = Some(clients);
    }
    for name in &cfg.dhcp.interfaces {
        let id = links.len() as u32;
        let link = Link::interface(id, name, cfg.dhcp.port, cfg.dhcp.threads).map_err(|e| BadConfig(e.to_string()))?;
        info!("serving DHCP on {name} ({}) port {}", link.addr, cfg.dhcp.port);
        links.push(link);
    }
    if links.is_empty() {
        warn!("no interfaces in [dhcp] interfaces: nothing is served on any network");
    }
    Ok((links, demo_socket))
}

/// SIGHUP reloads the config file; a file with errors is refused and the running config stays.
async fn reload_on_sighup(reload: Reloader) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
    while hup.recv().await.is_some() {
        info!("SIGHUP: reloading the configuration");
        if let Err(e) = reload.reload().await {
            error!("reload refused, the old configuration keeps serving:\n{e}");
        }
    }
}

/// The bearer token for mutating endpoints: the config's, its file's first line, or a random one for the demo.
fn admin_token(cfg: &ConfigFile, demo: bool) -> Result<Option<String>> {
    Ok(match (&cfg.http.admin_token, &cfg.http.admin_token_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(f)) => {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading admin_token_file {}", f.display()))?;
            let token = text.lines().next().unwrap_or("").trim().to_string();
            config_file::check_token(&token).map_err(|why| BadConfig(format!("{}: the token {why}", f.display())))?;
            Some(token)
        }
        (None, None) if demo => Some(random_token()?),
        (None, None) => None,
    })
}

/// How much lower the HTTP side's CPU priority is than the DHCP path's (a nice value).
const HTTP_NICENESS: i32 = 10;

/// Lowers this thread's CPU priority (and that of the threads it starts from now on: the HTTP runtime's
/// blocking pool). The engine's and the committer's threads, started before, keep theirs: when a dashboard
/// storm and DHCP compete for the cores, DHCP wins. Raising a nice value needs no privilege.
fn yield_cpu_to_dhcp() {
    if let Err(e) = crate::thread_priority::set_own_nice(HTTP_NICENESS) {
        warn!("could not lower the HTTP side's CPU priority: {e}");
    }
}

/// Serves the API, the bridge and the web app until SIGINT or SIGTERM.
pub(crate) async fn serve_http(app: AppState, listener: tokio::net::TcpListener, web: Option<WebApp>) -> Result<()> {
    let listen = listener.local_addr()?;
    info!("HTTP on http://{listen}/ (API /api/leases, /metrics)");
    match &web {
        Some(w) => info!("web app from {w}"),
        None => warn!("web app not built (run scripts/build-web); serving the API only"),
    }
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        info!("shutting down");
        crate::systemd::stopping();
    };
    crate::systemd::ready();
    // On return the process exits, engine thread and all: every lease it ACKed is already committed.
    axum::serve(listener, http::router(app, web)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
