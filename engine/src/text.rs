//! A sentence in both of the lab's languages: the narrator's unit, shared by the simulator, `probe` and
//! `watch`.

use serde::{Deserialize, Serialize};

/// A sentence in English and Simplified Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Text {
    pub en: String,
    pub zh: String,
}

impl Text {
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Self {
        Text { en: en.into(), zh: zh.into() }
    }
}

/// `n` and an English noun that takes `s` in the plural: "1 lease", "2 leases", "0 leases". (Chinese
/// needs no plural.)
pub fn counted(n: usize, one: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {one}s"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(super::counted(1, "lease"), "1 lease");
        assert_eq!(super::counted(0, "lease"), "0 leases");
        assert_eq!(super::counted(2, "server"), "2 servers");
    }
}
