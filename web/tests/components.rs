//! Component tests in headless Chromium: the lab mounted on its own, driven through its buttons.
#![cfg(target_arch = "wasm32")]

use dhcplab_web::i18n::Lang;
use dhcplab_web::lab::{Lab, Props};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn mount() -> web_sys::Element {
    let doc = web_sys::window().unwrap().document().unwrap();
    let _ = web_sys::window().unwrap().location().set_hash("#s=dora&seed=1&step=0");
    let root = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&root).unwrap();
    yew::Renderer::<Lab>::with_root_and_props(root.clone(), Props { lang: Lang::En }).render();
    yew::scheduler::flush().await;
    root
}

async fn click(root: &web_sys::Element, selector: &str) {
    let el = root.query_selector(selector).unwrap().unwrap_or_else(|| panic!("no {selector}"));
    el.dyn_into::<web_sys::HtmlElement>().unwrap().click();
    yew::scheduler::flush().await;
}

fn messages(root: &web_sys::Element) -> Vec<String> {
    let rows = root.query_selector_all("[data-testid=event-row]").unwrap();
    (0..rows.length())
        .filter_map(|i| rows.item(i)?.dyn_into::<web_sys::Element>().ok()?.get_attribute("data-msg"))
        .filter(|m| !m.is_empty())
        .collect()
}

#[wasm_bindgen_test]
async fn stepping_shows_dora_then_back_undoes_a_step() {
    let root = mount().await;
    assert!(messages(&root).is_empty());
    for _ in 0..20 {
        if messages(&root).len() >= 4 {
            break;
        }
        click(&root, "[data-testid=step]").await;
    }
    assert_eq!(messages(&root), ["DHCPDISCOVER", "DHCPOFFER", "DHCPREQUEST", "DHCPACK"]);
    let count =
        |r: &web_sys::Element| r.query_selector("[data-testid=step-count]").unwrap().unwrap().text_content().unwrap();
    let before = count(&root);
    click(&root, "[data-testid=back]").await;
    assert_ne!(count(&root), before);
    assert_eq!(messages(&root).len(), 3, "the ACK is undone");
}

#[wasm_bindgen_test]
async fn selecting_a_field_lights_its_bytes() {
    let root = mount().await;
    for _ in 0..5 {
        click(&root, "[data-testid=step]").await;
    }
    // The DISCOVER is selected as it appears; pick its transaction id.
    click(&root, "[data-testid=field][data-name='Transaction ID']").await;
    let lit = root.query_selector_all("[data-testid=hex-byte].hl").unwrap();
    let offsets: Vec<String> = (0..lit.length())
        .filter_map(|i| lit.item(i)?.dyn_into::<web_sys::Element>().ok()?.get_attribute("data-offset"))
        .collect();
    assert_eq!(offsets, ["4", "5", "6", "7"]);
}

/// A packet as the daemon reports it, from a real client message.
fn seen(
    dir: dhcplab_engine::event::Direction,
    mac: u8,
    kind: dhcproto::v4::MessageType,
) -> dhcplab_engine::event::PacketSeen {
    use dhcplab_engine::builder::ClientMsg;
    let bytes = ClientMsg::new(kind, dhcplab_engine::HwAddr::ethernet([2, 0, 0, 0, 0, mac]), 0x100 + u32::from(mac))
        .hostname(&format!("pc{mac}"))
        .bytes();
    dhcplab_engine::event::PacketSeen {
        dir,
        link: "eth1".into(),
        at: dhcplab_engine::Instant::from_millis(1_700_000_000_000),
        src: "0.0.0.0:68".parse().unwrap(),
        dst: "192.0.2.1:67".parse().unwrap(),
        summary: dhcplab_engine::event::PacketSummary::from_bytes(&bytes).unwrap(),
        payload: bytes,
    }
}

#[wasm_bindgen_test]
fn the_live_flow_keeps_the_newest_packets_whose_lifelines_fit() {
    use dhcplab_engine::event::Direction;
    use dhcplab_web::dashboard::live;
    use dhcproto::v4::MessageType;
    // Twelve clients, one DISCOVER each: only the newest seven fit beside the server's lifeline.
    let packets: Vec<(u64, _)> =
        (1..=12u8).map(|m| (u64::from(m), seen(Direction::In, m, MessageType::Discover))).collect();
    let refs: Vec<&(u64, _)> = packets.iter().collect();
    let (lanes, arrows) = live::diagram(&refs, None, Lang::En);
    assert_eq!(lanes.len(), 8);
    assert_eq!(lanes[0], "dhcplab");
    assert_eq!(lanes[1], "pc12", "the newest client first, by its hostname");
    assert_eq!(arrows.iter().map(|a| a.key).collect::<Vec<_>>(), (6..=12).collect::<Vec<u64>>());
    assert!(arrows.iter().all(|a| a.to == [0] && a.msg == dhcplab_engine::message::DhcpMessage::Discover));
    assert_eq!(arrows[0].time, "22:13:20.000");
    // On a watched link: a lifeline per server heard (two here, the second a rogue); a broadcast DISCOVER
    // reaches both, each OFFER comes from its own.
    let offer = |server: &str| {
        let mut p = seen(Direction::In, 1, MessageType::Discover);
        let mut bytes = dhcplab_engine::builder::ClientMsg::new(
            MessageType::Offer,
            dhcplab_engine::HwAddr::ethernet([2, 0, 0, 0, 0, 1]),
            0x101,
        )
        .bytes();
        bytes[0] = 2; // BOOTREPLY
        p.dir = Direction::Out;
        p.src = server.parse().unwrap();
        p.summary = dhcplab_engine::event::PacketSummary::from_bytes(&bytes).unwrap();
        p.payload = bytes;
        p
    };
    let (offer_a, offer_b) = (offer("192.0.2.1:67"), offer("192.0.2.2:67"));
    let mut discover = seen(Direction::In, 1, MessageType::Discover);
    discover.dst = "255.255.255.255:67".parse().unwrap();
    let watched = [(1, discover), (2, offer_a), (3, offer_b)];
    let refs: Vec<&(u64, _)> = watched.iter().collect();
    let (lanes, arrows) = live::diagram(&refs, Some("eth0"), Lang::En);
    assert_eq!(lanes, ["server 192.0.2.2", "server 192.0.2.1", "pc1"]);
    assert_eq!(arrows[0].to, [0, 1], "the broadcast reaches every server");
    assert_eq!((arrows[1].from, arrows[2].from), (1, 0));
    // Following one client: by MAC, by xid, by hostname; nothing else matches.
    let p = &packets[4].1;
    assert!(live::matches(p, "02:00:00:00:00:05") && live::matches(p, "0x00000105") && live::matches(p, "PC5"));
    assert!(!live::matches(p, "02:00:00:00:00:06") && !live::matches(&packets[5].1, "0x00000105"));
    assert_eq!(dhcplab_web::dashboard::api::base_of("wss://dhcp.example/ws"), "https://dhcp.example");
}
