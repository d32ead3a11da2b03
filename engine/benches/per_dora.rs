//! The engine's own work per DORA, counted rather than timed, so it reads the same on a busy, shared machine:
//! heap allocations and bytes per DORA (counted here by the global allocator) and, when `bench/engine-work`
//! runs this under callgrind, instructions per DORA. Every DORA is a new client with a client identifier,
//! against a server holding 50,000 leases in a /16 pool; the daemon's loop work (sockets, the store) is not
//! in it.

mod common;

use common::{busy_server, dora};
use dhcplab_engine::Server;
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

/// What is measured, and all of it (callgrind counts this function's instructions alone): `DORAS` new
/// clients, each DISCOVER → OFFER → REQUEST → ACK with its lease events taken, as the daemon takes them.
#[inline(never)]
fn measured(server: &mut Server) {
    for n in LEASES..LEASES + DORAS {
        black_box(dora(server, n));
        while let Some(ev) = server.poll_event() {
            black_box(ev);
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to choose.
    let mut server = busy_server(LEASES);
    let (allocations, bytes) = (ALLOCATIONS.load(Relaxed), BYTES.load(Relaxed));
    measured(&mut server);
    let per = |after: u64, before: u64| (after - before) as f64 / f64::from(DORAS);
    println!("{DORAS} DORAs against {LEASES} leases");
    println!("heap allocations per DORA: {:.1}", per(ALLOCATIONS.load(Relaxed), allocations));
    println!("bytes allocated per DORA: {:.0}", per(BYTES.load(Relaxed), bytes));
}
