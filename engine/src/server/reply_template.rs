//! What an OFFER or ACK from one subnet carries for every client of the same classes that asks for the
//! same options (option 55): the subnet's and the classes' options, and the boot fields. `reply::offer_or_ack`
//! stays the one definition of a reply; a template is cut from a reply it builds, encoded once and kept.
//! A reply is then its header, its few options of its own and the template's bytes, rather than a dozen
//! options built, sorted, encoded and freed per packet. Tests hold both ways to the same bytes.

use crate::class::{ClientClass, Membership};
use crate::packet::Request;
use crate::reply::{self, Header, LeaseTimes};
use crate::short_bytes::ShortBytes;
use crate::subnet::Subnet;
use dhcproto::Encodable;
use dhcproto::error::EncodeError;
use dhcproto::v4::{DhcpOption, MessageType, Opcode};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::Ipv4Addr;
use std::ops::Range;

/// The options each reply sets for itself: hostname, lease times, message type, server identifier, the
/// echoed client identifier (RFC 6842), the client's FQDN (RFC 4702) and the relay's information (RFC 3046).
const OWN: [u8; 9] = [12, 51, 53, 54, 58, 59, 61, 81, 82];
/// RFC 3046 §2.1: the relay agent information option goes last, where dhcproto puts it.
const RELAY_INFO: u8 = 82;
const FQDN: u8 = 81;
const END: u8 = 255;

/// The options of a reply that are not its own, whole (code, length, value; several pieces for a value
/// over 255 bytes, RFC 3396) and in code order, and the header fields the client's classes set.
#[derive(Debug)]
pub struct ReplyTemplate {
    bytes: Vec<u8>,
    options: Vec<(u8, Range<usize>)>,
    siaddr: Ipv4Addr,
    sname: Vec<u8>,
    file: Vec<u8>,
}

/// A reply's own values.
pub struct Own<'a> {
    pub kind: MessageType,
    pub yiaddr: Ipv4Addr,
    pub server_id: Ipv4Addr,
    pub lease: Option<LeaseTimes>,
    pub hostname: Option<&'a str>,
    /// Option 81 as the server answers it, set after (and so over) any configured option 81.
    pub fqdn: Option<DhcpOption>,
}

impl ReplyTemplate {
    /// Cut from the reply `reply::offer_or_ack` makes for `req`: its options but the reply's own ones,
    /// save those a configured option sets (it replaces the reply's own, and so it does here too).
    fn new(req: &Request, subnet: &Subnet, classes: &[&ClientClass]) -> Result<Self, EncodeError> {
        let any = Ipv4Addr::UNSPECIFIED;
        let msg = reply::offer_or_ack(req, MessageType::Offer, any, any, subnet, None, None, classes);
        let custom: Vec<u8> = reply::custom_options(req, subnet, classes).map(|(code, _)| code).collect();
        let (mut bytes, mut options) = (Vec::new(), Vec::new());
        for (code, opt) in msg.opts().iter() {
            let code = u8::from(*code);
            if OWN.contains(&code) && !custom.contains(&code) {
                continue;
            }
            let start = bytes.len();
            bytes.extend_from_slice(&opt.to_vec()?);
            options.push((code, start..bytes.len()));
        }
        Ok(ReplyTemplate {
            bytes,
            options,
            siaddr: msg.siaddr(),
            sname: msg.sname().unwrap_or_default().to_vec(),
            file: msg.fname().unwrap_or_default().to_vec(),
        })
    }

    fn option(&self, code: u8) -> Option<&[u8]> {
        self.options.iter().find(|(c, _)| *c == code).map(|(_, r)| &self.bytes[r.clone()])
    }

    /// The encoded reply to `req`: the same bytes `reply::encode` makes of `reply::offer_or_ack`'s message
    /// with `own.fqdn` added. `scratch` holds the reply's own options while they are merged in.
    pub fn encode(&self, req: &Request, own: &Own, scratch: &mut Scratch) -> Result<Vec<u8>, EncodeError> {
        let h = &req.header;
        let mut buf = scratch.spare.pop().unwrap_or_else(|| Vec::with_capacity(reply::BOOTP_MIN_LEN + 64));
        buf.clear();
        Header {
            op: Opcode::BootReply,
            htype: h.htype,
            hops: 0,
            xid: h.xid,
            secs: 0,
            flags: h.flags,
            ciaddr: reply::reply_ciaddr(req, own.kind),
            yiaddr: own.yiaddr,
            siaddr: self.siaddr,
            giaddr: h.giaddr,
            chaddr: req.hw.as_bytes(),
            sname: &self.sname,
            file: &self.file,
        }
        .write(&mut buf)?;
        // The reply's own options, in code order as the template's are, each only where no configured
        // option of its code replaces it (option 81 excepted).
        let relayed = req.relayed();
        let Scratch { bytes: own_bytes, options: own_options, .. } = scratch;
        own_bytes.clear();
        own_options.clear();
        for code in OWN {
            let start = own_bytes.len();
            match code {
                12 => {
                    if let Some(h) = own.hostname.filter(|_| req.wants(12)) {
                        long_option(own_bytes, code, h.as_bytes());
                    }
                }
                51 | 58 | 59 => {
                    if let Some(t) = own.lease {
                        let d = match code {
                            51 => t.lease,
                            58 => t.t1,
                            _ => t.t2,
                        };
                        long_option(own_bytes, code, &crate::time::secs(d).to_be_bytes());
                    }
                }
                53 => long_option(own_bytes, code, &[u8::from(own.kind)]),
                54 => long_option(own_bytes, code, &own.server_id.octets()),
                // RFC 6842: echo the client identifier so the client can match the reply.
                61 => {
                    if let Some(id) = &req.client_id {
                        long_option(own_bytes, code, &id.0);
                    }
                }
                FQDN => {
                    if let Some(f) = &own.fqdn {
                        own_bytes.extend_from_slice(&f.to_vec()?);
                    }
                }
                // RFC 3046 §2.2: the relay agent information goes back to the relay unchanged.
                _ => {
                    if relayed && let Some(info) = &req.relay_info {
                        long_option(own_bytes, code, info.as_bytes());
                    }
                }
            }
            if own_bytes.len() > start {
                own_options.push((code, start..own_bytes.len()));
            }
        }
        // Merged by code into the options after the header.
        let (mut mine, mut theirs) = (own_options.iter().peekable(), self.options.iter().peekable());
        loop {
            let next = match (mine.peek(), theirs.peek()) {
                (None, None) => break,
                (Some(a), Some(b)) if a.0 == b.0 => {
                    // The same code: the configured option wins, but the FQDN is set over it.
                    let (a, b) = (mine.next(), theirs.next());
                    if a.is_some_and(|a| a.0 == FQDN) {
                        a.map(|a| &own_bytes[a.1.clone()])
                    } else {
                        b.map(|b| &self.bytes[b.1.clone()])
                    }
                }
                (Some(a), Some(b)) if a.0 < b.0 => mine.next().map(|a| &own_bytes[a.1.clone()]),
                (Some(_), None) => mine.next().map(|a| &own_bytes[a.1.clone()]),
                _ => theirs.next().map(|b| &self.bytes[b.1.clone()]),
            };
            if let Some(bytes) = next
                && bytes.first() != Some(&RELAY_INFO)
            {
                buf.extend_from_slice(bytes);
            }
        }
        // Option 82 last: the configured one if any, else the relay's.
        let relay = self
            .option(RELAY_INFO)
            .or(own_options.iter().find(|(c, _)| *c == RELAY_INFO).map(|(_, r)| &own_bytes[r.clone()]));
        buf.extend_from_slice(relay.unwrap_or_default());
        buf.push(END);
        reply::pad(&mut buf);
        Ok(buf)
    }
}

/// The reply's own options (see [`ReplyTemplate::encode`]) as they are encoded, kept from one reply to the
/// next, and the buffers of replies already sent, given back to be encoded into again: once they come
/// back, making a reply allocates nothing.
#[derive(Debug, Default)]
pub struct Scratch {
    bytes: Vec<u8>,
    options: Vec<(u8, std::ops::Range<usize>)>,
    spare: Vec<Vec<u8>>,
}

/// Buffers kept for replies: a batch's worth. More than that would only hold memory after a burst.
const SPARE: usize = 256;
/// A buffer grown past this (a reply with a long option) is dropped rather than kept.
const SPARE_CAPACITY: usize = 1500;

impl Scratch {
    /// A sent reply's buffer, to be encoded into again.
    pub fn give_back(&mut self, buf: Vec<u8>) {
        if self.spare.len() < SPARE && buf.capacity() <= SPARE_CAPACITY {
            self.spare.push(buf);
        }
    }
}

/// An option whose value may run past 255 bytes, in as many pieces as it takes (RFC 3396); no value, no
/// option (as dhcproto encodes it).
fn long_option(buf: &mut Vec<u8>, code: u8, value: &[u8]) {
    for piece in value.chunks(usize::from(u8::MAX)) {
        buf.push(code);
        buf.push(piece.len() as u8);
        buf.extend_from_slice(piece);
    }
}

/// How many templates are kept before all are let go: more than any config has combinations of subnet,
/// classes and parameter lists in use, so only clients that vary their option 55 on purpose reach it.
const MAX_TEMPLATES: usize = 1024;

/// The templates made so far, found by subnet, classes and option 55 without building a key per packet.
#[derive(Debug, Default)]
pub struct Templates {
    /// Keyed by a hash already: foldhash, not SipHash, spreads it over the buckets, twice per DORA.
    by_hash: HashMap<u64, Vec<(Key, ReplyTemplate)>, foldhash::fast::RandomState>,
    count: usize,
    hasher: foldhash::fast::FixedState,
}

#[derive(Debug, PartialEq, Eq)]
struct Key {
    subnet: usize,
    classes: Vec<usize>,
    prl: Option<ShortBytes>,
}

impl Templates {
    /// Forgets every template (the config changed).
    pub fn clear(&mut self) {
        self.by_hash.clear();
        self.count = 0;
    }

    /// The template for a reply to `req` from subnet `si` to a client of these classes.
    pub fn get(
        &mut self,
        req: &Request,
        si: usize,
        subnet: &Subnet,
        m: &Membership,
        all_classes: &[ClientClass],
    ) -> Result<&ReplyTemplate, EncodeError> {
        let class_ids = m.classes.as_slice();
        let hash = self.hasher.hash_one((si, class_ids, req.prl.as_deref()));
        let same = |k: &Key| k.subnet == si && k.classes == class_ids && k.prl.as_deref() == req.prl.as_deref();
        let found = self.by_hash.get(&hash).and_then(|v| v.iter().position(|(k, _)| same(k)));
        let i = match found {
            Some(i) => i,
            None => {
                let template = ReplyTemplate::new(req, subnet, &m.classes(all_classes))?;
                if self.count >= MAX_TEMPLATES {
                    self.clear();
                }
                let key = Key { subnet: si, classes: class_ids.to_vec(), prl: req.prl.clone() };
                let bucket = self.by_hash.entry(hash).or_default();
                bucket.push((key, template));
                self.count += 1;
                bucket.len() - 1
            }
        };
        Ok(&self.by_hash[&hash][i].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HwAddr;
    use crate::builder::ClientMsg;
    use crate::config::{CustomOption, PoolRange, SubnetConfig};
    use crate::packet::parse_request;
    use crate::time::Duration;
    use dhcproto::Name;
    use dhcproto::v4::fqdn::{ClientFQDN, FqdnFlags};
    use dhcproto::v4::relay::{RelayAgentInformation, RelayInfo};

    fn subnet(custom: &[CustomOption]) -> Subnet {
        let net = "192.0.2.0/24".parse().unwrap();
        let mut c = SubnetConfig::new(net, "192.0.2.100-192.0.2.199".parse::<PoolRange>().unwrap().0);
        c.routers = vec!["192.0.2.1".parse().unwrap()];
        c.dns = vec!["192.0.2.53".parse().unwrap(), "198.51.100.53".parse().unwrap()];
        c.domain_name = Some("lab.example".into());
        c.ntp = vec!["192.0.2.123".parse().unwrap()];
        c.domain_search = vec!["lab.example".into(), "example".into()];
        c.options = custom.to_vec();
        Subnet::new(c)
    }

    fn class(json: &str) -> ClientClass {
        serde_json::from_str(json).unwrap()
    }

    fn custom(code: u8, text: &str) -> CustomOption {
        CustomOption { code, text: Some(text.into()), ..Default::default() }
    }

    /// Requests that differ in everything a reply takes from its request.
    fn requests() -> Vec<Request> {
        let relay = {
            let mut info = RelayAgentInformation::default();
            info.insert(RelayInfo::AgentCircuitId(b"port-7".to_vec()));
            DhcpOption::RelayAgentInformation(info)
        };
        let fqdn = DhcpOption::ClientFQDN(ClientFQDN::new(
            FqdnFlags::default().set_s(true).set_e(true),
            Name::from_ascii("laptop.lab.example.").unwrap(),
        ));
        let hw = |n: u8| HwAddr::ethernet([0x52, 0x54, 0, 0, 0, n]);
        let base = |n: u8| ClientMsg::new(MessageType::Discover, hw(n), 0x1000 + u32::from(n));
        let msgs = [
            base(1),
            base(2).params(&[1, 3, 6, 12, 15, 28, 42, 66, 67, 119]),
            base(3).params(&[1, 3]).client_id(vec![1, 0x52, 0x54, 0, 0, 0, 3]).hostname("laptop"),
            base(4).client_id(vec![0xaa; 300]).broadcast(),
            base(5).giaddr("198.51.100.1".parse().unwrap()).opt(relay.clone()),
            base(6).giaddr("198.51.100.1".parse().unwrap()).params(&[1, 3, 82]).opt(relay),
            base(7).ciaddr("192.0.2.150".parse().unwrap()).opt(fqdn.clone()),
            base(8).params(&[1, 81, 12, 200, 201]).opt(fqdn),
        ];
        msgs.iter().map(|m| parse_request(&m.bytes()).unwrap()).collect()
    }

    /// Every reply made from a template is byte for byte the reply `reply::offer_or_ack` defines, through
    /// every combination of request, classes, configured options that replace the server's own, lease,
    /// hostname and FQDN, with templates made once and reused across clients.
    #[test]
    fn a_reply_from_a_template_is_the_reply_offer_or_ack_builds() {
        // Configured options of the codes a reply sets itself can only be 12 and 81: the config refuses
        // the others (`MANAGED_OPTIONS`).
        let classes = vec![
            class(
                r#"{"name":"pxe","next_server":"192.0.2.9","boot_file":"pxelinux.0","tftp_server":"tftp.lab.example"}"#,
            ),
            class(&format!(
                r#"{{"name":"long-boot","boot_file":"{}","tftp_server":"{}"}}"#,
                "b".repeat(130),
                "t".repeat(70)
            )),
            class(
                r#"{"name":"phones","routers":["192.0.2.2"],"option":[{"code":12,"text":"from-class"},{"code":200,"text":"class"}]}"#,
            ),
            class(r#"{"name":"fqdn","option":[{"code":81,"hex":"000000"},{"code":15,"text":"class.example"}]}"#),
        ];
        let subnets =
            [subnet(&[]), subnet(&[custom(200, "subnet"), custom(201, &"x".repeat(250)), custom(15, "other.example")])];
        let class_sets: Vec<Vec<usize>> = vec![vec![], vec![0], vec![1], vec![2], vec![3], vec![2, 0], vec![3, 2, 1]];
        let times = LeaseTimes {
            lease: Duration::from_secs(3600),
            t1: Duration::from_secs(1800),
            t2: Duration::from_secs(3150),
        };
        let fqdn = DhcpOption::ClientFQDN(ClientFQDN::new(
            FqdnFlags::default().set_s(true).set_o(true).set_e(true),
            Name::from_ascii("laptop.lab.example.").unwrap(),
        ));
        let (mut templates, mut scratch) = (Templates::default(), Scratch::default());
        let mut compared = 0;
        for round in 0..2 {
            for (si, s) in subnets.iter().enumerate() {
                for req in requests() {
                    for ids in &class_sets {
                        let chosen: Vec<&ClientClass> = ids.iter().map(|&i| &classes[i]).collect();
                        for (kind, lease) in [
                            (MessageType::Offer, Some(times)),
                            (MessageType::Ack, Some(times)),
                            (MessageType::Ack, None),
                        ] {
                            for (hostname, fqdn) in [(None, None), (Some("printer"), Some(fqdn.clone()))] {
                                let (yiaddr, server_id) =
                                    ("192.0.2.150".parse().unwrap(), "192.0.2.240".parse().unwrap());
                                let mut msg =
                                    reply::offer_or_ack(&req, kind, yiaddr, server_id, s, lease, hostname, &chosen);
                                if let Some(f) = fqdn.clone() {
                                    msg.opts_mut().insert(f);
                                }
                                let own = Own { kind, yiaddr, server_id, lease, hostname, fqdn };
                                let m = Membership { classes: ids.clone(), reservation: None };
                                let t = templates.get(&req, si, s, &m, &classes).unwrap();
                                let got = t.encode(&req, &own, &mut scratch).unwrap();
                                assert_eq!(
                                    got,
                                    reply::encode(&msg).unwrap(),
                                    "round {round}, subnet {si}, xid {:#x}, classes {ids:?}, {kind:?}, lease {}, hostname {hostname:?}",
                                    req.header.xid,
                                    lease.is_some()
                                );
                                compared += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(compared, 2 * 2 * 8 * 7 * 3 * 2);
        // One template per subnet, classes and option 55 seen: the second round made none.
        let option_55s = 5; // none (requests 1, 4, 5 and 7), and four different ones
        assert_eq!(templates.count, subnets.len() * class_sets.len() * option_55s);
    }

    #[test]
    fn templates_are_let_go_when_too_many_are_kept() {
        let s = subnet(&[]);
        let mut templates = Templates::default();
        let hw = HwAddr::ethernet([0x52, 0x54, 0, 0, 0, 1]);
        for n in 0..=MAX_TEMPLATES {
            let codes = [(n % 250) as u8 + 1, (n / 250) as u8 + 1];
            let req = parse_request(&ClientMsg::new(MessageType::Discover, hw, 1).params(&codes).bytes()).unwrap();
            templates.get(&req, 0, &s, &Membership::default(), &[]).unwrap();
        }
        assert_eq!(templates.count, 1, "cleared at {MAX_TEMPLATES}, then the newest kept");
    }
}
