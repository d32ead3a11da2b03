//! `dora-load`: DHCP exchanges as a relay agent sends them, at a rate no single-core server keeps up with,
//! for `bench/ceiling`'s saturation runs (how many DORAs a second a server completes on the cores it is
//! given). perfdhcp, the benchmark's load generator elsewhere, spends a core of its own reaching about
//! 18,000 a second here; this one reads and sends in batches and keeps nothing but a slot per transaction.
//! Never point it at a real network's server.

mod load;
mod wire;

use clap::Parser;
use std::net::{SocketAddrV4, UdpSocket};
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Relayed DHCPv4 DORA load for the benchmark's saturation runs (never run it on a real network)")]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "192.0.2.1:67")]
    server: SocketAddrV4,
    /// Where the relay agent receives replies (a server answers a relayed request to giaddr, port 67:
    /// RFC 2131 §4.1); its address is put in `giaddr`.
    #[arg(long)]
    relay: SocketAddrV4,
    /// DISCOVERs a second.
    #[arg(long)]
    rate: u32,
    /// Seconds of load (replies are taken half a second longer).
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Distinct clients, taken in turn.
    #[arg(long, default_value_t = 60_000)]
    clients: u32,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let socket = UdpSocket::bind(args.relay)?;
    socket.connect(args.server)?;
    socket.set_nonblocking(true)?;
    // Room for a burst of replies: the server's losses are the measurement, not the generator's.
    let _ = nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &(8 << 20));
    let plan = load::Plan {
        rate: args.rate,
        duration: Duration::from_secs(args.secs),
        clients: args.clients,
        giaddr: *args.relay.ip(),
    };
    let r = load::run(&socket, &plan)?;
    let cpu = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)?;
    let cpu_s = secs(cpu.user_time()) + secs(cpu.system_time());
    let sent = r.discovers + r.requests;
    let lost = (r.discovers - r.offers) + (r.requests - r.acks);
    let mean_ms = |d: Duration, n: u64| if n > 0 { d.as_secs_f64() * 1e3 / n as f64 } else { 0.0 };
    // One line for scripts: ACKs a second over the load's seconds, the share of requests unanswered (%),
    // the mean DISCOVER→OFFER and REQUEST→ACK (ms), the four counts, replies that matched nothing, and
    // the generator's own CPU per ACK (µs).
    println!(
        "{:.0} {:.3} {:.3} {:.3} {} {} {} {} {} {:.1}",
        r.acks as f64 / args.secs as f64,
        if sent > 0 { 100.0 * lost as f64 / sent as f64 } else { 0.0 },
        mean_ms(r.offer_delay, r.offers),
        mean_ms(r.ack_delay, r.acks),
        r.discovers,
        r.offers,
        r.requests,
        r.acks,
        r.strays,
        if r.acks > 0 { cpu_s * 1e6 / r.acks as f64 } else { 0.0 },
    );
    Ok(())
}

fn secs(t: nix::sys::time::TimeVal) -> f64 {
    t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6
}
