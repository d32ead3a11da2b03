//! The daemon's core: the engine's loop (the only owner of the `Server`), the commands the API sends it,
//! the committer that makes leases durable before their ACKs, and the daemon's clock.

mod ack_pacing;
mod answer;
pub mod clock;
pub mod command;
pub mod committer;
pub mod engine_loop;
mod lease_log;
pub mod peers;
mod poller;
mod timer;
mod wake;

pub use clock::Clock;
pub use command::{Command, CommandSender};
pub use committer::Counters;
pub use engine_loop::Engine;
