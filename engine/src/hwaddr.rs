//! Client hardware addresses (chaddr). Ethernet is 6 bytes, but the field holds up to 16 (RFC 2131 §2).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A hardware address of 0–16 bytes, shown as `52:54:00:12:34:56`.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct HwAddr {
    bytes: [u8; 16],
    len: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HwAddrError {
    #[error("hardware address longer than 16 bytes")]
    TooLong,
    #[error("`{0}` is not a hardware address like 52:54:00:12:34:56")]
    Syntax(String),
}

impl HwAddr {
    pub fn new(bytes: &[u8]) -> Result<Self, HwAddrError> {
        if bytes.len() > 16 {
            return Err(HwAddrError::TooLong);
        }
        let mut b = [0u8; 16];
        b[..bytes.len()].copy_from_slice(bytes);
        Ok(HwAddr { bytes: b, len: bytes.len() as u8 })
    }

    pub const fn ethernet(mac: [u8; 6]) -> Self {
        let mut b = [0u8; 16];
        let mut i = 0;
        while i < 6 {
            b[i] = mac[i];
            i += 1;
        }
        HwAddr { bytes: b, len: 6 }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Display for HwAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::hex_text::write_colon_hex(self.as_bytes(), f)
    }
}

impl fmt::Debug for HwAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl FromStr for HwAddr {
    type Err = HwAddrError;
    /// Accepts `52:54:00:12:34:56` and `52-54-00-12-34-56`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || HwAddrError::Syntax(s.to_string());
        let hex = |c: Option<&u8>| c.and_then(|c| char::from(*c).to_digit(16));
        // Byte by byte into a buffer on the stack: a million stored leases parse two of these each at
        // start-up, and a `split` on two separators cost more than the rest of the row.
        let text = s.as_bytes();
        let mut out = [0u8; 16];
        let mut len = 0;
        let mut at = 0;
        loop {
            let (Some(hi), Some(lo)) = (hex(text.get(at)), hex(text.get(at + 1))) else { return Err(syntax()) };
            *out.get_mut(len).ok_or(HwAddrError::TooLong)? = (hi << 4 | lo) as u8;
            len += 1;
            match text.get(at + 2) {
                None => break,
                Some(b':' | b'-') => at += 3,
                Some(_) => return Err(syntax()),
            }
        }
        HwAddr::new(&out[..len])
    }
}

impl Serialize for HwAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HwAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let m: HwAddr = "52:54:00:12:34:5A".parse().unwrap();
        assert_eq!(m.to_string(), "52:54:00:12:34:5a");
        assert_eq!(m, HwAddr::ethernet([0x52, 0x54, 0, 0x12, 0x34, 0x5a]));
        assert_eq!("52-54-00-12-34-5a".parse::<HwAddr>().unwrap(), m);
    }

    #[test]
    fn rejects_bad_text_and_long_addresses() {
        assert!("52:54:0".parse::<HwAddr>().is_err());
        assert!("zz:00".parse::<HwAddr>().is_err());
        assert!("".parse::<HwAddr>().is_err());
        for bad in ["+f:00", "52:54:", "52:54:0g", "525:4", "52::54", "52.54"] {
            assert!(bad.parse::<HwAddr>().is_err(), "{bad}");
        }
        assert_eq!("a".repeat(2).parse::<HwAddr>().unwrap().as_bytes(), [0xaa]);
        assert_eq!(["00"; 17].join(":").parse::<HwAddr>(), Err(HwAddrError::TooLong));
        assert_eq!(HwAddr::new(&[0; 17]), Err(HwAddrError::TooLong));
    }
}
