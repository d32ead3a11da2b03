//! `dhcplab`: the DHCPv4 daemon, the lab's scenarios on the command line, and the config checker.

mod bridge;
mod config_file;
mod daemon;
mod demo;
mod http;
mod http_guard;
mod link;
mod metrics;
mod privileges;
mod reload;
mod serve;
mod sim_cmd;
mod store;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// A DHCPv4 server and teaching lab.
#[derive(Parser)]
#[command(name = "dhcplab", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the DHCP server. Without --config: a loopback demo with simulated clients, the API and the web app.
    Serve {
        /// The TOML config file (see examples/dhcplab.toml). Without it, the loopback demo runs.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Listen for HTTP here instead of [http] listen (default 127.0.0.1:8067).
        #[arg(long, value_name = "ADDR")]
        http: Option<std::net::SocketAddr>,
        /// Serve the web app from this directory (default: a built dist/ found nearby).
        #[arg(long, value_name = "DIR")]
        web_root: Option<PathBuf>,
        /// Demo only: how many simulated clients.
        #[arg(long, default_value_t = 24)]
        demo_clients: usize,
        /// Demo only: the unprivileged loopback UDP port the server listens on.
        #[arg(long, default_value_t = 6767)]
        demo_port: u16,
    },
    /// Run a lab scenario headless and print what happens, step by step, with explanations.
    Sim {
        /// Scenario name (see --list).
        #[arg(required_unless_present = "list")]
        scenario: Option<String>,
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
        /// Verify this lease database instead (read only; run it while the daemon is stopped or running).
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
    },
}

/// Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.
const EXIT_BAD_CONFIG: u8 = 2;
const EXIT_FAILURE: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config, http, web_root, demo_clients, demo_port } => {
            init_logging();
            let opts = serve::ServeOptions { config, http, web_root, demo_clients, demo_port };
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
        Command::Sim { list: true, .. } => match sim_cmd::list(&mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
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
        Command::Check { db: Some(db), .. } => match store::SqliteStore::verify(&db) {
            Ok(n) => {
                println!("{}: ok ({n} leases)", db.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!(
                    "{}: {e}\nStop the daemon, move the file aside and start it again: it starts with an empty lease \
                     table, and clients keep their addresses when they renew or reboot while those are free.",
                    db.display()
                );
                ExitCode::from(EXIT_BAD_CONFIG)
            }
        },
        Command::Check { file: None, .. } => {
            eprintln!("dhcplab check: name a config file, or a lease database with --db FILE");
            ExitCode::from(EXIT_BAD_CONFIG)
        }
        Command::Check { file: Some(file), .. } => match config_file::load(&file) {
            Ok(cfg) => {
                let leases: usize =
                    cfg.server_config().subnets.iter().map(|s| s.pools.iter().map(|p| p.0.len()).sum::<usize>()).sum();
                println!("{}: ok ({} subnets, {leases} pool addresses)", file.display(), cfg.subnet.len());
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
    eprintln!("dhcplab: {e:#}");
    ExitCode::from(EXIT_FAILURE)
}

/// Logs to stderr; `RUST_LOG` picks the level (default: info, one line per exchange).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).init();
}
