//! A reply no longer than its client can take. A client must accept a 576-octet IP datagram, 312 octets of
//! options (RFC 2131 §2); it may name a larger maximum in option 57 (RFC 2132 §9.10, which counts the IP
//! and UDP headers). Subnets with long options (classless routes, a domain search list, vendor options)
//! can make more than that; then the options the client asked for first (its option 55 order) are kept
//! and the rest left out, so the reply still reaches a client that would drop an oversized one. The sname
//! and file fields are not used for options (no option 52): they may carry the boot server and file.

use crate::packet::Request;
use crate::reply::{self, BOOTP_MIN_LEN};

/// The IP datagram every client takes (RFC 2131 §2, RFC 791).
const MIN_DATAGRAM: usize = 576;
/// IPv4 and UDP headers, counted in option 57's value.
const IP_UDP_HEADERS: usize = 28;
/// The fixed header and the magic cookie, before the options.
const OPTIONS_START: usize = 240;
const PAD: u8 = 0;
const END: u8 = 255;
/// Options kept whatever the client asked for: the message type, server identifier and lease times
/// (RFC 2131 §4.3.1, Table 3), the subnet mask, the client identifier it sent (RFC 6842) and the relay's
/// information (RFC 3046 §2.2).
const KEPT: [u8; 8] = [1, 51, 53, 54, 58, 59, 61, 82];

/// The most bytes of DHCP message `req`'s client takes: 548 unless its option 57 names more (a value
/// under the 576 it must take is read as 576).
pub fn limit(req: &Request) -> usize {
    let datagram = req.max_message_size.map_or(MIN_DATAGRAM, |m| usize::from(m).max(MIN_DATAGRAM));
    datagram - IP_UDP_HEADERS
}

/// Leaves options out of the encoded reply in `buf` until it is at most `limit` bytes: those the client's
/// parameter request list names stay first, in its order, then the rest by code; the `KEPT` ones always
/// stay. Options keep their places and pieces (RFC 3396). Returns how many options were left out.
pub fn fit(buf: &mut Vec<u8>, limit: usize, prl: Option<&[u8]>) -> usize {
    if buf.len() <= limit || buf.len() < OPTIONS_START {
        return 0;
    }
    // Each piece: its code and where it lies.
    let mut pieces = Vec::new();
    let mut at = OPTIONS_START;
    while at < buf.len() {
        match buf[at] {
            PAD => at += 1,
            END => break,
            code => {
                let end = (at + 2 + usize::from(*buf.get(at + 1).unwrap_or(&0))).min(buf.len());
                pieces.push((code, at..end));
                at = end;
            }
        }
    }
    let size = |code: u8| pieces.iter().filter(|(c, _)| *c == code).map(|(_, r)| r.len()).sum::<usize>();
    // Each code once, in code order (an option's pieces may lie apart: RFC 3396 joins them all).
    let mut codes: Vec<u8> = pieces.iter().map(|(c, _)| *c).collect();
    codes.sort_unstable();
    codes.dedup();
    // Room for the options and the END after them.
    let room = limit.saturating_sub(OPTIONS_START + 1);
    let mut used: usize = codes.iter().filter(|c| KEPT.contains(c)).map(|&c| size(c)).sum();
    let asked = prl.unwrap_or_default();
    let mut order: Vec<u8> = asked.iter().copied().filter(|c| codes.contains(c) && !KEPT.contains(c)).collect();
    order.dedup();
    order.extend(codes.iter().copied().filter(|c| !KEPT.contains(c) && !asked.contains(c)));
    let mut keep: Vec<u8> = KEPT.to_vec();
    for code in order {
        if !keep.contains(&code) && used + size(code) <= room {
            used += size(code);
            keep.push(code);
        }
    }
    let dropped = codes.iter().filter(|c| !keep.contains(c)).count();
    let mut out = buf[..OPTIONS_START].to_vec();
    for (code, r) in &pieces {
        if keep.contains(code) {
            out.extend_from_slice(&buf[r.clone()]);
        }
    }
    out.push(END);
    reply::pad(&mut out);
    debug_assert!(BOOTP_MIN_LEN <= out.len());
    *buf = out;
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply's header and cookie, then `options` (code, value) each encoded in pieces of 255 at most.
    fn reply(options: &[(u8, usize)]) -> Vec<u8> {
        let mut buf = vec![0; OPTIONS_START];
        for &(code, len) in options {
            for piece in vec![code; len].chunks(255) {
                buf.extend([code, piece.len() as u8]);
                buf.extend_from_slice(piece);
            }
        }
        buf.push(END);
        reply::pad(&mut buf);
        buf
    }

    fn codes(buf: &[u8]) -> Vec<u8> {
        let mut out = vec![];
        let mut at = OPTIONS_START;
        while buf[at] != END {
            out.push(buf[at]);
            at += 2 + usize::from(buf[at + 1]);
        }
        out
    }

    #[test]
    fn options_asked_for_first_stay_and_an_option_in_pieces_goes_whole() {
        // 53, 54, 51 kept; 6 and 3 asked for; 43 in two pieces (300 bytes), asked for last; 15 not asked.
        let mut buf = reply(&[(3, 4), (6, 8), (15, 20), (43, 300), (51, 4), (53, 1), (54, 4)]);
        assert_eq!(buf.len(), 240 + 6 + 10 + 22 + 304 + 6 + 3 + 6 + 1);
        assert_eq!(fit(&mut buf, 548, Some(&[6, 3, 43])), 1);
        assert_eq!(codes(&buf), [3, 6, 15, 51, 53, 54], "43 left out, both its pieces");
        assert!(buf.len() <= 548 && buf.len() >= BOOTP_MIN_LEN);
        // Room for 43 but not 15 as well: 15, not asked for, goes first.
        let mut buf = reply(&[(3, 4), (6, 8), (15, 20), (43, 250), (51, 4), (53, 1), (54, 4)]);
        assert_eq!(fit(&mut buf, 540, Some(&[6, 3, 43])), 1);
        assert_eq!(codes(&buf), [3, 6, 43, 51, 53, 54]);
        // A reply that fits is left as it is.
        let mut buf = reply(&[(53, 1), (54, 4)]);
        let before = buf.clone();
        assert_eq!(fit(&mut buf, 548, None), 0);
        assert_eq!(buf, before);
    }
}
