//! End-to-end test support: throwaway network namespaces joined by veth pairs and bridges, real DHCP peers
//! run inside them, and the `dhcplab` daemon under test. Nothing here touches a real interface: every
//! link is created inside namespaces this harness made, addressed from 192.0.2.0/24 and 198.51.100.0/24,
//! and deleted when the [`NetLab`] guard drops — also when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Panics with a clear message unless the tests can create namespaces (root and iproute2). These tests
/// never skip silently: CI runs as root.
pub mod postgres;

pub fn require_root() {
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert_eq!(
        uid.as_deref().ok(),
        Some("0"),
        "end-to-end tests need root to create network namespaces (run them as root, as CI does)"
    );
    assert!(
        Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success()),
        "end-to-end tests need iproute2 (`ip`); run scripts/setup"
    );
}

/// Panics with the setup hint unless `program` is installed.
pub fn require_program(program: &str, package: &str) {
    let found =
        Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success());
    assert!(found, "{program} is not installed: run scripts/setup (Debian package {package})");
}

/// The `dhcplab` binary, built once per test run; `DHCPLAB_BIN` names another one (a release build, for the
/// load tests run by hand).
pub fn dhcplab_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("DHCPLAB_BIN") {
            return PathBuf::from(bin);
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let status = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "-q", "-p", "dhcplab-server", "--bin", "dhcplab"])
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building dhcplab failed");
        let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
        target.join("debug/dhcplab")
    })
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn must(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A set of namespaces for one test; all of them, and every process started in them, go away on drop.
pub struct NetLab {
    prefix: String,
    namespaces: Vec<String>,
    children: Vec<Child>,
    pub dir: PathBuf,
}

static LABS: AtomicU32 = AtomicU32::new(0);

impl NetLab {
    /// A new lab; `tag` (a few letters) names its namespaces for anyone looking at `ip netns list`.
    pub fn new(tag: &str) -> NetLab {
        require_root();
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("dl{}{tag}{n}", std::process::id() % 10_000);
        let dir = std::env::temp_dir().join(&prefix);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        NetLab { prefix, namespaces: vec![], children: vec![], dir }
    }

    /// Creates namespace `<prefix>-<name>` with loopback up and IPv6 off; returns its full name.
    pub fn ns(&mut self, name: &str) -> String {
        let ns = format!("{}-{name}", self.prefix);
        // Leftovers of a crashed run with the same name go first.
        let _ = run(Command::new("ip").args(["netns", "del", &ns]));
        must(Command::new("ip").args(["netns", "add", &ns]));
        self.namespaces.push(ns.clone());
        must(Command::new("ip").args(["-n", &ns, "link", "set", "lo", "up"]));
        let _ =
            run(Command::new("ip").args(["netns", "exec", &ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]));
        ns
    }

    /// A veth pair created directly inside the two namespaces (it never exists in the root namespace).
    pub fn veth(&self, ns_a: &str, if_a: &str, ns_b: &str, if_b: &str) {
        must(
            Command::new("ip")
                .args(["link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b]),
        );
        self.up(ns_a, if_a);
        self.up(ns_b, if_b);
    }

    pub fn up(&self, ns: &str, iface: &str) {
        must(Command::new("ip").args(["-n", ns, "link", "set", iface, "up"]));
    }

    pub fn addr(&self, ns: &str, iface: &str, cidr: &str) {
        must(Command::new("ip").args(["-n", ns, "addr", "add", cidr, "dev", iface]));
    }

    pub fn route(&self, ns: &str, dest: &str, via: &str) {
        must(Command::new("ip").args(["-n", ns, "route", "add", dest, "via", via]));
    }

    /// A bridge `br0` in namespace `ns` (no STP, no forwarding delay).
    pub fn bridge(&self, ns: &str) {
        must(Command::new("ip").args([
            "-n",
            ns,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ]));
        self.up(ns, "br0");
    }

    /// Joins `iface` (in the bridge's namespace) to `br0`.
    pub fn attach(&self, ns: &str, iface: &str) {
        must(Command::new("ip").args(["-n", ns, "link", "set", iface, "master", "br0"]));
    }

    /// A new namespace `name` whose `iface` is plugged into the bridge in `bridge_ns` (port `p-NAME`).
    pub fn on_bridge(&mut self, bridge_ns: &str, name: &str, iface: &str) -> String {
        let ns = self.ns(name);
        let port = format!("p-{name}");
        self.veth(&ns, iface, bridge_ns, &port);
        self.attach(bridge_ns, &port);
        ns
    }

    /// A command to run inside `ns`.
    pub fn cmd(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// Runs to completion inside `ns`.
    pub fn exec(&self, ns: &str, program: &str, args: &[&str]) -> Output {
        run(self.cmd(ns, program).args(args))
    }

    /// Datagrams the kernel dropped in `ns` because a UDP socket's receive buffer was full (`RcvbufErrors`
    /// of /proc/net/snmp, which shows the namespace of the reader): under load, which side lost a packet.
    pub fn udp_rcvbuf_errors(&self, ns: &str) -> u64 {
        let out = self.exec(ns, "cat", &["/proc/net/snmp"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let mut udp = text.lines().filter(|l| l.starts_with("Udp:")).map(|l| l.split_whitespace().collect::<Vec<_>>());
        let (Some(names), Some(values)) = (udp.next(), udp.next()) else { panic!("no Udp lines in /proc/net/snmp") };
        let at = names.iter().position(|n| *n == "RcvbufErrors").expect("RcvbufErrors in /proc/net/snmp");
        values.get(at).and_then(|v| v.parse().ok()).expect("a RcvbufErrors count")
    }

    /// Starts a long-running process inside `ns`; it is killed when the lab drops. Output goes to
    /// `<dir>/<log>`.
    pub fn spawn(&mut self, ns: &str, program: &str, args: &[&str], log: &str) -> u32 {
        let file = std::fs::File::create(self.dir.join(log)).expect("log file");
        let err = file.try_clone().expect("log file");
        let child = self
            .cmd(ns, program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Kills one process started with `spawn` (SIGKILL with `hard`, else SIGTERM) and waits for it.
    pub fn kill(&mut self, pid: u32, hard: bool) {
        let sig = if hard { "-KILL" } else { "-TERM" };
        let _ = run(Command::new("kill").args([sig, &pid.to_string()]));
        if let Some(i) = self.children.iter().position(|c| c.id() == pid) {
            let mut c = self.children.remove(i);
            let _ = c.wait();
        }
    }

    /// Starts tshark on `iface` in `ns`, writing what `filter` passes to `path`, and returns its pid once the
    /// capture is proven live: a marker datagram sent from `ns` to `peer`'s UDP port 9 (discard) is in the
    /// file. tshark's "Capturing on" alone comes before its ring sees every packet: a CI run lost the first
    /// OFFER that way. The marker is UDP to port 9, never DHCP, so it is not counted as any DHCP message.
    pub fn capture(&mut self, ns: &str, iface: &str, filter: &str, path: &Path, peer: &str) -> u32 {
        let file = path.to_string_lossy().to_string();
        let filter = format!("({filter}) or udp dst port 9");
        let log = format!("tshark-{iface}.log");
        let pid = self.spawn(ns, "tshark", &["-i", iface, "-f", &filter, "-F", "pcap", "-w", &file], &log);
        wait_for(Duration::from_secs(20), "tshark to capture a marker datagram", || {
            let send = format!("echo marker > /dev/udp/{peer}/9");
            let _ = self.exec(ns, "bash", &["-c", &send]);
            let seen = run(Command::new("tshark")
                .args(["-r", &file, "-Y", "udp.dstport == 9", "-T", "fields"])
                .args(["-e", "frame.number"]));
            (!String::from_utf8_lossy(&seen.stdout).trim().is_empty()).then_some(())
        });
        pid
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.namespaces.iter().rev() {
            // Anything else still running in there (dhclient daemonises) dies with the namespace.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `timeout` with `what`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The daemon under test, running inside a namespace, with its HTTP API on the namespace's loopback.
pub struct Daemon {
    pub ns: String,
    pub pid: u32,
    pub http: String,
    pub token: String,
    pub config: PathBuf,
    pub log: String,
}

impl Daemon {
    /// Writes `config` (TOML; its `[http]` section is added here) and starts `dhcplab serve` in `ns`.
    pub fn start(lab: &mut NetLab, ns: &str, config: &str) -> Daemon {
        Self::start_as(lab, ns, config, &[])
    }

    /// Starts (or restarts) the daemon with an existing config file.
    pub fn start_with(lab: &mut NetLab, ns: &str, config: PathBuf, http: String, token: String) -> Daemon {
        Self::start_through(lab, ns, config, http, token, &[])
    }

    /// Writes `config` like `start`, and starts the daemon through `wrapper` (e.g. `setpriv …`), which
    /// must exec it (the pid stays the daemon's).
    pub fn start_as(lab: &mut NetLab, ns: &str, config: &str, wrapper: &[&str]) -> Daemon {
        let (http, token) = ("127.0.0.1:8067".to_string(), "test-token-0123456789".to_string());
        let path = lab.dir.join(format!("{ns}.toml"));
        std::fs::write(&path, format!("{config}\n[http]\nlisten = \"{http}\"\nadmin_token = \"{token}\"\n"))
            .expect("config");
        Self::start_through(lab, ns, path, http, token, wrapper)
    }

    fn start_through(
        lab: &mut NetLab,
        ns: &str,
        config: PathBuf,
        http: String,
        token: String,
        wrapper: &[&str],
    ) -> Daemon {
        let log = format!("{ns}-dhcplab-{}.log", lab.children.len());
        let bin = dhcplab_bin().to_string_lossy().to_string();
        let cfg = config.to_string_lossy().to_string();
        let command: Vec<&str> = wrapper.iter().copied().chain([bin.as_str(), "serve", "--config", &cfg]).collect();
        let pid = lab.spawn(ns, command[0], &command[1..], &log);
        let d = Daemon { ns: ns.to_string(), pid, http, token, config, log };
        wait_for(Duration::from_secs(20), "the daemon's /healthz", || {
            (d.get_text(lab, "/healthz").as_deref() == Some("ok")).then_some(())
        });
        d
    }

    fn curl(&self, lab: &NetLab, args: &[&str]) -> Option<String> {
        let out = lab.exec(&self.ns, "curl", &[&["-s", "-m", "5"], args].concat());
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).to_string())
    }

    pub fn get_text(&self, lab: &NetLab, path: &str) -> Option<String> {
        self.curl(lab, &[&format!("http://{}{path}", self.http)])
    }

    pub fn get(&self, lab: &NetLab, path: &str) -> serde_json::Value {
        let text = self.get_text(lab, path).unwrap_or_else(|| panic!("GET {path} failed"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }

    /// A request with the admin token; returns (HTTP status, body).
    pub fn call(&self, lab: &NetLab, method: &str, path: &str) -> (u16, String) {
        let auth = format!("Authorization: Bearer {}", self.token);
        let url = format!("http://{}{path}", self.http);
        let out = self.curl(lab, &["-X", method, "-H", &auth, "-w", "\n%{http_code}", &url]).unwrap_or_default();
        let (body, code) = out.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// The lease the API reports for `ip`, if any.
    pub fn lease(&self, lab: &NetLab, ip: &str) -> Option<serde_json::Value> {
        let v = self.get(lab, &format!("/api/leases/{ip}"));
        (v["ip"] == ip).then_some(v)
    }

    pub fn stats(&self, lab: &NetLab) -> serde_json::Value {
        self.get(lab, "/api/stats")
    }

    pub fn log_text(&self, lab: &NetLab) -> String {
        lab.log(&self.log)
    }

    /// The daemon's log once a whole line of it contains `needle`. Lines are written by the thread that
    /// did the work — a DHCPACK's by the committer after its commit — so a moment after the API shows the
    /// result; a test that read the log once could miss them.
    pub fn log_containing(&self, lab: &NetLab, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let mut text = self.log_text(lab);
            text.truncate(text.rfind('\n').map_or(0, |end| end + 1));
            if text.contains(needle) {
                return text;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "no line with {needle:?} in the daemon's log:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Key/value lines (`key=value`) of a file a client script wrote.
pub fn env_file(path: &Path) -> std::collections::HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// Runs `f` on a thread that has joined network namespace `ns`: sockets it opens live in that namespace
/// (the daemon's API listens on the namespace's own loopback).
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns on this thread only, with a valid namespace descriptor we hold open.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns into {path}: {}", std::io::Error::last_os_error());
        f()
    })
}

/// `received packets` of one exchange section of perfdhcp's summary (`DISCOVER-OFFER`, `REQUEST-ACK`).
pub fn perfdhcp_received(text: &str, exchange: &str) -> Option<u64> {
    let section = text.split("***Statistics for:").find(|s| s.trim_start().starts_with(exchange))?;
    section.lines().find_map(|l| l.trim().strip_prefix("received packets:")).and_then(|v| v.trim().parse().ok())
}

/// Over both exchanges of perfdhcp's summary: (replies it missed, requests it sent).
pub fn perfdhcp_lost(text: &str) -> (u64, u64) {
    let field = |section: &str, name: &str| -> u64 {
        section.lines().find_map(|l| l.trim().strip_prefix(name)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    };
    text.split("***Statistics for:").skip(1).fold((0, 0), |(lost, sent), s| {
        let (tx, rx) = (field(s, "sent packets:"), field(s, "received packets:"));
        (lost + tx.saturating_sub(rx), sent + tx)
    })
}

/// perfdhcp's topology: the server (192.0.2.1 on `srv0`) and a relay namespace (192.0.2.2, plus
/// 198.51.100.254, perfdhcp's giaddr, on `up0`) joined by a veth; the server routes 198.51.100.0/24 back via
/// the relay. Returns (server namespace, relay namespace).
pub fn relay_pair(lab: &mut NetLab) -> (String, String) {
    let srv = lab.ns("srv");
    let relay = lab.ns("relay");
    lab.veth(&srv, "srv0", &relay, "up0");
    lab.addr(&srv, "srv0", "192.0.2.1/24");
    lab.addr(&relay, "up0", "192.0.2.2/24");
    lab.addr(&relay, "up0", "198.51.100.254/24");
    lab.route(&srv, "198.51.100.0/24", "192.0.2.2");
    (srv, relay)
}

/// The smallest real network: the daemon's namespace (192.0.2.1 on `srv0`) and one client namespace (`eth0`)
/// joined by a veth, with a config that serves 192.0.2.10–20 there. Returns (server ns, client ns, config).
pub fn one_client_lan(lab: &mut NetLab) -> (String, String, String) {
    let srv = lab.ns("srv");
    let cli = lab.ns("cli");
    lab.veth(&srv, "srv0", &cli, "eth0");
    lab.addr(&srv, "srv0", "192.0.2.1/24");
    let cfg = format!(
        "[dhcp]\ninterfaces = [\"srv0\"]\nlease_db = \"{}\"\n[[subnet]]\ncidr = \"192.0.2.0/24\"\npools = [\"192.0.2.10-192.0.2.20\"]\n",
        lab.dir.join("l.sqlite3").display()
    );
    (srv, cli, cfg)
}

const DHCPCD_CONF: &str = "ipv4only\nnohook resolv.conf, ntp.conf, timesyncd.conf, hostname, wpa_supplicant, yp.conf\n\
option domain_name_servers, domain_name, routers, subnet_mask\n";

/// Runs dhcpcd once on `iface` in `ns`; returns the variables its hook saw when it bound.
pub fn dhcpcd(lab: &NetLab, ns: &str, iface: &str) -> std::collections::HashMap<String, String> {
    dhcpcd_with(lab, ns, iface, &[])
}

/// As [`dhcpcd`], with more arguments (e.g. `-i VENDOR` for a vendor class).
pub fn dhcpcd_with(lab: &NetLab, ns: &str, iface: &str, extra: &[&str]) -> std::collections::HashMap<String, String> {
    require_program("dhcpcd", "dhcpcd-base");
    let conf = lab.dir.join("dhcpcd.conf");
    std::fs::write(&conf, DHCPCD_CONF).unwrap();
    let out = lab.dir.join(format!("{iface}.env"));
    let script = lab.dir.join(format!("{iface}.sh"));
    std::fs::write(&script, format!("#!/bin/sh\n[ \"$reason\" = BOUND ] && env > {}\nexit 0\n", out.display()))
        .unwrap();
    std::process::Command::new("chmod").args(["+x", &script.to_string_lossy()]).status().unwrap();
    // dhcpcd keeps its lease under /var/lib/dhcpcd, shared by all namespaces: start clean.
    let _ = std::fs::remove_file(format!("/var/lib/dhcpcd/{iface}.lease"));
    let (conf, script) = (conf.to_string_lossy(), script.to_string_lossy());
    let mut args = vec!["-f", &conf, "-c", &script, "-B", "-1", "-4", "-t", "20"];
    args.extend_from_slice(extra);
    args.push(iface);
    let r = lab.exec(ns, "dhcpcd", &args);
    let _ = std::fs::remove_file(format!("/var/lib/dhcpcd/{iface}.lease"));
    assert!(
        r.status.success(),
        "dhcpcd failed:\n{}\n{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    env_file(&out)
}

/// Waits for the report `name` that a browser helper (`tests/browser/*.helper.mjs`) writes into `state`;
/// fails with the helper's log (`browser.log`) if it reported an error instead.
pub fn browser_report(lab: &NetLab, state: &Path, name: &str, limit: Duration) -> serde_json::Value {
    let v = wait_for(limit, &format!("the browser's `{name}` report"), || {
        let result = std::fs::read_to_string(state.join("result")).ok();
        if let Some(r) = &result
            && r.contains("\"error\"")
        {
            panic!("the browser side failed: {r}\n{}", lab.log("browser.log"));
        }
        std::fs::read_to_string(state.join(name)).ok()
    });
    serde_json::from_str(&v).unwrap_or_else(|e| panic!("{name}: {e}: {v}"))
}
