//! Who may talk to the HTTP surface. A web page the admin happens to visit can reach `127.0.0.1:8067` from
//! their browser; two checks stop it reading leases or opening `/ws`:
//! - **DNS rebinding**: a hostile name that resolves to this daemon carries that name in `Host`. A request
//!   must name the daemon by an IP address, `localhost`, or a name in `[http] allowed_hosts`.
//! - **Cross-site requests**: a browser says where a request comes from in `Origin`. When it is present
//!   it must be the daemon's own origin (the `Host` it was reached at) or one in `[http] allowed_origins`.
//!   WebSocket upgrades have no CORS to protect them, so this is what keeps `/ws` private.
//!
//! Tools that are not browsers (curl, Prometheus, the tests) send no `Origin` and are unaffected.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Host `{0}` does not name this daemon (add it to [http] allowed_hosts)")]
    Host(String),
    #[error("requests from origin `{0}` are not allowed (add it to [http] allowed_origins)")]
    Origin(String),
}

/// The policy and what it refused, for `/metrics`.
#[derive(Debug, Default)]
pub struct Guard {
    /// Lower-case host names, without port.
    allowed_hosts: Vec<String>,
    /// Lower-case origins, `scheme://host[:port]`.
    allowed_origins: Vec<String>,
    pub refused_host: AtomicU64,
    pub refused_origin: AtomicU64,
}

/// The host name of a `Host` value, without its port (`[::1]:8067` → `::1`).
fn host_name(host: &str) -> &str {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    host.rsplit_once(':').map_or(host, |(h, port)| if port.chars().all(|c| c.is_ascii_digit()) { h } else { host })
}

impl Guard {
    pub fn new(allowed_hosts: &[String], allowed_origins: &[String]) -> Self {
        let lower = |v: &[String]| v.iter().map(|s| s.trim_end_matches('/').to_ascii_lowercase()).collect();
        Guard { allowed_hosts: lower(allowed_hosts), allowed_origins: lower(allowed_origins), ..Guard::default() }
    }

    /// Checks a request's `Host` and `Origin`.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let text = |name| headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase());
        let host = text(header::HOST);
        if let Some(h) = &host {
            let name = host_name(h);
            // An address cannot be rebound: only a name can be made to resolve somewhere else.
            let named_ok =
                name == "localhost" || name.parse::<IpAddr>().is_ok() || self.allowed_hosts.iter().any(|a| a == name);
            if !named_ok {
                return Err(Refusal::Host(h.clone()));
            }
        }
        if let Some(origin) = text(header::ORIGIN) {
            let own =
                host.as_ref().is_some_and(|h| origin == format!("http://{h}") || origin == format!("https://{h}"));
            if !own && !self.allowed_origins.contains(&origin) {
                return Err(Refusal::Origin(origin));
            }
        }
        Ok(())
    }

    fn count(&self, r: &Refusal) {
        let c = match r {
            Refusal::Host(_) => &self.refused_host,
            Refusal::Origin(_) => &self.refused_origin,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The middleware: a refused request gets 403 with the reason, and is counted.
pub async fn enforce(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    match guard.check(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(r) => {
            guard.count(&r);
            tracing::warn!("refused an HTTP request: {r}");
            (StatusCode::FORBIDDEN, axum::Json(serde_json::json!({ "error": r.to_string() }))).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(host: Option<&str>, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = host {
            h.insert(header::HOST, HeaderValue::from_str(v).unwrap());
        }
        if let Some(v) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn addresses_and_localhost_pass_and_other_names_need_allowing() {
        let g = Guard::new(&["dhcp.example.lan".into()], &[]);
        for ok in ["127.0.0.1:8067", "localhost:8067", "[::1]:8067", "192.0.2.1", "DHCP.example.lan:8067"] {
            assert_eq!(g.check(&headers(Some(ok), None)), Ok(()), "{ok}");
        }
        assert_eq!(g.check(&headers(None, None)), Ok(()), "not a browser: no Host at all");
        let evil = g.check(&headers(Some("rebind.attacker.example:8067"), None));
        assert_eq!(evil, Err(Refusal::Host("rebind.attacker.example:8067".into())));
    }

    #[test]
    fn browsers_may_come_only_from_the_daemons_own_or_an_allowed_origin() {
        let g = Guard::new(&[], &["https://admin.example".into()]);
        let h = |o| headers(Some("127.0.0.1:8067"), Some(o));
        assert_eq!(g.check(&h("http://127.0.0.1:8067")), Ok(()));
        assert_eq!(g.check(&h("https://admin.example")), Ok(()));
        assert_eq!(g.check(&h("http://127.0.0.1:9999")), Err(Refusal::Origin("http://127.0.0.1:9999".into())));
        assert_eq!(g.check(&h("null")), Err(Refusal::Origin("null".into())));
        assert_eq!(g.check(&headers(Some("127.0.0.1:8067"), None)), Ok(()), "curl sends no Origin");
    }
}
