//! An eventfd that wakes the engine's loop: the loop sleeps in `poll` on its sockets and timers, and
//! whoever hands it work from another thread (an API command, room in the store's queue) writes here.

use nix::sys::eventfd::{EfdFlags, EventFd};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

pub struct Wake(EventFd);

impl Wake {
    pub fn new() -> io::Result<Self> {
        Ok(Wake(EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)?))
    }

    /// Makes the descriptor readable until the next `clear`. Several wakes before it read as one.
    pub fn wake(&self) {
        // Fails only when the counter would overflow (2^64 − 2 wakes unread): it is readable then anyway.
        let _ = self.0.write(1);
    }

    /// Takes the wakes so far; the loop calls it before it looks for the work they announced.
    pub fn clear(&self) {
        let _ = self.0.read();
    }
}

impl AsFd for Wake {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
