//! The most any DHCP server could do on this machine: answer every DISCOVER with an OFFER and every REQUEST
//! with an ACK, keeping no state and writing nothing. `bench/ceiling` runs it under the same perfdhcp load
//! as dhcplab and Kea; its CPU per exchange and clean rate are the floor and ceiling the others are measured
//! against. It reads the few fields a reply needs straight from the bytes (RFC 2131 §2 layout) and writes
//! the reply into one reused buffer: one `recv_from` and one `send_to` per packet, nothing else.
//!
//! Its replies carry the options dhcplab's carry in the benchmark (mask, router, broadcast address, lease,
//! renewal and rebinding times, the client identifier echoed): perfdhcp shares the cores with the server
//! and decodes every option of every reply, so a ceiling that answered with fewer options would leave the
//! load generator more CPU than any real server's replies do.
//!
//! With `--durable` it is instead the cheapest server that keeps dhcplab's promise, an ACK only once a
//! record of it is on the disk (`durable`): what that costs here, against the stateless answers, is what
//! any durable server pays on this machine, whatever else it does.

mod durable;
mod synced_log;

use bench_bootp::{self as bootp, ACK, COOKIE, DISCOVER, HEADER, OFFER, REQUEST};
use clap::Parser;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    about = "Stateless DHCPv4 responder, the benchmark's ceiling; with --durable the cheapest durable one (never run it on a real network)"
)]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "0.0.0.0:67")]
    listen: SocketAddrV4,
    /// The server identifier (option 54) to put in replies.
    #[arg(long)]
    server_id: Ipv4Addr,
    /// First address handed out; a DISCOVER gets `pool_start + hash(chaddr) % pool_size`.
    #[arg(long)]
    pool_start: Ipv4Addr,
    #[arg(long, default_value_t = 65_000)]
    pool_size: u32,
    /// The subnet's mask (option 1); the broadcast address (option 28) follows from it and the pool.
    #[arg(long, default_value = "255.255.0.0")]
    mask: Ipv4Addr,
    /// The router (option 3), if any.
    #[arg(long)]
    router: Option<Ipv4Addr>,
    /// The lease time (option 51), in seconds; renewal and rebinding times are its 1/2 and 7/8
    /// (RFC 2131 §4.4.5).
    #[arg(long, default_value_t = 3600)]
    lease_secs: u32,
    /// Keep one promise: an ACK leaves only once a record of it is written and synced to this file
    /// (created, 16 MiB). The cheapest durable server, to measure what that costs here.
    #[arg(long)]
    durable: Option<PathBuf>,
    /// With `--durable`: how long, from reading the first held REQUEST, to wait for more before one write
    /// covers them all (microseconds; 0 writes once what was waiting has been read).
    #[arg(long, default_value_t = 0, requires = "durable")]
    commit_delay_us: u64,
}

/// Room for a reply: a client identifier echoed (up to 255 bytes) fits, and a reply is never shorter than
/// BOOTP's 300 bytes.
const REPLY_ROOM: usize = 576;
const MIN_REPLY: usize = 300;

/// What a reply needs from a request.
struct Request {
    kind: u8,
    requested: Option<[u8; 4]>,
    /// Where option 61's value lies in the request, to be echoed (RFC 6842).
    client_id: Option<std::ops::Range<usize>>,
}

/// Message type (53), requested address (50) and client identifier (61) from the options, if the packet is
/// a BOOTREQUEST at all.
fn read_request(p: &[u8]) -> Option<Request> {
    let (mut kind, mut requested, mut client_id) = (None, None, None);
    bootp::for_each_option(p, bootp::BOOTREQUEST, |code, at| match (code, &p[at.clone()]) {
        (53, [k]) => kind = Some(*k),
        (50, v) => requested = v.try_into().ok(),
        (61, v) if !v.is_empty() => client_id = Some(at),
        _ => {}
    })?;
    Some(Request { kind: kind?, requested, client_id })
}

/// Writes the reply to `req` (the request's bytes `p`) into `out`; returns its length.
fn write_reply(args: &Args, p: &[u8], req: &Request, out: &mut [u8; REPLY_ROOM]) -> usize {
    out.fill(0);
    out[0] = 2; // BOOTREPLY
    out[1..3].copy_from_slice(&p[1..3]); // htype, hlen
    out[4..8].copy_from_slice(&p[4..8]); // xid
    out[10..12].copy_from_slice(&p[10..12]); // flags
    out[24..28].copy_from_slice(&p[24..28]); // giaddr
    out[28..44].copy_from_slice(&p[28..44]); // chaddr
    let yiaddr = match (req.kind, req.requested) {
        (REQUEST, Some(ip)) => ip,
        _ => {
            let hash = p[28..34].iter().fold(0xcbf2_9ce4_u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193));
            (u32::from(args.pool_start) + hash % args.pool_size).to_be_bytes()
        }
    };
    out[16..20].copy_from_slice(&yiaddr);
    out[HEADER..HEADER + 4].copy_from_slice(&COOKIE);
    let kind = if req.kind == DISCOVER { OFFER } else { ACK };
    let mut o = OptionWriter { out, at: HEADER + 4 };
    let broadcast = u32::from(args.pool_start) | !u32::from(args.mask);
    // In code order, as dhcplab writes them.
    o.put(1, &args.mask.octets());
    if let Some(router) = args.router {
        o.put(3, &router.octets());
    }
    o.put(28, &broadcast.to_be_bytes());
    o.put(51, &args.lease_secs.to_be_bytes());
    o.put(53, &[kind]);
    o.put(54, &args.server_id.octets());
    o.put(58, &(args.lease_secs / 2).to_be_bytes());
    o.put(59, &(args.lease_secs / 8 * 7).to_be_bytes());
    if let Some(id) = req.client_id.clone() {
        o.put(61, &p[id]);
    }
    o.put(255, &[]);
    o.at.max(MIN_REPLY)
}

/// Appends options (code, length, value) after the magic cookie.
struct OptionWriter<'a> {
    out: &'a mut [u8; REPLY_ROOM],
    at: usize,
}

impl OptionWriter<'_> {
    fn put(&mut self, code: u8, value: &[u8]) {
        self.out[self.at] = code;
        if code == 255 {
            self.at += 1;
            return;
        }
        self.out[self.at + 1] = value.len() as u8;
        self.out[self.at + 2..self.at + 2 + value.len()].copy_from_slice(value);
        self.at += 2 + value.len();
    }
}

/// Relayed: back to the relay's server port (RFC 2131 §4.1); else a broadcast on the link.
fn reply_destination(p: &[u8]) -> SocketAddrV4 {
    let giaddr = Ipv4Addr::new(p[24], p[25], p[26], p[27]);
    if giaddr.is_unspecified() { SocketAddrV4::new(Ipv4Addr::BROADCAST, 68) } else { SocketAddrV4::new(giaddr, 67) }
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let socket = UdpSocket::bind(args.listen)?;
    socket.set_broadcast(true)?;
    if let Some(path) = &args.durable {
        let log = synced_log::SyncedLog::create(path)?;
        return durable::serve(&args, &socket, log, Duration::from_micros(args.commit_delay_us));
    }
    let mut buf = [0u8; 1500];
    let mut out = [0u8; REPLY_ROOM];
    loop {
        let (len, _) = socket.recv_from(&mut buf)?;
        let p = &buf[..len];
        let Some(req) = read_request(p) else { continue };
        if req.kind != DISCOVER && req.kind != REQUEST {
            continue;
        }
        let n = write_reply(&args, p, &req, &mut out);
        socket.send_to(&out[..n], reply_destination(p))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: u8, requested: Option<[u8; 4]>) -> Vec<u8> {
        let mut p = vec![0u8; HEADER];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        p[4..8].copy_from_slice(&[1, 2, 3, 4]);
        p[24..28].copy_from_slice(&[10, 200, 255, 254]);
        p[28..34].copy_from_slice(&[2, 0, 0, 0, 0, 7]);
        p.extend_from_slice(&COOKIE);
        p.extend_from_slice(&[53, 1, kind]);
        if let Some(ip) = requested {
            p.extend_from_slice(&[50, 4]);
            p.extend_from_slice(&ip);
        }
        p.push(255);
        p
    }

    fn args() -> Args {
        Args::parse_from([
            "x",
            "--server-id",
            "192.0.2.1",
            "--pool-start",
            "10.200.0.10",
            "--pool-size",
            "100",
            "--router",
            "10.200.0.1",
        ])
    }

    #[test]
    fn a_discover_gets_an_offer_in_the_pool_with_its_xid_and_chaddr() {
        let p = request(DISCOVER, None);
        let req = read_request(&p).expect("a valid DISCOVER");
        let mut out = [0u8; REPLY_ROOM];
        assert_eq!(write_reply(&args(), &p, &req, &mut out), MIN_REPLY);
        assert_eq!(out[0], 2);
        assert_eq!(out[4..8], p[4..8]);
        assert_eq!(out[28..34], p[28..34]);
        let yiaddr = u32::from(Ipv4Addr::new(out[16], out[17], out[18], out[19]));
        let start = u32::from(Ipv4Addr::new(10, 200, 0, 10));
        assert!((start..start + 100).contains(&yiaddr), "yiaddr {yiaddr:#x} outside the pool");
        assert_eq!(option(&out, 53), Some(&[OFFER][..]));
        assert_eq!(option(&out, 54), Some(&[192, 0, 2, 1][..]));
    }

    #[test]
    fn a_request_is_acked_for_the_address_it_asks_for() {
        let p = request(REQUEST, Some([10, 200, 3, 3]));
        let req = read_request(&p).expect("a valid REQUEST");
        let mut out = [0u8; REPLY_ROOM];
        write_reply(&args(), &p, &req, &mut out);
        assert_eq!(out[16..20], [10, 200, 3, 3]);
        assert_eq!(option(&out, 53), Some(&[ACK][..]));
    }

    /// The value of option `code` in a reply.
    fn option(out: &[u8], code: u8) -> Option<&[u8]> {
        let mut found = None;
        bootp::for_each_option(out, bootp::BOOTREPLY, |c, at| {
            if c == code {
                found = Some(at)
            }
        })?;
        found.map(|at| &out[at])
    }

    #[test]
    fn a_reply_carries_what_dhcplab_s_carry_and_echoes_the_client_identifier() {
        let mut p = request(REQUEST, Some([10, 200, 3, 3]));
        p.pop();
        p.extend_from_slice(&[61, 7, 1, 2, 0, 0, 0, 0, 7, 255]);
        let req = read_request(&p).expect("a valid REQUEST");
        let a = args();
        let mut out = [0u8; REPLY_ROOM];
        write_reply(&a, &p, &req, &mut out);
        assert_eq!(option(&out, 1), Some(&[255, 255, 0, 0][..]));
        assert_eq!(option(&out, 3), Some(&[10, 200, 0, 1][..]));
        assert_eq!(option(&out, 28), Some(&[10, 200, 255, 255][..]));
        assert_eq!(option(&out, 51), Some(&3600u32.to_be_bytes()[..]));
        assert_eq!(option(&out, 58), Some(&1800u32.to_be_bytes()[..]));
        assert_eq!(option(&out, 59), Some(&3150u32.to_be_bytes()[..]));
        assert_eq!(option(&out, 61), Some(&[1, 2, 0, 0, 0, 0, 7][..]));
        // A request without one gets none back.
        let p = request(REQUEST, Some([10, 200, 3, 3]));
        write_reply(&a, &p, &read_request(&p).expect("a valid REQUEST"), &mut out);
        assert_eq!(option(&out, 61), None);
    }

    #[test]
    fn truncated_or_non_request_packets_are_ignored() {
        let mut p = request(DISCOVER, None);
        assert!(read_request(&p[..HEADER]).is_none());
        p[0] = 2;
        assert!(read_request(&p).is_none());
        let mut q = request(DISCOVER, None);
        q.truncate(q.len() - 2); // option 53's value cut off
        assert!(read_request(&q).is_none());
    }
}
