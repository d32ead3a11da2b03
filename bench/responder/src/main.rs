//! The most any DHCP server could do on this machine: answer every DISCOVER with an OFFER and every REQUEST
//! with an ACK, keeping no state and writing nothing. `bench/ceiling` runs it under the same perfdhcp load
//! as dhcplab and Kea; its CPU per exchange and clean rate are the floor and ceiling the others are measured
//! against. It reads the few fields a reply needs straight from the bytes (RFC 2131 §2 layout) and writes
//! the reply into one reused buffer: one `recv_from` and one `send_to` per packet, nothing else.

use clap::Parser;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};

#[derive(Parser)]
#[command(about = "Stateless DHCPv4 responder: the benchmark's ceiling (never run it on a real network)")]
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
}

const HEADER: usize = 236;
const COOKIE: [u8; 4] = [99, 130, 83, 99];
const DISCOVER: u8 = 1;
const REQUEST: u8 = 3;
const OFFER: u8 = 2;
const ACK: u8 = 5;

/// What a reply needs from a request.
struct Request {
    kind: u8,
    requested: Option<[u8; 4]>,
}

/// Message type (53) and requested address (50) from the options, if the packet is a BOOTREQUEST at all.
fn read_request(p: &[u8]) -> Option<Request> {
    if p.len() < HEADER + 4 || p[0] != 1 || p[HEADER..HEADER + 4] != COOKIE {
        return None;
    }
    let (mut kind, mut requested) = (None, None);
    let mut i = HEADER + 4;
    while i < p.len() {
        match p[i] {
            0 => i += 1,
            255 => break,
            code => {
                let len = *p.get(i + 1)? as usize;
                let value = p.get(i + 2..i + 2 + len)?;
                match (code, len) {
                    (53, 1) => kind = Some(value[0]),
                    (50, 4) => requested = value.try_into().ok(),
                    _ => {}
                }
                i += 2 + len;
            }
        }
    }
    Some(Request { kind: kind?, requested })
}

/// Writes the reply to `req` (the request's bytes `p`) into `out`; returns its length.
fn write_reply(args: &Args, p: &[u8], req: &Request, out: &mut [u8; 300]) -> usize {
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
    o.put(53, &[kind]);
    o.put(54, &args.server_id.octets());
    o.put(51, &3600u32.to_be_bytes());
    o.put(1, &[255, 255, 0, 0]);
    o.put(255, &[]);
    300
}

/// Appends options (code, length, value) after the magic cookie.
struct OptionWriter<'a> {
    out: &'a mut [u8; 300],
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

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let socket = UdpSocket::bind(args.listen)?;
    socket.set_broadcast(true)?;
    let mut buf = [0u8; 1500];
    let mut out = [0u8; 300];
    loop {
        let (len, _) = socket.recv_from(&mut buf)?;
        let p = &buf[..len];
        let Some(req) = read_request(p) else { continue };
        if req.kind != DISCOVER && req.kind != REQUEST {
            continue;
        }
        let n = write_reply(&args, p, &req, &mut out);
        let giaddr = Ipv4Addr::new(p[24], p[25], p[26], p[27]);
        // Relayed: back to the relay's server port (RFC 2131 §4.1); else a broadcast on the link.
        let dst = if giaddr.is_unspecified() {
            SocketAddrV4::new(Ipv4Addr::BROADCAST, 68)
        } else {
            SocketAddrV4::new(giaddr, 67)
        };
        socket.send_to(&out[..n], dst)?;
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
        Args::parse_from(["x", "--server-id", "192.0.2.1", "--pool-start", "10.200.0.10", "--pool-size", "100"])
    }

    #[test]
    fn a_discover_gets_an_offer_in_the_pool_with_its_xid_and_chaddr() {
        let p = request(DISCOVER, None);
        let req = read_request(&p).expect("a valid DISCOVER");
        let mut out = [0u8; 300];
        write_reply(&args(), &p, &req, &mut out);
        assert_eq!(out[0], 2);
        assert_eq!(out[4..8], p[4..8]);
        assert_eq!(out[28..34], p[28..34]);
        let yiaddr = u32::from(Ipv4Addr::new(out[16], out[17], out[18], out[19]));
        let start = u32::from(Ipv4Addr::new(10, 200, 0, 10));
        assert!((start..start + 100).contains(&yiaddr), "yiaddr {yiaddr:#x} outside the pool");
        assert_eq!(out[HEADER + 4..HEADER + 7], [53, 1, OFFER]);
        assert_eq!(out[HEADER + 7..HEADER + 13], [54, 4, 192, 0, 2, 1]);
    }

    #[test]
    fn a_request_is_acked_for_the_address_it_asks_for() {
        let p = request(REQUEST, Some([10, 200, 3, 3]));
        let req = read_request(&p).expect("a valid REQUEST");
        let mut out = [0u8; 300];
        write_reply(&args(), &p, &req, &mut out);
        assert_eq!(out[16..20], [10, 200, 3, 3]);
        assert_eq!(out[HEADER + 4..HEADER + 7], [53, 1, ACK]);
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
