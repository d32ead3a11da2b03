//! RFC 2136 UPDATE messages for one lease, signed with TSIG (RFC 8945, HMAC-SHA256), built with
//! hickory-proto. RFC 4703 §5.3 decides what each update requires first (its prerequisites):
//! - add, first try: the name must not exist; then A and DHCID are added;
//! - add, second try (the name exists): its DHCID must be this client's; then the A records are replaced;
//! - remove: the DHCID must be this client's; then this address's A record goes, and the DHCID with it
//!   once no A record is left;
//! - PTR records are the server's own: replaced or deleted without prerequisites.

use base64::Engine as _;
use dhcplab_engine::ddns::DnsChange;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::tsig::{TSIG, TsigAlgorithm, make_tsig_record, message_tbs};
use hickory_proto::rr::rdata::{A, NULL, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::net::Ipv4Addr;

/// The DHCID record type (RFC 4701), which hickory-proto does not name.
const DHCID: RecordType = RecordType::Unknown(49);

/// A TSIG key: its name and secret.
#[derive(Clone)]
pub struct Key {
    pub name: Name,
    pub secret: Vec<u8>,
}

pub fn decode_secret(b64: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok().filter(|s| !s.is_empty())
}

/// What an update is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Add A and DHCID if the name is free.
    AddNew,
    /// Replace the A records if the DHCID is this client's.
    AddOwned,
    /// Remove this address's A record if the DHCID is this client's.
    RemoveA,
    /// Remove the DHCID once the name has no A record left.
    RemoveDhcid,
    /// Replace the PTR record.
    AddPtr,
    /// Delete the PTR record.
    RemovePtr,
}

fn name(s: &str) -> Result<Name, String> {
    Name::from_ascii(s).map_err(|e| format!("{s}: {e}"))
}

/// The PTR owner name of an address: `10.2.0.192.in-addr.arpa.`.
pub fn reverse_name(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("{d}.{c}.{b}.{a}.in-addr.arpa.")
}

/// A record with no data, of `class`: RFC 2136's way to say "exists", "does not exist" or "delete all".
fn empty(owner: &Name, rtype: RecordType, class: DNSClass) -> Record {
    let mut r = Record::update0(owner.clone(), 0, rtype);
    r.dns_class = class;
    r
}

fn with_class(mut r: Record, class: DNSClass, ttl: u32) -> Record {
    r.dns_class = class;
    r.ttl = ttl;
    r
}

/// One UPDATE for `c`, in `zone`, with message id `id`, signed with `key` at `now` (Unix seconds).
pub fn update(c: &DnsChange, step: Step, zone: &str, id: u16, key: Option<&Key>, now: u64) -> Result<Vec<u8>, String> {
    let zone = name(zone)?;
    let mut m = Message::new(id, MessageType::Query, OpCode::Update);
    // RFC 2136 §2.3: the zone section names the zone, type SOA.
    m.add_query(Query::query(zone, RecordType::SOA));
    let fqdn = name(&c.fqdn)?;
    let a = Record::from_rdata(fqdn.clone(), c.ttl, RData::A(A(c.ip)));
    let dhcid =
        Record::from_rdata(fqdn.clone(), c.ttl, RData::Unknown { code: DHCID, rdata: NULL::with(c.dhcid.clone()) });
    match step {
        Step::AddNew => {
            // §2.4.5: "name is not in use" is class NONE, type ANY.
            m.add_answer(empty(&fqdn, RecordType::ANY, DNSClass::NONE));
            m.add_authority(a);
            m.add_authority(dhcid);
        }
        Step::AddOwned => {
            // §2.4.2: "RRset exists (value dependent)" is the record itself, class IN, TTL 0.
            m.add_answer(with_class(dhcid, DNSClass::IN, 0));
            m.add_authority(empty(&fqdn, RecordType::A, DNSClass::ANY));
            m.add_authority(a);
        }
        Step::RemoveA => {
            m.add_answer(with_class(dhcid, DNSClass::IN, 0));
            // §2.5.4: delete one record is class NONE, TTL 0.
            m.add_authority(with_class(a, DNSClass::NONE, 0));
        }
        Step::RemoveDhcid => {
            m.add_answer(with_class(dhcid, DNSClass::IN, 0));
            // §2.4.3: "RRset does not exist" is class NONE, type A, no data.
            m.add_answer(empty(&fqdn, RecordType::A, DNSClass::NONE));
            m.add_authority(empty(&fqdn, DHCID, DNSClass::ANY));
        }
        Step::AddPtr | Step::RemovePtr => {
            let owner = name(&reverse_name(c.ip))?;
            m.add_authority(empty(&owner, RecordType::PTR, DNSClass::ANY));
            if step == Step::AddPtr {
                m.add_authority(Record::from_rdata(owner, c.ttl, RData::PTR(PTR(fqdn))));
            }
        }
    }
    if let Some(key) = key {
        sign(&mut m, key, now)?;
    }
    m.to_vec().map_err(|e| e.to_string())
}

/// Adds the TSIG record (RFC 8945 §5.1): HMAC-SHA256 over the message and the TSIG variables.
fn sign(m: &mut Message, key: &Key, now: u64) -> Result<(), String> {
    let pre = TSIG::new(TsigAlgorithm::HmacSha256, now, 300, vec![], m.metadata.id, None, vec![]);
    let tbs = message_tbs(m, &pre, &key.name).map_err(|e| e.to_string())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.secret).map_err(|e| e.to_string())?;
    mac.update(&tbs);
    let tsig = pre.set_mac(mac.finalize().into_bytes().to_vec());
    m.signature = Some(Box::new(make_tsig_record(key.name.clone(), tsig)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcplab_engine::ddns::DnsOp;

    fn change() -> DnsChange {
        DnsChange {
            op: DnsOp::Add,
            fqdn: "laptop.lab.example.".into(),
            ip: Ipv4Addr::new(192, 0, 2, 10),
            dhcid: vec![0, 0, 1, 9],
            ttl: 300,
        }
    }

    #[test]
    fn an_add_asks_that_the_name_be_free_and_adds_a_and_dhcid() {
        let key = Key { name: Name::from_ascii("dhcp-key.").unwrap(), secret: vec![7; 32] };
        let bytes = update(&change(), Step::AddNew, "lab.example.", 7, Some(&key), 1_700_000_000).unwrap();
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!((m.metadata.id, m.metadata.op_code), (7, OpCode::Update));
        assert_eq!(m.queries[0].query_type(), RecordType::SOA);
        assert_eq!((m.answers[0].dns_class, m.answers[0].record_type()), (DNSClass::NONE, RecordType::ANY));
        let types: Vec<RecordType> = m.authorities.iter().map(|r| r.record_type()).collect();
        assert_eq!(types, [RecordType::A, DHCID]);
        // Decoded without DNSSEC support, the TSIG record stays the last additional one.
        let sig = m.additionals.last().expect("signed");
        assert_eq!((&sig.name, sig.record_type()), (&key.name, RecordType::TSIG));
        let RData::TSIG(tsig) = &sig.data else { panic!("not a TSIG record") };
        assert_eq!((tsig.mac.len(), tsig.algorithm.clone()), (32, TsigAlgorithm::HmacSha256));
    }

    #[test]
    fn the_reverse_name_is_in_addr_arpa() {
        assert_eq!(reverse_name(Ipv4Addr::new(192, 0, 2, 10)), "10.2.0.192.in-addr.arpa.");
        let bytes = update(&change(), Step::AddPtr, "2.0.192.in-addr.arpa.", 1, None, 0).unwrap();
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.authorities.len(), 2);
        assert!(m.additionals.is_empty(), "unsigned without a key");
    }
}
