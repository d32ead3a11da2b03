//! What the engine's loop waits on: one epoll set holding its links, its timers, the command channel's
//! wake-up and the ICMP socket. Registered once (not on every wait, as `poll` would), level-triggered:
//! whatever the loop leaves unread is reported again on the next wait.

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::io;
use std::os::fd::AsFd;

/// One descriptor the loop waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Commands,
    Timer,
    Stats,
    Pinger,
    /// The engine thread's commit timer.
    Commit,
    /// The link at this index.
    Link(usize),
}

impl Source {
    fn to_data(self) -> u64 {
        match self {
            Source::Commands => 0,
            Source::Timer => 1,
            Source::Stats => 2,
            Source::Pinger => 3,
            Source::Commit => 4,
            Source::Link(i) => 5 + i as u64,
        }
    }

    fn from_data(d: u64) -> Source {
        match d {
            0 => Source::Commands,
            1 => Source::Timer,
            2 => Source::Stats,
            3 => Source::Pinger,
            4 => Source::Commit,
            i => Source::Link((i - 5) as usize),
        }
    }
}

pub struct Poller {
    epoll: Epoll,
    events: Vec<EpollEvent>,
}

impl Poller {
    pub fn new() -> io::Result<Self> {
        Ok(Poller { epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?, events: vec![EpollEvent::empty(); 16] })
    }

    pub fn add(&mut self, fd: impl AsFd, source: Source) -> io::Result<()> {
        self.epoll.add(fd, EpollEvent::new(EpollFlags::EPOLLIN, source.to_data()))?;
        Ok(())
    }

    /// Stops (or resumes) reporting a registered descriptor, which stays registered.
    pub fn pause(&mut self, fd: impl AsFd, source: Source, paused: bool) -> io::Result<()> {
        let interest = if paused { EpollFlags::empty() } else { EpollFlags::EPOLLIN };
        self.epoll.modify(fd, &mut EpollEvent::new(interest, source.to_data()))?;
        Ok(())
    }

    /// Waits until something is ready; what is. An interrupted wait returns nothing.
    pub fn wait(&mut self) -> io::Result<impl Iterator<Item = Source> + '_> {
        let n = match self.epoll.wait(&mut self.events, EpollTimeout::NONE) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => 0,
            Err(e) => return Err(e.into()),
        };
        Ok(self.events[..n].iter().map(|e| Source::from_data(e.data())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn reports_what_is_readable_until_read_and_nothing_while_paused() {
        let mut p = Poller::new().unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        p.add(&a, Source::Link(0)).unwrap();
        p.add(&b, Source::Link(7)).unwrap();
        let wake = super::super::wake::Wake::new().unwrap();
        p.add(&wake, Source::Commands).unwrap();
        b.send_to(b"x", b.local_addr().unwrap()).unwrap();
        wake.wake();
        let mut got: Vec<Source> = p.wait().unwrap().collect();
        got.sort_by_key(|s| s.to_data());
        assert_eq!(got, vec![Source::Commands, Source::Link(7)]);
        // Level-triggered: unread, the datagram is reported again; paused, it is not.
        wake.clear();
        assert_eq!(p.wait().unwrap().collect::<Vec<_>>(), vec![Source::Link(7)]);
        p.pause(&b, Source::Link(7), true).unwrap();
        wake.wake();
        assert_eq!(p.wait().unwrap().collect::<Vec<_>>(), vec![Source::Commands]);
        wake.clear();
        p.pause(&b, Source::Link(7), false).unwrap();
        assert_eq!(p.wait().unwrap().collect::<Vec<_>>(), vec![Source::Link(7)]);
    }
}
