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
        // Writing into a String cannot fail.
        let _ = write!(ip, "{}", l.ip);
        let _ = write!(subnet, "{}", l.subnet);
        write_client(client, l.client());
        let _ = write!(hw, "{}", l.hw);
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
