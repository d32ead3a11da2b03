//! Client classes: what a client says about itself (vendor class, user class, architecture, MAC, the relay's
//! circuit and remote ids, hostname) sorts it into named classes; a class selects pools and adds or
//! overrides options, network boot among them.
//!
//! The rules, in the order they apply:
//! - A class matches when every condition it lists holds; a condition holds when any of its patterns does.
//!   Text patterns may use `*` (any run of characters) and `?` (one character). A class lists at least one
//!   condition (`dhcplab check` refuses one that could never match).
//! - A client belongs to every class that matches, and to the built-in `known` (it has a reservation in
//!   the subnet) or `unknown` (it has none).
//! - Addresses: a reservation first; else the client's own last address, or the one it asks for, if it lies
//!   in a pool it may use; else a free address from the pools restricted to its classes (in config order),
//!   then from the open pools. A pool with `classes` serves members of any of them only.
//! - Options: for each value (routers, DNS, domain, next server, boot file, TFTP server, an option by
//!   code), the first matching class in config order that sets it wins over the subnet.

use crate::config::CustomOption;
use crate::hwaddr::HwAddr;
use crate::packet::Request;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::Ipv4Addr;

/// The built-in class of clients with a reservation in the subnet.
pub const KNOWN: &str = "known";
/// The built-in class of clients without one.
pub const UNKNOWN: &str = "unknown";

/// `[[class]]`: who belongs, and what they get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientClass {
    pub name: String,
    #[serde(default, rename = "match")]
    pub when: ClassMatch,
    /// Option 3 for members, instead of the subnet's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routers: Option<Vec<Ipv4Addr>>,
    /// Option 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Vec<Ipv4Addr>>,
    /// Option 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// Network boot: the TFTP server's address, sent as `siaddr` (RFC 2131 §2, "next server").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_server: Option<Ipv4Addr>,
    /// Network boot: the file to load, in the `file` field and as option 67 when asked for (RFC 2132 §9.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_file: Option<String>,
    /// Network boot: the TFTP server's name, in the `sname` field and as option 66 when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tftp_server: Option<String>,
    /// Other options, by code; they replace the subnet's option of the same code.
    #[serde(default, rename = "option", skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<CustomOption>,
}

/// The conditions of a class. Each list holds when any of its entries matches; the class matches when
/// every non-empty list holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassMatch {
    /// Option 60, e.g. `"PXEClient*"`, `"android-dhcp-*"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vendor_class: Vec<String>,
    /// Option 77 (RFC 3004), each class the client names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_class: Vec<String>,
    /// Option 93 (RFC 4578): numbers or names (`bios`, `efi-ia32`, `efi-x64`, `efi-arm32`, `efi-arm64`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch: Vec<Arch>,
    /// The first bytes of the MAC, e.g. `"00:04:f2"` (a vendor's OUI).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mac_prefix: Vec<MacPrefix>,
    /// Option 82's circuit id (RFC 3046), as text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub circuit_id: Vec<String>,
    /// Option 82's remote id, as text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_id: Vec<String>,
    /// Option 12, e.g. `"printer-*"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostname: Vec<String>,
}

impl ClassMatch {
    /// True when the class lists no condition at all (it could never match).
    pub fn is_empty(&self) -> bool {
        self.vendor_class.is_empty()
            && self.user_class.is_empty()
            && self.arch.is_empty()
            && self.mac_prefix.is_empty()
            && self.circuit_id.is_empty()
            && self.remote_id.is_empty()
            && self.hostname.is_empty()
    }

    pub fn matches(&self, f: &ClientFacts) -> bool {
        fn any_text<'a>(patterns: &[String], values: impl IntoIterator<Item = &'a str> + Clone) -> bool {
            patterns.is_empty() || patterns.iter().any(|p| values.clone().into_iter().any(|v| glob(p, v)))
        }
        !self.is_empty()
            && any_text(&self.vendor_class, f.vendor_class.as_deref())
            && any_text(&self.user_class, f.user_class.iter().map(String::as_str))
            && (self.arch.is_empty() || f.arch.iter().any(|a| self.arch.iter().any(|m| m.matches(*a))))
            && (self.mac_prefix.is_empty() || self.mac_prefix.iter().any(|p| f.hw.as_bytes().starts_with(&p.0)))
            && any_text(&self.circuit_id, f.circuit_id.as_deref())
            && any_text(&self.remote_id, f.remote_id.as_deref())
            && any_text(&self.hostname, f.hostname.as_deref())
    }
}

/// `*` and `?` wildcards over characters; everything else literal. Case-sensitive, as the client sent it.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Iterative matching with one backtrack point: linear for the patterns admins write.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A client system architecture (option 93, RFC 4578 §2.1 and the IANA registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// 0: x86 BIOS (legacy PXE).
    Bios,
    /// 6: x86 UEFI.
    EfiIa32,
    /// 7 and 9: x64 UEFI (both numbers are in use for it).
    EfiX64,
    /// 10: 32-bit ARM UEFI.
    EfiArm32,
    /// 11: 64-bit ARM UEFI.
    EfiArm64,
    /// Any number, as sent.
    Number(u16),
}

impl Arch {
    const NAMES: [(&'static str, Arch); 5] = [
        ("bios", Arch::Bios),
        ("efi-ia32", Arch::EfiIa32),
        ("efi-x64", Arch::EfiX64),
        ("efi-arm32", Arch::EfiArm32),
        ("efi-arm64", Arch::EfiArm64),
    ];

    pub fn matches(self, sent: u16) -> bool {
        match self {
            Arch::Bios => sent == 0,
            Arch::EfiIa32 => sent == 6,
            Arch::EfiX64 => sent == 7 || sent == 9,
            Arch::EfiArm32 => sent == 10,
            Arch::EfiArm64 => sent == 11,
            Arch::Number(n) => sent == n,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Arch::NAMES.iter().find(|(_, a)| a == self) {
            Some((name, _)) => f.write_str(name),
            None => match self {
                Arch::Number(n) => write!(f, "{n}"),
                _ => Ok(()),
            },
        }
    }
}

impl Serialize for Arch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Arch::Number(n) => s.serialize_u16(*n),
            named => s.collect_str(named),
        }
    }
}

impl<'de> Deserialize<'de> for Arch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u16),
            Name(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Arch::Number(n)),
            Raw::Name(s) => Arch::NAMES.iter().find(|(name, _)| *name == s).map(|&(_, a)| a).ok_or_else(|| {
                let names: Vec<&str> = Arch::NAMES.iter().map(|(n, _)| *n).collect();
                serde::de::Error::custom(format!("`{s}` is no architecture: use a number or {}", names.join(", ")))
            }),
        }
    }
}

/// The first bytes of a hardware address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacPrefix(pub Vec<u8>);

impl std::str::FromStr for MacPrefix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bytes: Result<Vec<u8>, _> = s.split([':', '-']).map(|b| u8::from_str_radix(b, 16)).collect();
        match bytes {
            Ok(b) if !b.is_empty() && b.len() <= 16 => Ok(MacPrefix(b)),
            _ => Err(format!("`{s}` is not a MAC prefix like 00:04:f2")),
        }
    }
}

impl Serialize for MacPrefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"))
    }
}

impl<'de> Deserialize<'de> for MacPrefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// What a client's message says about it, for matching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFacts {
    pub hw: HwAddr,
    pub vendor_class: Option<String>,
    pub user_class: Vec<String>,
    pub arch: Vec<u16>,
    pub circuit_id: Option<String>,
    pub remote_id: Option<String>,
    pub hostname: Option<crate::lease::Hostname>,
}

impl ClientFacts {
    pub fn of(req: &Request) -> Self {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let vendor_class = req.vendor_class.as_deref().map(text);
        // RFC 3004 §4: a sequence of (length, class) pairs.
        let mut user_class = vec![];
        let mut rest = req.user_class.as_deref().unwrap_or_default();
        while let Some((&len, tail)) = rest.split_first() {
            let n = usize::from(len).min(tail.len());
            user_class.push(text(&tail[..n]));
            rest = &tail[n..];
        }
        let arch = req.arch.into_iter().collect();
        // Option 82 counts only when a relay put it there (giaddr set); a client cannot claim a port.
        let relay_info = req.relay_info.as_ref().filter(|_| req.relayed());
        let circuit_id = relay_info.and_then(|i| i.circuit_id()).map(text);
        let remote_id = relay_info.and_then(|i| i.remote_id()).map(text);
        ClientFacts {
            hw: req.hw,
            vendor_class,
            user_class,
            arch,
            circuit_id,
            remote_id,
            hostname: req.hostname.clone(),
        }
    }
}

/// The classes a client belongs to in one subnet: the configured ones that match (indices, in config
/// order), and its reservation there if it has one (which makes it `known`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    pub classes: Vec<usize>,
    /// The reservation's place in the subnet's list: looked up once per request, not by every step that
    /// asks whether the client has one.
    pub reservation: Option<usize>,
}

impl Membership {
    pub fn of(classes: &[ClientClass], facts: &ClientFacts, reservation: Option<usize>) -> Self {
        let classes = classes.iter().enumerate().filter(|(_, c)| c.when.matches(facts)).map(|(i, _)| i).collect();
        Membership { classes, reservation }
    }

    /// Whether the client has a reservation in the subnet (the built-in class `known`).
    pub fn known(&self) -> bool {
        self.reservation.is_some()
    }

    /// Whether the client is in the class named `name` (a configured one, or `known`/`unknown`).
    pub fn is_in(&self, all: &[ClientClass], name: &str) -> bool {
        match name {
            KNOWN => self.known(),
            UNKNOWN => !self.known(),
            _ => self.classes.iter().any(|&i| all.get(i).is_some_and(|c| c.name == name)),
        }
    }

    /// The matching classes, first first.
    pub fn classes<'a>(&self, all: &'a [ClientClass]) -> Vec<&'a ClientClass> {
        self.classes.iter().filter_map(|&i| all.get(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_shells_do() {
        for (p, t, want) in [
            ("PXEClient*", "PXEClient:Arch:00007:UNDI:003016", true),
            ("PXEClient*", "pxeclient", false),
            ("*phone*", "my-phone-1", true),
            ("printer-??", "printer-12", true),
            ("printer-??", "printer-123", false),
            ("", "", true),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ] {
            assert_eq!(glob(p, t), want, "{p} ~ {t}");
        }
    }

    fn class(json: &str) -> ClientClass {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_condition_must_hold_and_any_pattern_of_one() {
        let c = class(r#"{"name": "uefi-pxe", "match": {"vendor_class": ["PXEClient*"], "arch": ["efi-x64", 11]}}"#);
        let mut f =
            ClientFacts { vendor_class: Some("PXEClient:Arch:00007".into()), arch: vec![7], ..Default::default() };
        assert!(c.when.matches(&f));
        f.arch = vec![9];
        assert!(c.when.matches(&f), "9 is x64 UEFI too");
        f.arch = vec![11];
        assert!(c.when.matches(&f));
        f.arch = vec![0];
        assert!(!c.when.matches(&f), "a BIOS client is not in it");
        f.arch = vec![7];
        f.vendor_class = None;
        assert!(!c.when.matches(&f), "both conditions must hold");
        // No conditions: never.
        assert!(!class(r#"{"name": "empty"}"#).when.matches(&f));
    }

    #[test]
    fn mac_prefix_relay_ids_and_user_classes_match() {
        let c = class(r#"{"name": "x", "match": {"mac_prefix": ["00:04:f2"]}}"#);
        let f = ClientFacts { hw: HwAddr::ethernet([0, 4, 0xf2, 1, 2, 3]), ..Default::default() };
        assert!(c.when.matches(&f));
        assert!(!c.when.matches(&ClientFacts::default()));
        let c = class(r#"{"name": "x", "match": {"circuit_id": ["vlan7"], "user_class": ["iPXE"]}}"#);
        let f = ClientFacts {
            circuit_id: Some("vlan7".into()),
            user_class: vec!["a".into(), "iPXE".into()],
            ..Default::default()
        };
        assert!(c.when.matches(&f));
        assert!(serde_json::from_str::<ClientClass>(r#"{"name": "x", "match": {"arch": ["ppc"]}}"#).is_err());
        assert!(serde_json::from_str::<ClientClass>(r#"{"name": "x", "match": {"mac_prefix": ["zz"]}}"#).is_err());
    }
}
