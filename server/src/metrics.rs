//! Prometheus text exposition. Names follow Kea's statistics (`pkt4-received` →
//! `dhcplab_pkt4_received_total`), so dashboards and alerts written for Kea carry over.

use dhcplab_engine::LeaseState;
use dhcplab_engine::bridge::{DaemonStats, PeerStatus};
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

/// The commit-latency histogram and the servers sharing the lease database.
fn store_and_peers(out: &mut String, c: &crate::daemon::Counters, peers: &[PeerStatus]) {
    histogram(
        out,
        "dhcplab_store_commit_duration_seconds",
        "How long lease database commits take (one per batch of changes).",
        &[("", &*c.commit_seconds)],
    );
    histogram(
        out,
        "dhcplab_exchange_duration_seconds",
        "From reading a DISCOVER or REQUEST to sending its OFFER or ACK (an ACK after its lease is stored).",
        &[("operation=\"offer\",", &*c.offer_seconds), ("operation=\"ack\",", &*c.ack_seconds)],
    );
    let own_thread = c.store_thread.load(std::sync::atomic::Ordering::Relaxed);
    let _ = writeln!(
        out,
        "# HELP dhcplab_store_commit_thread 1 when lease commits are made on a thread of their own (packet threads, a shared database, or a local commit that stalled), 0 when the engine thread makes them.\n# TYPE dhcplab_store_commit_thread gauge\ndhcplab_store_commit_thread {}",
        u8::from(own_thread)
    );
    let busy = c.engine_busy_nanos.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9;
    let _ = writeln!(
        out,
        "# HELP dhcplab_engine_busy_seconds_total Time the protocol engine spent on packets, timers and API commands. It handles one batch at a time however many packet threads read, so a rate near 1 means it is saturated.\n# TYPE dhcplab_engine_busy_seconds_total counter\ndhcplab_engine_busy_seconds_total {busy}"
    );
    let _ =
        writeln!(out, "# HELP dhcplab_server_up Servers sharing the lease database: 1 while its heartbeat is fresh.");
    let _ = writeln!(out, "# TYPE dhcplab_server_up gauge");
    for p in peers {
        let _ = writeln!(out, "dhcplab_server_up{{server=\"{}\"}} {}", escape(&p.name), u8::from(p.up));
    }
    let _ = writeln!(out, "# HELP dhcplab_server_heartbeat_age_seconds Time since each server's last heartbeat.");
    let _ = writeln!(out, "# TYPE dhcplab_server_heartbeat_age_seconds gauge");
    for p in peers {
        let age = p.heartbeat_age_ms as f64 / 1000.0;
        let _ = writeln!(out, "dhcplab_server_heartbeat_age_seconds{{server=\"{}\"}} {age}", escape(&p.name));
    }
}

/// One histogram family; each series' labels are given as `name="value",` (empty for none).
fn histogram(out: &mut String, name: &str, help: &str, series: &[(&str, &crate::daemon::committer::Histogram)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (labels, h) in series {
        let (counts, sum) = h.read();
        for (bound, n) in h.bounds.iter().zip(&counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {n}");
        }
        let total = counts.last().copied().unwrap_or(0);
        let bare = labels.trim_end_matches(',');
        let bare = if bare.is_empty() { String::new() } else { format!("{{{bare}}}") };
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {total}");
        let _ = writeln!(out, "{name}_sum{bare} {sum}\n{name}_count{bare} {total}");
    }
}

/// A label value as the exposition format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

pub fn render(s: &DaemonStats, http: &HttpCounters, store: &crate::daemon::Counters, peers: &[PeerStatus]) -> String {
    let mut out = String::new();
    let e = &s.engine;
    counter(&mut out, "pkt4_received_total", "DHCPv4 packets received.", e.received);
    counter(&mut out, "pkt4_sent_total", "DHCPv4 packets sent.", e.sent);
    // By message type, labelled as Kea's exporter does (`operation="ack"`), so sum() and by() work.
    for dir in ["received", "sent"] {
        let name = format!("dhcplab_packets_{dir}_total");
        let _ = writeln!(out, "# HELP {name} DHCPv4 messages {dir}, by type.\n# TYPE {name} counter");
        for m in DhcpMessage::ALL.into_iter().filter(|m| m.from_client() == (dir == "received")) {
            let counts = if dir == "received" { &e.received_by_type } else { &e.sent_by_type };
            let op = m.short_name().to_lowercase();
            let _ = writeln!(out, "{name}{{operation=\"{op}\"}} {}", counts.of(m));
        }
    }
    counter(
        &mut out,
        "offers_reclaimed_total",
        "Offers withdrawn because the pool was full of offers (a DISCOVER flood).",
        e.offers_reclaimed,
    );
    counter(
        &mut out,
        "offers_taken_total",
        "Offers given up because another client's REQUEST for the address came first (that client's own offer of it had been reclaimed).",
        e.offers_taken,
    );
    counter(
        &mut out,
        "decline_quarantine_evictions_total",
        "Declined addresses released early because a quarter of the pool was quarantined (a DECLINE flood).",
        e.quarantine_evictions,
    );
    counter(
        &mut out,
        "conflict_probes_total",
        "Pings sent to an address before offering it (conflict_probe).",
        e.conflict_probes,
    );
    counter(
        &mut out,
        "conflicts_total",
        "Addresses that answered such a ping: another host uses them; quarantined, not offered.",
        e.conflicts,
    );
    counter(
        &mut out,
        "replies_shortened_total",
        "Replies that left options out to fit the client's maximum message size (576 octets unless its option 57 names more).",
        e.replies_shortened,
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
    let _ = writeln!(out, "# HELP dhcplab_dns_updates_total Dynamic DNS changes by outcome.");
    let _ = writeln!(out, "# TYPE dhcplab_dns_updates_total counter");
    for (result, n) in [("ok", s.dns_updated), ("conflict", s.dns_conflicts), ("failed", s.dns_failed)] {
        let _ = writeln!(out, "dhcplab_dns_updates_total{{result=\"{result}\"}} {n}");
    }
    // Class names are letters, digits, `-`, `_` and `.` (the config checks), so they need no escaping.
    let _ = writeln!(out, "# HELP dhcplab_class_replies_total OFFERs and ACKs given to members of each client class.");
    let _ = writeln!(out, "# TYPE dhcplab_class_replies_total counter");
    for (class, n) in &e.class_replies {
        let _ = writeln!(out, "dhcplab_class_replies_total{{class=\"{class}\"}} {n}");
    }
    counter(
        &mut out,
        "store_commits_total",
        "Lease database transactions committed (each one fsync).",
        s.store_commits,
    );
    counter(&mut out, "store_failures_total", "Lease database commits that failed.", s.store_failures);
    counter(&mut out, "acks_withheld_total", "ACKs not sent because their lease could not be stored.", s.acks_withheld);
    counter(
        &mut out,
        "store_conflicts_total",
        "ACKs held back because another server's client holds the address in the shared lease database.",
        s.store_conflicts,
    );
    counter(
        &mut out,
        "acks_paced_total",
        "ACKs sent in slices after a slow commit held many of them back, so the relay or client socket is not flooded.",
        s.acks_paced,
    );
    counter(
        &mut out,
        "store_queue_full_total",
        "Times the lease database fell behind: its queue was full, and the daemon gathered changes until it had room.",
        s.store_queue_full,
    );
    counter(
        &mut out,
        "store_reading_paused_total",
        "Times the changes gathered for a lease database that fell behind reached their cap and the daemon stopped reading packets until it caught up.",
        s.store_reading_paused,
    );
    counter(
        &mut out,
        "store_file_apply_failures_total",
        "Times writing the change log's changes into the SQLite file failed (tried again a second later).",
        s.file_apply_failures,
    );
    let _ = writeln!(
        out,
        "# HELP dhcplab_store_file_behind_changes Lease changes durable in the change log, not yet in the SQLite file (the latest for each address, and those being written)."
    );
    let _ = writeln!(
        out,
        "# TYPE dhcplab_store_file_behind_changes gauge\ndhcplab_store_file_behind_changes {}",
        s.file_behind
    );
    let _ = writeln!(
        out,
        "# HELP dhcplab_dns_waiting_changes Dynamic DNS changes not yet carried out; while any wait for room, leases end at the DNS server's pace."
    );
    let _ = writeln!(out, "# TYPE dhcplab_dns_waiting_changes gauge\ndhcplab_dns_waiting_changes {}", s.dns_waiting);
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
    for (state, n) in LeaseState::ALL.iter().zip(&s.by_state) {
        let _ = writeln!(out, "dhcplab_leases{{state=\"{state}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP dhcplab_build_info The running build.\n# TYPE dhcplab_build_info gauge");
    let _ = writeln!(out, "dhcplab_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "# HELP dhcplab_http_refused_total HTTP requests refused, by reason.");
    let _ = writeln!(out, "# TYPE dhcplab_http_refused_total counter");
    for (reason, n) in [("host", http.host), ("origin", http.origin), ("watchers", http.watchers)] {
        let _ = writeln!(out, "dhcplab_http_refused_total{{reason=\"{reason}\"}} {n}");
    }
    store_and_peers(&mut out, store, peers);
    out
}
