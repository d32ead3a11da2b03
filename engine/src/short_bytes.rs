//! A short byte string, as client identifiers are, kept without a heap allocation.
//!
//! A client identifier is read from every request and then held by the offer, the lease, each of its
//! events and the store's change: as a boxed slice each was an allocation on the packet path, and each
//! lease's identifier a heap block of its own. Most fit in the value itself (a type-1 identifier with a
//! MAC is 7 bytes, RFC 4361's IAID and DUID about 19); a longer one is shared, so copies stay cheap. A
//! request's parameter list and vendor class are kept so too: real clients send 7 to 20 codes, and
//! `MSFT 5.0` or `android-dhcp-14`, in every DISCOVER and REQUEST.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// The most bytes kept in the value: what fits beside the length in the 24 bytes a shared slice and the
/// variant's tag take anyway.
const INLINE: usize = 22;

#[derive(Clone)]
pub struct ShortBytes(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<[u8]>),
}

impl ShortBytes {
    pub fn new(b: &[u8]) -> Self {
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..b.len()].copy_from_slice(b);
                ShortBytes(Repr::Inline { len, bytes })
            }
            _ => ShortBytes(Repr::Shared(b.into())),
        }
    }
}

impl Deref for ShortBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Shared(b) => b,
        }
    }
}

impl From<&[u8]> for ShortBytes {
    fn from(b: &[u8]) -> Self {
        ShortBytes::new(b)
    }
}

impl From<Vec<u8>> for ShortBytes {
    fn from(b: Vec<u8>) -> Self {
        ShortBytes::new(&b)
    }
}

// Equal, ordered and hashed by content, however each is kept.
impl PartialEq for ShortBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for ShortBytes {}

impl Hash for ShortBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl fmt::Debug for ShortBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash(b: &ShortBytes) -> u64 {
        let mut h = DefaultHasher::new();
        b.hash(&mut h);
        h.finish()
    }

    #[test]
    fn short_and_long_values_read_back_and_compare_by_content() {
        for len in [0, 1, 7, 19, INLINE, INLINE + 1, 130] {
            let v: Vec<u8> = (0..len as u8).collect();
            let b = ShortBytes::from(v.clone());
            assert_eq!(&*b, &v[..], "{len} bytes");
            assert_eq!(matches!(b.0, Repr::Inline { .. }), len <= INLINE, "{len} bytes kept inline");
            let copy = b.clone();
            assert_eq!(copy, b);
            assert_eq!(hash(&copy), hash(&b));
            // The hash is the slice's, as a map keyed by bytes expects.
            let mut h = DefaultHasher::new();
            v[..].hash(&mut h);
            assert_eq!(hash(&b), h.finish());
        }
        assert_ne!(ShortBytes::new(&[1, 2]), ShortBytes::new(&[1, 2, 0]), "trailing zeros count");
    }

    #[test]
    fn it_takes_no_more_room_than_a_shared_slice_and_its_tag() {
        assert_eq!(std::mem::size_of::<ShortBytes>(), 24);
        assert_eq!(std::mem::size_of::<Option<ShortBytes>>(), 24);
    }
}
