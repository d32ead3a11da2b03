//! The web app (lab and dashboard) the daemon serves: built into the binary at compile time, so any copy of
//! `dhcplab` serves it, or from a directory (`--web-root`, for development). A debug build reads the
//! repository's `dist/` at run time instead of embedding it. `scripts/build-web` touches this file so a
//! release build picks up a new `dist/`.

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;

#[derive(rust_embed::Embed)]
#[folder = "../dist"]
#[allow_missing = true]
struct Embedded;

/// Where the web app comes from.
#[derive(Debug, Clone)]
pub enum WebApp {
    Dir(PathBuf),
    Embedded,
}

impl WebApp {
    /// The app built into this binary, if it was built before the binary.
    pub fn embedded() -> Option<WebApp> {
        Embedded::get("index.html").map(|_| WebApp::Embedded)
    }
}

impl std::fmt::Display for WebApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebApp::Dir(d) => write!(f, "{}", d.display()),
            WebApp::Embedded => f.write_str("the copy built into this binary"),
        }
    }
}

/// An embedded file by its path; anything else is the app's page (it routes by `#…` itself).
pub async fn embedded(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let Some(file) = Embedded::get(path).or_else(|| Embedded::get("index.html")) else {
        return (StatusCode::NOT_FOUND, "the web app is not built into this binary").into_response();
    };
    let mime = file.metadata.mimetype().to_string();
    ([(header::CONTENT_TYPE, mime)], file.data.into_owned()).into_response()
}
