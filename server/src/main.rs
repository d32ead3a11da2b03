//! `dhcplab`: the DHCPv4 daemon, the lab's scenarios on the command line, and the config checker.

#[cfg(test)]
mod alloc_count;
mod batched_stderr;
mod bridge;
mod config_file;
mod daemon;
mod ddns;
mod demo;
mod explain_cmd;
mod http;
mod http_guard;
mod leases_cmd;
mod link;
mod metrics;
mod pinger;
mod privileges;
mod probe_cmd;
mod raw_link;
mod recv_slots;
mod reload;
mod serve;
mod sim_cmd;
mod store;
mod systemd;
mod thread_priority;
mod watch_cmd;
mod web_app;

#[cfg(test)]
#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

use clap::{Parser, Subcommand};
use dhcplab_engine::text::counted;
use std::path::PathBuf;
use std::process::ExitCode;

/// A DHCPv4 server and teaching lab.
#[derive(Parser)]
#[command(name = "dhcplab", version, about, long_about = None, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How `serve` and `demo` write their log to stderr: lines for people, or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "DHCPLAB_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum LeasesAction {
    /// Store the leases of a dnsmasq lease file or a Kea memfile CSV in the config's lease database (stop
    /// the daemon first when it uses SQLite); clients then keep their addresses when they renew or reboot.
    Import {
        /// The dhcplab config whose subnets and lease database receive the leases.
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// The source's format.
        #[arg(long, value_enum)]
        from: leases_cmd::ImportFormat,
        /// The lease file (e.g. /var/lib/misc/dnsmasq.leases, /var/lib/kea/kea-leases4.csv).
        source: PathBuf,
    },
    /// Print every lease of the config's lease database.
    Export {
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = leases_cmd::ExportFormat::Json)]
        format: leases_cmd::ExportFormat,
    },
}

/// Exit codes, signals, environment and files, for `--help` and the man page.
const AFTER_HELP: &str = "\
Exit codes: 0 ok; 1 a runtime failure (a socket, the lease database); 2 bad usage, a bad config file
(FILE:LINE:COLUMN: FIELD: MESSAGE) or a damaged lease database.
Signals (serve): SIGHUP reloads the config file (a bad one is refused and the running one stays);
SIGINT and SIGTERM stop the daemon.
Environment: RUST_LOG (log filter, e.g. debug); DHCPLAB_LOG_FORMAT (text or json, as --log-format);
DHCPLAB_DB_PASSWORD (PostgreSQL password when the lease_db URL and lease_db_password_file have
none).
Files: /etc/dhcplab/dhcplab.toml (serve's config when --config is not given);
/var/lib/dhcplab/leases.sqlite3 (the default lease database) and, beside it, leases.sqlite3.changes/ (its
change log: each lease is synced there before its ACK, and written into the file within five seconds).";

/// Where `serve` looks for its config when `--config` is not given.
const DEFAULT_CONFIG: &str = "/etc/dhcplab/dhcplab.toml";

#[derive(Subcommand)]
enum Command {
    /// Run the DHCP server with a config file.
    Serve {
        /// The TOML config file (see examples/dhcplab.toml); default /etc/dhcplab/dhcplab.toml.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Listen for HTTP here instead of [http] listen (default 127.0.0.1:8067).
        #[arg(long, value_name = "ADDR")]
        http: Option<std::net::SocketAddr>,
        /// Serve the web app from this directory (default: a built dist/ found nearby).
        #[arg(long, value_name = "DIR")]
        web_root: Option<PathBuf>,
    },
    /// A loopback demo: the server on 127.0.0.1 with simulated clients, the API and the web app (nothing
    /// is served on a real link).
    Demo {
        /// Listen for HTTP here (default 127.0.0.1:8067).
        #[arg(long, value_name = "ADDR")]
        http: Option<std::net::SocketAddr>,
        /// Serve the web app from this directory (default: a built dist/ found nearby).
        #[arg(long, value_name = "DIR")]
        web_root: Option<PathBuf>,
        /// How many simulated clients.
        #[arg(long, default_value_t = 24)]
        clients: usize,
        /// The unprivileged loopback UDP port the server listens on.
        #[arg(long, default_value_t = 6767)]
        port: u16,
    },
    /// Run a lab scenario headless and print what happens, step by step, with explanations; or, with
    /// --explain, tell the DHCP of a capture file the same way.
    Sim {
        /// Scenario name (see --list).
        #[arg(required_unless_present_any = ["list", "explain"], conflicts_with = "explain")]
        scenario: Option<String>,
        /// Explain the DHCP packets of this pcap or pcapng file (tcpdump, Wireshark, `dhcplab watch
        /// --pcap`, the lab's export): each packet told, the client state it shows, and what is unusual.
        #[arg(long, value_name = "FILE")]
        explain: Option<PathBuf>,
        /// List the scenarios.
        #[arg(long)]
        list: bool,
        /// Seed for the simulation's randomness (xids, jitter); the same seed gives the same run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write every simulated packet, with Ethernet/IPv4/UDP framing, to this pcap file.
        #[arg(long, value_name = "FILE")]
        pcap: Option<PathBuf>,
        /// Print the trace as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Language of the explanations.
        #[arg(long, value_enum, default_value_t = sim_cmd::Lang::En)]
        lang: sim_cmd::Lang,
    },
    /// Validate a config file (problems are printed as FILE:LINE:COLUMN: FIELD: MESSAGE), or a lease
    /// database with --db.
    Check {
        /// The TOML config file.
        #[arg(required_unless_present = "db")]
        file: Option<PathBuf>,
        /// Verify this lease database instead: a SQLite file, or a postgresql:// URL (password from
        /// DHCPLAB_DB_PASSWORD). Read only; run it while the daemon is stopped or running.
        #[arg(long, value_name = "FILE|URL")]
        db: Option<String>,
    },
    /// Ask the DHCP servers of a link what a client would get, with the engine's own client: every server
    /// that answers, its offer, and what is wrong (a second server, options that disagree, an offer outside
    /// the interface's subnet, a NAK and its cause, no answer at all).
    ///
    /// Nothing is configured and, by default, nothing is taken: offers are collected, never requested.
    /// --relay asks as a relay agent does, for the clients of another subnet (giaddr, option 82).
    /// Needs CAP_NET_RAW (a raw socket on IFACE); root has it.
    ///
    /// Exit codes, for monitoring checks: 0 exactly one server answered; 1 none did; 2 more than one did;
    /// 3 the probe could not run (no such interface, no CAP_NET_RAW).
    #[command(verbatim_doc_comment)]
    Probe(probe_cmd::ProbeArgs),
    /// Listen to a link's DHCP and tell each exchange as it happens: who asked, who answered, what was
    /// granted or refused, and why (the lab's narrator, on a real link).
    ///
    /// Read only: nothing is sent, the interface is not configured (it is put in promiscuous mode to hear
    /// unicast replies). --pcap keeps the frames; --http serves the dashboard for the link.
    /// Needs CAP_NET_RAW (a raw socket on IFACE); root has it. Ctrl-C or SIGTERM stops it.
    #[command(verbatim_doc_comment)]
    Watch(watch_cmd::WatchArgs),
    /// Move leases in from another server's lease file, or out of dhcplab's lease database.
    Leases {
        #[command(subcommand)]
        action: LeasesAction,
    },
    /// Write the man page (dhcplab.1) and shell completions (bash, zsh, fish) into DIR, for packaging.
    #[command(hide = true)]
    GenerateDocs { dir: PathBuf },
}

/// Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.
const EXIT_BAD_CONFIG: u8 = 2;
const EXIT_FAILURE: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config, http, web_root } => {
            let Some(config) = config.or_else(|| {
                let default = PathBuf::from(DEFAULT_CONFIG);
                default.is_file().then_some(default)
            }) else {
                eprintln!(
                    "dhcplab serve: no config file: name one with --config FILE, or write {DEFAULT_CONFIG} \
                     (examples/dhcplab.toml shows one). `dhcplab demo` runs the loopback demo."
                );
                return ExitCode::from(EXIT_BAD_CONFIG);
            };
            let opts = serve::ServeOptions { config: Some(config), http, web_root, demo_clients: 0, demo_port: 0 };
            run_daemon(opts, cli.log_format)
        }
        Command::Demo { http, web_root, clients, port } => {
            let opts = serve::ServeOptions { config: None, http, web_root, demo_clients: clients, demo_port: port };
            run_daemon(opts, cli.log_format)
        }
        Command::Sim { list: true, .. } => match sim_cmd::list(&mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Command::Sim { explain: Some(file), json, lang, .. } => {
            match explain_cmd::run(&file, lang, json, &mut std::io::stdout().lock()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
        Command::Sim { scenario, seed, pcap, json, lang, .. } => {
            let name = scenario.unwrap_or_default();
            match sim_cmd::run(&name, seed, pcap.as_deref(), json, lang, &mut std::io::stdout().lock()) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => {
                    eprintln!("dhcplab: no scenario named `{name}`; these exist:");
                    let _ = sim_cmd::list(&mut std::io::stderr().lock());
                    ExitCode::from(EXIT_BAD_CONFIG)
                }
                Err(e) => fail(e),
            }
        }
        Command::Check { db: Some(db), .. } => match db.parse::<store::LeaseDb>() {
            Err(e) => {
                eprintln!("dhcplab check --db: {e}");
                ExitCode::from(EXIT_BAD_CONFIG)
            }
            Ok(store::LeaseDb::Sqlite(path)) => match store::SqliteStore::verify(&path) {
                Ok(n) => {
                    // Changes a daemon made durable and has not yet written into the file (it runs, or was killed).
                    match store::change_log::read(&store::change_log::dir_of(&path)).map(|c| c.len()) {
                        Ok(0) => println!("{}: ok ({})", path.display(), counted(n, "lease")),
                        Ok(m) => println!(
                            "{}: ok ({}; {} in its change log, written into the file by the daemon)",
                            path.display(),
                            counted(n, "lease"),
                            counted(m, "change")
                        ),
                        Err(e) => println!("{}: ok ({}); {e}", path.display(), counted(n, "lease")),
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "{}: {e}\nStop the daemon, move the file aside and start it again: it starts with an empty \
                         lease table, and clients keep their addresses when they renew or reboot while those are free.",
                        path.display()
                    );
                    ExitCode::from(EXIT_BAD_CONFIG)
                }
            },
            Ok(store::LeaseDb::Postgres(target)) => {
                match store::PgConnect::new(&target, None).and_then(|c| store::PgStore::verify(&c)) {
                    Ok(v) => {
                        println!(
                            "{target}: ok ({}, schema version {}, {})",
                            counted(v.leases, "lease"),
                            v.schema,
                            counted(usize::try_from(v.servers).unwrap_or(0), "server")
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("{target}: {e}");
                        ExitCode::from(EXIT_BAD_CONFIG)
                    }
                }
            }
        },
        Command::Probe(args) => match probe_cmd::run(&args) {
            Ok(report) => {
                let mut out = std::io::stdout().lock();
                let printed = if args.json {
                    serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from).and_then(|()| {
                        use std::io::Write;
                        writeln!(out)
                    })
                } else {
                    probe_cmd::print(&report, &args.iface, args.lang, &mut out)
                };
                match printed {
                    Ok(()) => ExitCode::from(report.verdict.exit_code()),
                    Err(e) => {
                        eprintln!("dhcplab probe: {e}");
                        ExitCode::from(probe_cmd::EXIT_CANNOT_PROBE)
                    }
                }
            }
            Err(e) => {
                eprintln!("dhcplab probe: {e}");
                ExitCode::from(probe_cmd::EXIT_CANNOT_PROBE)
            }
        },
        Command::Watch(args) => match watch_cmd::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Command::Leases { action } => leases(action),
        Command::GenerateDocs { dir } => match generate_docs(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e.into()),
        },
        Command::Check { file: None, .. } => {
            eprintln!("dhcplab check: name a config file, or a lease database with --db FILE");
            ExitCode::from(EXIT_BAD_CONFIG)
        }
        Command::Check { file: Some(file), .. } => match config_file::load(&file) {
            Ok(cfg) => {
                let subnets = cfg.server_config().subnets;
                let leases: usize = subnets.iter().flat_map(|s| s.pool_ranges()).map(|(r, _)| r.len()).sum();
                let classes = match cfg.class.len() {
                    0 => String::new(),
                    n => format!(", {n} client classes"),
                };
                println!("{}: ok ({} subnets, {leases} pool addresses{classes})", file.display(), cfg.subnet.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(EXIT_BAD_CONFIG)
            }
        },
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    // The reader went away (`dhcplab sim … | head`): what it wanted it has, as with any Unix filter.
    let broken = |kind: Option<std::io::ErrorKind>| kind == Some(std::io::ErrorKind::BrokenPipe);
    let closed = e.chain().any(|c| {
        broken(c.downcast_ref::<std::io::Error>().map(std::io::Error::kind))
            || broken(c.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind))
    });
    if closed {
        return ExitCode::SUCCESS;
    }
    eprintln!("dhcplab: {e:#}");
    ExitCode::from(EXIT_FAILURE)
}

/// Logs to stderr; `RUST_LOG` picks the level (default: info, one line per exchange). Colour only on a
/// terminal: journald and log files get plain text. The DHCP path's lines are written a batch at a time
/// (`batched_stderr`).
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(batched_stderr::Stderr);
    // Under systemd, stderr goes to the journal (JOURNAL_STREAM is set), which stamps every line itself.
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    match format {
        LogFormat::Text if journal => fmt.with_ansi(false).without_time().init(),
        LogFormat::Text => fmt.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => fmt.json().with_ansi(false).init(),
    }
}

fn leases(action: LeasesAction) -> ExitCode {
    let path = match &action {
        LeasesAction::Import { config, .. } | LeasesAction::Export { config, .. } => config.clone(),
    };
    let cfg = match config_file::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let db = cfg.dhcp.lease_db.clone();
    match action {
        LeasesAction::Import { from, source, .. } => match leases_cmd::import(&cfg, &db, from, &source) {
            Ok(done) => {
                for s in &done.skipped {
                    eprintln!("skipped {s}");
                }
                println!("imported {} into {db} ({} skipped)", counted(done.leases, "lease"), done.skipped.len());
                ExitCode::SUCCESS
            }
            Err(e) if e.downcast_ref::<leases_cmd::LeasesError>().is_some() => {
                eprintln!("{e}");
                ExitCode::from(EXIT_BAD_CONFIG)
            }
            Err(e) => fail(e),
        },
        LeasesAction::Export { format, .. } => {
            match leases_cmd::export(&cfg, &db, format, &mut std::io::stdout().lock()) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
    }
}

/// The man page and completions, generated from this CLI so they never disagree with `--help`.
fn generate_docs(dir: &std::path::Path) -> std::io::Result<()> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir)?;
    let cmd = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    std::fs::write(dir.join("dhcplab.1"), page)?;
    for (shell, file) in [
        (clap_complete::Shell::Bash, "dhcplab.bash"),
        (clap_complete::Shell::Zsh, "_dhcplab"),
        (clap_complete::Shell::Fish, "dhcplab.fish"),
    ] {
        let mut out = std::fs::File::create(dir.join(file))?;
        clap_complete::generate(shell, &mut cmd.clone(), "dhcplab", &mut out);
    }
    Ok(())
}

/// Runs the daemon (`serve` or `demo`) until it is stopped.
fn run_daemon(opts: serve::ServeOptions, log: LogFormat) -> ExitCode {
    init_logging(log);
    // One thread runs the engine, HTTP and the demo; the lease store has its own. Nothing hops
    // between worker threads on the packet path.
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(e.into()),
    };
    match rt.block_on(serve::serve(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<serve::BadConfig>().is_some() => {
            eprintln!("{e}");
            ExitCode::from(EXIT_BAD_CONFIG)
        }
        Err(e) => fail(e),
    }
}
