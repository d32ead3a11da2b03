//! The dashboard in a real browser against a daemon serving a real client: Chromium runs inside the daemon's
//! namespace (so it reaches the daemon on that namespace's loopback), dhclient in another. The browser side is
//! `tests/browser/dashboard-netns.helper.mjs`; the two coordinate through small JSON files.

use dhcplab_tests::{Daemon, NetLab, one_client_lan, require_program};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const EVIL: &str = "<img src=x onerror=alert(1)>";
const VENDOR: &str = "<b>vendor</b>";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn report(lab: &NetLab, state: &Path, name: &str, limit: Duration) -> Value {
    dhcplab_tests::browser_report(lab, state, name, limit)
}

#[test]
fn the_dashboard_shows_a_real_dhclient_bind_and_release_with_its_strings_as_text() {
    require_program("dhclient", "isc-dhcp-client");
    require_program("node", "nodejs");
    let root = repo();
    let helper = root.join("tests/browser/dashboard-netns.helper.mjs");
    assert!(root.join("tests/browser/node_modules/playwright-core").is_dir(), "Playwright missing: run scripts/setup");
    assert!(root.join("dist/index.html").is_file(), "the web app is not built: run scripts/build-web");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).is_file(), "Chromium not found at {chromium}: run scripts/setup");

    let mut lab = NetLab::new("dash");
    let (srv, cli, mut cfg) = one_client_lan(&mut lab);
    // The client's vendor class (markup too) puts it in a class, which its row shows.
    cfg.push_str("\n[[class]]\nname = \"tagged\"\nmatch.vendor_class = [\"<b>vendor*\"]\n");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let state = lab.dir.join("browser");
    std::fs::create_dir_all(&state).unwrap();
    let artifacts = root.join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let base = format!("http://{}", d.http);
    let args = [helper.to_string_lossy(), base.as_str().into(), state.to_string_lossy(), artifacts.to_string_lossy()];
    let args: Vec<&str> = args.iter().map(|a| a.as_ref()).collect();
    lab.spawn(&srv, "node", &args, "browser.log");
    let ready = report(&lab, &state, "ready", Duration::from_secs(60));
    assert_eq!(ready["rows"], 0, "no leases before the client starts");
    assert_eq!(ready["empty"], "No leases yet.");

    // A real dhclient whose host name is markup.
    let conf = lab.dir.join("dhclient.conf");
    std::fs::write(&conf, format!("send host-name \"{EVIL}\";\nsend vendor-class-identifier \"{VENDOR}\";\n")).unwrap();
    let lf = lab.dir.join("c.leases").to_string_lossy().to_string();
    let pf = lab.dir.join("c.pid").to_string_lossy().to_string();
    let cf = conf.to_string_lossy().to_string();
    let r = lab.exec(&cli, "dhclient", &["-1", "-sf", "/bin/true", "-cf", &cf, "-lf", &lf, "-pf", &pf, "eth0"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let mac =
        String::from_utf8_lossy(&lab.exec(&cli, "cat", &["/sys/class/net/eth0/address"]).stdout).trim().to_string();

    let bound = report(&lab, &state, "bound", Duration::from_secs(30));
    assert_eq!(bound["ip"], "192.0.2.10");
    assert_eq!(bound["mac"], mac.as_str());
    assert_eq!(bound["host"], EVIL, "the hostname is shown as the text the client sent");
    assert_eq!(bound["imgs"], 0, "no element was injected");
    assert_eq!(bound["class"], "tagged", "{bound}");
    // A daemon's page is administered: the token field, and release and reserve on a bound row.
    assert_eq!(bound["watching"], serde_json::Value::Null);
    assert_eq!(bound["token"], 1);
    assert_eq!(bound["actions"], serde_json::json!(["lease-release", "lease-reserve"]), "{bound}");
    assert_eq!(d.lease(&lab, "192.0.2.10").expect("the API agrees")["hostname"], EVIL);

    lab.exec(&cli, "ip", &["addr", "add", "192.0.2.10/24", "dev", "eth0"]);
    let r = lab.exec(&cli, "dhclient", &["-r", "-sf", "/bin/true", "-cf", &cf, "-lf", &lf, "-pf", &pf, "eth0"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let result = report(&lab, &state, "result", Duration::from_secs(90));
    assert_eq!(result["problems"], serde_json::json!([]), "no dialog, page error or console error");
    assert_eq!(result["imgsAfter"], 0);
    // The row went to released, and following the client shows its whole exchange on the live flow.
    assert_eq!(
        result["flow"],
        serde_json::json!(["DHCPDISCOVER", "DHCPOFFER", "DHCPREQUEST", "DHCPACK", "DHCPRELEASE"]),
        "{result}"
    );
    assert_eq!(result["lanes"][0], "dhcplab");
    let vendor = result["vendor"].as_str().unwrap_or_default();
    assert!(vendor.contains(VENDOR), "the vendor class shows as the text sent: {vendor}");
    assert!(artifacts.join("dashboard-netns.png").is_file());
    assert_eq!(result["phone"]["scroll"], result["phone"]["width"], "nothing sticks out at a phone's width: {result}");
    let table = (result["phone"]["table_scroll"].as_i64(), result["phone"]["table_width"].as_i64());
    assert!(matches!(table, (Some(s), Some(w)) if w > 0 && s <= w), "the lease table fits a phone's width: {result}");
}
