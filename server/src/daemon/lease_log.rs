//! One log line per lease event, the way admins grep a DHCP server's log: the message first, in dnsmasq's
//! style (`DHCPACK(eth0) 192.0.2.10 52:54:00:12:34:56 laptop`), with the same facts as structured fields
//! (link, xid, ip, mac, hostname, subnet) for `--log-format json` and journald.

use dhcplab_engine::{LeaseEvent, LeaseEventKind};
use tracing::{Level, debug, info, warn};

/// Whether `ev` makes a line at the log's level.
pub fn logged(ev: &LeaseEvent) -> bool {
    // OFFERs and the shared database's records are debug lines: at the default level nothing is formatted
    // for them, on the busiest path.
    let quiet = matches!(
        ev.kind,
        LeaseEventKind::Offered
            | LeaseEventKind::OfferExpired
            | LeaseEventKind::OfferReclaimed
            | LeaseEventKind::Synced
    );
    if quiet { tracing::enabled!(Level::DEBUG) } else { tracing::enabled!(Level::INFO) }
}

/// Logs `ev`; `link` names the link of the exchange it came from, if any.
pub fn log_event(ev: &LeaseEvent, link: Option<&str>) {
    if !logged(ev) {
        return;
    }
    let (ip, mac, subnet) = (ev.ip, ev.hw, ev.subnet);
    // Client-sent strings are shown escaped: a hostname may hold any bytes.
    let hostname = ev.hostname.as_deref().map(|h| format!("{h:?}")).unwrap_or_default();
    let link = link.unwrap_or("-");
    let xid = ev.exchange.map(|x| format!("{:#010x}", x.xid)).unwrap_or_default();
    let secs = (ev.expires - ev.obtained).as_secs();
    macro_rules! say {
        ($level:ident, $($msg:tt)+) => {
            $level!(link, xid = %xid, ip = %ip, mac = %mac, hostname = %hostname, subnet = %subnet, $($msg)+)
        };
    }
    match ev.kind {
        LeaseEventKind::Bound => say!(info, "DHCPACK({link}) {ip} {mac} {hostname} lease {secs}s"),
        LeaseEventKind::Renewed => say!(info, "DHCPACK({link}) {ip} {mac} {hostname} renewed for {secs}s"),
        LeaseEventKind::Released => say!(info, "DHCPRELEASE({link}) {ip} {mac} {hostname}"),
        LeaseEventKind::Declined => {
            say!(warn, "DHCPDECLINE({link}) {ip} {mac} {hostname}: address in use; quarantined")
        }
        LeaseEventKind::Conflict => {
            say!(warn, "conflict({link}) {ip} answered a ping before its offer to {mac}; quarantined")
        }
        LeaseEventKind::Expired => say!(info, "expired {ip} {mac} {hostname}"),
        LeaseEventKind::Nak => {
            let why = ev.reason.as_deref().unwrap_or("");
            say!(info, "DHCPNAK({link}) {ip} {mac} {hostname}: {why}")
        }
        LeaseEventKind::OfferWithdrawn => {
            say!(info, "offer of {ip} to {mac} withdrawn: the client chose another server")
        }
        LeaseEventKind::OfferTaken => {
            say!(info, "offer of {ip} to {mac} taken back: another client's REQUEST for it came first")
        }
        LeaseEventKind::Reclaimed => say!(info, "{ip} back in the pool after probation"),
        LeaseEventKind::Offered => say!(debug, "DHCPOFFER({link}) {ip} {mac} {hostname}"),
        LeaseEventKind::OfferExpired => say!(debug, "offer of {ip} to {mac} expired"),
        LeaseEventKind::OfferReclaimed => {
            say!(debug, "offer of {ip} to {mac} reclaimed: the pool is full of offers, and a newer DISCOVER came")
        }
        LeaseEventKind::Synced => match ev.state {
            Some(state) => say!(debug, "shared database: {ip} is {state} for {mac} {hostname}"),
            None => say!(debug, "shared database: the record of {ip} is gone"),
        },
    }
}
