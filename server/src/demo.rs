//! The loopback demo: engine clients speaking real DHCP over UDP to the daemon on 127.0.0.1, joining,
//! renewing, rebooting, releasing and leaving, so the dashboard has live leases on any machine without
//! root or a LAN. They share one socket; replies are handed to the client whose MAC they carry.

use crate::daemon::Clock;
use dhcplab_engine::client::{Client, ClientConfig, ClientTransmit};
use dhcplab_engine::{Duration, HwAddr, Instant};
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg32;
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::net::UdpSocket;
use tracing::{debug, warn};

const NAMES: &[&str] = &[
    "alice-laptop",
    "bob-phone",
    "printer-2f",
    "kitchen-tv",
    "nas",
    "carol-tablet",
    "dave-desktop",
    "lab-pi",
    "erin-laptop",
    "frank-phone",
    "camera-door",
    "thermostat",
    "grace-mac",
    "heidi-pc",
    "ivan-phone",
    "judy-laptop",
    "voip-101",
    "voip-102",
    "scanner",
    "guest-1",
    "guest-2",
    "guest-3",
    "build-box",
    "ci-runner",
];

/// What the demo does next to one client.
enum Churn {
    Start(usize),
    Release(usize),
    Reboot(usize),
    Leave(usize),
}

pub struct Demo {
    socket: UdpSocket,
    server: SocketAddr,
    clock: Clock,
    clients: Vec<Client>,
    by_mac: HashMap<HwAddr, usize>,
    rng: Pcg32,
    /// When each pending churn happens.
    plan: Vec<(Instant, Churn)>,
}

impl Demo {
    /// `socket` is the clients' socket (its address is where the demo link delivers replies).
    pub fn new(socket: UdpSocket, server: SocketAddr, clock: Clock, n: usize, seed: u64) -> Self {
        let mut clients = Vec::with_capacity(n);
        let mut by_mac = HashMap::new();
        for i in 0..n {
            let b = (i as u32).to_be_bytes();
            let hw = HwAddr::ethernet([0x02, 0xd1, 0xc0, b[1], b[2], b[3]]);
            let mut cfg = ClientConfig::new(hw);
            let name = NAMES[i % NAMES.len()];
            cfg.hostname = Some(if i < NAMES.len() { name.to_string() } else { format!("{name}-{}", i / NAMES.len()) });
            // Nothing on loopback can answer ARP, and the demo always has a server.
            cfg.probe = false;
            cfg.link_local = false;
            by_mac.insert(hw, i);
            clients.push(Client::new(cfg, seed ^ (i as u64 + 1)));
        }
        let now = clock.now();
        // Hosts join over the first few seconds.
        let plan = (0..n).map(|i| (now + Duration::from_millis(200 * i as u64), Churn::Start(i))).collect();
        Demo { socket, server, clock, clients, by_mac, rng: Pcg32::seed_from_u64(seed), plan }
    }

    fn secs(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo * 1000 + u64::from(self.rng.next_u32()) % ((hi - lo) * 1000 + 1))
    }

    fn churn(&mut self, now: Instant, what: Churn) {
        match what {
            Churn::Start(i) => {
                self.clients[i].start(now);
                // Each host later does one of: release and come back, reboot, or leave for a while.
                let at = now + self.secs(20, 90);
                let next = match self.rng.next_u32() % 4 {
                    0 | 1 => Churn::Release(i),
                    2 => Churn::Reboot(i),
                    _ => Churn::Leave(i),
                };
                self.plan.push((at, next));
            }
            Churn::Release(i) => {
                self.clients[i].release(now);
                let at = now + self.secs(5, 20);
                self.plan.push((at, Churn::Start(i)));
            }
            Churn::Reboot(i) => {
                self.clients[i].reboot(now);
                let at = now + self.secs(30, 90);
                self.plan.push((at, Churn::Release(i)));
            }
            Churn::Leave(i) => {
                // Walks away without a RELEASE: the server sees the lease expire.
                self.clients[i].unplug(now);
                let at = now + self.secs(120, 240);
                self.plan.push((at, Churn::Start(i)));
            }
        }
    }

    async fn flush(&mut self) {
        for c in &mut self.clients {
            while let Some(t) = c.poll_transmit() {
                if let ClientTransmit::Dhcp { bytes, .. } = t
                    && let Err(e) = self.socket.send_to(&bytes, self.server).await
                {
                    warn!("demo client send failed: {e}");
                }
            }
            while c.poll_event().is_some() {}
        }
    }

    pub async fn run(mut self) {
        let mut buf = vec![0u8; 2048];
        loop {
            let now = self.clock.now();
            let mut i = 0;
            let mut ready = vec![];
            while i < self.plan.len() {
                if self.plan[i].0 <= now {
                    ready.push(self.plan.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            ready.sort_by_key(|(at, _)| *at);
            for (_, c) in ready {
                self.churn(now, c);
            }
            for c in &mut self.clients {
                c.handle_timeout(now);
            }
            self.flush().await;
            let next_client = self.clients.iter().filter_map(Client::poll_timeout).min();
            let next_plan = self.plan.iter().map(|(t, _)| *t).min();
            let next = [next_client, next_plan].into_iter().flatten().min().unwrap_or(now + Duration::from_secs(1));
            let wake = self.clock.at(next.max(now)).max(tokio::time::Instant::now());
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, _)) => {
                        let now = self.clock.now();
                        let Some(hw) = buf.get(28..34).and_then(|b| HwAddr::new(b).ok()) else { continue };
                        if let Some(&i) = self.by_mac.get(&hw)
                            && let Err(e) = self.clients[i].handle_packet(now, &buf[..n])
                        {
                            debug!("demo client ignored a reply: {e}");
                        }
                        self.flush().await;
                    }
                    Err(e) => warn!("demo clients: {e}"),
                },
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }
}
