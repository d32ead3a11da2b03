//! Dynamic DNS, the engine's part: which name a lease has in DNS and when its records are added or removed.
//! The engine only says what should change ([`DnsChange`], from `Server::poll_dns`); the daemon sends the
//! RFC 2136 updates, signs them (TSIG), retries them, and never holds an ACK for them.
//!
//! The name is the client's FQDN option (81, RFC 4702) when it names one in the forward zone, else the
//! first label of what it sent (option 81 or the hostname, option 12) in the forward zone, lowercased, with
//! anything but letters, digits and `-` replaced. Each name carries a DHCID record (RFC 4701) that ties it
//! to the client, so another client claiming the same name does not take it over (RFC 4703).

use crate::config::HexBytes;
use crate::duration_text;
use crate::hwaddr::HwAddr;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::Ipv4Addr;
use std::time::Duration;

fn default_ttl() -> Duration {
    Duration::from_secs(300)
}

/// What the engine needs to name leases: the zone names are made in, and the records' TTL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DdnsNames {
    /// The forward zone, e.g. `lab.example.`.
    pub forward_zone: String,
    #[serde(default = "default_ttl", with = "duration_text")]
    pub ttl: Duration,
    /// Send the lease's records again at each renewal, not only when it is bound or its name changes: a
    /// record lost (a DNS server down when the lease was bound, a zone restored from a backup) comes back
    /// within half a lease, for an update per renewal.
    #[serde(default)]
    pub update_on_renew: bool,
}

/// Add or remove a lease's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsOp {
    /// A and DHCID for the name (unless another client's DHCID holds it), PTR for the address.
    Add,
    /// The same, if the DHCID is still this client's.
    Remove,
}

/// One change a lease needs in DNS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsChange {
    pub op: DnsOp,
    /// Absolute, lowercase, with the trailing dot: `laptop.lab.example.`.
    pub fqdn: String,
    pub ip: Ipv4Addr,
    /// The DHCID record's data (RFC 4701 §3).
    pub dhcid: Vec<u8>,
    pub ttl: u32,
}

/// The zone with exactly one trailing dot, lowercase.
pub fn zone(z: &str) -> String {
    format!("{}.", z.trim().trim_end_matches('.').to_ascii_lowercase())
}

/// Whether `name` lies below `zone`, label by label (both absolute, lowercase: as [`zone`] makes them).
pub fn below(name: &str, zone: &str) -> bool {
    name.strip_suffix(zone).is_some_and(|head| head.ends_with('.'))
}

/// The name a client's `sent` name (option 81 or 12) gets in `zone`, if it makes one.
pub fn fqdn(sent: &str, forward_zone: &str) -> Option<String> {
    let zone = zone(forward_zone);
    let sent = sent.trim().trim_end_matches('.').to_ascii_lowercase();
    // A name already in the zone is kept whole (its labels cleaned); any other keeps its first label.
    let head = match sent.strip_suffix(zone.trim_end_matches('.')) {
        Some(h) if h.ends_with('.') => h.trim_end_matches('.').to_string(),
        _ => sent.split('.').next().unwrap_or_default().to_string(),
    };
    let labels: Vec<String> = head.split('.').map(clean_label).collect::<Option<_>>()?;
    let name = format!("{}.{zone}", labels.join("."));
    (name.len() <= 254).then_some(name)
}

/// A label as DNS takes it (RFC 1123 §2.1): letters, digits and inner `-`; anything else becomes `-`.
fn clean_label(l: &str) -> Option<String> {
    let cleaned: String = l.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let cleaned = cleaned.trim_matches('-').to_string();
    (!cleaned.is_empty() && cleaned.len() <= 63).then_some(cleaned)
}

/// A name in DNS wire format (RFC 1035 §3.1), lowercase: the canonical form DHCID digests (RFC 4701 §3.5).
fn wire(fqdn: &str) -> Vec<u8> {
    let mut out = vec![];
    for label in fqdn.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend(label.to_ascii_lowercase().bytes());
    }
    out.push(0);
    out
}

/// The DHCID record data for a client and name (RFC 4701 §3.3): identifier type, digest type 1
/// (SHA-256), then SHA-256 over the identifier and the name. The identifier is the client identifier
/// (option 61, type 1) when the client sent one, else the hardware type and address (type 0).
pub fn dhcid(hw: &HwAddr, client_id: Option<&HexBytes>, fqdn: &str) -> Vec<u8> {
    let (kind, identifier): ([u8; 2], Vec<u8>) = match client_id {
        Some(id) => ([0, 1], id.0.to_vec()),
        None => ([0, 0], [&[1u8][..], hw.as_bytes()].concat()),
    };
    let mut h = Sha256::new();
    h.update(&identifier);
    h.update(wire(fqdn));
    [&kind[..], &[1], &h.finalize()[..]].concat()
}

/// The change of the records of `fqdn` (a name [`fqdn`] made) for a client's lease of `ip`.
pub fn change(
    op: DnsOp,
    names: &DdnsNames,
    fqdn: &str,
    ip: Ipv4Addr,
    hw: &HwAddr,
    client_id: Option<&HexBytes>,
) -> DnsChange {
    let dhcid = dhcid(hw, client_id, fqdn);
    let ttl = crate::time::secs(names.ttl);
    DnsChange { op, fqdn: fqdn.to_string(), ip, dhcid, ttl }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_below_a_zone_label_by_label() {
        assert!(below("pc.lab.example.", "lab.example."));
        assert!(below("10.2.0.192.in-addr.arpa.", "2.0.192.in-addr.arpa."));
        assert!(!below("pc.otherlab.example.", "lab.example."));
        assert!(!below("lab.example.", "lab.example."));
    }

    #[test]
    fn names_are_made_in_the_forward_zone() {
        assert_eq!(fqdn("Laptop", "lab.example").as_deref(), Some("laptop.lab.example."));
        assert_eq!(fqdn("laptop.other.example", "lab.example.").as_deref(), Some("laptop.lab.example."));
        assert_eq!(fqdn("a.b.lab.example.", "lab.example").as_deref(), Some("a.b.lab.example."));
        assert_eq!(fqdn("Bob's iPhone", "lab.example").as_deref(), Some("bob-s-iphone.lab.example."));
        assert_eq!(fqdn("--", "lab.example"), None);
        assert_eq!(fqdn("", "lab.example"), None);
        assert_eq!(fqdn(&"x".repeat(64), "lab.example"), None);
    }

    #[test]
    fn dhcid_follows_rfc_4701() {
        // RFC 4701 §3.6.3: htype 1 and chaddr 01:02:03:04:05:06, name client.example.com.
        let hw = HwAddr::ethernet([1, 2, 3, 4, 5, 6]);
        let d = dhcid(&hw, None, "client.example.com.");
        assert_eq!(encode_base64(&d), "AAABxLmlskllE0MVjd57zHcWmEH3pCQ6VytcKD//7es/deY=");
        // §3.6.2: client identifier 01:07:08:09:0a:0b:0c, name chi.example.com.
        let id = HexBytes(vec![1, 7, 8, 9, 10, 11, 12].into());
        let d = dhcid(&hw, Some(&id), "chi.example.com.");
        assert_eq!(encode_base64(&d), "AAEBOSD+XR3Os/0LozeXVqcNc7FwCfQdWL3b/NaiUDlW2No=");
    }

    fn encode_base64(b: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for c in b.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..4 {
                out.push(if i <= c.len() { A[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
            }
        }
        out
    }
}
