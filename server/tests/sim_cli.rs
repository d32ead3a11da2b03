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

/// A message's type number (option 53), from its name.
fn number(m: &str) -> &'static str {
    match m {
        "DHCPDISCOVER" => "1",
        "DHCPOFFER" => "2",
        "DHCPREQUEST" => "3",
        "DHCPDECLINE" => "4",
        "DHCPACK" => "5",
        "DHCPNAK" => "6",
        "DHCPRELEASE" => "7",
        "DHCPINFORM" => "8",
        other => panic!("unexpected {other}"),
    }
}

/// DHCP message type numbers (option 53) of the trace's packets, in order.
fn trace_types(json: &[u8]) -> Vec<String> {
    let trace: serde_json::Value = serde_json::from_slice(json).unwrap();
    trace
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"]["type"] == "packet")
        .map(|e| number(e["kind"]["summary"]["msg"].as_str().unwrap()).to_string())
        .collect()
}

/// A fresh directory for a test's files, after checking tshark is there to read them.
fn workdir(tag: &str) -> PathBuf {
    assert!(tshark_available(), "tshark is not installed: run scripts/setup (Debian package tshark)");
    let dir = std::env::temp_dir().join(format!("dhcplab-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_scenario_pcap_decodes_cleanly_in_tshark() {
    let dir = workdir("sim");
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

/// (frame number, option 53, microseconds from the first frame) of each DHCP frame, as tshark reads the
/// file.
fn tshark_dhcp(file: &std::path::Path) -> Vec<(usize, String, u64)> {
    let fields = ["-e", "frame.number", "-e", "dhcp.option.dhcp", "-e", "frame.time_relative"];
    let out = Command::new("tshark").args(["-r"]).arg(file).args(["-Y", "dhcp", "-T", "fields"]).args(fields).output();
    let out = out.unwrap();
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let secs: f64 = f[2].parse().unwrap();
            (f[0].parse().unwrap(), f[1].to_string(), (secs * 1e6).round() as u64)
        })
        .collect()
}

/// (frame, option 53, microseconds from the first frame) of each packet `sim --explain --json` told.
fn explained(file: &std::path::Path) -> Vec<(usize, String, u64)> {
    let out = dhcplab().args(["sim", "--json", "--explain"]).arg(file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(!v["text"].as_str().unwrap().is_empty());
            let n = v["frame"].as_u64().unwrap() as usize;
            let micros = (v["time"].as_f64().unwrap() * 1e6).round() as u64;
            (n, number(v["msg"].as_str().unwrap()).to_string(), micros)
        })
        .collect()
}

#[test]
fn sim_explain_tells_every_dhcp_frame_tshark_sees_at_the_time_tshark_reads_in_pcap_and_pcapng() {
    let dir = workdir("explain");
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures/captures");
    for name in ["dhclient", "udhcpc", "dhcpcd", "nmap", "lan-2clients", "perfdhcp-relay-unicast"] {
        let pcap = fixtures.join(format!("{name}.pcap"));
        // tshark writes the same capture as pcapng, as Wireshark saves by default.
        let ng = dir.join(format!("{name}.pcapng"));
        let st = Command::new("tshark").arg("-r").arg(&pcap).args(["-F", "pcapng", "-w"]).arg(&ng).status().unwrap();
        assert!(st.success());
        let want = tshark_dhcp(&pcap);
        assert!(!want.is_empty(), "{name}");
        assert_eq!(explained(&pcap), want, "{name}.pcap");
        assert_eq!(explained(&ng), want, "{name}.pcapng");
    }
    // The narration in words, with the state and the finding: nmap only discovers.
    let out = dhcplab().args(["sim", "--explain"]).arg(fixtures.join("nmap.pcap")).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("[SELECTING]") && text.contains("No REQUEST follows this offer"), "{text}");
    // A file cut short is told up to the cut, and the cut is said.
    let bytes = std::fs::read(fixtures.join("dhclient.pcap")).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let out = dhcplab().args(["sim", "--explain"]).arg(&cut).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ends in the middle of frame 4"), "{text}");
    // Not a capture: a clear error, not a panic.
    let page = dir.join("page.pcap");
    std::fs::write(&page, "<!DOCTYPE html>").unwrap();
    let out = dhcplab().args(["sim", "--explain"]).arg(&page).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pcap or pcapng file"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly_as_a_unix_filter_does() {
    let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/../engine/tests/fixtures/captures/lan-2clients.pcap");
    for json in [false, true] {
        let mut cmd = dhcplab();
        cmd.args(["sim", "--explain", capture])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd.spawn().unwrap();
        // The reading end closed before the first line is written (as `| head -0` would): every write fails.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && err.is_empty(), "json {json}: {:?} {err}", out.status);
    }
}
