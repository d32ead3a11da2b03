//! The HTTP surface on `[http] listen`: the REST API, Prometheus metrics, liveness, and the web app.

use crate::bridge::publisher::Published;
use crate::config_file;
use crate::daemon::command::LeasePageRequest;
use crate::daemon::{Command, CommandSender};
use crate::http_guard::{self, Guard};
use crate::metrics;
use crate::reload::{ReloadError, Reloader};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dhcplab_engine::bridge::{DEFAULT_PAGE, DaemonStats, LeaseQuery, MAX_PAGE};
use dhcplab_engine::config::Reservation;
use dhcplab_engine::server::PinError;
use serde::Deserialize;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use tokio::sync::oneshot;
use tower_http::services::{ServeDir, ServeFile};

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub commands: CommandSender,
    /// Bearer token for mutating endpoints; `None` refuses them all.
    pub admin_token: Option<Arc<str>>,
    /// Reloads the config file and applies it (the same as SIGHUP).
    pub reload: Option<Reloader>,
    /// Every change the engine publishes, for `/ws`.
    pub updates: tokio::sync::broadcast::Sender<Published>,
    /// The config file that API edits (reservations) are written to; `None` in the demo.
    pub config_path: Option<PathBuf>,
    /// One config edit at a time: two reservations at once must not both rewrite the file from the same text.
    pub edits: Arc<tokio::sync::Mutex<()>>,
    /// Host and Origin checks, with what they refused.
    pub guard: Arc<Guard>,
    /// Live-bridge connections now, and the most allowed at once.
    pub watchers: Arc<AtomicUsize>,
    pub max_watchers: usize,
    /// Live-bridge connections refused because `max_watchers` were open.
    pub watchers_refused: Arc<AtomicU64>,
    /// The store's health.
    pub counters: Arc<crate::daemon::Counters>,
    /// The servers sharing the lease database, as their heartbeats show (this one alone on SQLite).
    pub peers: crate::daemon::peers::PeerBoard,
    /// The links DHCP is served on, by interface name (`/readyz` checks they are up).
    pub links: Vec<String>,
}

/// A JSON error body with a status.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl AppState {
    pub async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        let unavailable = || ApiError(StatusCode::SERVICE_UNAVAILABLE, "the DHCP engine is not running".into());
        self.commands.send(make(tx)).await.map_err(|_| unavailable())?;
        rx.await.map_err(|_| unavailable())
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(token) = &self.admin_token else {
            return Err(ApiError(StatusCode::FORBIDDEN, "no admin token is configured ([http] admin_token)".into()));
        };
        let given =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        // Compare without an early exit on the first differing byte.
        let ok = given.is_some_and(|g| {
            g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        });
        if ok { Ok(()) } else { Err(ApiError(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into())) }
    }
}

/// `?state=&subnet=&q=`, each optional (an empty one means "any"), and the page: `limit` leases at most
/// (default `DEFAULT_PAGE`), after the address `after`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LeaseParams {
    state: String,
    subnet: String,
    q: String,
    limit: Option<usize>,
    after: String,
}

/// `GET /api/leases`: one page of matching leases, in address order, as a JSON array. When there may be
/// more, a `Link: <…&after=IP>; rel="next"` header (RFC 8288) gives the next page's URL: a page can end
/// early (a rare search stops after `PAGE_SCAN_BUDGET` records) so follow the link, not the count.
async fn leases(State(app): State<AppState>, Query(p): Query<LeaseParams>) -> Result<Response, ApiError> {
    let bad = |m: String| ApiError(StatusCode::BAD_REQUEST, m);
    let query = LeaseQuery::parse(&p.state, &p.subnet, &p.q).map_err(|e| bad(e.to_string()))?;
    let limit = p.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad(format!("limit must be 1 to {MAX_PAGE}")));
    }
    let after = (!p.after.is_empty())
        .then(|| p.after.parse::<Ipv4Addr>())
        .transpose()
        .map_err(|_| bad(format!("after: `{}` is not an IPv4 address", p.after)))?;
    let page = app.ask(|tx| Command::Leases(LeasePageRequest { query, after, limit }, tx)).await?;
    let mut resp = Json(page.leases).into_response();
    if let Some(next) = page.next {
        let mut url = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("state", &p.state), ("subnet", &p.subnet), ("q", &p.q)] {
            if !v.is_empty() {
                url.append_pair(k, v);
            }
        }
        url.append_pair("limit", &limit.to_string()).append_pair("after", &next.to_string());
        let link = format!("</api/leases?{}>; rel=\"next\"", url.finish());
        if let Ok(v) = axum::http::HeaderValue::from_str(&link) {
            resp.headers_mut().insert(axum::http::header::LINK, v);
        }
    }
    Ok(resp)
}

/// The `{ip}` of a lease's path; anything but an IPv4 address is a 400 that names it.
struct LeaseIp(Ipv4Addr);

impl<S: Send + Sync> FromRequestParts<S> for LeaseIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(ip) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
        ip.parse().map(LeaseIp).map_err(|_| ApiError(StatusCode::BAD_REQUEST, format!("`{ip}` is not an IPv4 address")))
    }
}

/// The request carries the admin token (checked before anything else about it).
struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        app.authorize(&parts.headers).map(|()| Admin)
    }
}

async fn lease(State(app): State<AppState>, LeaseIp(ip): LeaseIp) -> Result<Response, ApiError> {
    match app.ask(|tx| Command::Lease(ip, tx)).await? {
        Some(l) => Ok(Json(l).into_response()),
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no lease for {ip}"))),
    }
}

async fn release(State(app): State<AppState>, _: Admin, LeaseIp(ip): LeaseIp) -> Result<Response, ApiError> {
    match app.ask(|tx| Command::Release(ip, tx)).await? {
        Some(ev) => Ok(Json(ev).into_response()),
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no offered or bound lease for {ip}"))),
    }
}

/// `POST /api/leases/{ip}/reservation`: pins the lease's client to its address, keeping the hostname it
/// sent. With a config file, the reservation is written there first and the file is reloaded, so the file
/// stays the source of truth and a restart keeps it; the demo only changes its running config.
async fn reserve(State(app): State<AppState>, _: Admin, LeaseIp(ip): LeaseIp) -> Result<Response, ApiError> {
    let _one_edit = app.edits.lock().await;
    let r = app.ask(|tx| Command::Pin(ip, tx)).await?.map_err(|e| {
        let status = if matches!(e, PinError::NoLease(_)) { StatusCode::NOT_FOUND } else { StatusCode::CONFLICT };
        ApiError(status, e.to_string())
    })?;
    apply_reservation(&app, r).await
}

/// `POST /api/reservations`: a reservation given whole (MAC or client id, address, hostname). A client that
/// holds another address moves to this one at its next REQUEST.
async fn add_reservation(
    State(app): State<AppState>,
    _: Admin,
    body: Result<Json<Reservation>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(r) = body.map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()))?;
    let _one_edit = app.edits.lock().await;
    app.ask(|tx| Command::CheckReservation(r.clone(), tx)).await?.map_err(|e| {
        let status =
            if matches!(e, PinError::NoSubnet(_)) { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::CONFLICT };
        ApiError(status, e.to_string())
    })?;
    apply_reservation(&app, r).await
}

/// Writes a checked reservation to the config file and reloads it, or (the demo, with no file) adds it to
/// the running config only.
async fn apply_reservation(app: &AppState, r: Reservation) -> Result<Response, ApiError> {
    let persisted = match (&app.config_path, &app.reload) {
        (Some(path), Some(reload)) => {
            // On a task of its own: once the file is written, the reload (or the rollback) happens even if
            // the HTTP client has gone away.
            let edit = tokio::spawn(persist_and_reload(path.clone(), reload.clone(), r.clone()));
            edit.await.map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
            Some(path.display().to_string())
        }
        _ => {
            app.ask(|tx| Command::AddReservation(r.clone(), tx))
                .await?
                .map_err(|e| ApiError(StatusCode::CONFLICT, e))?;
            None
        }
    };
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "reservation": r, "persisted_to": persisted }))).into_response())
}

/// Writes the reservation into the config file and reloads it; if the running server refuses the result,
/// the old text goes back (atomically, as it was written) so file and server agree.
async fn persist_and_reload(path: PathBuf, reload: Reloader, r: Reservation) -> Result<(), ApiError> {
    let p = path.clone();
    let old = tokio::task::spawn_blocking(move || config_file::persist_reservation(&p, &r))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::CONFLICT, e))?;
    if let Err(why) = reload.reload().await {
        let restored = tokio::task::spawn_blocking(move || config_file::replace_file(&path, &old, None)).await;
        if let Ok(Err(e)) | Err(e) = restored.map_err(|e| e.to_string()) {
            tracing::error!("the reservation was refused and the old config could not be put back: {e}");
        }
        return Err(ApiError(StatusCode::CONFLICT, format!("reservation not applied: {why}")));
    }
    Ok(())
}

async fn reservations(State(app): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(app.ask(Command::Reservations).await?).into_response())
}

async fn stats(State(app): State<AppState>) -> Result<Json<DaemonStats>, ApiError> {
    Ok(Json(app.ask(Command::Stats).await?))
}

/// The servers sharing the lease database: up or down, heartbeat age, share of the pools.
async fn servers(State(app): State<AppState>) -> Json<Vec<dhcplab_engine::bridge::PeerStatus>> {
    Json(app.peers.lock().map(|p| p.clone()).unwrap_or_default())
}

async fn subnets(State(app): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(app.ask(Command::Stats).await?.subnets).into_response())
}

async fn prometheus(State(app): State<AppState>) -> Result<Response, ApiError> {
    let s = app.ask(Command::Stats).await?;
    let http = metrics::HttpCounters::of(&app);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics::render(&s, &http, &app.counters, &app.peers.lock().map(|p| p.clone()).unwrap_or_default()),
    )
        .into_response())
}

/// How long the engine may take to answer a health check.
const ENGINE_PING: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /healthz`: `ok` while the engine's loop turns and the lease store commits; else 503 with what is
/// wrong, so a supervisor or a load balancer stops trusting this server (it withholds ACKs meanwhile).
async fn healthz(State(app): State<AppState>) -> Response {
    let engine = match tokio::time::timeout(ENGINE_PING, app.ask(Command::Ping)).await {
        Ok(Ok(())) => None,
        Ok(Err(_)) => Some("the DHCP engine is not running".to_string()),
        Err(_) => Some(format!("the DHCP engine did not answer within {ENGINE_PING:?}")),
    };
    let store = app.counters.store_problem();
    if engine.is_none() && store.is_none() {
        return "ok".into_response();
    }
    let body = serde_json::json!({ "engine": engine.unwrap_or_else(|| "ok".into()), "store": store.unwrap_or_else(|| "ok".into()) });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// Whether interface `name` is up, as the kernel says (`unknown` is what loopback and some drivers say).
fn link_up(name: &str) -> bool {
    std::fs::read_to_string(format!("/sys/class/net/{name}/operstate"))
        .is_ok_and(|s| matches!(s.trim(), "up" | "unknown"))
}

/// `GET /readyz`: `ready` when this daemon can serve clients now — the engine answers, the lease store
/// commits, and every link it serves is up; else 503 with each reason. (`/healthz` asks only whether the
/// process works; a server with its cable pulled is healthy but not ready.)
async fn readyz(State(app): State<AppState>) -> Response {
    let mut problems = serde_json::Map::new();
    match tokio::time::timeout(ENGINE_PING, app.ask(Command::Ping)).await {
        Ok(Ok(())) => {}
        _ => {
            problems.insert("engine".into(), "the DHCP engine does not answer".into());
        }
    }
    if let Some(p) = app.counters.store_problem() {
        problems.insert("store".into(), p.into());
    }
    let down: Vec<&String> = app.links.iter().filter(|l| !link_up(l)).collect();
    if !down.is_empty() {
        problems
            .insert("links".into(), serde_json::json!(down.iter().map(|l| format!("{l} is down")).collect::<Vec<_>>()));
    }
    if problems.is_empty() {
        return "ready".into_response();
    }
    (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::Value::Object(problems))).into_response()
}

async fn reload(State(app): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let Some(reload) = &app.reload else {
        return Err(ApiError(StatusCode::CONFLICT, "running without a config file: nothing to reload".into()));
    };
    match reload.reload().await {
        Ok(()) => Ok(Json(serde_json::json!({ "reloaded": true })).into_response()),
        Err(e @ ReloadError::EngineStopped) => Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
        Err(e) => Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())),
    }
}

/// The API's OpenAPI description, kept beside the router and checked against it by a test.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>dhcplab</title>\
<p>The web app has not been built. Run <code>scripts/build-web</code>, then reload. The API is at \
<a href=/api/leases>/api/leases</a>.</p>";

/// Requests being served at once; more wait their turn, so a flood of API calls queues instead of
/// piling onto the engine's command channel.
const MAX_CONCURRENT: usize = 64;
/// An API call that takes longer than this is answered 408 (a stuck one never holds a connection).
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The router. `web` is the built web app, if there is one.
pub fn router(app: AppState, web: Option<crate::web_app::WebApp>) -> Router {
    let guard = app.guard.clone();
    let api = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/leases", get(leases))
        .route("/api/leases/{ip}", get(lease).delete(release))
        .route("/api/leases/{ip}/reservation", post(reserve))
        .route("/api/reservations", get(reservations).post(add_reservation))
        .route("/api/subnets", get(subnets))
        .route("/api/stats", get(stats))
        .route("/api/servers", get(servers))
        .route("/api/reload", post(reload))
        .route("/api/openapi.json", get(openapi))
        .route("/metrics", get(prometheus))
        .route("/ws", get(crate::bridge::watcher::upgrade))
        .with_state(app);
    use crate::web_app::WebApp;
    let routes = match web {
        Some(WebApp::Dir(dir)) if dir.join("index.html").is_file() => {
            api.fallback_service(ServeDir::new(&dir).fallback(ServeFile::new(dir.join("index.html"))))
        }
        Some(WebApp::Embedded) => api.fallback(crate::web_app::embedded),
        _ => api.fallback(|| async { Html(NOT_BUILT) }),
    };
    // Outermost first: the Host/Origin check, then the time and concurrency limits.
    routes
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(MAX_CONCURRENT))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(axum::middleware::from_fn_with_state(guard, http_guard::enforce))
}

#[cfg(test)]
mod openapi_tests {
    /// Every route the router declares is described, and nothing else: the router's source is read for its
    /// `.route("…")` calls.
    #[test]
    fn the_openapi_description_names_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).expect("valid JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut described: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
        let source = include_str!("http.rs");
        let mut routed: Vec<&str> =
            source.split(".route(\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
        routed.retain(|r| r.starts_with('/'));
        described.sort();
        routed.sort();
        routed.dedup();
        assert_eq!(described, routed);
    }
}
