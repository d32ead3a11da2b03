//! Reloading the config file (SIGHUP, `POST /api/reload`, and after a reservation is written): read it,
//! validate it, hand it to the engine. A file with errors changes nothing; the running config keeps serving.

use crate::config_file::{self, ConfigFileError};
use crate::daemon::{Command, CommandSender};
use dhcplab_engine::config::ConfigError;
use std::path::PathBuf;
use tokio::sync::oneshot;
use tracing::warn;

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file cannot be read or parsed; each problem names its line.
    #[error("{0}")]
    File(#[from] ConfigFileError),
    /// The file parses, but the engine refuses the configuration.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Refused(Vec<ConfigError>),
    #[error("the DHCP engine is not running")]
    EngineStopped,
}

/// Reloads one config file into the running engine.
#[derive(Clone)]
pub struct Reloader {
    path: PathBuf,
    commands: CommandSender,
    /// The interfaces served since start-up, and the packet threads reading them: changing either takes a
    /// restart.
    interfaces: Vec<String>,
    threads: usize,
}

impl Reloader {
    pub fn new(path: PathBuf, commands: CommandSender, interfaces: Vec<String>, threads: usize) -> Self {
        Reloader { path, commands, interfaces, threads }
    }

    /// Reloads on a task of its own: once started it finishes even if the caller (an HTTP client) goes away.
    pub async fn reload(&self) -> Result<(), ReloadError> {
        let this = self.clone();
        tokio::spawn(async move { this.apply().await }).await.unwrap_or(Err(ReloadError::EngineStopped))
    }

    async fn apply(&self) -> Result<(), ReloadError> {
        let new = config_file::load(&self.path)?;
        if new.dhcp.interfaces != self.interfaces {
            warn!("[dhcp] interfaces changed: that takes a restart; the rest is applied now");
        }
        if new.dhcp.threads != self.threads {
            warn!("[dhcp] threads changed: that takes a restart; the rest is applied now");
        }
        let (tx, rx) = oneshot::channel();
        let cmd = Command::Reconfigure(Box::new(new.server_config()), tx);
        self.commands.send(cmd).await.map_err(|_| ReloadError::EngineStopped)?;
        rx.await.map_err(|_| ReloadError::EngineStopped)?.map_err(ReloadError::Refused)
    }
}
