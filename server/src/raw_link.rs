//! A raw Ethernet socket on one interface (AF_PACKET), for `probe` and `watch`: they see the DHCP of a link
//! without configuring the interface or owning ports 67 and 68, and `probe` sends from 0.0.0.0 with the MAC
//! it is told to use, as a client with no address does. Needs CAP_NET_RAW.

use dhcplab_engine::capture;
use dhcplab_engine::pcap::{self, Frame};
use dhcplab_engine::{HwAddr, Instant};
use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

#[derive(Debug, thiserror::Error)]
pub enum RawLinkError {
    #[error("there is no network interface named {0}")]
    NoInterface(String),
    #[error("a raw socket on {iface} needs CAP_NET_RAW (run as root, or grant the capability): {source}")]
    Permission { iface: String, source: io::Error },
    #[error("{iface}: {what}: {source}")]
    Io { iface: String, what: &'static str, source: io::Error },
}

/// Classic BPF (`SO_ATTACH_FILTER`): keep unfragmented IPv4 UDP datagrams from or to port 67 or 68, so a
/// busy link's other traffic never reaches user space. Offsets are into the Ethernet frame.
const DHCP_ONLY: [libc::sock_filter; 13] = {
    const fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
        libc::sock_filter { code, jt, jf, k }
    }
    const LDB_ABS: u16 = 0x30; // A = frame[k]
    const LDH_ABS: u16 = 0x28; // A = frame[k..k+2]
    const LDH_IND: u16 = 0x48; // A = frame[X+k..X+k+2]
    const LDX_MSH: u16 = 0xb1; // X = 4 * (frame[k] & 0xf): the IPv4 header length
    const JEQ: u16 = 0x15;
    const JSET: u16 = 0x45;
    const RET: u16 = 0x06;
    [
        op(LDB_ABS, 0, 0, 23),      // 0: IP protocol
        op(JEQ, 0, 9, 17),          // 1: UDP, else drop
        op(LDH_ABS, 0, 0, 20),      // 2: flags and fragment offset
        op(JSET, 7, 0, 0x1fff),     // 3: a later fragment: drop
        op(LDX_MSH, 0, 0, 14),      // 4: X = IP header length
        op(LDH_IND, 0, 0, 14),      // 5: source port
        op(JEQ, 5, 0, 67),          // 6
        op(JEQ, 4, 0, 68),          // 7
        op(LDH_IND, 0, 0, 16),      // 8: destination port
        op(JEQ, 2, 0, 67),          // 9
        op(JEQ, 1, 0, 68),          // 10
        op(RET, 0, 0, 0),           // 11: drop
        op(RET, 0, 0, 0x0004_0000), // 12: keep the whole frame
    ]
};

/// An interface's own MAC, as the kernel shows it.
pub fn interface_mac(iface: &str) -> Option<HwAddr> {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/address")).ok()?.trim().parse().ok()
}

pub struct RawLink {
    fd: AsyncFd<OwnedFd>,
    ifindex: i32,
    /// The interface's own MAC.
    pub mac: HwAddr,
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

fn ethertype_ip() -> u16 {
    (libc::ETH_P_IP as u16).to_be()
}

impl RawLink {
    /// Opens the interface, in promiscuous mode when frames to other MACs must be seen (`watch`, or a probe
    /// with another client's MAC). Must be called inside a tokio runtime.
    pub fn open(iface: &str, promiscuous: bool) -> Result<RawLink, RawLinkError> {
        let err = |what: &'static str| move |source| RawLinkError::Io { iface: iface.to_string(), what, source };
        let name = CString::new(iface).map_err(|_| RawLinkError::NoInterface(iface.to_string()))?;
        // SAFETY: `name` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(RawLinkError::NoInterface(iface.to_string()));
        }
        let ifindex = i32::try_from(ifindex).map_err(|_| RawLinkError::NoInterface(iface.to_string()))?;
        // SAFETY: plain socket(2); the descriptor is owned by `OwnedFd` at once.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(ethertype_ip()),
            )
        };
        if raw < 0 {
            let source = io::Error::last_os_error();
            return Err(match source.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => RawLinkError::Permission { iface: iface.to_string(), source },
                _ => RawLinkError::Io { iface: iface.to_string(), what: "socket", source },
            });
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let filter = libc::sock_fprog { len: DHCP_ONLY.len() as u16, filter: DHCP_ONLY.as_ptr().cast_mut() };
        // SAFETY: the program outlives the call (the kernel copies it); the size is the struct's.
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&raw const filter).cast(),
                size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        })
        .map_err(err("attach the DHCP filter"))?;
        // SAFETY: an all-zero sockaddr_ll is valid; the fields set are the ones bind(2) reads.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ethertype_ip();
        sll.sll_ifindex = ifindex;
        // SAFETY: `sll` is a sockaddr_ll of the size given.
        check(unsafe {
            libc::bind(fd.as_raw_fd(), (&raw const sll).cast(), size_of::<libc::sockaddr_ll>() as libc::socklen_t)
        })
        .map_err(err("bind"))?;
        if promiscuous {
            // SAFETY: as above, for packet_mreq; the membership ends when the socket closes.
            let mut mreq: libc::packet_mreq = unsafe { zeroed() };
            mreq.mr_ifindex = ifindex;
            mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
            check(unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_ADD_MEMBERSHIP,
                    (&raw const mreq).cast(),
                    size_of::<libc::packet_mreq>() as libc::socklen_t,
                )
            })
            .map_err(err("promiscuous mode"))?;
        }
        let mac = interface_mac(iface).unwrap_or_default();
        // SAFETY: an OwnedFd always returns its own descriptor, open until the AsyncFd that owns it drops.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(|e| err("register")(io::Error::from(e)))?;
        Ok(RawLink { fd, ifindex, mac })
    }

    /// Sends one frame (Ethernet, IPv4 and UDP headers built here, checksums and all).
    pub fn send(&self, frame: &Frame) -> io::Result<()> {
        let bytes = pcap::encode_frame(frame);
        // SAFETY: as in `open`.
        let mut to: libc::sockaddr_ll = unsafe { zeroed() };
        to.sll_family = libc::AF_PACKET as u16;
        to.sll_protocol = ethertype_ip();
        to.sll_ifindex = self.ifindex;
        to.sll_halen = 6;
        let dst = frame.dst_mac.as_bytes();
        to.sll_addr[..dst.len().min(8)].copy_from_slice(&dst[..dst.len().min(8)]);
        // SAFETY: `bytes` and `to` are valid for the lengths given.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                (&raw const to).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if sent < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// The next UDP frame on port 67 or 68, stamped with `now()` as it arrives, with its bytes as they were
    /// on the wire. Frames that do not parse are skipped.
    pub async fn recv(&self, now: impl Fn() -> Instant) -> io::Result<(Frame, Vec<u8>)> {
        let mut buf = vec![0u8; 65_536];
        loop {
            let mut ready = self.fd.readable().await?;
            let read = ready.try_io(|fd| {
                // SAFETY: `buf` is valid for its length.
                let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
                if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
            });
            match read {
                Ok(Ok(n)) => {
                    if let Some(frame) = capture::decode_ethernet(&buf[..n], now()) {
                        return Ok((frame, buf[..n].to_vec()));
                    }
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}
