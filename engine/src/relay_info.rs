//! Option 82, the relay agent information (RFC 3046), as a relay agent added it to a client's request.
//!
//! It is kept as the relay sent it, for every reply echoes the whole option unchanged (§2.2): a relay may
//! compare what comes back with what it sent, or find its own state in sub-options the server knows
//! nothing of. Decoding it into a map of sub-options and encoding that again would sort them, fold
//! repeated ones and drop what does not decode. The server reads the few sub-options it uses from the
//! bytes.

use std::net::Ipv4Addr;

/// The value of option 82 (its parts joined, RFC 3396), without its code and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayAgentInfo(Vec<u8>);

/// Sub-option 1: the circuit (port, VLAN) the request came in on.
const CIRCUIT_ID: u8 = 1;
/// Sub-option 2: the relay's name for the remote end (a modem, a subscriber line).
const REMOTE_ID: u8 = 2;
/// Sub-option 5 (RFC 3527): the subnet the client is on, when it is not giaddr's.
const LINK_SELECTION: u8 = 5;

impl RelayAgentInfo {
    pub fn new(value: Vec<u8>) -> Self {
        RelayAgentInfo(value)
    }

    /// The option's value as the relay sent it: what a reply echoes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value of the first sub-option `code` (RFC 3046 §2.0: code, length, value, no padding), read
    /// up to the first one that runs past the option's end.
    pub fn sub_option(&self, code: u8) -> Option<&[u8]> {
        let mut rest = self.0.as_slice();
        while let [c, len, tail @ ..] = rest {
            let value = tail.get(..usize::from(*len))?;
            if *c == code {
                return Some(value);
            }
            rest = &tail[value.len()..];
        }
        None
    }

    pub fn circuit_id(&self) -> Option<&[u8]> {
        self.sub_option(CIRCUIT_ID)
    }

    pub fn remote_id(&self) -> Option<&[u8]> {
        self.sub_option(REMOTE_ID)
    }

    /// The subnet the relay says the client is on (RFC 3527), when the sub-option is an address.
    pub fn link_selection(&self) -> Option<Ipv4Addr> {
        let value = self.sub_option(LINK_SELECTION)?;
        <[u8; 4]>::try_from(value).ok().map(Ipv4Addr::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_options_are_found_in_the_bytes_as_sent() {
        let info = RelayAgentInfo::new([&[2, 3][..], b"cpe", &[9, 1, 7], &[1, 2], b"p1", &[1, 2], b"p2"].concat());
        assert_eq!(info.remote_id(), Some(&b"cpe"[..]));
        assert_eq!(info.circuit_id(), Some(&b"p1"[..]), "the first of two");
        assert_eq!(info.sub_option(9), Some(&[7][..]));
        assert_eq!(info.link_selection(), None);
    }

    #[test]
    fn a_sub_option_that_runs_past_the_end_ends_the_reading() {
        let info = RelayAgentInfo::new(vec![5, 4, 10, 2, 0, 0, 1, 9, b'x']);
        assert_eq!(info.link_selection(), Some(Ipv4Addr::new(10, 2, 0, 0)));
        assert_eq!(info.circuit_id(), None);
        // A link selection that is not four bytes names no subnet.
        assert_eq!(RelayAgentInfo::new(vec![5, 3, 10, 2, 0]).link_selection(), None);
        assert_eq!(RelayAgentInfo::new(vec![]).circuit_id(), None);
        assert_eq!(RelayAgentInfo::new(vec![1]).circuit_id(), None);
    }
}
