//! A lease as a database row: the columns both backends store, in text where a person reading the database
//! should see what the API shows.

use super::StoreError;
use dhcplab_engine::config::HexBytes;
use dhcplab_engine::lease::LeaseWire;
use dhcplab_engine::{ClientKey, ClientKeyRef, Duration, HwAddr, Instant, Lease};

/// One row's columns: owned text to write, or text borrowed from the database's row buffer as it is read
/// (a million rows loading at start-up then allocate nothing but the records themselves).
pub struct Row<S = String> {
    pub ip: S,
    pub subnet: S,
    pub client: S,
    pub hw: S,
    pub client_id: Option<S>,
    pub hostname: Option<S>,
    pub state: S,
    pub obtained_ms: i64,
    pub expires_ms: i64,
    pub lease_secs: i64,
    /// The server that wrote it (PostgreSQL); none in a SQLite file, which has one server.
    pub server: Option<S>,
    /// The client's class and its name in DNS (schema version 2).
    pub class: Option<S>,
    pub dns_name: Option<S>,
}

/// The client column: `id:` and the client id, or `hw:` and the hardware address.
pub fn write_client(out: &mut String, c: ClientKeyRef<'_>) {
    use std::fmt::Write;
    // Writing into a String cannot fail.
    let _ = match c {
        ClientKeyRef::ClientId(id) => write!(out, "id:{id}"),
        ClientKeyRef::Hw(hw) => write!(out, "hw:{hw}"),
    };
}

pub fn parse_client(s: &str) -> Option<ClientKey> {
    if let Some(id) = s.strip_prefix("id:") {
        id.parse::<HexBytes>().ok().map(ClientKey::ClientId)
    } else {
        s.strip_prefix("hw:")?.parse::<HwAddr>().ok().map(ClientKey::Hw)
    }
}

/// `ip` in dotted-quad text, exactly as its `Display` writes it but without the formatting machinery: the
/// applier writes two addresses for every lease change, and through `write!` they cost a fifth of its work.
fn push_ipv4(out: &mut String, ip: std::net::Ipv4Addr) {
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_decimal(out, octet);
    }
}

fn push_decimal(out: &mut String, n: u8) {
    if n >= 100 {
        out.push(char::from(b'0' + n / 100));
    }
    if n >= 10 {
        out.push(char::from(b'0' + n / 10 % 10));
    }
    out.push(char::from(b'0' + n % 10));
}

/// Milliseconds or seconds as the databases' signed 64-bit integers.
pub fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Room for the columns a row writes as text, reused from row to row: writing a batch allocates nothing
/// per row.
#[derive(Default)]
pub struct RowText {
    ip: String,
    subnet: String,
    client: String,
    hw: String,
    client_id: String,
}

impl RowText {
    /// Lease `l` as a row, its text columns written here or borrowed from the lease.
    pub fn row<'a>(&'a mut self, l: &'a Lease) -> Row<&'a str> {
        use std::fmt::Write;
        let RowText { ip, subnet, client, hw, client_id } = self;
        for s in [&mut *ip, &mut *subnet, &mut *client, &mut *hw, &mut *client_id] {
            s.clear();
        }
        push_ipv4(ip, l.ip);
        push_ipv4(subnet, l.subnet.addr());
        subnet.push('/');
        push_decimal(subnet, l.subnet.prefix_len());
        // Writing into a String cannot fail.
        let _ = write!(hw, "{}", l.hw);
        match l.client() {
            // The hardware address's text, written once for both columns.
            ClientKeyRef::Hw(_) => {
                client.push_str("hw:");
                client.push_str(hw);
            }
            key => write_client(client, key),
        }
        if let Some(id) = &l.client_id {
            let _ = write!(client_id, "{id}");
        }
        Row {
            ip,
            subnet,
            client,
            hw,
            client_id: l.client_id.as_ref().map(|_| client_id.as_str()),
            hostname: l.hostname.as_deref(),
            state: l.state.as_str(),
            obtained_ms: int(l.obtained.as_millis()),
            expires_ms: int(l.expires.as_millis()),
            lease_secs: l.lease_secs.into(),
            server: l.server.as_deref(),
            class: l.class.as_deref(),
            dns_name: l.dns_name.as_deref(),
        }
    }
}

impl<S: AsRef<str>> Row<S> {
    /// The lease, every column checked: a damaged row is an error naming its address, never a guess. The
    /// client column is the key the record is filed under, read as the wire's (`LeaseWire`).
    pub fn lease(self) -> Result<Lease, StoreError> {
        let ip = self.ip.as_ref();
        let bad = |message: &str| StoreError::BadRow { ip: ip.to_string(), message: message.to_string() };
        fn text<S: AsRef<str>, T: for<'a> From<&'a str>>(s: Option<S>) -> Option<T> {
            s.map(|s| T::from(s.as_ref()))
        }
        Ok(Lease::from(LeaseWire {
            ip: ip.parse().map_err(|_| bad("address"))?,
            subnet: self.subnet.as_ref().parse().map_err(|_| bad("subnet"))?,
            client: parse_client(self.client.as_ref()).ok_or_else(|| bad("client"))?,
            hw: self.hw.as_ref().parse().map_err(|_| bad("hardware address"))?,
            client_id: match self.client_id {
                Some(c) => Some(c.as_ref().parse().map_err(|_| bad("client id"))?),
                None => None,
            },
            hostname: text(self.hostname),
            state: self.state.as_ref().parse().map_err(|_| bad("state"))?,
            obtained: Instant::from_millis(u64::try_from(self.obtained_ms).map_err(|_| bad("obtained"))?),
            expires: Instant::from_millis(u64::try_from(self.expires_ms).map_err(|_| bad("expires"))?),
            lease_time: Duration::from_secs(u64::try_from(self.lease_secs).map_err(|_| bad("lease time"))?),
            server: text(self.server),
            class: text(self.class),
            dns_name: text(self.dns_name),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_subnets_are_written_as_their_display_writes_them() {
        let mut out = String::new();
        for n in (0..=u32::MAX).step_by(65_521).chain([0, 1, 9, 10, 99, 100, 255, 256, 0x0a00_0001, u32::MAX]) {
            let ip = std::net::Ipv4Addr::from(n);
            out.clear();
            push_ipv4(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
        let lease = |subnet: &str, hw: &str, id: Option<HexBytes>| {
            Lease::from(LeaseWire {
                ip: "192.0.2.10".parse().unwrap(),
                subnet: subnet.parse().unwrap(),
                client: match &id {
                    Some(id) => ClientKey::ClientId(id.clone()),
                    None => ClientKey::Hw(hw.parse().unwrap()),
                },
                hw: hw.parse().unwrap(),
                client_id: id,
                hostname: None,
                state: dhcplab_engine::LeaseState::Bound,
                obtained: Instant::from_millis(1),
                expires: Instant::from_millis(2),
                lease_time: Duration::from_secs(3),
                server: None,
                class: None,
                dns_name: None,
            })
        };
        let mut text = RowText::default();
        for subnet in ["192.0.2.0/24", "10.0.0.0/8", "0.0.0.0/0", "198.51.100.7/32"] {
            let l = lease(subnet, "52:54:00:0a:0b:0c", None);
            let row = text.row(&l);
            assert_eq!((row.ip, row.subnet), ("192.0.2.10", subnet));
            assert_eq!((row.client, row.hw, row.client_id), ("hw:52:54:00:0a:0b:0c", "52:54:00:0a:0b:0c", None));
        }
        let l = lease("192.0.2.0/24", "52:54:00:0a:0b:0c", Some(HexBytes(vec![1, 0xab].into())));
        let row = text.row(&l);
        assert_eq!((row.client, row.client_id), ("id:01:ab", Some("01:ab")));
        // Each row read back is the lease it was written from.
        assert_eq!(text.row(&l).lease().unwrap(), l);
    }

    #[test]
    fn client_keys_round_trip_as_text() {
        for c in [
            ClientKey::Hw("52:54:00:01:02:03".parse().unwrap()),
            ClientKey::ClientId(HexBytes(vec![0xff, 0, 1].into())),
        ] {
            let mut text = String::new();
            write_client(&mut text, c.as_ref());
            assert_eq!(parse_client(&text), Some(c));
        }
        assert_eq!(parse_client("nonsense"), None);
    }
}
