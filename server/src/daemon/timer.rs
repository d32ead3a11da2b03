//! The engine's timers as Linux timerfds, polled like its sockets. With tokio's timers armed, every wait for
//! a packet was an `epoll_wait` with a timeout, which arms a kernel hrtimer each time (costly on a virtual
//! machine, at thousands of waits a second). A timerfd is armed only when the deadline moves, and the runtime
//! then waits for packets without a timeout.

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

pub struct FdTimer(AsyncFd<Fd>);

impl FdTimer {
    /// A disarmed timer on the monotonic clock, registered with the runtime entered now.
    pub fn new() -> io::Result<Self> {
        let t = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
        // SAFETY: `Fd` owns the timerfd (an OwnedFd inside TimerFd) and always returns that descriptor,
        // which stays open until the AsyncFd, its owner, is dropped.
        let registered = unsafe { AsyncFd::register_with_interest(Fd(t), Interest::READABLE) };
        Ok(FdTimer(registered?))
    }

    /// Fires once, `after` from now (never, with `None`).
    pub fn once(&self, after: Option<Duration>) -> io::Result<()> {
        let timer = &self.0.get_ref().0;
        match after {
            // A zero expiry would disarm it: a deadline already passed fires at once instead.
            Some(d) => timer.set(
                Expiration::OneShot(TimeSpec::from_duration(d.max(Duration::from_nanos(1)))),
                TimerSetTimeFlags::empty(),
            )?,
            None => timer.unset()?,
        }
        Ok(())
    }

    /// Fires every `period`.
    pub fn every(&self, period: Duration) -> io::Result<()> {
        self.0.get_ref().0.set(Expiration::Interval(TimeSpec::from_duration(period)), TimerSetTimeFlags::empty())?;
        Ok(())
    }

    /// Waits until the timer fires; returns how many times it has since the last call.
    pub async fn fired(&self) -> io::Result<u64> {
        loop {
            let mut ready = self.0.readable().await?;
            let mut count = [0u8; 8];
            let read =
                ready.try_io(|fd| nix::unistd::read(fd.get_ref().0.as_fd(), &mut count).map_err(io::Error::from));
            match read {
                Ok(Ok(_)) => return Ok(u64::from_ne_bytes(count)),
                Ok(Err(e)) => return Err(e),
                // Not fired after all (it was re-armed meanwhile): wait again.
                Err(_) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_when_armed_and_not_when_disarmed() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
        rt.block_on(async {
            let t = FdTimer::new().unwrap();
            t.once(Some(Duration::from_millis(5))).unwrap();
            let started = std::time::Instant::now();
            assert_eq!(t.fired().await.unwrap(), 1);
            assert!(started.elapsed() >= Duration::from_millis(5));
            t.once(None).unwrap();
            // This runtime has no time driver (nor does the engine need one): a second timer is the clock.
            let other = FdTimer::new().unwrap();
            other.once(Some(Duration::from_millis(20))).unwrap();
            tokio::select! {
                _ = t.fired() => panic!("a disarmed timer fired"),
                n = other.fired() => assert_eq!(n.unwrap(), 1),
            }
            t.once(Some(Duration::ZERO)).unwrap();
            assert_eq!(t.fired().await.unwrap(), 1, "a deadline already passed fires at once");
        });
    }
}
