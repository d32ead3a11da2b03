//! The daemon's HTTP API: the mutating calls, made with the admin token the user typed, and the lease
//! table's pages when the daemon holds too many leases for one snapshot.

use std::net::Ipv4Addr;
use wasm_bindgen::JsCast;

/// `http(s)://host` of the daemon behind a `ws(s)://host/ws` URL.
pub fn base_of(ws_url: &str) -> String {
    let base = ws_url.replacen("ws://", "http://", 1).replacen("wss://", "https://", 1);
    base.trim_end_matches("/ws").to_string()
}

/// Sends `method url` with the bearer token; the error is the daemon's own message when it gives one.
async fn call(method: &str, url: &str, token: &str) -> Result<String, String> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(|_| "headers".to_string())?;
    headers.set("Authorization", &format!("Bearer {token}")).map_err(|_| "headers".to_string())?;
    init.set_headers(&headers);
    let req = web_sys::Request::new_with_str_and_init(url, &init).map_err(|_| "request".to_string())?;
    let window = web_sys::window().ok_or("no window")?;
    let resp = wasm_bindgen_futures::JsFuture::from(window.fetch_with_request(&req))
        .await
        .map_err(|_| "the daemon is unreachable".to_string())?;
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| "response".to_string())?;
    let text = match resp.text() {
        Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await.ok().and_then(|v| v.as_string()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    if resp.ok() {
        return Ok(text);
    }
    let reason = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("HTTP {}", resp.status()));
    Err(reason)
}

pub async fn release(ws_url: &str, token: &str, ip: Ipv4Addr) -> Result<String, String> {
    call("DELETE", &format!("{}/api/leases/{ip}", base_of(ws_url)), token)
        .await
        .map(|_| format!("{ip} released"))
        .map_err(|e| format!("release refused: {e}"))
}

/// Pins the lease's client to its address; says where the reservation was written.
pub async fn reserve(ws_url: &str, token: &str, ip: Ipv4Addr) -> Result<String, String> {
    let body = call("POST", &format!("{}/api/leases/{ip}/reservation", base_of(ws_url)), token)
        .await
        .map_err(|e| format!("reservation refused: {e}"))?;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    Ok(match v["persisted_to"].as_str() {
        Some(path) => format!("{ip} reserved and written to {path}"),
        None => format!("{ip} reserved (running config only: this daemon has no config file)"),
    })
}

/// Up to `limit` leases from `after` on, as `query(limit, after)` asks for them. The daemon ends a page early
/// when a search has examined `PAGE_SCAN_BUDGET` records without filling it (so no request stalls DHCP); the
/// page is then asked for again from where it stopped, until it is full or the table ends. A lease far into
/// a million is found, not reported missing.
pub async fn lease_page_filled(
    ws_url: &str,
    limit: usize,
    after: Option<Ipv4Addr>,
    query: impl Fn(usize, Option<Ipv4Addr>) -> String,
) -> Result<(Vec<dhcplab_engine::Lease>, Option<Ipv4Addr>), String> {
    let (mut leases, mut next) = lease_page(ws_url, &query(limit, after)).await?;
    while leases.len() < limit
        && let Some(from) = next
    {
        let (more, after_more) = lease_page(ws_url, &query(limit - leases.len(), Some(from))).await?;
        leases.extend(more);
        next = after_more;
    }
    Ok((leases, next))
}

/// One page of the daemon's lease table (`GET /api/leases?{query}`): the leases, and where the next page
/// starts (from the `Link` header) when there are more.
pub async fn lease_page(ws_url: &str, query: &str) -> Result<(Vec<dhcplab_engine::Lease>, Option<Ipv4Addr>), String> {
    let window = web_sys::window().ok_or("no window")?;
    let url = format!("{}/api/leases?{query}", base_of(ws_url));
    let resp = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(&url))
        .await
        .map_err(|_| "the daemon is unreachable".to_string())?;
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| "response".to_string())?;
    let next = resp.headers().get("link").ok().flatten().as_deref().and_then(super::model::next_page);
    let text = match resp.text() {
        Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await.ok().and_then(|v| v.as_string()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    if !resp.ok() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let leases = serde_json::from_str(&text).map_err(|e| format!("unreadable page: {e}"))?;
    Ok((leases, next))
}
