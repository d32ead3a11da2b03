//! The engine's own work per DORA, counted rather than timed, so it reads the same on a busy, shared machine:
//! heap allocations and bytes per DORA (counted here by the global allocator) and, when `bench/engine-work`
//! runs this under callgrind, instructions per DORA. Every DORA is a new client with a client identifier
//! and dhclient's parameter request list, against a server holding 50,000 leases in a /16 pool and 64
//! reservations: the server's work alone, from the bytes of a DISCOVER to those of the ACK and the lease
//! events; the daemon's loop (sockets, the store) is not in it. Then the same per packet of one client's
//! flood, which its rate limit drops.

mod common;

use common::{SERVER, busy_server, clock, meta, msg, yiaddr};
use dhcplab_engine::Server;
use dhcplab_engine::packet::DropReason;
use dhcproto::v4::MessageType;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const LEASES: u32 = 50_000;
const DORAS: u32 = 10_000;

/// The system allocator, counting what it is asked for.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// A client's DISCOVER and REQUEST, built before the count starts (building them is the client's work, not
/// the server's); the REQUEST's option 50 is filled in with the address offered.
struct Client {
    n: u32,
    discover: Vec<u8>,
    request: Vec<u8>,
    /// Where option 50's address is in `request`.
    requested_at: usize,
}

impl Client {
    fn new(n: u32) -> Self {
        let request = msg(MessageType::Request, n).requested(std::net::Ipv4Addr::UNSPECIFIED).server(SERVER).bytes();
        // The options follow the 240 bytes of header and magic cookie: code, length, value.
        let mut i = 240;
        while request[i] != 50 {
            i += 2 + usize::from(request[i + 1]);
        }
        Client { n, discover: msg(MessageType::Discover, n).bytes(), request, requested_at: i + 2 }
    }
}

/// What is measured, and all of it (callgrind counts this function's instructions alone): each client's
/// DISCOVER → OFFER → REQUEST → ACK with its lease events taken, as the daemon takes them.
#[inline(never)]
fn measured(server: &mut Server, clients: &mut [Client]) {
    for c in clients {
        server.handle_packet(clock(c.n), meta(), &c.discover).unwrap();
        let offer = server.poll_transmit().unwrap();
        c.request[c.requested_at..c.requested_at + 4].copy_from_slice(&yiaddr(&offer).octets());
        server.handle_packet(clock(c.n), meta(), &c.request).unwrap();
        black_box(server.poll_transmit().unwrap());
        // Sent, the OFFER's buffer is given back, as the daemon gives it back (its ACKs are sent, and
        // freed, by another thread).
        server.recycle(black_box(offer).bytes);
        while let Some(ev) = server.poll_event() {
            black_box(ev);
        }
    }
}

/// What a hostile host costs (callgrind counts this function apart): one client's REQUESTs, all in one
/// second, past its share (20 a second), so each is read and dropped as `rate_limited`.
#[inline(never)]
fn flooded(server: &mut Server, request: &[u8]) {
    for _ in 0..FLOOD {
        black_box(server.handle_packet(clock(LEASES + DORAS), meta(), request).is_err());
    }
}

/// Packets of one client's flood, after the DORAs.
const FLOOD: u32 = 10_000;

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to choose.
    let mut server = busy_server(LEASES);
    let mut clients: Vec<Client> = (LEASES..LEASES + DORAS).map(Client::new).collect();
    let (allocations, bytes) = (ALLOCATIONS.load(Relaxed), BYTES.load(Relaxed));
    measured(&mut server, &mut clients);
    let per = |after: u64, before: u64, n: u32| (after - before) as f64 / f64::from(n);
    println!("{DORAS} DORAs against {LEASES} leases");
    println!("heap allocations per DORA: {:.1}", per(ALLOCATIONS.load(Relaxed), allocations, DORAS));
    println!("bytes allocated per DORA: {:.0}", per(BYTES.load(Relaxed), bytes, DORAS));

    let request = &clients[0].request;
    let dropped = server.stats().dropped.get(&DropReason::RateLimited).copied().unwrap_or(0);
    let allocations = ALLOCATIONS.load(Relaxed);
    flooded(&mut server, request);
    let dropped = server.stats().dropped.get(&DropReason::RateLimited).copied().unwrap_or(0) - dropped;
    assert!(dropped + 20 >= u64::from(FLOOD), "the flood was dropped ({dropped} of {FLOOD})");
    println!("{FLOOD} packets of one client's flood, {dropped} dropped");
    println!("heap allocations per flood packet: {:.2}", per(ALLOCATIONS.load(Relaxed), allocations, FLOOD));
}
