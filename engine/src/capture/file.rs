//! Reading a capture file: classic pcap or pcapng, from tcpdump, Wireshark, `dhcplab watch --pcap` or the
//! lab's export, into the IPv4/UDP frames it holds. Ethernet (with or without VLAN tags), Linux cooked
//! captures (`tcpdump -i any`) and raw IP are read; other frames are counted and skipped. A file cut short
//! keeps the frames before the cut and says where it was.

use crate::hwaddr::HwAddr;
use crate::pcap::Frame;
use crate::text::Text;
use crate::time::Instant;
use etherparse::{LinkSlice, NetSlice, SlicedPacket, TransportSlice};
use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use std::net::SocketAddrV4;
use std::time::Duration;

/// Which of the two capture formats a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pcap,
    PcapNg,
}

/// One UDP frame of the file, with its number as Wireshark counts (from 1, every frame of the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbered {
    pub number: usize,
    pub frame: Frame,
    /// From the file's first frame to this one, as exactly as the file stamps it (the frame's `at` is in
    /// the engine's milliseconds, and a DORA on a LAN takes less than one).
    pub since_first: Duration,
}

/// What a capture file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureFile {
    pub format: Format,
    /// The IPv4/UDP frames, stamped from the first frame of the file (so the first is at 0:00:00.000).
    pub frames: Vec<Numbered>,
    /// Every frame in the file, UDP or not.
    pub total: usize,
    /// Frames that are not IPv4/UDP on a link type read here (ARP, IPv6, TCP, …).
    pub other: usize,
    /// Frames whose headers do not parse.
    pub broken: usize,
    /// Where the file ends early, if it does.
    pub cut_short: Option<CutShort>,
}

impl CaptureFile {
    /// Just the frames, for callers that replay them.
    pub fn into_frames(self) -> Vec<Frame> {
        self.frames.into_iter().map(|n| n.frame).collect()
    }
}

/// The file ends in the middle of a frame (a capture copied while it was written, or a download cut off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CutShort {
    /// The number the incomplete frame would have had.
    pub at_frame: usize,
}

impl CutShort {
    pub fn text(&self) -> Text {
        let n = self.at_frame;
        let before = n - 1;
        Text::new(
            format!(
                "The file is cut short: it ends in the middle of frame {n}. The {before} frames before it are shown."
            ),
            format!("文件不完整：它在第 {n} 帧中间结束。前面的 {before} 帧照常显示。"),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    #[error("this is not a pcap or pcapng file (it begins with {0})")]
    NotACapture(String),
    #[error("the file ends inside its header, before any frame")]
    HeaderCutShort,
    #[error("the capture's link type {0} is not one dhcplab reads (Ethernet, Linux cooked, raw IP)")]
    LinkType(u32),
    #[error("the file is damaged at frame {frame}: {why}")]
    Damaged { frame: usize, why: String },
}

impl CaptureError {
    /// The same message in both of the lab's languages.
    pub fn text(&self) -> Text {
        let zh = match self {
            CaptureError::NotACapture(start) => format!("这不是 pcap 或 pcapng 文件（开头是 {start}）"),
            CaptureError::HeaderCutShort => "文件在文件头内就结束了，没有任何帧".to_string(),
            CaptureError::LinkType(t) => {
                format!("dhcplab 不能读取链路类型 {t}（可读取：以太网、Linux cooked、原始 IP）")
            }
            CaptureError::Damaged { frame, why } => format!("文件在第 {frame} 帧处损坏：{why}"),
        };
        Text::new(self.to_string(), zh)
    }
}

const PCAP_MAGICS: [[u8; 4]; 4] =
    [[0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0x4d, 0x3c, 0xb2, 0xa1], [0xa1, 0xb2, 0x3c, 0x4d]];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

fn first_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing: it is empty".into();
    }
    bytes.iter().take(4).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// Whether a reader's error means the bytes ran out, as opposed to a field that makes no sense.
fn ran_out(e: &pcap_file::PcapError) -> bool {
    match e {
        pcap_file::PcapError::IncompleteBuffer => true,
        pcap_file::PcapError::IoError(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        _ => false,
    }
}

/// Reads a pcap or pcapng file.
pub fn read(bytes: &[u8]) -> Result<CaptureFile, CaptureError> {
    let starts_a_magic = |m: &[u8; 4]| !bytes.is_empty() && m.starts_with(bytes);
    let magic: [u8; 4] = match bytes.get(..4).and_then(|m| m.try_into().ok()) {
        Some(m) => m,
        None if PCAP_MAGICS.iter().chain([&PCAPNG_MAGIC]).any(starts_a_magic) => {
            return Err(CaptureError::HeaderCutShort);
        }
        None => return Err(CaptureError::NotACapture(first_bytes(bytes))),
    };
    if PCAP_MAGICS.contains(&magic) {
        read_pcap(bytes)
    } else if magic == PCAPNG_MAGIC {
        read_pcapng(bytes)
    } else {
        Err(CaptureError::NotACapture(first_bytes(bytes)))
    }
}

/// Collects frames as they are read, numbering and sorting them.
struct Collector {
    file: CaptureFile,
    first: Option<Duration>,
}

impl Collector {
    fn new(format: Format) -> Self {
        Collector {
            file: CaptureFile { format, frames: vec![], total: 0, other: 0, broken: 0, cut_short: None },
            first: None,
        }
    }

    fn add(&mut self, link: DataLink, ts: Duration, data: &[u8]) {
        self.file.total += 1;
        let first = *self.first.get_or_insert(ts);
        let since_first = ts.saturating_sub(first);
        let at = Instant::from_millis(u64::try_from(since_first.as_millis()).unwrap_or(u64::MAX));
        match decode(link, data, at) {
            Ok(Some(frame)) => self.file.frames.push(Numbered { number: self.file.total, frame, since_first }),
            Ok(None) => self.file.other += 1,
            Err(()) => self.file.broken += 1,
        }
    }

    /// Ends the file at a read error: running out of bytes after the header is a file cut short.
    fn fail(mut self, e: &pcap_file::PcapError) -> Result<CaptureFile, CaptureError> {
        let frame = self.file.total + 1;
        if ran_out(e) {
            self.file.cut_short = Some(CutShort { at_frame: frame });
            Ok(self.file)
        } else {
            Err(CaptureError::Damaged { frame, why: e.to_string() })
        }
    }
}

fn check_link(link: DataLink) -> Result<DataLink, CaptureError> {
    match link {
        DataLink::ETHERNET | DataLink::LINUX_SLL | DataLink::RAW | DataLink::IPV4 => Ok(link),
        other => Err(CaptureError::LinkType(u32::from(other))),
    }
}

fn read_pcap(bytes: &[u8]) -> Result<CaptureFile, CaptureError> {
    let mut r = PcapReader::new(bytes).map_err(|_| CaptureError::HeaderCutShort)?;
    let link = check_link(r.header().datalink)?;
    let mut c = Collector::new(Format::Pcap);
    while let Some(pkt) = r.next_packet() {
        match pkt {
            Ok(p) => c.add(link, p.timestamp, &p.data),
            Err(e) => return c.fail(&e),
        }
    }
    Ok(c.file)
}

/// The length of one timestamp unit of a pcapng interface (`if_tsresol`; microseconds unless it says).
fn tick(resol: Option<u8>) -> Duration {
    match resol {
        None => Duration::from_micros(1),
        Some(r) if r & 0x80 == 0 => {
            Duration::from_nanos(10u64.checked_pow(9u32.saturating_sub(u32::from(r))).unwrap_or(1))
        }
        // A power of two: 2^-r seconds; rare, and finer than a nanosecond past 2^-30.
        Some(r) => Duration::from_nanos((1_000_000_000u64 >> (r & 0x7f).min(63)).max(1)),
    }
}

fn read_pcapng(bytes: &[u8]) -> Result<CaptureFile, CaptureError> {
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
    let mut r = PcapNgReader::new(bytes).map_err(|_| CaptureError::HeaderCutShort)?;
    let mut c = Collector::new(Format::PcapNg);
    // Per interface: its link type and timestamp unit.
    let mut ifaces: Vec<(DataLink, Duration)> = vec![];
    while let Some(block) = r.next_block() {
        let block = match block {
            Ok(b) => b,
            Err(e) => return c.fail(&e),
        };
        match block {
            Block::SectionHeader(_) => ifaces.clear(),
            Block::InterfaceDescription(i) => {
                let resol = i.options.iter().find_map(|o| match o {
                    InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                    _ => None,
                });
                ifaces.push((check_link(i.linktype)?, tick(resol)));
            }
            Block::EnhancedPacket(p) => {
                let Some(&(link, unit)) = ifaces.get(p.interface_id as usize) else {
                    return Err(CaptureError::Damaged {
                        frame: c.file.total + 1,
                        why: format!("it names interface {}, which the file never describes", p.interface_id),
                    });
                };
                // The reader hands the raw count over as nanoseconds; scale it by the interface's unit.
                let nanos = p.timestamp.as_nanos().saturating_mul(unit.as_nanos());
                let ts = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
                c.add(link, ts, &p.data);
            }
            Block::SimplePacket(p) => {
                let link = ifaces.first().map_or(DataLink::ETHERNET, |i| i.0);
                let ts = c.first.unwrap_or_default();
                c.add(link, ts, &p.data);
            }
            _ => {}
        }
    }
    Ok(c.file)
}

/// One Ethernet frame's IPv4/UDP datagram, as a raw socket reads it off a link; `None` for anything else.
pub fn decode_ethernet(data: &[u8], at: Instant) -> Option<Frame> {
    decode(DataLink::ETHERNET, data, at).ok().flatten()
}

/// One frame's IPv4/UDP datagram: `Ok(None)` for any other frame, `Err` when its headers do not parse.
fn decode(link: DataLink, data: &[u8], at: Instant) -> Result<Option<Frame>, ()> {
    let sliced = match link {
        DataLink::LINUX_SLL => SlicedPacket::from_linux_sll(data),
        DataLink::RAW | DataLink::IPV4 => SlicedPacket::from_ip(data),
        _ => SlicedPacket::from_ethernet(data),
    }
    .map_err(|_| ())?;
    let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Udp(udp))) = (sliced.net.as_ref(), sliced.transport.as_ref())
    else {
        return Ok(None);
    };
    let ip = ip.header();
    let dst_ip = ip.destination_addr();
    // Links without MAC addresses: a broadcast to 255.255.255.255 went to ff:ff:ff:ff:ff:ff.
    let guess_dst = if dst_ip.is_broadcast() { HwAddr::ethernet([0xff; 6]) } else { HwAddr::ethernet([0; 6]) };
    let (src_mac, dst_mac) = match sliced.link.as_ref() {
        Some(LinkSlice::Ethernet2(eth)) => (HwAddr::ethernet(eth.source()), HwAddr::ethernet(eth.destination())),
        Some(LinkSlice::LinuxSll(sll)) => {
            (HwAddr::new(sll.sender_address()).unwrap_or(HwAddr::ethernet([0; 6])), guess_dst)
        }
        _ => (HwAddr::ethernet([0; 6]), guess_dst),
    };
    Ok(Some(Frame {
        at,
        src_mac,
        dst_mac,
        src: SocketAddrV4::new(ip.source_addr(), udp.source_port()),
        dst: SocketAddrV4::new(dst_ip, udp.destination_port()),
        payload: udp.payload().to_vec(),
    }))
}
