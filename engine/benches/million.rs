//! A million stored leases in the engine: the heap each one takes, and how long loading them takes.
//!
//! The daemon's start-up loads every stored lease with `Server::restore_all`; this bench does the same
//! with records shaped like `bench/ceiling`'s (a /12, MAC-keyed clients named `host-N`), in the order SQLite
//! reads them, and again with a 19-byte client identifier each (a DUID, as systemd-networkd and dhcpcd
//! send).
//! Heap bytes are counted by a counting allocator, so the figure is exact and repeatable: the daemon's
//! resident size adds the allocator's own overhead and SQLite's page cache.
//!
//! Then the config is reloaded, with a reservation added and then with the pool changed: how long the
//! engine stops for each, and what it holds after.
//!
//! Then new clients arrive at a server loaded with just under a power of two's worth (7/8 of it, where
//! the client index grows): the slowest DISCOVER shows how long the engine stops while its tables grow.
//!
//! `cargo bench -p dhcplab-engine --bench million` (`MILLION=N` for another count).

use dhcplab_engine::builder::ClientMsg;
use dhcplab_engine::config::{HexBytes, PoolRange, Reservation, SubnetConfig};
use dhcplab_engine::stored_leases::StoredLeases;
use dhcplab_engine::{HwAddr, Instant, KeyedBy, Lease, LeaseState, RecvMeta, Server, ServerConfig};
use dhcproto::v4::MessageType;
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant as Clock;

/// The system allocator, counting the bytes it has handed out and not yet been given back.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed straight to the system allocator; the counter only observes sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's layout contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const FIRST: u32 = u32::from_be_bytes([10, 64, 0, 1]);

fn server() -> Server {
    let s =
        SubnetConfig::new("10.64.0.0/12".parse().unwrap(), "10.64.0.1-10.79.255.254".parse::<PoolRange>().unwrap().0);
    Server::new(ServerConfig { subnets: vec![s], ..Default::default() }, 1).unwrap()
}

/// Stored lease `i`: bound for a day, as `bench/ceiling` writes them.
fn stored(i: u32, with_client_id: bool) -> Lease {
    let b = i.to_be_bytes();
    let hw = HwAddr::ethernet([0x02, b[0], b[1], b[2], b[3], 0x07]);
    let client_id = with_client_id.then(|| {
        let mut duid = vec![0xff, 0, 0, 0, 1, 0, 4];
        duid.extend_from_slice(&[0x8a, 0x3c, 0x11, 0x52, 0x0e, 0x7d, 0x42, 0x90, b[0], b[1], b[2], b[3]]);
        HexBytes(duid.into())
    });
    Lease {
        ip: Ipv4Addr::from(FIRST + i),
        subnet: "10.64.0.0/12".parse().unwrap(),
        keyed_by: if with_client_id { KeyedBy::ClientId } else { KeyedBy::Hw },
        hw,
        client_id,
        hostname: Some(compact_str::format_compact!("host-{i}")),
        state: LeaseState::Bound,
        obtained: Instant::from_secs(1_000),
        expires: Instant::from_secs(1_000 + 86_400),
        lease_secs: 86_400,
        server: None,
        class: None,
        dns_name: None,
    }
}

fn load(n: u32, with_client_id: bool) {
    let before = LIVE.load(Ordering::Relaxed);
    // In SQLite's order: its primary key is the address as text (10.64.0.1, 10.64.0.10, 10.64.0.100, …).
    let mut rows: Vec<Lease> = (0..n).map(|i| stored(i, with_client_id)).collect();
    rows.sort_by_cached_key(|l| l.ip.to_string());
    // The daemon sorts each batch as it arrives, while the store reads the next.
    let t0 = Clock::now();
    let mut batches = StoredLeases::default();
    let mut rows = rows.into_iter();
    loop {
        let batch: Vec<Lease> = rows.by_ref().take(8192).collect();
        if batch.is_empty() {
            break;
        }
        batches.add(batch);
    }
    drop(rows);
    let sorted = t0.elapsed();
    let mut server = server();
    assert_eq!(server.restore_all(batches), vec![]);
    let took = t0.elapsed() - sorted;
    let held = LIVE.load(Ordering::Relaxed) - before;
    assert_eq!(server.leases().count(), n as usize);
    println!(
        "{n} leases{}: batches sorted in {:.2} s, then loaded in {:.2} s, heap {:.1} MB, {} bytes per lease",
        if with_client_id { " with 19-byte client ids" } else { "" },
        sorted.as_secs_f64(),
        took.as_secs_f64(),
        held as f64 / 1e6,
        held / n as usize,
    );
    // Reloads (SIGHUP, a reservation written through the API): the engine answers nothing meanwhile.
    let mut config = server.config().clone();
    config.subnets[0].reservations.push(Reservation {
        mac: Some(HwAddr::ethernet([0x0a, 0, 0, 0, 0, 1])),
        client_id: None,
        ip: Ipv4Addr::new(10, 79, 255, 254),
        hostname: None,
    });
    let reserved = reload(&mut server, config.clone());
    config.subnets[0].pools = vec!["10.64.0.1-10.79.255.200".parse::<PoolRange>().unwrap()];
    let pool_changed = reload(&mut server, config);
    let after = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "  a reload adding a reservation: {:.1} ms; one changing the pool (its free set refilled): {:.1} ms; heap after {:.1} MB",
        reserved.as_secs_f64() * 1e3,
        pool_changed.as_secs_f64() * 1e3,
        after as f64 / 1e6
    );
    drop(server);
}

fn reload(server: &mut Server, config: ServerConfig) -> std::time::Duration {
    let t0 = Clock::now();
    server.reconfigure(config).unwrap();
    t0.elapsed()
}

/// Loads `n` leases, then serves DISCOVERs from `more` new clients one at a time: the slowest, and the
/// median.
fn growth(n: u32, more: u32) {
    let mut batches = StoredLeases::default();
    batches.add((0..n).map(|i| stored(i, false)).collect());
    let mut server = server();
    assert_eq!(server.restore_all(batches), vec![]);
    // A client on the server's link, which has 10.64.0.1 (lease 0's address: no matter here).
    let meta = RecvMeta {
        iface: 0,
        local_addr: Ipv4Addr::new(10, 64, 0, 1),
        src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
    };
    let mut took: Vec<std::time::Duration> = (n..n + more)
        .map(|i| {
            let b = i.to_be_bytes();
            let hw = HwAddr::ethernet([0x06, b[0], b[1], b[2], b[3], 0x07]);
            let discover = ClientMsg::new(MessageType::Discover, hw, i).bytes();
            let t0 = Clock::now();
            server.handle_packet(Instant::from_secs(2_000), meta, &discover).unwrap();
            let t = t0.elapsed();
            assert!(server.poll_transmit().is_some(), "no OFFER for client {i}");
            while server.poll_event().is_some() {}
            t
        })
        .collect();
    took.sort();
    println!(
        "{more} new clients after {n} leases: DISCOVER→OFFER median {:.1} µs, slowest {:.2} ms",
        took[took.len() / 2].as_secs_f64() * 1e6,
        took[took.len() - 1].as_secs_f64() * 1e3,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: a quick run then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n =
        std::env::var("MILLION").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 10_000 } else { 1_000_000 });
    println!("size of a lease record: {} bytes", std::mem::size_of::<Lease>());
    load(n, false);
    load(n, true);
    // 917,000 leases fill the index to just under 7/8 of 2^20 slots: the new clients make it grow.
    let near = if quick { 7_000 } else { 917_000 };
    growth(near, 10_000);
}
