//! Writes seed inputs for the fuzzer into `fuzz/corpus/packet/`: every client packet of the reference
//! captures, and whole exchanges (DISCOVER, REQUEST, RENEW, DECLINE, RELEASE, INFORM) joined with the
//! harness's separator.

use dhcplab_engine::builder::ClientMsg;
use dhcplab_engine::fuzzing::SEPARATOR;
use dhcplab_engine::{HwAddr, capture};
use dhcproto::v4::MessageType;
use std::net::Ipv4Addr;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = format!("{root}/fuzz/corpus/packet");
    std::fs::create_dir_all(&out)?;
    let mut n = 0;
    let mut save = |bytes: &[u8]| -> std::io::Result<()> {
        n += 1;
        std::fs::write(format!("{out}/seed-{n:03}"), bytes)
    };
    for name in ["dhclient", "udhcpc", "dhcpcd", "lan-2clients", "nmap", "perfdhcp-relay-unicast"] {
        let frames =
            capture::read(&std::fs::read(format!("{root}/engine/tests/fixtures/captures/{name}.pcap"))?)?.into_frames();
        let requests: Vec<Vec<u8>> =
            frames.into_iter().filter(|f| f.payload.first() == Some(&1)).map(|f| f.payload).collect();
        for r in &requests {
            save(r)?;
        }
        save(&requests.join(SEPARATOR))?;
    }
    let lan = Ipv4Addr::new(192, 0, 2, 10);
    for c in 0..6u8 {
        let hw = HwAddr::ethernet([0x52, 0x54, 0, 0x12, 0x34, 0x50 + c]);
        let x = 0x100 + u32::from(c);
        let discover = ClientMsg::new(MessageType::Discover, hw, x).hostname("seed").params(&[1, 3, 6, 15, 119, 121]);
        let select = ClientMsg::new(MessageType::Request, hw, x).requested(lan).server(Ipv4Addr::new(192, 0, 2, 1));
        let renew = ClientMsg::new(MessageType::Request, hw, x + 1).ciaddr(lan);
        let reboot = ClientMsg::new(MessageType::Request, hw, x + 2).requested(Ipv4Addr::new(198, 51, 100, 5));
        let decline = ClientMsg::new(MessageType::Decline, hw, x + 3).requested(lan);
        let release = ClientMsg::new(MessageType::Release, hw, x + 4).ciaddr(lan).client_id(vec![1, 2, 3]);
        let inform = ClientMsg::new(MessageType::Inform, hw, x + 5).ciaddr(lan).broadcast();
        let relayed = ClientMsg::new(MessageType::Discover, hw, x + 6).giaddr(Ipv4Addr::new(198, 51, 100, 1));
        let msgs = [discover, select, renew, reboot, decline, release, inform, relayed];
        let all: Vec<Vec<u8>> = msgs.iter().map(ClientMsg::bytes).collect();
        save(&all[usize::from(c)])?;
        save(&all.join(SEPARATOR))?;
    }
    println!("wrote {n} seeds to {out}");
    Ok(())
}
