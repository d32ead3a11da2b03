//! Packet threads: with `threads` above one, every link has one socket per thread in an `SO_REUSEPORT`
//! group (see [`bind_group`](crate::link::bind_group)), the kernel handing each client's datagrams to one of
//! them, and each thread past the engine's own reads its socket of every link, answering as the engine
//! thread does ([`PacketPath`]). Reading and sending — the system calls and the network stack, most of an
//! exchange's CPU — run on the threads at once; the protocol runs in the one engine, taken under a lock for
//! each batch, so the lease table, the pools and the order of the store's jobs stay one. Commands, timers
//! and the stats stay on the engine's thread.

use super::engine_loop::{Engine, lock};
use super::packet_path::PacketPath;
use super::poller::{Poller, Source};
use super::wake::Wake;
use crate::batched_stderr::Batch;
use crate::link::Link;
use crate::recv_slots::MAX_SLOTS;
use crate::thread_priority::{own_nice, set_own_nice};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tracing::error;

/// How often a packet thread looks again whether the store has made room, while the engine reads nothing.
const PAUSED_NAP: Duration = Duration::from_millis(1);

/// Tells the packet threads to end: the flag for a thread that waits for the store, the wake for one that
/// waits for packets.
struct Stop {
    wake: Wake,
    stopping: AtomicBool,
}

/// The packet threads of a running engine.
pub struct PacketThreads {
    stop: Arc<Stop>,
    handles: Vec<JoinHandle<()>>,
}

impl PacketThreads {
    /// Starts one thread for each socket of the links past their first. With any, every reading thread
    /// (the calling engine thread too) runs at [`READERS_NICE`] above the daemon's other threads.
    pub fn start(engine: &Arc<Mutex<Engine>>, links: &Arc<Vec<Link>>) -> std::io::Result<Self> {
        let stop = Arc::new(Stop { wake: Wake::new()?, stopping: AtomicBool::new(false) });
        let count = links.iter().map(|l| l.more_sockets.len()).max().unwrap_or(0);
        let readers_nice = (count > 0).then(|| own_nice() + READERS_NICE);
        let mut handles = Vec::with_capacity(count);
        for k in 0..count {
            let sockets: Vec<Option<Arc<UdpSocket>>> = links.iter().map(|l| l.more_sockets.get(k).cloned()).collect();
            let (engine, links, stop) = (engine.clone(), links.clone(), stop.clone());
            let name = format!("dhcp-packets-{}", k + 1);
            let run = move || {
                if let Some(n) = readers_nice {
                    set_reader_nice(n);
                }
                read_packets(k + 1, &engine, &links, &sockets, &stop)
            };
            handles.push(std::thread::Builder::new().name(name).spawn(run)?);
        }
        if let Some(n) = readers_nice {
            set_reader_nice(n);
        }
        Ok(PacketThreads { stop, handles })
    }

    /// Stops the threads and waits for them to end.
    pub fn stop(self) {
        self.stop.stopping.store(true, Ordering::Release);
        self.stop.wake.wake();
        for h in self.handles {
            let _ = h.join();
        }
    }
}

/// How much lower the reading threads run than the committer when there are several: at nice +3 a reading
/// thread weighs about half as much as a thread at the daemon's own nice. The committer is the pipeline's
/// last stage (it makes leases durable and sends their ACKs); on a machine whose cores are all busy, two
/// reading threads at its own priority kept it waiting for a core a third of the time and more, its ACKs
/// went out late and past 90,000 DORAs a second fewer exchanges finished the more came (bench/README.md,
/// 4 December 21:27–21:32: two threads at 90,000/s offered 67,900 and 75,500/s answered at the same priority,
/// 89,300 and 87,200/s at +3). One reading thread showed no difference, so it keeps the daemon's priority.
const READERS_NICE: i32 = 3;

/// Runs the calling reading thread at `nice` (see [`READERS_NICE`]).
fn set_reader_nice(nice: i32) {
    if let Err(e) = set_own_nice(nice) {
        tracing::info!("a reading thread keeps the daemon's priority: {e}");
    }
}

/// Packet thread `k` (the engine thread is 0): waits for datagrams on its sockets (`sockets[i]` is its
/// socket of link `i`, the `k`th of the link's group) and answers a slotful from each that is ready.
fn read_packets(k: usize, engine: &Mutex<Engine>, links: &[Link], sockets: &[Option<Arc<UdpSocket>>], stop: &Stop) {
    let setup = || -> std::io::Result<Poller> {
        let mut poller = Poller::new()?;
        poller.add(&stop.wake, Source::Commands)?;
        for (i, s) in sockets.iter().enumerate() {
            if let Some(s) = s {
                poller.add(&**s, Source::Link(i))?;
            }
        }
        Ok(poller)
    };
    let mut poller = match setup() {
        Ok(p) => p,
        Err(e) => return error!("a packet thread cannot set up its loop: {e}"),
    };
    let (counters, wake_loop, paused) = lock(engine).for_reading_thread();
    let mut path = PacketPath::new(k, counters);
    let mut ready = Vec::with_capacity(links.len());
    loop {
        ready.clear();
        match poller.wait() {
            Ok(sources) => {
                for s in sources {
                    match s {
                        Source::Link(i) => ready.push(i),
                        // Its only other source: `stop`'s wake.
                        _ => return,
                    }
                }
            }
            Err(e) => return error!("a packet thread's wait failed, it stops: {e}"),
        }
        let _log = Batch::open();
        for &i in &ready {
            let (Some(socket), Some(link)) = (&sockets[i], links.get(i)) else { continue };
            // The store is far behind (the engine thread says so in the log): nothing is read until it has
            // room.
            while paused.load(Ordering::Acquire) {
                if stop.stopping.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(PAUSED_NAP);
            }
            let (_, wake) = path.serve(engine, links, link, socket, MAX_SLOTS);
            if wake {
                wake_loop.wake();
            }
        }
    }
}
