//! Allocation with big pools: a /16 pool holding 60,000 live leases.
//!
//! - `freeset/next_free`: finding the next free slot in a 65,536-slot set that is 92 % full.
//! - `server/discover_offer`: a whole DISCOVER → OFFER (parse, choose address, hold it, build and encode
//!   the reply) against a server with 60,000 bound leases.
//! - `server/dora`: DISCOVER and REQUEST → ACK, the work per new client.

mod common;

use common::{busy_server, clock, dora, meta, msg, yiaddr};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use dhcplab_engine::freeset::FreeSet;
use dhcproto::v4::MessageType;
use std::hint::black_box;

const LEASES: u32 = 60_000;

fn benches(c: &mut Criterion) {
    let mut set = FreeSet::full(65_536);
    for i in 0..LEASES as usize {
        set.remove(i * 65_536 / LEASES as usize);
    }
    let mut cursor = 0;
    c.bench_function("freeset/next_free (65,536 slots, 60,000 used)", |b| {
        b.iter(|| {
            let i = set.next_free_wrapping(cursor).unwrap();
            cursor = (i + 1) % 65_536;
            black_box(i)
        })
    });

    let mut server = busy_server(LEASES);
    let mut n = LEASES;
    c.bench_function("server/discover_offer (60,000 leases)", |b| {
        b.iter_batched(
            || {
                n += 1;
                // Clients come and go: offers expire, so the pool never runs dry.
                (msg(MessageType::Discover, n).bytes(), clock(n))
            },
            |(pkt, now)| {
                server.handle_packet(now, meta(), &pkt).unwrap();
                let t = server.poll_transmit().unwrap();
                let _ = server.poll_event();
                // Forget the offer so the next iteration meets the same 60,000-lease table.
                server.admin_release(now, yiaddr(&t));
                let _ = server.poll_event();
                black_box(t)
            },
            BatchSize::SmallInput,
        )
    });

    let mut server = busy_server(LEASES);
    let mut n = 1_000_000;
    c.bench_function("server/dora (60,000 leases)", |b| {
        b.iter(|| {
            n += 1;
            let ack = dora(&mut server, n);
            while server.poll_event().is_some() {}
            server.admin_release(clock(n), yiaddr(&ack));
            let _ = server.poll_event();
            black_box(ack)
        })
    });
}

criterion_group!(allocation, benches);
criterion_main!(allocation);
