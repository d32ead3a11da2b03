//! The body of a change log record: one lease change in a compact binary form, and the JSON that earlier
//! builds wrote, still read. Writing a lease as JSON took about 8,000 instructions, the committer's largest
//! user-space cost per ACK; this form copies its fields.
//!
//! The binary body (all integers little-endian):
//! - `1` (the form's tag: a JSON body starts with `{`), then `0` for a lease put or `1` for a removal;
//! - a put: ip (4), subnet address (4) and prefix (1), chaddr (length byte, bytes), `keyed_by` (0 client
//!   identifier, 1 chaddr), state (its place in `LeaseState::ALL`), obtained and expires (ms, u64),
//!   `lease_secs` (u32), a byte whose bits say which of client id, hostname, server, class and DNS name
//!   follow, and each of those present as a u16 length and its bytes;
//! - a removal: ip (4), chaddr (length byte, bytes), expires (ms, u64).
//!
//! The record's CRC covers the body, so a body that does not parse is damage, and reading stops there.

use super::Change;
use dhcplab_engine::config::HexBytes;
use dhcplab_engine::{HwAddr, Instant, KeyedBy, Lease, LeaseState};
use ipnet::Ipv4Net;
use serde::Deserialize;
use std::net::Ipv4Addr;

const BINARY: u8 = 1;
const PUT: u8 = 0;
const REMOVE: u8 = 1;

/// A field that does not fit the form (a name longer than 65,535 bytes).
#[derive(Debug, thiserror::Error)]
#[error("{0} bytes of {1}, more than a record field may hold")]
pub struct TooLong(usize, &'static str);

/// Appends `c`'s body to `buf`.
pub fn encode(c: &Change, buf: &mut Vec<u8>) -> Result<(), TooLong> {
    buf.push(BINARY);
    match c {
        Change::Put(l) => {
            buf.push(PUT);
            buf.extend_from_slice(&l.ip.octets());
            buf.extend_from_slice(&l.subnet.addr().octets());
            buf.push(l.subnet.prefix_len());
            hw(buf, &l.hw);
            buf.push(match l.keyed_by {
                KeyedBy::ClientId => 0,
                KeyedBy::Hw => 1,
            });
            buf.push(l.state.index() as u8);
            buf.extend_from_slice(&l.obtained.as_millis().to_le_bytes());
            buf.extend_from_slice(&l.expires.as_millis().to_le_bytes());
            buf.extend_from_slice(&l.lease_secs.to_le_bytes());
            let fields: [(Option<&[u8]>, &'static str); 5] = [
                (l.client_id.as_ref().map(|id| &id.0[..]), "client identifier"),
                (l.hostname.as_ref().map(|h| h.as_bytes()), "hostname"),
                (l.server.as_ref().map(|n| n.as_bytes()), "server name"),
                (l.class.as_ref().map(|n| n.as_bytes()), "class name"),
                (l.dns_name.as_ref().map(|n| n.as_bytes()), "DNS name"),
            ];
            let present = fields.iter().enumerate().filter(|(_, (f, _))| f.is_some()).fold(0u8, |m, (i, _)| m | 1 << i);
            buf.push(present);
            for (bytes, what) in fields {
                if let Some(b) = bytes {
                    let len = u16::try_from(b.len()).map_err(|_| TooLong(b.len(), what))?;
                    buf.extend_from_slice(&len.to_le_bytes());
                    buf.extend_from_slice(b);
                }
            }
        }
        Change::Remove { ip, hw: chaddr, expires } => {
            buf.push(REMOVE);
            buf.extend_from_slice(&ip.octets());
            hw(buf, chaddr);
            buf.extend_from_slice(&expires.as_millis().to_le_bytes());
        }
    }
    Ok(())
}

/// A present field as text: `None` if it is not UTF-8.
fn text(b: Option<&[u8]>) -> Option<Option<&str>> {
    b.map(std::str::from_utf8).transpose().ok()
}

fn hw(buf: &mut Vec<u8>, hw: &HwAddr) {
    // At most 16 bytes (`HwAddr`'s own limit).
    buf.push(hw.as_bytes().len() as u8);
    buf.extend_from_slice(hw.as_bytes());
}

/// The change in `body`, binary or JSON; `None` if it is neither.
pub fn decode(body: &[u8]) -> Option<Change> {
    match body.first()? {
        b'{' => serde_json::from_slice::<JsonEntry>(body).ok().map(Change::from),
        &BINARY => decode_binary(&mut Reader(&body[1..])),
        _ => None,
    }
}

fn decode_binary(r: &mut Reader<'_>) -> Option<Change> {
    let change = match r.u8()? {
        PUT => {
            let ip = r.ip()?;
            let subnet = Ipv4Net::new(r.ip()?, r.u8()?).ok()?;
            let hw = r.hw()?;
            let keyed_by = match r.u8()? {
                0 => KeyedBy::ClientId,
                1 => KeyedBy::Hw,
                _ => return None,
            };
            let state = *LeaseState::ALL.get(usize::from(r.u8()?))?;
            let obtained = Instant::from_millis(r.u64()?);
            let expires = Instant::from_millis(r.u64()?);
            let lease_secs = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
            let present = r.u8()?;
            let mut field = |i: u8| if present & (1 << i) != 0 { r.field().map(Some) } else { Some(None) };
            let client_id = field(0)?.map(|b| HexBytes(b.into()));
            let hostname = text(field(1)?)?.map(Into::into);
            let server = text(field(2)?)?.map(Into::into);
            let class = text(field(3)?)?.map(Into::into);
            let dns_name = text(field(4)?)?.map(Into::into);
            #[rustfmt::skip]
            let lease = Lease {
                ip, subnet, hw, client_id, keyed_by, hostname, state, obtained, expires, lease_secs, server, class,
                dns_name,
            };
            Change::Put(lease)
        }
        REMOVE => Change::Remove { ip: r.ip()?, hw: r.hw()?, expires: Instant::from_millis(r.u64()?) },
        _ => return None,
    };
    // A body is one change, all of it read.
    r.0.is_empty().then_some(change)
}

/// Reads a body front to back; `None` where it runs short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_le_bytes)
    }

    fn ip(&mut self) -> Option<Ipv4Addr> {
        <[u8; 4]>::try_from(self.take(4)?).ok().map(Ipv4Addr::from)
    }

    fn hw(&mut self) -> Option<HwAddr> {
        let len = self.u8()?;
        HwAddr::new(self.take(usize::from(len))?).ok()
    }

    fn field(&mut self) -> Option<&'a [u8]> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().ok()?);
        self.take(usize::from(len))
    }
}

/// A change as earlier builds wrote it, in JSON.
#[derive(Deserialize)]
enum JsonEntry {
    Put(Lease),
    Remove { ip: Ipv4Addr, hw: HwAddr, expires: Instant },
}

impl From<JsonEntry> for Change {
    fn from(e: JsonEntry) -> Change {
        match e {
            JsonEntry::Put(l) => Change::Put(l),
            JsonEntry::Remove { ip, hw, expires } => Change::Remove { ip, hw, expires },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_fixtures;

    fn body(c: &Change) -> Vec<u8> {
        let mut buf = Vec::new();
        encode(c, &mut buf).unwrap();
        buf
    }

    #[test]
    fn every_field_of_a_change_round_trips() {
        let full = Lease {
            class: Some("phones".into()),
            dns_name: Some("laptop.example.".into()),
            server: Some("dhcp-2".into()),
            hostname: Some("a host name longer than twenty-four bytes".into()),
            lease_secs: 21_600,
            ..test_fixtures::lease("192.0.2.10", LeaseState::Bound)
        };
        let bare =
            Lease { client_id: None, keyed_by: KeyedBy::Hw, ..test_fixtures::lease("10.1.2.3", LeaseState::Released) };
        let removed = Change::Remove {
            ip: "192.0.2.11".parse().unwrap(),
            hw: "52:54:00:01:02:04".parse().unwrap(),
            expires: Instant::from_secs(9),
        };
        for c in [Change::Put(full), Change::Put(bare), removed] {
            assert_eq!(decode(&body(&c)), Some(c.clone()), "{c:?}");
        }
    }

    #[test]
    fn a_short_long_or_unknown_body_is_not_a_change() {
        let b = body(&Change::Put(test_fixtures::lease("192.0.2.10", LeaseState::Bound)));
        for cut in 0..b.len() {
            assert_eq!(decode(&b[..cut]), None, "cut at {cut}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
        let mut unknown_state = b.clone();
        unknown_state[1 + 1 + 4 + 4 + 1 + 1 + 6 + 1] = 9;
        assert_eq!(decode(&unknown_state), None);
        assert_eq!(decode(&[2, 0]), None, "a form this build does not know");
    }

    #[test]
    fn a_name_too_long_for_a_field_is_refused() {
        let l = Lease {
            hostname: Some("h".repeat(70_000).into()),
            ..test_fixtures::lease("192.0.2.10", LeaseState::Bound)
        };
        assert!(encode(&Change::Put(l), &mut Vec::new()).is_err());
    }
}
