//! `dhcplab`: the DHCPv4 daemon, the lab's scenarios on the command line, and the config checker.

mod config_file;

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
    /// Validate a config file; problems are printed as FILE:LINE:COLUMN: FIELD: MESSAGE.
    Check {
        /// The TOML config file.
        file: PathBuf,
    },
}

/// Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.
const EXIT_BAD_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { file } => match config_file::load(&file) {
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
