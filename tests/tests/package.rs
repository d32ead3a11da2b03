//! The Debian package, as an admin gets it: built from the repo by `scripts/package` (release binary with
//! the web app inside, unit, config, man page, completions), checked with dpkg-deb and systemd-analyze, and
//! its binary run from a directory with no repository and no `dist/` nearby.

use dhcplab_tests::{require_program, wait_for};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn the_debian_package_installs_a_unit_systemd_accepts_and_a_binary_that_serves_the_web_app_alone() {
    require_program("dpkg-deb", "dpkg");
    require_program("systemd-analyze", "systemd");
    require_program("cargo-deb", "cargo-deb (scripts/setup installs it)");
    require_program("lintian", "lintian");
    let out = run(Command::new(repo().join("scripts/package")).current_dir(repo()));
    let deb = repo().join(out.lines().last().expect("the package's path").trim());
    let info = run(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(info.contains(&format!("Version: {}-1", env!("CARGO_PKG_VERSION"))), "versioned from Cargo.toml:\n{info}");
    assert!(info.contains("Depends: adduser"), "{info}");
    let contents = run(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    for file in [
        "./usr/bin/dhcplab",
        "./usr/lib/systemd/system/dhcplab.service",
        "./etc/dhcplab/dhcplab.toml",
        "./usr/share/man/man1/dhcplab.1.gz",
        "./usr/share/bash-completion/completions/dhcplab",
        "./usr/share/zsh/vendor-completions/_dhcplab",
        "./usr/share/fish/vendor_completions.d/dhcplab.fish",
    ] {
        assert!(contents.contains(file), "{file} is in the package:\n{contents}");
    }
    let conffiles = run(Command::new("dpkg-deb").arg("-I").arg(&deb).arg("conffiles"));
    assert_eq!(conffiles.trim(), "/etc/dhcplab/dhcplab.toml");
    // Debian's own checker finds nothing (no error, no warning).
    let lint = Command::new("lintian").args(["--tag-display-limit", "0"]).arg(&deb).output().unwrap();
    let said = String::from_utf8_lossy(&lint.stdout);
    assert!(
        lint.status.success() && !said.lines().any(|l| l.starts_with("E:") || l.starts_with("W:")),
        "lintian:\n{said}"
    );

    // dpkg unpacks it into a throwaway root with a dpkg database of its own (its maintainer scripts, which
    // make a system user, are not run there).
    let root = std::env::temp_dir().join(format!("dhcplab-pkg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    run(Command::new("dpkg").arg(format!("--root={}", root.display())).args(["--force-depends", "--unpack"]).arg(&deb));
    let status = run(Command::new("dpkg").arg(format!("--root={}", root.display())).args(["-s", "dhcplab"]));
    assert!(status.contains("Status: install ok unpacked") && status.contains("/etc/dhcplab/dhcplab.toml"), "{status}");
    let bin = root.join("usr/bin/dhcplab");
    // The unit as systemd checks it (pointing at the extracted binary; the man page from the package).
    let unit = std::fs::read_to_string(root.join("usr/lib/systemd/system/dhcplab.service")).unwrap();
    for line in ["Type=notify", "User=dhcplab", "StateDirectory=dhcplab", "NoNewPrivileges=yes", "ProtectSystem=strict"]
    {
        assert!(unit.contains(line), "the unit has {line}");
    }
    let check_dir = root.join("unit-check");
    std::fs::create_dir_all(&check_dir).unwrap();
    let checked = check_dir.join("dhcplab.service");
    std::fs::write(&checked, unit.replace("/usr/bin/dhcplab", &bin.to_string_lossy())).unwrap();
    run(Command::new("systemd-analyze").arg("verify").arg(&checked).env("MANPATH", root.join("usr/share/man")));
    let man = run(Command::new("zcat").arg(root.join("usr/share/man/man1/dhcplab.1.gz")));
    assert!(man.contains("Exit codes") && man.contains("SIGHUP"), "the man page is the CLI's help:\n{man}");
    // The installed config is valid as shipped (and serves no link until one is named).
    // (Unpacked, not configured: dpkg keeps a new conffile as .dpkg-new until configuration.)
    let said = run(Command::new(&bin).arg("check").arg(root.join("etc/dhcplab/dhcplab.toml.dpkg-new")));
    assert!(said.contains("ok"), "{said}");
    run(Command::new("sh").arg("-n").arg(repo().join("packaging/debian/postinst")));

    // The binary alone, started in an empty directory: the lab and dashboard come with it.
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let http = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let mut daemon = Command::new(&bin)
        .args(["demo", "--http", &http, "--port", &udp, "--clients", "1"])
        .current_dir(&empty)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let page = wait_for(Duration::from_secs(20), "the page", || {
        let out = Command::new("curl").args(["-s", "-m", "2", &format!("http://{http}/")]).output().ok()?;
        let body = String::from_utf8_lossy(&out.stdout).to_string();
        body.contains("dhcplab-web").then_some(body)
    });
    let wasm = run(Command::new("curl").args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{content_type} %{size_download}",
        &format!("http://{http}/dhcplab-web_bg.wasm"),
    ]));
    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = std::fs::remove_dir_all(&root);
    assert!(page.contains("<html") || page.contains("<!doctype") || page.contains("<!DOCTYPE"), "{page}");
    let f: Vec<&str> = wasm.split_whitespace().collect();
    assert_eq!((f[0], f[1]), ("200", "application/wasm"), "{wasm}");
    assert!(f[2].parse::<u64>().unwrap_or(0) > 100_000, "the whole app: {wasm}");
}
