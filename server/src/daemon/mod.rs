//! The daemon's core: the engine's loop (the only owner of the `Server`, with the packet threads it
//! shares it with), the commands the API sends it, the commits that make leases durable before their ACKs
//! (made on the engine's thread or the committer's), and the daemon's clock.

mod ack_pacing;
mod answer;
mod backlog;
pub mod clock;
pub mod command;
mod commits;
pub mod committer;
pub mod engine_loop;
mod inline_commit;
mod lease_log;
mod packet_path;
mod packet_thread;
pub mod peers;
mod poller;
mod timer;
mod wake;

pub use clock::Clock;
pub use command::{Command, CommandSender};
pub use committer::Counters;
pub use engine_loop::Engine;
