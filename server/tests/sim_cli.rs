//! `dhcplab sim` end to end: every scenario's pcap read by tshark, with IP and UDP checksum validation,
//! shows no malformed packet and exactly the message sequence of the scenario's trace.

use std::path::PathBuf;
use std::process::Command;

fn dhcplab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dhcplab"))
}

fn tshark_available() -> bool {
    Command::new("tshark").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn scenarios() -> Vec<String> {
    let out = dhcplab().args(["sim", "--list"]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split_whitespace().next().unwrap().to_string()).collect()
}

/// DHCP message type numbers (option 53) of the trace's packets, in order.
fn trace_types(json: &[u8]) -> Vec<String> {
    let trace: serde_json::Value = serde_json::from_slice(json).unwrap();
    let number = |m: &str| match m {
        "DHCPDISCOVER" => "1",
        "DHCPOFFER" => "2",
        "DHCPREQUEST" => "3",
        "DHCPDECLINE" => "4",
        "DHCPACK" => "5",
        "DHCPNAK" => "6",
        "DHCPRELEASE" => "7",
        "DHCPINFORM" => "8",
        other => panic!("unexpected {other}"),
    };
    trace
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"]["type"] == "packet")
        .map(|e| number(e["kind"]["summary"]["msg"].as_str().unwrap()).to_string())
        .collect()
}

#[test]
fn every_scenario_pcap_decodes_cleanly_in_tshark() {
    assert!(tshark_available(), "tshark is not installed: run scripts/setup (Debian package tshark)");
    let dir = std::env::temp_dir().join(format!("dhcplab-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let names = scenarios();
    assert_eq!(names.len(), 15);
    for name in names {
        let pcap: PathBuf = dir.join(format!("{name}.pcap"));
        let out = dhcplab().args(["sim", &name, "--json", "--pcap"]).arg(&pcap).output().unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let expected = trace_types(&out.stdout);
        assert!(expected.len() >= 2, "{name} has packets");

        let check = ["-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"];
        let bad = Command::new("tshark")
            .args(check)
            .arg("-r")
            .arg(&pcap)
            .args(["-Y", "_ws.malformed || _ws.expert.severity >= error", "-T", "fields", "-e", "frame.number"])
            .output()
            .unwrap();
        assert!(bad.status.success(), "{name}: tshark failed: {}", String::from_utf8_lossy(&bad.stderr));
        let bad = String::from_utf8(bad.stdout).unwrap();
        assert!(bad.trim().is_empty(), "{name}: malformed or erroneous frames: {bad}");

        let types = Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(["-T", "fields", "-e", "dhcp.option.dhcp"])
            .output()
            .unwrap();
        let seen: Vec<String> = String::from_utf8(types.stdout).unwrap().lines().map(str::to_string).collect();
        assert_eq!(seen, expected, "{name}: tshark's message sequence differs from the trace");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sim_prints_the_story_and_the_client_view() {
    let out = dhcplab().args(["sim", "dora"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "DHCPDISCOVER",
        "DHCPOFFER",
        "DHCPREQUEST",
        "DHCPACK",
        "IPv4 address . . . : 192.168.1.100",
        "DHCP server  . . . : 192.168.1.240",
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }
    let zh = String::from_utf8(dhcplab().args(["sim", "dora", "--lang", "zh"]).output().unwrap().stdout).unwrap();
    assert!(zh.contains("广播"), "Chinese explanations");
}

#[test]
fn an_unknown_scenario_is_a_usage_error() {
    let out = dhcplab().args(["sim", "no-such-thing"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dora"), "lists the scenarios");
}

#[test]
fn check_reports_the_line_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("dhcplab-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.toml");
    std::fs::write(&f, "[[subnet]]\ncidr = \"192.168.1.0/24\"\npools = [\"10.0.0.1-10.0.0.9\"]\n").unwrap();
    let out = dhcplab().arg("check").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("bad.toml:3:") && err.contains("subnet[0].pools[0]"), "{err}");
    let ok =
        dhcplab().args(["check", concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/dhcplab.toml")]).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    std::fs::remove_dir_all(&dir).ok();
}
