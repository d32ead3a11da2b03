//! The simulator at scale: 10,000 clients on one segment through DORA (and the ARP check), every packet
//! encoded, decoded, traced and explained — what the browser lab does for a big network.

use criterion::{Criterion, criterion_group, criterion_main};
use dhcplab_engine::client::ClientStateKind;
use dhcplab_engine::sim::scenario;

fn crowd(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulator");
    g.sample_size(10);
    g.bench_function("10,000 clients DORA on one segment", |b| {
        b.iter(|| {
            let mut s = scenario::crowd(10_000, 1);
            s.run();
            let bound = (0..s.sim.nodes.len())
                .filter(|&n| s.sim.client(n, 0).is_some_and(|c| c.state() == ClientStateKind::Bound))
                .count();
            assert_eq!(bound, 10_000);
            s.sim.trace().len()
        })
    });
    g.finish();
}

criterion_group!(simulator, crowd);
criterion_main!(simulator);
