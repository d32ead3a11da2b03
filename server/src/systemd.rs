//! systemd's service protocol (`Type=notify`): READY=1 once the daemon serves, WATCHDOG=1 while its DHCP
//! engine answers, STOPPING=1 on the way out. Outside systemd (no NOTIFY_SOCKET) each call does nothing.

use crate::daemon::{Command, CommandSender};
use sd_notify::NotifyState;
use std::time::Duration;
use tracing::warn;

fn send(state: NotifyState) {
    if let Err(e) = sd_notify::notify(false, &[state]) {
        warn!("could not notify systemd: {e}");
    }
}

/// Sockets bound, lease database open, engine running, HTTP listening.
pub fn ready() {
    send(NotifyState::Ready);
}

pub fn stopping() {
    send(NotifyState::Stopping);
}

/// With `WatchdogSec=` set: pings systemd at half the interval, but only while the engine's loop answers
/// within a quarter of it, so a stuck engine gets the daemon restarted.
pub async fn watchdog(commands: CommandSender) {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let interval = Duration::from_micros(usec);
    loop {
        tokio::time::sleep(interval / 2).await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        if commands.send(Command::Ping(tx)).await.is_err() {
            return;
        }
        match tokio::time::timeout(interval / 4, rx).await {
            Ok(Ok(())) => send(NotifyState::Watchdog),
            _ => warn!("the DHCP engine did not answer: no watchdog ping for systemd"),
        }
    }
}
