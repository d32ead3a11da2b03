//! A throwaway PostgreSQL cluster for one test: `initdb` into the test's own directory, a server on a Unix
//! socket only (no TCP port), reachable from every network namespace through the filesystem. It never
//! touches a system cluster, and it is stopped and deleted on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    /// The libpq URL of the test's database (through the Unix socket).
    pub url: String,
    /// The server's own options: where it listens, TLS.
    options: String,
    /// The network namespace it runs in, if not the root one.
    netns: Option<String>,
}

/// Debian's server binaries (`/usr/lib/postgresql/<version>/bin`), the newest version installed.
fn server_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|b| b.join("initdb").is_file()).collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|p| p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()?.parse::<u32>().ok()));
    versions
        .pop()
        .unwrap_or_else(|| panic!("PostgreSQL is not installed: run scripts/setup (Debian package postgresql)"))
}

fn as_postgres(program: &Path) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).arg(program);
    c
}

fn must(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Postgres {
    /// A new cluster in `<parent>/pg` with one database, `name`.
    pub fn start(parent: &Path, name: &str) -> Postgres {
        crate::require_root();
        let bin = server_bin();
        let dir = parent.join("pg");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster dir");
        must(
            {
                let mut c = Command::new("chown");
                c.args(["postgres:postgres"]).arg(&dir);
                c
            },
            "chown the cluster dir",
        );
        let mut init = as_postgres(&bin.join("initdb"));
        init.arg("-D").arg(dir.join("data")).args(["-A", "trust", "-U", "postgres", "--no-sync"]);
        must(init, "initdb");
        let options = format!("-k {} -c listen_addresses=''", dir.display());
        let url = format!("postgresql:///{name}?host={}&user=postgres", dir.display());
        let pg = Postgres { bin, url, dir, options, netns: None };
        pg.resume();
        let mut create = Command::new(pg.bin.join("createdb"));
        create.arg("-h").arg(&pg.dir).args(["-U", "postgres", name]);
        must(create, "createdb");
        pg
    }

    /// A cluster that also listens on 127.0.0.1:5432 inside namespace `ns`, with TLS on, its certificate
    /// (for `localhost`) signed by a CA of the test's own. Returns it and the CA's certificate file.
    pub fn start_tls_in(parent: &Path, name: &str, ns: &str) -> (Postgres, PathBuf) {
        crate::require_program("openssl", "openssl");
        let mut pg = Postgres::start(parent, name);
        pg.halt();
        let certs = pg.dir.join("certs");
        std::fs::create_dir_all(&certs).expect("certs dir");
        let ca = certs.join("ca.crt");
        let sh = format!(
            "set -e; cd {d}; \
             openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=dhcplab-test-ca -keyout ca.key -out ca.crt; \
             openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr; \
             printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san; \
             openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile san -out server.crt; \
             chown postgres server.key server.crt; chmod 600 server.key",
            d = certs.display()
        );
        let mut c = Command::new("sh");
        c.args(["-c", &sh]);
        must(c, "making the test's certificates");
        pg.options = format!(
            "-k {} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            pg.dir.display(),
            certs.join("server.crt").display(),
            certs.join("server.key").display()
        );
        pg.netns = Some(ns.to_string());
        pg.resume();
        (pg, ca)
    }

    /// Starts (again) the stopped server.
    pub fn resume(&self) {
        let mut start = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "runuser", "-u", "postgres", "--"]).arg(self.bin.join("pg_ctl"));
                c
            }
            None => as_postgres(&self.bin.join("pg_ctl")),
        };
        start
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-o")
            .arg(&self.options)
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "start"]);
        must(start, "pg_ctl start");
    }

    /// Stops the server at once, as a crash or a lost database host would (clients see their connections
    /// break).
    pub fn halt(&self) {
        let mut stop = as_postgres(&self.bin.join("pg_ctl"));
        stop.arg("-D").arg(self.dir.join("data")).args(["-m", "immediate", "-w", "stop"]);
        must(stop, "pg_ctl stop");
    }

    /// Runs SQL in the test database; its output (unaligned, tuples only).
    pub fn query(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .arg(&self.url)
            .args(["-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("psql");
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
