//! The web UI: the static files under `ui/` at the workspace root, embedded in the binary
//! and served at `/ui` as Nomad serves its own (`/` redirects there).
//!
//! The UI is a single page: `/ui/jobs/web`, `/ui/clients/<id>` and every other path
//! that is not a file answer `index.html`, and the page's router draws the view from the
//! address. Files live under `/ui/assets/`; a missing asset is a 404, never the page.
//! No build step: the files are plain HTML, CSS and ES modules, and adding one means
//! adding a line to [`ASSETS`] (a test checks the table against the directory).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use caravan_structs::fnv::fnv1a;

/// One embedded file: its path under `ui/` and its bytes.
struct Asset {
    path: &'static str,
    body: &'static [u8],
}

/// Embeds `ui/<path>` for each path given.
macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/", $path)),
        }),*]
    };
}

/// Every file of the UI. `index.html` is the page; everything else is under `assets/`.
const ASSETS: &[Asset] = assets![
    "index.html",
    "assets/app.css",
    "assets/favicon.svg",
    "assets/app.js",
    "assets/api.js",
    "assets/dom.js",
    "assets/format.js",
    "assets/search.js",
    "assets/views/jobs.js",
    "assets/views/job.js",
    "assets/views/allocation.js",
    "assets/views/clients.js",
    "assets/views/client.js",
    "assets/views/servers.js",
    "assets/views/evaluations.js",
    "assets/views/run.js",
    "assets/views/tokens.js",
];

/// Scripts and styles only from this agent: the UI works offline and a job name shown
/// in a page can never pull anything in.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// `GET /`: Nomad's agents send browsers to the UI.
pub async fn root() -> Redirect {
    Redirect::temporary("/ui/")
}

/// `GET /ui` and `GET /ui/`: the page.
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /ui/{*path}`: a file under `assets/`, or the page for any other address.
pub async fn file(
    axum::extract::Path(path): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if path.starts_with("assets/") {
        serve(&path, &headers)
    } else {
        serve("index.html", &headers)
    }
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("ui file {path:?} not found"),
        )
            .into_response();
    };
    // The files change only with the binary: a content hash lets a browser revalidate
    // each one with a 304 instead of downloading it again.
    let etag = format!("\"{:016x}\"", fnv1a(asset.body));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `ui/` is embedded and every embedded path exists: a file added
    /// to the directory but not to `ASSETS` would be a 404 in the browser.
    #[test]
    fn assets_table_matches_the_ui_directory() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read ui directory") {
                let path = entry.expect("ui directory entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let relative = path.strip_prefix(&root).expect("under ui/");
                    on_disk.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "ASSETS in ui.rs must list every file under ui/"
        );
    }

    #[test]
    fn addresses_that_are_not_files_answer_the_page() {
        let page = serve("index.html", &HeaderMap::new());
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            page.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let missing = serve("assets/nope.js", &HeaderMap::new());
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_matching_etag_answers_not_modified() {
        let first = serve("assets/app.js", &HeaderMap::new());
        let etag = first.headers()[header::ETAG].clone();
        let mut request = HeaderMap::new();
        request.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(
            serve("assets/app.js", &request).status(),
            StatusCode::NOT_MODIFIED
        );
    }
}
