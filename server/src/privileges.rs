//! `[dhcp] user`: started as root (to bind port 67 and its sockets to their interfaces), the daemon becomes
//! an ordinary user once everything privileged is done, keeping no capability at all: its sockets stay
//! bound, and nothing it does later needs more.

use nix::unistd::{Gid, Uid, User, setgid, setgroups, setuid};
use std::path::{Path, PathBuf};

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
/// them, the daemon its change log); a networked database has none.
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
    if let Some(db) = db {
        // The change log's directory too: the daemon makes a new segment in it every second.
        let log = crate::store::change_log::dir_of(db);
        let mut paths: Vec<PathBuf> =
            ["", "-wal", "-shm"].iter().map(|s| format!("{}{s}", db.display()).into()).collect();
        paths.extend(std::fs::read_dir(&log).into_iter().flatten().filter_map(|e| Some(e.ok()?.path())));
        paths.push(log);
        for path in paths {
            match std::os::unix::fs::chown(&path, Some(u.uid.as_raw()), Some(u.gid.as_raw())) {
                // Not made, or gone meanwhile (a spare segment renamed into the log): nothing to hand over.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                r => r.map_err(|source| PrivilegeError::Chown {
                    user: user.into(),
                    path: path.display().to_string(),
                    source,
                })?,
            }
        }
    }
    let switch = |source| PrivilegeError::Switch { user: user.into(), source };
    // Groups first, then the group, then the user: after setuid nothing else may be changed.
    setgroups(&[u.gid]).map_err(switch)?;
    setgid(Gid::from_raw(u.gid.as_raw())).map_err(switch)?;
    setuid(u.uid).map_err(switch)?;
    Ok(())
}
