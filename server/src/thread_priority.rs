//! A thread's own CPU priority (its nice value). The daemon's threads run at priorities by role: the
//! committer at the daemon's own, reading threads a little below it when there are several, the HTTP side
//! well below, the store's background work lowest. Raising one's nice value needs no privilege; on Linux a
//! thread id is a process id to `getpriority` and `setpriority`, so each call touches the calling thread only.

use std::io;

/// The calling thread's nice value (0 when it cannot be read).
pub fn own_nice() -> i32 {
    // SAFETY: gettid takes nothing; getpriority reads its two integer arguments only.
    let n = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
    // -1 is also the error return; the calling thread always exists, so it is the value.
    n.clamp(-20, 19)
}

/// Sets the calling thread's nice value, kept within -20..=19.
pub fn set_own_nice(nice: i32) -> io::Result<()> {
    // SAFETY: gettid takes nothing; setpriority reads its three integer arguments only.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice.clamp(-20, 19)) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_sets_its_own_nice_value_and_no_other_thread_s() {
        let base = own_nice();
        let theirs = std::thread::spawn(move || {
            set_own_nice(base + 3).unwrap();
            own_nice()
        });
        assert_eq!(theirs.join().unwrap(), (base + 3).min(19));
        assert_eq!(own_nice(), base, "only the calling thread is changed");
    }
}
