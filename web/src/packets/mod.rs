//! How a packet is drawn, shared by the lab (simulated packets) and the dashboard (a daemon's live ones):
//! the sequence diagram and the Wireshark-style inspector take plain data and callbacks, not a component.

pub mod flow;
pub mod inspector;

/// Colour of a message type, shared by every view.
pub fn msg_color(msg: &str) -> &'static str {
    match msg {
        "DHCPDISCOVER" => "#3d8bfd",
        "DHCPOFFER" => "#f0a020",
        "DHCPREQUEST" => "#8a5cf6",
        "DHCPACK" => "#1f9d55",
        "DHCPNAK" => "#d63b3b",
        "DHCPDECLINE" => "#e8590c",
        "DHCPRELEASE" => "#868e96",
        "DHCPINFORM" => "#0ca5b0",
        _ => "#495057",
    }
}
