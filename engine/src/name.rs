//! A name a lease record carries beside its client's: the server that made it, its client class, its name
//! in DNS. Most records have none, and many share one (every record a server makes names that server), so
//! it is one thin shared pointer: 8 bytes in a record, where `Option<Arc<str>>` took 16.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Arc<Box<str>>);

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(Arc::new(s.into()))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(Arc::new(s.into_boxed_str()))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Name::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_one_pointer_and_reads_as_its_text() {
        assert_eq!(std::mem::size_of::<Option<Name>>(), 8);
        let n = Name::from("lab.example.");
        assert_eq!(
            (&*n, n.to_string(), format!("{n:?}")),
            ("lab.example.", "lab.example.".into(), "\"lab.example.\"".into())
        );
        let json = serde_json::to_string(&Some(n.clone())).unwrap();
        assert_eq!(json, "\"lab.example.\"");
        assert_eq!(serde_json::from_str::<Option<Name>>(&json).unwrap(), Some(n));
    }
}
