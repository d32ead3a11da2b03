//! The two requests a relayed client's DORA sends and the two fields of a reply the load needs, written and
//! read straight from the bytes (RFC 2131 §2's layout): the generator must cost far less per packet than the
//! server it loads.

use bench_bootp::{self as bootp, COOKIE, DISCOVER, HEADER, REQUEST};
use std::net::Ipv4Addr;

/// BOOTP's minimum (RFC 951), which relay agents and clients pad to.
pub const REQUEST_LEN: usize = 300;

/// The hardware address of client number `n`: locally administered (02:…), one per client.
pub fn chaddr(n: u32) -> [u8; 6] {
    let b = n.to_be_bytes();
    [0x02, 0x00, b[0], b[1], b[2], b[3]]
}

/// Writes a relayed DISCOVER (`offered` is `None`) or the REQUEST that takes up an offer (the address and
/// the server that offered it, RFC 2131 §3.1 step 3) into `out`.
pub fn write_request(
    out: &mut [u8; REQUEST_LEN],
    xid: u32,
    client: [u8; 6],
    giaddr: Ipv4Addr,
    offered: Option<(Ipv4Addr, Ipv4Addr)>,
) {
    out.fill(0);
    out[0] = 1; // BOOTREQUEST
    out[1] = 1; // Ethernet
    out[2] = 6;
    out[3] = 1; // one relay hop
    out[4..8].copy_from_slice(&xid.to_be_bytes());
    out[24..28].copy_from_slice(&giaddr.octets());
    out[28..34].copy_from_slice(&client);
    out[HEADER..HEADER + 4].copy_from_slice(&COOKIE);
    let mut at = HEADER + 4;
    let mut put = |code: u8, value: &[u8]| {
        out[at] = code;
        out[at + 1] = value.len() as u8;
        out[at + 2..at + 2 + value.len()].copy_from_slice(value);
        at += 2 + value.len();
    };
    match offered {
        None => put(53, &[DISCOVER]),
        Some((address, server)) => {
            put(53, &[REQUEST]);
            put(50, &address.octets());
            put(54, &server.octets());
        }
    }
    out[at] = 255;
}

/// What the load needs from a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub xid: u32,
    pub kind: u8,
    pub yiaddr: Ipv4Addr,
    /// Option 54, which the REQUEST must name.
    pub server: Option<Ipv4Addr>,
}

/// Reads a BOOTREPLY's transaction, message type and offered address; `None` for anything else.
pub fn read_reply(p: &[u8]) -> Option<Reply> {
    let (mut kind, mut server) = (None, None);
    bootp::for_each_option(p, bootp::BOOTREPLY, |code, at| match (code, &p[at]) {
        (53, [k]) => kind = Some(*k),
        (54, &[a, b, c, d]) => server = Some(Ipv4Addr::new(a, b, c, d)),
        _ => {}
    })?;
    let xid = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
    let yiaddr = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
    Some(Reply { xid, kind: kind?, yiaddr, server })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench_bootp::{ACK, OFFER};

    /// A reply as a server writes it: the request's header turned round, the address, the options.
    fn reply_to(request: &[u8], kind: u8, yiaddr: [u8; 4]) -> Vec<u8> {
        let mut p = request[..HEADER + 4].to_vec();
        p[0] = 2;
        p[16..20].copy_from_slice(&yiaddr);
        p.extend_from_slice(&[1, 4, 255, 255, 0, 0, 0, 0, 53, 1, kind, 54, 4, 192, 0, 2, 1, 255]);
        p
    }

    #[test]
    fn a_discover_and_its_request_carry_what_a_relay_and_rfc_2131_put_there() {
        let mut d = [0u8; REQUEST_LEN];
        write_request(&mut d, 0x0102_0304, chaddr(70_000), Ipv4Addr::new(10, 200, 255, 254), None);
        assert_eq!((d[0], d[3], &d[4..8], &d[24..28]), (1, 1, &[1, 2, 3, 4][..], &[10, 200, 255, 254][..]));
        assert_eq!(&d[28..34], &[2, 0, 0, 1, 0x11, 0x70]);
        assert_eq!(&d[240..244], &[53, 1, DISCOVER, 255]);

        let offered = (Ipv4Addr::new(10, 200, 0, 9), Ipv4Addr::new(192, 0, 2, 1));
        let mut r = [0u8; REQUEST_LEN];
        write_request(&mut r, 7, chaddr(1), Ipv4Addr::new(10, 200, 255, 254), Some(offered));
        assert_eq!(&r[240..256], &[53, 1, REQUEST, 50, 4, 10, 200, 0, 9, 54, 4, 192, 0, 2, 1, 255]);
    }

    #[test]
    fn a_reply_gives_its_transaction_type_address_and_server() {
        let mut d = [0u8; REQUEST_LEN];
        write_request(&mut d, 99, chaddr(5), Ipv4Addr::new(10, 200, 255, 254), None);
        let offer = read_reply(&reply_to(&d, OFFER, [10, 200, 0, 12]));
        let want = Reply {
            xid: 99,
            kind: OFFER,
            yiaddr: Ipv4Addr::new(10, 200, 0, 12),
            server: Some(Ipv4Addr::new(192, 0, 2, 1)),
        };
        assert_eq!(offer, Some(want));
        // A request is not a reply; a reply cut inside an option is not read.
        assert_eq!(read_reply(&d), None);
        let whole = reply_to(&d, ACK, [10, 200, 0, 12]);
        assert_eq!(read_reply(&whole[..whole.len() - 3]), None);
    }
}
