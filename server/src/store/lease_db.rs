//! `[dhcp] lease_db`: a file path (SQLite, one server) or a `postgresql://` URL (PostgreSQL, shared by
//! several servers). The password never appears in the config's text if it need not: it may come from
//! `lease_db_password_file` or the `DHCPLAB_DB_PASSWORD` environment variable, and it is never logged.

use super::StoreError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where the leases live.
#[derive(Clone, PartialEq, Eq)]
pub enum LeaseDb {
    Sqlite(PathBuf),
    Postgres(PgTarget),
}

/// A PostgreSQL database named by a libpq-style URL (`postgresql://user@host/db`,
/// `postgresql:///db?host=/run/postgresql` for a Unix socket). `sslmode=require` makes the connection use
/// TLS and verify the server against the system's CA certificates and `sslrootcert=FILE` (as libpq does);
/// without it no TLS is used.
#[derive(Clone, PartialEq, Eq)]
pub struct PgTarget {
    /// As written in the config.
    url: String,
    /// The URL as the PostgreSQL driver takes it (`sslrootcert` is dhcplab's to read).
    driver_url: String,
    ca_file: Option<PathBuf>,
}

/// How long an unanswering database host may keep a connection or a commit waiting (unless the URL says).
const DEAD_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// The environment variable a password may come from.
pub const PASSWORD_ENV: &str = "DHCPLAB_DB_PASSWORD";

impl LeaseDb {
    /// Relative SQLite paths mean beside the config file.
    pub fn beside(self, dir: &Path) -> LeaseDb {
        match self {
            LeaseDb::Sqlite(p) => LeaseDb::Sqlite(dir.join(p)),
            pg => pg,
        }
    }
}

impl PgTarget {
    pub fn parse(url: &str) -> Result<PgTarget, String> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut ca_file = None;
        let kept: Vec<&str> = query
            .split('&')
            .filter(|kv| match kv.strip_prefix("sslrootcert=") {
                Some(file) => {
                    ca_file = Some(PathBuf::from(file));
                    false
                }
                None => !kv.is_empty(),
            })
            .collect();
        let driver_url = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        driver_url.parse::<postgres::Config>().map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
        Ok(PgTarget { url: url.to_string(), driver_url, ca_file })
    }

    /// TLS was asked for (`sslmode=require`): the server's certificate is verified.
    pub fn tls(&self) -> bool {
        self.driver_url.contains("sslmode=require")
    }

    /// A CA certificate (PEM) to trust besides the system's, from `sslrootcert`.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// The connection settings, with the password from `password_file` or `DHCPLAB_DB_PASSWORD` when the
    /// URL has none.
    pub fn config(&self, password_file: Option<&Path>) -> Result<postgres::Config, StoreError> {
        let mut cfg: postgres::Config = self.driver_url.parse().map_err(StoreError::Postgres)?;
        if cfg.get_password().is_none() {
            if let Some(file) = password_file {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| StoreError::Password { file: file.display().to_string(), message: e.to_string() })?;
                cfg.password(text.lines().next().unwrap_or_default());
            } else if let Ok(p) = std::env::var(PASSWORD_ENV) {
                cfg.password(p);
            }
        }
        if cfg.get_application_name().is_none() {
            cfg.application_name("dhcplab");
        }
        // A database host that vanishes (a network partition, not a refused connection) must fail commits
        // within seconds, not hang them: ACKs wait on them, and /healthz reports them.
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(DEAD_AFTER);
        }
        if cfg.get_tcp_user_timeout().is_none() {
            cfg.tcp_user_timeout(DEAD_AFTER);
        }
        cfg.keepalives_idle(DEAD_AFTER);
        Ok(cfg)
    }
}

/// The URL with any password replaced, for logs and errors.
impl fmt::Display for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((scheme, rest)) = self.url.split_once("://") else { return f.write_str("postgresql://…") };
        let (auth, host) = match rest.rfind('@') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => ("", rest),
        };
        let user = auth.split(':').next().unwrap_or_default();
        let masked = if auth.contains(':') { format!("{user}:***") } else { user.to_string() };
        // `password=` in the query string too.
        let host: String = host
            .split('&')
            .map(|kv| if kv.starts_with("password=") || kv.contains("?password=") { mask_query(kv) } else { kv.into() })
            .collect::<Vec<_>>()
            .join("&");
        write!(f, "{scheme}://{masked}{host}")
    }
}

fn mask_query(kv: &str) -> String {
    match kv.find("password=") {
        Some(i) => format!("{}password=***", &kv[..i]),
        None => kv.to_string(),
    }
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgTarget({self})")
    }
}

impl fmt::Display for LeaseDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaseDb::Sqlite(p) => write!(f, "{}", p.display()),
            LeaseDb::Postgres(t) => t.fmt(f),
        }
    }
}

impl fmt::Debug for LeaseDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LeaseDb({self})")
    }
}

impl std::str::FromStr for LeaseDb {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.starts_with("postgresql://") || s.starts_with("postgres://") {
            PgTarget::parse(s).map(LeaseDb::Postgres)
        } else if s.contains("://") {
            Err(format!("`{s}`: lease_db is a file path or a postgresql:// URL"))
        } else if s.is_empty() {
            Err("lease_db is empty".into())
        } else {
            Ok(LeaseDb::Sqlite(PathBuf::from(s)))
        }
    }
}

impl Serialize for LeaseDb {
    /// The config as written (the URL with its password, if the admin put one there).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LeaseDb::Sqlite(p) => p.serialize(s),
            LeaseDb::Postgres(t) => s.serialize_str(&t.url),
        }
    }
}

impl<'de> Deserialize<'de> for LeaseDb {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_or_a_url() {
        assert_eq!("leases.sqlite3".parse::<LeaseDb>(), Ok(LeaseDb::Sqlite("leases.sqlite3".into())));
        let socket: LeaseDb = "postgresql:///dhcplab?host=/run/postgresql&user=dhcplab".parse().unwrap();
        assert!(matches!(socket, LeaseDb::Postgres(_)));
        assert!("mysql://x/y".parse::<LeaseDb>().is_err());
        assert!("postgresql://host:notaport/db".parse::<LeaseDb>().is_err());
    }

    #[test]
    fn tls_is_used_when_required_with_the_ca_file_dhcplab_reads() {
        let LeaseDb::Postgres(t) =
            "postgresql://u@db/x?sslmode=require&sslrootcert=/etc/dhcplab/db-ca.pem".parse().unwrap()
        else {
            panic!()
        };
        assert!(t.tls());
        assert_eq!(t.ca_file(), Some(Path::new("/etc/dhcplab/db-ca.pem")));
        assert!(t.config(None).is_ok(), "the driver never sees sslrootcert");
        let LeaseDb::Postgres(plain) = "postgresql:///x?host=/run/postgresql".parse().unwrap() else { panic!() };
        assert!(!plain.tls());
    }

    #[test]
    fn passwords_never_show() {
        for url in [
            "postgresql://dhcplab:s3cret@db.example/dhcplab",
            "postgresql:///dhcplab?host=/run/pg&password=s3cret",
            "postgresql://db.example/dhcplab?user=x&password=s3cret&sslmode=require",
        ] {
            let db: LeaseDb = url.parse().unwrap();
            for shown in [db.to_string(), format!("{db:?}")] {
                assert!(!shown.contains("s3cret"), "{shown}");
                assert!(shown.contains("***"), "{shown}");
            }
        }
    }

    #[test]
    fn the_password_comes_from_a_file_when_the_url_has_none() {
        let file = std::env::temp_dir().join(format!("dhcplab-pw-{}", std::process::id()));
        std::fs::write(&file, "from-file\n").unwrap();
        let LeaseDb::Postgres(t) = "postgresql://u@db/x".parse().unwrap() else { panic!() };
        assert_eq!(t.config(Some(&file)).unwrap().get_password(), Some(&b"from-file"[..]));
        let LeaseDb::Postgres(t) = "postgresql://u:inline@db/x".parse().unwrap() else { panic!() };
        assert_eq!(t.config(Some(&file)).unwrap().get_password(), Some(&b"inline"[..]));
        let _ = std::fs::remove_file(file);
    }
}
