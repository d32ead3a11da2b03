//! Packet captures: simulated DHCP packets written with real Ethernet/IPv4/UDP framing (checksums and all),
//! so tshark and Wireshark read them like a capture from a wire. Reading captures is `crate::capture`'s.

use crate::hwaddr::HwAddr;
use crate::time::Instant;
use etherparse::PacketBuilder;
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use std::net::SocketAddrV4;
use std::time::Duration;

/// One UDP datagram on an Ethernet link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Frame {
    pub at: Instant,
    pub src_mac: HwAddr,
    pub dst_mac: HwAddr,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("pcap: {0}")]
    Format(#[from] pcap_file::PcapError),
}

const BROADCAST_MAC: [u8; 6] = [0xff; 6];

fn mac6(hw: &HwAddr) -> [u8; 6] {
    let b = hw.as_bytes();
    if b.len() == 6 {
        let mut m = [0u8; 6];
        m.copy_from_slice(b);
        m
    } else {
        BROADCAST_MAC
    }
}

/// Encodes one frame: Ethernet II, IPv4 (TTL 64), UDP with checksum, payload.
pub fn encode_frame(f: &Frame) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(mac6(&f.src_mac), mac6(&f.dst_mac))
        .ipv4(f.src.ip().octets(), f.dst.ip().octets(), 64)
        .udp(f.src.port(), f.dst.port());
    let mut out = Vec::with_capacity(builder.size(f.payload.len()));
    // Writing into a Vec cannot fail for a DHCP-sized payload; an over-long payload is cut by the builder's
    // checks, which we surface as an empty frame rather than a panic.
    if builder.write(&mut out, &f.payload).is_err() {
        out.clear();
    }
    out
}

fn ethernet_header() -> PcapHeader {
    PcapHeader { datalink: DataLink::ETHERNET, ..Default::default() }
}

/// A capture written as it happens (`dhcplab watch --pcap`): the header first, then each frame's bytes
/// exactly as they were on the wire. Give it an unbuffered writer (a `File`) and every frame is in the
/// file as soon as it is written.
pub struct PcapStream<W: std::io::Write>(PcapWriter<W>);

impl<W: std::io::Write> PcapStream<W> {
    pub fn new(w: W) -> Result<Self, PcapError> {
        Ok(PcapStream(PcapWriter::with_header(w, ethernet_header())?))
    }

    /// One Ethernet frame, stamped `at` (milliseconds since the Unix epoch, as the daemon's clock counts).
    pub fn write(&mut self, at: Instant, data: &[u8]) -> Result<(), PcapError> {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.0.write_packet(&PcapPacket::new(Duration::from_millis(at.as_millis()), len, data))?;
        Ok(())
    }
}

/// Writes frames as a classic pcap (Ethernet link type, microsecond stamps).
pub fn write(frames: &[Frame]) -> Result<Vec<u8>, PcapError> {
    let mut w = PcapWriter::with_header(Vec::new(), ethernet_header())?;
    for f in frames {
        let data = encode_frame(f);
        let ts = Duration::from_millis(f.at.as_millis());
        w.write_packet(&PcapPacket::new(ts, data.len() as u32, &data))?;
    }
    Ok(w.into_writer())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_a_pcap() {
        let f = Frame {
            at: Instant::from_millis(1234),
            src_mac: "52:54:00:00:00:01".parse().unwrap(),
            dst_mac: HwAddr::ethernet(BROADCAST_MAC),
            src: "0.0.0.0:68".parse().unwrap(),
            dst: "255.255.255.255:67".parse().unwrap(),
            payload: vec![1, 2, 3, 4, 5],
        };
        let bytes = write(std::slice::from_ref(&f)).unwrap();
        // Read back, the capture is stamped from its first frame.
        assert_eq!(crate::capture::read(&bytes).unwrap().into_frames(), vec![Frame { at: Instant::ZERO, ..f }]);
    }
}
