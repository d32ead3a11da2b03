//! How the daemon reaches its PostgreSQL database: the driver's settings, and TLS when the URL asks for it
//! (`sslmode=require`), with the server's certificate verified against the system's CA certificates and
//! the URL's `sslrootcert`.

use super::StoreError;
use super::lease_db::PgTarget;
use postgres::{Client, NoTls};
use std::path::Path;
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Everything needed to open a connection, again and again (after the database restarts, say).
#[derive(Clone)]
pub struct PgConnect {
    config: postgres::Config,
    tls: Option<MakeRustlsConnect>,
}

impl PgConnect {
    pub fn new(target: &PgTarget, password_file: Option<&Path>) -> Result<Self, StoreError> {
        let config = target.config(password_file)?;
        let tls = if target.tls() { Some(connector(target.ca_file())?) } else { None };
        Ok(PgConnect { config, tls })
    }

    pub fn connect(&self) -> Result<Client, StoreError> {
        Ok(match &self.tls {
            Some(tls) => self.config.connect(tls.clone())?,
            None => self.config.connect(NoTls)?,
        })
    }
}

/// A TLS connector trusting the system's CA certificates and, if given, the certificates in `ca_file`.
fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, StoreError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot use is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(file) = ca_file {
        let bad = |e: String| StoreError::Tls(format!("{}: {e}", file.display()));
        for cert in CertificateDer::pem_file_iter(file).map_err(|e| bad(e.to_string()))? {
            roots.add(cert.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
