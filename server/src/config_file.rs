//! The daemon's TOML config file: `[dhcp]`, `[http]`, `[[subnet]]` and `[[class]]`. Every error, syntax or meaning,
//! is reported with the line and column of the field it is about.

use crate::ddns::DdnsSection;
use crate::store::LeaseDb;
use dhcplab_engine::Duration;
use dhcplab_engine::class::ClientClass;
use dhcplab_engine::config::{ConfigError, Reservation, ServerConfig, ServerPolicy, SubnetConfig};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub dhcp: DhcpSection,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default)]
    pub subnet: Vec<SubnetConfig>,
    /// Client classes, in precedence order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class: Vec<ClientClass>,
    /// Dynamic DNS: without it, no DNS records are made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ddns: Option<DdnsSection>,
}

/// `[dhcp]`: where to serve, and the engine's server-wide protocol knobs (flattened in, so they are
/// defined once, in the engine). Unknown keys are reported by `parse` with their line: serde's
/// `deny_unknown_fields` does not work with `flatten`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DhcpSection {
    /// Interfaces to serve on. None by default: nothing is served on a real link unless named.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// UDP port to listen on (67 on a real LAN; an unprivileged one for the loopback demo).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The lease database: a SQLite file (one server) or a `postgresql://` URL (several servers sharing it).
    #[serde(default = "default_lease_db")]
    pub lease_db: LeaseDb,
    /// The PostgreSQL password, from the first line of this file (or `DHCPLAB_DB_PASSWORD`), so the URL
    /// need not hold it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_db_password_file: Option<PathBuf>,
    /// This server's name among the servers sharing a PostgreSQL database (default: the host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// With a shared database: how long a server's heartbeat may be silent before the others take over
    /// its share of the pools.
    #[serde(default = "default_takeover_after", with = "dhcplab_engine::duration_text")]
    pub takeover_after: Duration,
    /// Group commit: under steady load, the longest an ACK may wait, from when its REQUEST was read, for the
    /// next REQUESTs so one fsync covers several ACKs (0 commits each batch at once; `500us` is a valid
    /// value). A commit waits for the REQUEST it expects next (with half their spacing's grace), and only
    /// while REQUESTs come within this, so a quiet network never sees it.
    #[serde(default = "default_commit_delay", with = "dhcplab_engine::duration_text")]
    pub commit_delay: Duration,
    /// Threads that read and answer DHCP packets (1 to `MAX_THREADS`). With more than one, each interface
    /// has a socket per thread and the kernel hands each client's packets to one of them (by its hardware
    /// address); the threads share one protocol state, so what they run at once is the packets' system
    /// calls and the network stack, most of an exchange's CPU. Read at start only.
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// Started as root, become this user once the sockets are bound and the database is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(flatten)]
    pub policy: ServerPolicy,
}

/// `[http]`: the API, dashboard and metrics listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    #[serde(default = "default_http")]
    pub listen: SocketAddr,
    /// Bearer token for mutating endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,
    /// Or read it from this file (first line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_token_file: Option<PathBuf>,
    /// Host names (besides IP addresses and `localhost`) that browsers may reach the daemon by; any
    /// other name in `Host` is refused, which defeats DNS rebinding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// Web origins (`https://admin.example`) other than the daemon's own whose pages may call the API and
    /// open `/ws`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// Live-bridge connections at once; more are refused with 503.
    #[serde(default = "default_max_watchers")]
    pub max_watchers: usize,
}

fn default_port() -> u16 {
    dhcplab_engine::message::SERVER_PORT
}
fn default_lease_db() -> LeaseDb {
    LeaseDb::Sqlite(PathBuf::from("/var/lib/dhcplab/leases.sqlite3"))
}
fn default_commit_delay() -> Duration {
    Duration::from_millis(1)
}

fn default_threads() -> usize {
    1
}
/// More packet threads than this gain nothing behind one protocol state.
pub const MAX_THREADS: usize = 16;

fn default_takeover_after() -> Duration {
    Duration::from_secs(10)
}
fn default_max_watchers() -> usize {
    64
}
fn default_http() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8067))
}

impl Default for DhcpSection {
    fn default() -> Self {
        DhcpSection {
            interfaces: vec![],
            port: default_port(),
            lease_db: default_lease_db(),
            lease_db_password_file: None,
            server_name: None,
            takeover_after: default_takeover_after(),
            commit_delay: default_commit_delay(),
            threads: default_threads(),
            user: None,
            policy: ServerPolicy::default(),
        }
    }
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: default_http(),
            admin_token: None,
            admin_token_file: None,
            allowed_hosts: vec![],
            allowed_origins: vec![],
            max_watchers: default_max_watchers(),
        }
    }
}

impl ConfigFile {
    /// The engine's view: protocol knobs and subnets.
    pub fn server_config(&self) -> ServerConfig {
        ServerConfig {
            policy: self.dhcp.policy.clone(),
            subnets: self.subnet.clone(),
            classes: self.class.clone(),
            ddns: self.ddns.as_ref().map(|d| d.names()),
        }
    }
}

/// The shortest admin token accepted: it guards releases and config edits, so it must not be guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// Refuses a token that is too short to be secret.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.trim().len() < MIN_TOKEN_LEN {
        return Err(format!(
            "is shorter than {MIN_TOKEN_LEN} characters; use a long random one (e.g. `openssl rand -hex 16`)"
        ));
    }
    Ok(())
}

/// One problem, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    /// The field, e.g. `subnet[0].pools[1]` (empty for a syntax error).
    pub field: String,
    pub message: String,
}

/// Everything wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigFileError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}:{}: ", self.file, p.line, p.column)?;
            if !p.field.is_empty() {
                write!(f, "{}: ", p.field)?;
            }
            write!(f, "{}", p.message)?;
        }
        Ok(())
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1) + 1;
    (line, col)
}

/// Splits `subnet[0].pools[1]` into `subnet`, `0`, `pools`, `1`.
fn path_segments(path: &str) -> Vec<String> {
    path.split(['.', '[', ']']).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// The span of the value at `path`, or of the nearest enclosing one that exists.
fn span_of(root: &DeTable<'_>, path: &str) -> Option<Range<usize>> {
    let mut best = None;
    let mut table = Some(root);
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    for seg in path_segments(path) {
        let value = if let Some(t) = table {
            t.iter().find(|(k, _)| k.get_ref().as_ref() == seg).map(|(_, v)| v)
        } else if let (Some(a), Ok(i)) = (array, seg.parse::<usize>()) {
            a.get(i)
        } else {
            None
        };
        let Some(v) = value else { break };
        best = Some(v.span());
        (table, array) = match v.get_ref() {
            DeValue::Table(t) => (Some(t), None),
            DeValue::Array(a) => (None, Some(&a[..])),
            _ => (None, None),
        };
    }
    best
}

/// The engine names server-wide knobs without a section; in the file they live in `[dhcp]`.
fn file_path(engine_path: &str) -> String {
    if engine_path.starts_with("subnet") || engine_path.starts_with("class") {
        engine_path.to_string()
    } else {
        format!("dhcp.{engine_path}")
    }
}

/// Parses and validates config text. `file` is only used in messages.
pub fn parse(text: &str, file: &str) -> Result<ConfigFile, ConfigFileError> {
    let fail = |problems| ConfigFileError { file: file.to_string(), problems };
    let syntax = |e: toml::de::Error| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        fail(vec![Problem { line, column, field: String::new(), message: e.message().trim().to_string() }])
    };
    let cfg: ConfigFile = toml::from_str(text).map_err(syntax)?;
    let mut problems = Vec::new();
    // `[dhcp]` flattens the engine's knobs, which rules out serde's `deny_unknown_fields` there: its keys
    // are checked here instead, against the keys the section itself writes.
    let root = DeTable::parse(text).ok();
    // Every key, optional ones included.
    let mut all = DhcpSection {
        user: Some(String::new()),
        server_name: Some(String::new()),
        lease_db_password_file: Some(PathBuf::new()),
        ..DhcpSection::default()
    };
    all.policy.conflict_probe = Some(Duration::from_millis(1));
    let known = toml::Table::try_from(all).unwrap_or_default();
    if let Some(DeValue::Table(dhcp)) = root.as_ref().and_then(|r| r.get_ref().get("dhcp")).map(|v| v.get_ref()) {
        for (key, _) in dhcp.iter().filter(|(k, _)| !known.contains_key(k.get_ref().as_ref())) {
            let (line, column) = line_col(text, key.span().start);
            let field = format!("dhcp.{}", key.get_ref());
            problems.push(Problem { line, column, field, message: format!("unknown field `{}`", key.get_ref()) });
        }
    }
    if let Err(errs) = cfg.server_config().validate() {
        for ConfigError { path, message } in errs {
            let field = file_path(&path);
            let (line, column) =
                root.as_ref().and_then(|r| span_of(r.get_ref(), &field)).map_or((1, 1), |s| line_col(text, s.start));
            problems.push(Problem { line, column, field, message });
        }
    }
    let at = |field: &str| {
        let root = DeTable::parse(text).ok();
        root.as_ref().and_then(|r| span_of(r.get_ref(), field)).map_or((1, 1), |s| line_col(text, s.start))
    };
    let mut problem_at = |field: &str, message: String| {
        let (line, column) = at(field);
        problems.push(Problem { line, column, field: field.into(), message });
    };
    if !(1..=MAX_THREADS).contains(&cfg.dhcp.threads) {
        problem_at("dhcp.threads", format!("threads must be 1 to {MAX_THREADS}"));
    }
    if cfg.http.admin_token.is_some() && cfg.http.admin_token_file.is_some() {
        problem_at("http.admin_token", "give admin_token or admin_token_file, not both".into());
    }
    if let Some(Err(why)) = cfg.http.admin_token.as_deref().map(check_token) {
        problem_at("http.admin_token", why);
    }
    for (field, why) in cfg.ddns.as_ref().map(DdnsSection::check).unwrap_or_default() {
        problem_at(field, why);
    }
    if problems.is_empty() {
        Ok(cfg)
    } else {
        problems.sort_by_key(|p| (p.line, p.column));
        Err(fail(problems))
    }
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<ConfigFile, ConfigFileError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigFileError {
        file: name.clone(),
        problems: vec![Problem { line: 0, column: 0, field: String::new(), message: format!("cannot read: {e}") }],
    })?;
    let mut cfg = parse(&text, &name)?;
    // Relative paths in the file mean "beside the file", never "wherever the daemon was started".
    let dir = path.parent().unwrap_or(Path::new("."));
    cfg.dhcp.lease_db = cfg.dhcp.lease_db.beside(dir);
    cfg.dhcp.lease_db_password_file = cfg.dhcp.lease_db_password_file.map(|f| dir.join(f));
    cfg.http.admin_token_file = cfg.http.admin_token_file.map(|f| dir.join(f));
    Ok(cfg)
}

/// The config text with one more `[[subnet.reservation]]`, under the subnet that contains its address.
/// Comments, order and formatting of everything else are kept: an admin's file stays theirs.
pub fn add_reservation(text: &str, r: &Reservation) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.to_string())?;
    let subnets = doc
        .get_mut("subnet")
        .and_then(toml_edit::Item::as_array_of_tables_mut)
        .ok_or("the config file has no [[subnet]] tables")?;
    let contains = |t: &toml_edit::Table| {
        t.get("cidr")
            .and_then(toml_edit::Item::as_str)
            .and_then(|c| c.parse::<ipnet::Ipv4Net>().ok())
            .is_some_and(|n| n.trunc().contains(&r.ip))
    };
    let subnet = subnets
        .iter_mut()
        .find(|t| contains(t))
        .ok_or_else(|| format!("no [[subnet]] in the config file contains {}", r.ip))?;
    let mut entry = toml_edit::Table::new();
    if let Some(mac) = r.mac {
        entry.insert("mac", toml_edit::value(mac.to_string()));
    }
    if let Some(id) = &r.client_id {
        entry.insert("client_id", toml_edit::value(id.to_string()));
    }
    entry.insert("ip", toml_edit::value(r.ip.to_string()));
    if let Some(h) = &r.hostname {
        // toml_edit escapes it: a client-sent name cannot break out of its string.
        entry.insert("hostname", toml_edit::value(h.as_str()));
    }
    match subnet.entry("reservation") {
        toml_edit::Entry::Vacant(v) => {
            let mut list = toml_edit::ArrayOfTables::new();
            list.push(entry);
            v.insert(toml_edit::Item::ArrayOfTables(list));
        }
        toml_edit::Entry::Occupied(mut o) => match o.get_mut() {
            toml_edit::Item::ArrayOfTables(list) => list.push(entry),
            toml_edit::Item::Value(toml_edit::Value::Array(list)) => list.push(entry.into_inline_table()),
            _ => return Err("`reservation` in that subnet is neither a list nor [[subnet.reservation]]".into()),
        },
    }
    Ok(doc.to_string())
}

/// Adds a reservation to the config file at `path`, checked as a whole before it is written; returns the
/// text it replaced (to put back if the running server refuses the result).
pub fn persist_reservation(path: &Path, r: &Reservation) -> Result<String, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let new = add_reservation(&text, r)?;
    let cfg = parse(&new, &name).map_err(|e| e.to_string())?;
    if !cfg.subnet.iter().any(|s| s.reservations.contains(r)) {
        return Err(format!("the reservation for {} did not survive writing {name}", r.ip));
    }
    replace_file(path, &new, Some(&text))?;
    Ok(text)
}

/// Replaces a file's text the way an editor should: the new text is written and fsynced beside the file
/// (through a symlink, beside its target, which stays a symlink), with the file's own mode and owner from
/// the first byte, then renamed over it, and the directory is fsynced. With `expect`, the file must still
/// hold that text (an admin editing it meanwhile wins, and the caller is told).
pub fn replace_file(path: &Path, new: &str, expect: Option<&str>) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, fchown};
    let name = path.display().to_string();
    let real = std::fs::canonicalize(path).map_err(|e| format!("cannot resolve {name}: {e}"))?;
    let meta = std::fs::metadata(&real).map_err(|e| format!("cannot stat {name}: {e}"))?;
    let file_name = real.file_name().and_then(|n| n.to_str()).unwrap_or("config.toml");
    let tmp = real.with_file_name(format!(".{file_name}.dhcplab-new"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(meta.mode() & 0o7777).open(&tmp)?;
        fchown(&f, Some(meta.uid()), Some(meta.gid()))?;
        f.write_all(new.as_bytes())?;
        f.sync_all()?;
        if let Some(old) = expect
            && std::fs::read_to_string(&real)? != old
        {
            return Err(std::io::Error::other("it changed on disk while dhcplab was editing it; try again"));
        }
        std::fs::rename(&tmp, &real)?;
        if let Some(dir) = real.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {name}: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const GOOD: &str = r#"
[dhcp]
interfaces = ["eth1"]
lease_db = "leases.sqlite3"

[http]
listen = "127.0.0.1:8067"

[[subnet]]
cidr = "192.168.1.0/24"
pools = ["192.168.1.20-192.168.1.200"]
routers = ["192.168.1.10"]
dns = ["192.168.1.10"]
lease_time = "6h"

[[subnet.reservation]]
mac = "52:54:00:12:34:56"
ip = "192.168.1.34"
"#;

    #[test]
    fn the_product_sketch_parses() {
        let c = parse(GOOD, "t.toml").unwrap();
        assert_eq!(c.dhcp.interfaces, vec!["eth1"]);
        assert_eq!(c.subnet[0].lease_time, Duration::from_secs(6 * 3600));
        assert_eq!(c.subnet[0].reservations[0].ip.to_string(), "192.168.1.34");
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8067");
    }

    #[test]
    fn a_short_admin_token_is_refused_at_its_line_and_a_long_one_and_browser_names_are_taken() {
        let weak = GOOD.replace("listen = \"127.0.0.1:8067\"", "listen = \"127.0.0.1:8067\"\nadmin_token = \"secret\"");
        let e = parse(&weak, "t.toml").unwrap_err();
        assert_eq!((e.problems[0].line, e.problems[0].field.as_str()), (8, "http.admin_token"), "{e}");
        assert!(e.to_string().contains("shorter than 16"), "{e}");
        let strong = GOOD.replace(
            "listen = \"127.0.0.1:8067\"",
            "listen = \"127.0.0.1:8067\"\nadmin_token = \"0123456789abcdef0123\"\nallowed_hosts = [\"dhcp.lan\"]\nmax_watchers = 8",
        );
        let c = parse(&strong, "t.toml").unwrap();
        assert_eq!((c.http.allowed_hosts.as_slice(), c.http.max_watchers), (&["dhcp.lan".to_string()][..], 8));
    }

    #[test]
    fn a_file_is_replaced_through_its_symlink_with_its_mode_and_never_over_a_concurrent_edit() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("dhcplab-replace-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("real")).unwrap();
        let target = dir.join("real/dhcplab.toml");
        std::fs::write(&target, "old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.join("dhcplab.toml");
        std::os::unix::fs::symlink(&target, &link).unwrap();

        replace_file(&link, "new", Some("old")).unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600, "the mode is kept");

        // Someone edited the file meanwhile: their text stays, and no temp file is left behind.
        let e = replace_file(&link, "mine", Some("what I read")).unwrap_err();
        assert!(e.contains("changed on disk"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.join("real")).unwrap().count(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unknown_key_in_dhcp_is_named_with_its_line_and_the_knobs_are_read() {
        let typo = GOOD.replace("lease_db = \"leases.sqlite3\"", "lease_db = \"leases.sqlite3\"\nauthoritive = false");
        let e = parse(&typo, "t.toml").unwrap_err();
        assert_eq!((e.problems[0].line, e.problems[0].field.as_str()), (5, "dhcp.authoritive"), "{e}");
        assert!(e.to_string().contains("unknown field `authoritive`"), "{e}");
        let knobs = GOOD
            .replace("lease_db = \"leases.sqlite3\"", "lease_db = \"l\"\nauthoritative = false\noffer_hold = \"5s\"");
        let c = parse(&knobs, "t.toml").unwrap();
        assert_eq!(c.dhcp.threads, 1, "one packet thread unless asked");
        assert!(!c.server_config().policy.authoritative);
        assert_eq!(c.server_config().policy.offer_hold, Duration::from_secs(5));
        let nested = GOOD.replace("ip = \"192.168.1.34\"", "ip = \"192.168.1.34\"\ncolour = \"blue\"");
        let e = parse(&nested, "t.toml").unwrap_err();
        assert!(e.to_string().contains("colour"), "reservations still refuse unknown fields: {e}");
    }

    #[test]
    fn relative_paths_mean_beside_the_config_file() {
        let dir = std::env::temp_dir().join(format!("dhcplab-paths-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("dhcplab.toml");
        std::fs::write(
            &file,
            GOOD.replace("listen = \"127.0.0.1:8067\"", "listen = \"127.0.0.1:8067\"\nadmin_token_file = \"token\""),
        )
        .unwrap();
        let c = load(&file).unwrap();
        assert_eq!(c.dhcp.lease_db, LeaseDb::Sqlite(dir.join("leases.sqlite3")));
        assert_eq!(c.http.admin_token_file, Some(dir.join("token")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let bad = GOOD.replace("routers = [\"192.168.1.10\"]", "routers = [\"192.168.1.10\"");
        let e = parse(&bad, "t.toml").unwrap_err();
        assert_eq!(e.problems.len(), 1);
        assert!(e.problems[0].line >= 12, "{e}");
    }

    #[test]
    fn a_bad_value_names_its_line_and_field() {
        let bad = GOOD.replace("lease_time = \"6h\"", "lease_time = \"6 hours\"");
        let e = parse(&bad, "t.toml").unwrap_err();
        assert_eq!(e.problems[0].line, 14, "{e}");
        assert!(e.to_string().contains("not a duration"), "{e}");
    }

    #[test]
    fn packet_threads_are_read_and_a_count_out_of_range_names_its_line() {
        let two = GOOD.replace("lease_db = \"leases.sqlite3\"", "lease_db = \"leases.sqlite3\"\nthreads = 2");
        assert_eq!(parse(&two, "t.toml").unwrap().dhcp.threads, 2);
        for bad in ["threads = 0", "threads = 17"] {
            let text = GOOD.replace("lease_db = \"leases.sqlite3\"", &format!("lease_db = \"leases.sqlite3\"\n{bad}"));
            let e = parse(&text, "t.toml").unwrap_err();
            assert_eq!((e.problems[0].line, e.problems[0].field.as_str()), (5, "dhcp.threads"), "{e}");
            assert!(e.to_string().contains("1 to 16"), "{e}");
        }
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let bad = GOOD.replace("dns = ", "dnss = ");
        let e = parse(&bad, "t.toml").unwrap_err();
        assert_eq!(e.problems[0].line, 13, "{e}");
    }

    #[test]
    fn semantic_errors_point_at_the_field() {
        let bad = GOOD
            .replace("192.168.1.20-192.168.1.200", "192.168.2.20-192.168.2.200")
            .replace("ip = \"192.168.1.34\"", "ip = \"10.0.0.1\"");
        let e = parse(&bad, "t.toml").unwrap_err();
        let lines: Vec<(usize, &str)> = e.problems.iter().map(|p| (p.line, p.field.as_str())).collect();
        assert_eq!(lines, vec![(11, "subnet[0].pools[0]"), (18, "subnet[0].reservation[0].ip")], "{e}");
        assert!(e.to_string().starts_with("t.toml:11:"), "{e}");
    }

    #[test]
    fn server_wide_knobs_live_in_dhcp() {
        let bad = GOOD.replace("lease_db = ", "offer_hold = \"0s\"\nlease_db = ");
        let e = parse(&bad, "t.toml").unwrap_err();
        assert_eq!((e.problems[0].line, e.problems[0].field.as_str()), (4, "dhcp.offer_hold"), "{e}");
    }

    fn pin(ip: &str, host: Option<&str>) -> Reservation {
        Reservation {
            mac: Some("52:54:00:aa:bb:cc".parse().unwrap()),
            client_id: None,
            ip: ip.parse().unwrap(),
            hostname: host.map(str::to_string),
        }
    }

    #[test]
    fn a_reservation_is_added_under_its_subnet_keeping_comments() {
        let text = GOOD.replace("[dhcp]", "# our office\n[dhcp]")
            + "\n[[subnet]]\ncidr = \"10.9.0.0/24\"\npools = [\"10.9.0.10-10.9.0.20\"]\n";
        let r = pin("192.168.1.50", Some("<img src=x onerror=alert(1)>\"\n[x]"));
        let new = add_reservation(&text, &r).unwrap();
        assert!(new.starts_with("\n# our office\n[dhcp]"), "{new}");
        let c = parse(&new, "t.toml").unwrap();
        assert_eq!(c.subnet[0].reservations.len(), 2);
        assert_eq!(c.subnet[0].reservations[1], r, "the hostname round-trips, escaped");
        assert!(c.subnet[1].reservations.is_empty());
        // Into the second subnet, which has none yet.
        let r2 = pin("10.9.0.15", None);
        let c = parse(&add_reservation(&new, &r2.clone()).unwrap(), "t.toml").unwrap();
        assert_eq!(c.subnet[1].reservations, vec![r2]);
    }

    #[test]
    fn a_reservation_outside_every_subnet_is_refused() {
        let e = add_reservation(GOOD, &pin("172.16.0.5", None)).unwrap_err();
        assert!(e.contains("172.16.0.5"), "{e}");
    }

    #[test]
    fn persisting_a_reservation_rewrites_the_file_whole() {
        let dir = std::env::temp_dir().join(format!("dhcplab-pin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dhcplab.toml");
        std::fs::write(&path, GOOD).unwrap();
        persist_reservation(&path, &pin("192.168.1.60", Some("laptop"))).unwrap();
        let c = load(&path).unwrap();
        assert_eq!(c.subnet[0].reservations[1].hostname.as_deref(), Some("laptop"));
        // A clash the validator catches leaves the file as it was.
        let before = std::fs::read_to_string(&path).unwrap();
        let e = persist_reservation(&path, &pin("192.168.1.34", None)).unwrap_err();
        assert!(e.contains("already reserved"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
