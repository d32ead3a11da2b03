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
