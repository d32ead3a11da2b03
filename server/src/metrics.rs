//! Prometheus text exposition. Names follow Kea's statistics (`pkt4-received` →
//! `dhcplab_pkt4_received_total`), so dashboards and alerts written for Kea carry over.

use dhcplab_engine::bridge::DaemonStats;
use dhcplab_engine::message::DhcpMessage;
use dhcplab_engine::packet::DropReason;
use std::fmt::Write;

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP dhcplab_{name} {help}\n# TYPE dhcplab_{name} counter\ndhcplab_{name} {value}");
}

/// What the HTTP layer refused, by reason.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HttpCounters {
    /// A `Host` that does not name this daemon (DNS rebinding).
    pub host: u64,
    /// A browser request from a foreign origin.
    pub origin: u64,
    /// A live-bridge connection over `[http] max_watchers`.
    pub watchers: u64,
}

impl HttpCounters {
    pub fn of(app: &crate::http::AppState) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        HttpCounters {
            host: app.guard.refused_host.load(Relaxed),
            origin: app.guard.refused_origin.load(Relaxed),
            watchers: app.watchers_refused.load(Relaxed),
        }
    }
}

pub fn render(s: &DaemonStats, http: &HttpCounters) -> String {
    let mut out = String::new();
    let e = &s.engine;
    counter(&mut out, "pkt4_received_total", "DHCPv4 packets received.", e.received);
    counter(&mut out, "pkt4_sent_total", "DHCPv4 packets sent.", e.sent);
    // Kea's names: pkt4-discover-received … pkt4-inform-received, pkt4-offer-sent, -ack-, -nak-.
    for m in DhcpMessage::ALL {
        let (dir, counts) = if m.from_client() { ("received", &e.received_by_type) } else { ("sent", &e.sent_by_type) };
        let name = m.short_name().to_lowercase();
        counter(&mut out, &format!("pkt4_{name}_{dir}_total"), &format!("{m} messages {dir}."), counts.of(m));
    }
    counter(
        &mut out,
        "offers_reclaimed_total",
        "Offers withdrawn because the pool was full of offers (a DISCOVER flood).",
        e.offers_reclaimed,
    );
    counter(
        &mut out,
        "decline_quarantine_evictions_total",
        "Declined addresses released early because a quarter of the pool was quarantined (a DECLINE flood).",
        e.quarantine_evictions,
    );
    counter(&mut out, "pkt4_receive_drop_total", "Packets received and dropped.", e.dropped_total() + s.queue_overflow);
    counter(&mut out, "pkt4_parse_failed_total", "Packets that could not be parsed.", e.parse_failed());
    let _ = writeln!(out, "# HELP dhcplab_pkt4_drop_reason_total Dropped packets by reason.");
    let _ = writeln!(out, "# TYPE dhcplab_pkt4_drop_reason_total counter");
    for r in DropReason::ALL {
        let _ = writeln!(
            out,
            "dhcplab_pkt4_drop_reason_total{{reason=\"{}\"}} {}",
            r.as_str(),
            e.dropped.get(&r).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(out, "dhcplab_pkt4_drop_reason_total{{reason=\"queue_overflow\"}} {}", s.queue_overflow);
    counter(
        &mut out,
        "store_commits_total",
        "Lease database transactions committed (each one fsync).",
        s.store_commits,
    );
    counter(&mut out, "store_failures_total", "Lease database commits that failed.", s.store_failures);
    counter(&mut out, "acks_withheld_total", "ACKs not sent because their lease could not be stored.", s.acks_withheld);
    let _ = writeln!(out, "# HELP dhcplab_store_pending_changes Lease changes waiting for a commit to succeed.");
    let _ =
        writeln!(out, "# TYPE dhcplab_store_pending_changes gauge\ndhcplab_store_pending_changes {}", s.store_pending);
    for (name, help) in [
        ("subnet_total_addresses", "Addresses in the subnet's pools."),
        ("subnet_assigned_addresses", "Pool addresses offered or leased."),
        ("subnet_declined_addresses", "Pool addresses in decline probation."),
    ] {
        let _ = writeln!(out, "# HELP dhcplab_{name} {help}\n# TYPE dhcplab_{name} gauge");
        for u in &s.subnets {
            let v = match name {
                "subnet_total_addresses" => u.pool_size,
                "subnet_assigned_addresses" => u.used,
                _ => u.declined,
            };
            let _ = writeln!(out, "dhcplab_{name}{{subnet=\"{}\"}} {v}", u.cidr);
        }
    }
    let _ = writeln!(out, "# HELP dhcplab_leases Lease records by state.\n# TYPE dhcplab_leases gauge");
    let _ = writeln!(out, "dhcplab_leases{{state=\"bound\"}} {}", s.bound);
    let _ = writeln!(out, "dhcplab_leases{{state=\"all\"}} {}", s.leases);
    let _ = writeln!(out, "# HELP dhcplab_http_refused_total HTTP requests refused, by reason.");
    let _ = writeln!(out, "# TYPE dhcplab_http_refused_total counter");
    for (reason, n) in [("host", http.host), ("origin", http.origin), ("watchers", http.watchers)] {
        let _ = writeln!(out, "dhcplab_http_refused_total{{reason=\"{reason}\"}} {n}");
    }
    out
}
