//! What the store's tests share: a lease, and a fresh directory for a database.

use dhcplab_engine::config::HexBytes;
use dhcplab_engine::{Instant, KeyedBy, Lease, LeaseState};
use std::path::PathBuf;

pub fn lease(ip: &str, state: LeaseState) -> Lease {
    Lease {
        ip: ip.parse().unwrap(),
        subnet: "192.0.2.0/24".parse().unwrap(),
        keyed_by: KeyedBy::ClientId,
        hw: "52:54:00:01:02:03".parse().unwrap(),
        client_id: Some(HexBytes(vec![1, 0x52, 0x54, 0, 1, 2, 3].into())),
        hostname: Some("<img src=x>".into()),
        state,
        obtained: Instant::from_millis(1_700_000_000_000),
        expires: Instant::from_millis(1_700_000_021_600),
        lease_secs: 21_600,
        server: None,
        class: None,
        dns_name: None,
    }
}

/// An empty directory of its own for the test `name` (emptied if a earlier run left it), and the path of a
/// database inside it.
pub fn fresh_db(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("dhcplab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("leases.sqlite3");
    (dir, path)
}
