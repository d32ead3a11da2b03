//! How an exchange seen on the wire ended, in one sentence.

use crate::duration_text;
use crate::text::Text;
use crate::time::Duration;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Outcome {
    /// An ACK: a new lease, or one extended.
    Bound {
        ip: Ipv4Addr,
        server: Ipv4Addr,
        lease_secs: Option<u32>,
        took_ms: u64,
        renewal: bool,
    },
    /// A NAK, with what the server said.
    Refused {
        server: Ipv4Addr,
        message: Option<String>,
    },
    Released {
        ip: Ipv4Addr,
    },
    Declined {
        ip: Ipv4Addr,
    },
    /// An INFORM answered (options only).
    Informed {
        server: Ipv4Addr,
    },
}

impl Outcome {
    /// The sentence, about `who` (the client).
    pub fn text(&self, who: &str) -> Text {
        match self {
            Outcome::Bound { ip, server, lease_secs, took_ms, renewal } => {
                let lease =
                    lease_secs.map(|s| duration_text::format(Duration::from_secs(u64::from(s)))).unwrap_or_default();
                let (en, zh) = if *renewal { ("renewed", "续租了") } else { ("bound", "获得了") };
                // Times are whole milliseconds: 0 is an exchange quicker than one (a server on the LAN).
                let (took_en, took_zh) = match took_ms {
                    0 => ("within a millisecond of its first message".to_string(), "不到 1 ms".to_string()),
                    // A space between Chinese and a number, none before 不到.
                    ms => (format!("{ms} ms from its first message"), format!(" {ms} ms")),
                };
                Text::new(
                    format!("⇒ {who} {en} {ip} for {lease} from {server} ({took_en})."),
                    format!("⇒ {who} 从 {server} {zh} {ip}，租期 {lease}（从第一个报文起用时{took_zh}）。"),
                )
            }
            Outcome::Refused { server, message } => {
                let said = message.as_ref().map(|m| format!(": \"{m}\"")).unwrap_or_default();
                Text::new(
                    format!("⇒ {who} was refused by {server}{said}; it starts again with DISCOVER (RFC 2131 §3.2)."),
                    format!("⇒ {who} 被 {server} 拒绝{said}；它将重新从 DISCOVER 开始（RFC 2131 §3.2）。"),
                )
            }
            Outcome::Released { ip } => Text::new(
                format!("⇒ {who} gave {ip} back; the address is free for others."),
                format!("⇒ {who} 归还了 {ip}；该地址可以分配给其他客户端。"),
            ),
            Outcome::Declined { ip } => Text::new(
                format!("⇒ {who} found {ip} in use and declined it; the server quarantines it."),
                format!("⇒ {who} 发现 {ip} 已被占用并拒绝了它；服务器将其隔离。"),
            ),
            Outcome::Informed { server } => Text::new(
                format!("⇒ {who} got its options from {server}."),
                format!("⇒ {who} 从 {server} 获得了配置参数。"),
            ),
        }
    }
}
