//! The live bridge (`GET /ws`): the engine publishes each change once; every watcher gets a snapshot and
//! then the changes after it, in order. The messages themselves are `dhcplab_engine::bridge::Update`.

pub mod publisher;
pub mod watcher;
