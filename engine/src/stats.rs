//! Packet and drop counters, named after Kea's statistics so dashboards and alerts carry over.

use crate::message::DhcpMessage;
use crate::packet::DropReason;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counts per message type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageCounts {
    pub discover: u64,
    pub request: u64,
    pub decline: u64,
    pub release: u64,
    pub inform: u64,
    pub offer: u64,
    pub ack: u64,
    pub nak: u64,
}

impl MessageCounts {
    pub fn count(&mut self, m: DhcpMessage) {
        *self.of_mut(m) += 1;
    }

    pub fn of(&self, m: DhcpMessage) -> u64 {
        let mut copy = *self;
        *copy.of_mut(m)
    }

    fn of_mut(&mut self, m: DhcpMessage) -> &mut u64 {
        match m {
            DhcpMessage::Discover => &mut self.discover,
            DhcpMessage::Offer => &mut self.offer,
            DhcpMessage::Request => &mut self.request,
            DhcpMessage::Decline => &mut self.decline,
            DhcpMessage::Ack => &mut self.ack,
            DhcpMessage::Nak => &mut self.nak,
            DhcpMessage::Release => &mut self.release,
            DhcpMessage::Inform => &mut self.inform,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every packet handed to the server (`pkt4-received`).
    pub received: u64,
    /// Every reply queued (`pkt4-sent`).
    pub sent: u64,
    /// Valid client messages by type (`pkt4-discover-received`, …).
    pub received_by_type: MessageCounts,
    /// Replies by type (`pkt4-offer-sent`, …).
    pub sent_by_type: MessageCounts,
    /// Dropped packets by reason (`pkt4-receive-drop` is their sum).
    pub dropped: BTreeMap<DropReason, u64>,
    /// Offers withdrawn because the pool was full of offers and a newer DISCOVER needed an address (a
    /// DISCOVER flood shows here).
    #[serde(default)]
    pub offers_reclaimed: u64,
    /// Offers given up to an earlier offer's client whose REQUEST for the address came first (the flood took
    /// its offer before it came back).
    #[serde(default)]
    pub offers_taken: u64,
    /// Declined addresses let out of quarantine early because a quarter of the pool was quarantined (a
    /// DECLINE flood shows here).
    #[serde(default)]
    pub quarantine_evictions: u64,
    /// Pings sent before an OFFER (`conflict_probe`).
    #[serde(default)]
    pub conflict_probes: u64,
    /// Addresses that answered such a ping and were quarantined.
    #[serde(default)]
    pub conflicts: u64,
    /// Replies that left options out to fit the client's maximum message size (576 octets unless it named
    /// more in option 57).
    #[serde(default)]
    pub replies_shortened: u64,
    /// OFFERs and ACKs given to members of each client class (a client in two classes counts in both).
    #[serde(default)]
    pub class_replies: BTreeMap<String, u64>,
}

impl Stats {
    pub fn count_drop(&mut self, reason: DropReason) {
        *self.dropped.entry(reason).or_default() += 1;
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// Drops of unreadable packets (`pkt4-parse-failed`).
    pub fn parse_failed(&self) -> u64 {
        self.dropped.iter().filter(|(r, _)| r.is_parse_failure()).map(|(_, n)| n).sum()
    }
}
