//! How a packet is drawn, shared by the lab (simulated packets) and the dashboard (a daemon's live ones):
//! the sequence diagram and the Wireshark-style inspector take plain data and callbacks, not a component.

pub mod flow;
pub mod inspector;

use dhcplab_engine::message::DhcpMessage;

/// Colour of a message type, shared by every view.
pub fn msg_color(msg: DhcpMessage) -> &'static str {
    match msg {
        DhcpMessage::Discover => "#3d8bfd",
        DhcpMessage::Offer => "#f0a020",
        DhcpMessage::Request => "#8a5cf6",
        DhcpMessage::Ack => "#1f9d55",
        DhcpMessage::Nak => "#d63b3b",
        DhcpMessage::Decline => "#e8590c",
        DhcpMessage::Release => "#868e96",
        DhcpMessage::Inform => "#0ca5b0",
    }
}
