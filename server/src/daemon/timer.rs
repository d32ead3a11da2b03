//! The engine's timers as Linux timerfds, polled with its sockets. A timerfd is armed only when the
//! engine's deadline moves, and the loop then waits for packets without a timeout: a `poll` with a timeout
//! would arm a kernel hrtimer on every wait (costly on a virtual machine, at thousands of waits a second).

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

pub struct FdTimer(TimerFd);

impl FdTimer {
    /// A disarmed timer on the monotonic clock.
    pub fn new() -> io::Result<Self> {
        Ok(FdTimer(TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?))
    }

    /// Fires once, `after` from now (never, with `None`).
    pub fn once(&self, after: Option<Duration>) -> io::Result<()> {
        match after {
            // A zero expiry would disarm it: a deadline already passed fires at once instead.
            Some(d) => self.0.set(
                Expiration::OneShot(TimeSpec::from_duration(d.max(Duration::from_nanos(1)))),
                TimerSetTimeFlags::empty(),
            )?,
            None => self.0.unset()?,
        }
        Ok(())
    }

    /// Fires every `period`.
    pub fn every(&self, period: Duration) -> io::Result<()> {
        self.0.set(Expiration::Interval(TimeSpec::from_duration(period)), TimerSetTimeFlags::empty())?;
        Ok(())
    }

    /// How many times the timer has fired since the last call (0 if it has not: it was re-armed after
    /// `poll` saw it readable, or nothing happened).
    pub fn fired(&self) -> u64 {
        let mut count = [0u8; 8];
        match nix::unistd::read(self.0.as_fd(), &mut count) {
            Ok(8) => u64::from_ne_bytes(count),
            _ => 0,
        }
    }
}

impl AsFd for FdTimer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

    /// Waits up to `ms` for the timer to be readable.
    fn readable_within(t: &FdTimer, ms: u16) -> bool {
        let mut fds = [PollFd::new(t.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(ms)).unwrap() == 1
    }

    #[test]
    fn fires_once_when_armed_and_not_when_disarmed() {
        let t = FdTimer::new().unwrap();
        assert_eq!(t.fired(), 0, "a new timer is disarmed");
        t.once(Some(Duration::from_millis(5))).unwrap();
        let started = std::time::Instant::now();
        assert!(readable_within(&t, 2000));
        assert!(started.elapsed() >= Duration::from_millis(5));
        assert_eq!(t.fired(), 1);
        assert_eq!(t.fired(), 0, "read once");
        t.once(Some(Duration::from_millis(5))).unwrap();
        t.once(None).unwrap();
        assert!(!readable_within(&t, 30), "a disarmed timer fired");
        t.once(Some(Duration::ZERO)).unwrap();
        assert!(readable_within(&t, 2000), "a deadline already passed fires at once");
        assert_eq!(t.fired(), 1);
    }
}
