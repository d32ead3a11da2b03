//! The DHCP message layout (RFC 2131 §2, options as RFC 2132 §2 frames them) as the benchmark's own tools read
//! it: straight from the bytes, without a decoder's allocations, since the stateless responder is the ceiling
//! every server is measured against and dora-load must cost far less than the server it loads.

use std::ops::Range;

/// The fixed header's length: options follow the magic cookie after it.
pub const HEADER: usize = 236;
pub const COOKIE: [u8; 4] = [99, 130, 83, 99];
pub const BOOTREQUEST: u8 = 1;
pub const BOOTREPLY: u8 = 2;

/// DHCP message types (option 53, RFC 2132 §9.6): the four of a DORA.
pub const DISCOVER: u8 = 1;
pub const OFFER: u8 = 2;
pub const REQUEST: u8 = 3;
pub const ACK: u8 = 5;

/// Calls `each` with every option's code and where its value lies in `p`, if `p` is a message with the op
/// code `op` and a magic cookie; `None` if it is not, or if an option runs past the end.
pub fn for_each_option(p: &[u8], op: u8, mut each: impl FnMut(u8, Range<usize>)) -> Option<()> {
    if p.len() < HEADER + 4 || p[0] != op || p[HEADER..HEADER + 4] != COOKIE {
        return None;
    }
    let mut i = HEADER + 4;
    while i < p.len() {
        match p[i] {
            0 => i += 1,
            255 => break,
            code => {
                let len = *p.get(i + 1)? as usize;
                let value = i + 2..i + 2 + len;
                if value.end > p.len() {
                    return None;
                }
                each(code, value);
                i += 2 + len;
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(op: u8, options: &[u8]) -> Vec<u8> {
        let mut p = vec![0; HEADER];
        p[0] = op;
        p.extend_from_slice(&COOKIE);
        p.extend_from_slice(options);
        p
    }

    #[test]
    fn every_option_is_given_with_its_value_and_pads_are_skipped() {
        let p = message(BOOTREPLY, &[0, 53, 1, 2, 0, 54, 4, 192, 0, 2, 1, 255, 53, 1, 9]);
        let mut seen = vec![];
        assert_eq!(for_each_option(&p, BOOTREPLY, |code, at| seen.push((code, p[at].to_vec()))), Some(()));
        assert_eq!(seen, vec![(53, vec![2]), (54, vec![192, 0, 2, 1])], "nothing after the end option");
    }

    #[test]
    fn another_op_no_cookie_or_a_cut_option_is_not_read() {
        let p = message(BOOTREPLY, &[53, 1, 2, 255]);
        assert_eq!(for_each_option(&p, BOOTREQUEST, |_, _| {}), None);
        assert_eq!(for_each_option(&p[..HEADER + 2], BOOTREPLY, |_, _| {}), None);
        let cut = message(BOOTREPLY, &[53, 1, 2, 54, 4, 192, 0]);
        assert_eq!(for_each_option(&cut, BOOTREPLY, |_, _| {}), None);
    }
}
