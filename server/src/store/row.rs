//! A lease as a database row: the columns both backends store, in text where a person reading the database
//! should see what the API shows.

use super::StoreError;
use dhcplab_engine::config::HexBytes;
use dhcplab_engine::{ClientKey, Duration, HwAddr, Instant, Lease};

/// One row's columns, as read.
pub struct Row {
    pub ip: String,
    pub subnet: String,
    pub client: String,
    pub hw: String,
    pub client_id: Option<String>,
    pub hostname: Option<String>,
    pub state: String,
    pub obtained_ms: i64,
    pub expires_ms: i64,
    pub lease_secs: i64,
    /// The server that wrote it (PostgreSQL); none in a SQLite file, which has one server.
    pub server: Option<String>,
    /// The client's class and its name in DNS (schema version 2).
    pub class: Option<String>,
    pub dns_name: Option<String>,
}

pub fn client_text(c: &ClientKey) -> String {
    match c {
        ClientKey::ClientId(id) => format!("id:{id}"),
        ClientKey::Hw(hw) => format!("hw:{hw}"),
    }
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

impl Row {
    pub fn of(l: &Lease) -> Row {
        Row {
            ip: l.ip.to_string(),
            subnet: l.subnet.to_string(),
            client: client_text(&l.client),
            hw: l.hw.to_string(),
            client_id: l.client_id.as_ref().map(|c| c.to_string()),
            hostname: l.hostname.clone(),
            state: l.state.as_str().to_string(),
            obtained_ms: int(l.obtained.as_millis()),
            expires_ms: int(l.expires.as_millis()),
            lease_secs: int(l.lease_time.as_secs()),
            server: l.server.as_deref().map(String::from),
            class: l.class.as_deref().map(String::from),
            dns_name: l.dns_name.as_deref().map(String::from),
        }
    }

    /// The lease, every column checked: a damaged row is an error naming its address, never a guess.
    pub fn lease(self) -> Result<Lease, StoreError> {
        let ip = self.ip;
        let bad = |message: &str| StoreError::BadRow { ip: ip.clone(), message: message.to_string() };
        Ok(Lease {
            ip: ip.parse().map_err(|_| bad("address"))?,
            subnet: self.subnet.parse().map_err(|_| bad("subnet"))?,
            client: parse_client(&self.client).ok_or_else(|| bad("client"))?,
            hw: self.hw.parse().map_err(|_| bad("hardware address"))?,
            client_id: match self.client_id {
                Some(c) => Some(c.parse().map_err(|_| bad("client id"))?),
                None => None,
            },
            hostname: self.hostname,
            state: self.state.parse().map_err(|_| bad("state"))?,
            obtained: Instant::from_millis(u64::try_from(self.obtained_ms).map_err(|_| bad("obtained"))?),
            expires: Instant::from_millis(u64::try_from(self.expires_ms).map_err(|_| bad("expires"))?),
            lease_time: Duration::from_secs(u64::try_from(self.lease_secs).map_err(|_| bad("lease time"))?),
            server: self.server.map(Into::into),
            class: self.class.map(Into::into),
            dns_name: self.dns_name.map(Into::into),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_keys_round_trip_as_text() {
        for c in [ClientKey::Hw("52:54:00:01:02:03".parse().unwrap()), ClientKey::ClientId(HexBytes(vec![0xff, 0, 1]))]
        {
            assert_eq!(parse_client(&client_text(&c)), Some(c));
        }
        assert_eq!(parse_client("nonsense"), None);
    }
}
