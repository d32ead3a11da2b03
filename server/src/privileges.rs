//! `[dhcp] user`: started as root (to bind port 67 and its sockets to their interfaces), the daemon becomes
//! an ordinary user once everything privileged is done, keeping no capability at all: its sockets stay
//! bound, and nothing it does later needs more.

use nix::unistd::{Gid, Uid, User, setgid, setgroups, setuid};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("[dhcp] user `{0}` does not exist")]
    NoSuchUser(String),
    #[error("[dhcp] user `{user}`: the daemon runs as uid {uid} and is not root, so it cannot become that user")]
    NotRoot { user: String, uid: u32 },
    #[error("becoming `{user}`: {source}")]
    Switch { user: String, source: nix::Error },
    #[error("giving the lease database {path} to `{user}`: {source}")]
    Chown { user: String, path: String, source: std::io::Error },
}

/// Becomes `user`, after handing it the SQLite lease database's files (SQLite writes its journal beside
/// them); a networked database has none.
pub fn become_user(user: &str, db: Option<&Path>) -> Result<(), PrivilegeError> {
    let u = User::from_name(user)
        .map_err(|source| PrivilegeError::Switch { user: user.into(), source })?
        .ok_or_else(|| PrivilegeError::NoSuchUser(user.into()))?;
    if !Uid::effective().is_root() {
        if Uid::effective() == u.uid {
            return Ok(());
        }
        return Err(PrivilegeError::NotRoot { user: user.into(), uid: Uid::effective().as_raw() });
    }
    for suffix in db.map_or(&[][..], |_| &["", "-wal", "-shm"][..]) {
        let Some(db) = db else { break };
        let path = format!("{}{suffix}", db.display());
        if Path::new(&path).exists() {
            std::os::unix::fs::chown(&path, Some(u.uid.as_raw()), Some(u.gid.as_raw()))
                .map_err(|source| PrivilegeError::Chown { user: user.into(), path, source })?;
        }
    }
    let switch = |source| PrivilegeError::Switch { user: user.into(), source };
    // Groups first, then the group, then the user: after setuid nothing else may be changed.
    setgroups(&[u.gid]).map_err(switch)?;
    setgid(Gid::from_raw(u.gid.as_raw())).map_err(switch)?;
    setuid(u.uid).map_err(switch)?;
    Ok(())
}
