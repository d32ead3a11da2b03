//! The dhcplab web app: the lab (the engine in the browser) and the dashboard (a daemon's live leases).
//! A library so component tests can mount its parts; `main.rs` only starts it.

pub mod app;
pub mod capture;
pub mod dashboard;
pub mod download;
pub mod i18n;
pub mod keys;
pub mod lab;
pub mod packets;
pub mod shared;
