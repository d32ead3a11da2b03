//! Bytes as colon-separated lowercase hex (`52:54:00:12:34:56`): the text of hardware addresses and client
//! identifiers in the API, the lease files and the change log. Written a chunk at a time rather than a
//! `write!` per byte: it is formatted for every lease the daemon stores.

use std::fmt;

const DIGITS: &[u8; 16] = b"0123456789abcdef";
/// Bytes formatted per `write_str`.
const CHUNK: usize = 32;

/// Writes `bytes` to `f` as `aa:bb:…` (nothing for no bytes).
pub fn write_colon_hex(bytes: &[u8], f: &mut impl fmt::Write) -> fmt::Result {
    let mut text = [0u8; CHUNK * 3];
    for (n, chunk) in bytes.chunks(CHUNK).enumerate() {
        let mut len = 0;
        for (i, b) in chunk.iter().enumerate() {
            if n > 0 || i > 0 {
                text[len] = b':';
                len += 1;
            }
            text[len] = DIGITS[usize::from(b >> 4)];
            text[len + 1] = DIGITS[usize::from(b & 0xf)];
            len += 2;
        }
        // Only ASCII digits, letters and colons were written.
        f.write_str(std::str::from_utf8(&text[..len]).map_err(|_| fmt::Error)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> String {
        let mut s = String::new();
        write_colon_hex(bytes, &mut s).unwrap();
        s
    }

    #[test]
    fn bytes_read_as_colon_separated_hex_across_chunks() {
        assert_eq!(text(&[]), "");
        assert_eq!(text(&[0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]), "52:54:00:ab:cd:ef");
        let long: Vec<u8> = (0..=255u8).collect();
        let expected: Vec<String> = long.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(text(&long), expected.join(":"), "past one chunk, no colon lost or doubled");
    }
}
