//! One log line per lease event, the way an admin reads a DHCP server's log.

use dhcplab_engine::{LeaseEvent, LeaseEventKind};
use tracing::{debug, info, warn};

pub fn log_event(ev: &LeaseEvent) {
    if !tracing::enabled!(tracing::Level::INFO) {
        return;
    }
    // Client-sent strings are shown escaped: a hostname may hold any bytes.
    let host = ev.hostname.as_deref().map(|h| format!(" ({h:?})")).unwrap_or_default();
    let (ip, hw, subnet) = (ev.ip, ev.hw, ev.subnet);
    match ev.kind {
        LeaseEventKind::Bound => {
            info!("DHCPACK {ip} to {hw}{host} in {subnet}, lease {}s", (ev.expires - ev.obtained).as_secs())
        }
        LeaseEventKind::Renewed => {
            info!("DHCPACK renewed {ip} for {hw}{host} until +{}s", (ev.expires - ev.obtained).as_secs())
        }
        LeaseEventKind::Released => info!("released {ip} by {hw}{host}"),
        LeaseEventKind::Declined => warn!("DHCPDECLINE {ip} by {hw}{host}: address in use; quarantined"),
        LeaseEventKind::Expired => info!("expired {ip} of {hw}{host}"),
        LeaseEventKind::Nak => info!("DHCPNAK to {hw}{host} for {ip}: {}", ev.reason.as_deref().unwrap_or("")),
        LeaseEventKind::OfferWithdrawn => info!("offer of {ip} to {hw} withdrawn: client chose another server"),
        LeaseEventKind::Reclaimed => info!("{ip} back in the pool after probation"),
        LeaseEventKind::Offered => debug!("DHCPOFFER {ip} to {hw}{host}"),
        LeaseEventKind::OfferExpired => debug!("offer of {ip} to {hw} expired"),
    }
}
