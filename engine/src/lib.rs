//! dhcplab's protocol engine: sans-IO DHCPv4 server (and client) state machines.
//!
//! No sockets, threads, clock reads or global randomness: the caller passes `now`, packets and a seed in,
//! and drains replies, events and the next deadline out. The daemon, the browser lab, the simulator and the
//! tests all drive these same state machines.

mod addr_key;
pub mod allocator;
pub mod arbiter;
pub mod bridge;
pub mod builder;
pub mod capture;
pub mod class;
pub mod client;
mod client_index;
pub mod config;
pub mod ddns;
pub mod dissect;
pub mod duration_text;
pub mod event;
pub mod freeset;
#[doc(hidden)]
pub mod fuzzing;
pub mod hex_text;
pub mod hwaddr;
pub mod lease;
pub mod lease_table;
pub mod message;
pub mod name;
pub mod narrate;
pub mod packet;
pub mod pcap;
pub mod probe;
pub mod relay;
pub mod relay_info;
pub mod reply;
pub mod server;
pub mod short_bytes;
pub mod sim;
pub mod stats;
pub mod stored_leases;
pub mod subnet;
pub mod text;
pub mod time;
pub mod watch;

pub use config::{ServerConfig, SubnetConfig};
pub use event::{LeaseEvent, LeaseEventKind};
pub use hwaddr::HwAddr;
pub use lease::{ClientKey, ClientKeyRef, Hostname, KeyedBy, Lease, LeaseState};
pub use server::{RecvMeta, Server, Transmit};
pub use time::{Duration, Instant};
