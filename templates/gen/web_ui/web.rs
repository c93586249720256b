//! The web UI at `/`: HTML, CSS and JavaScript compiled into the binary (no CDN, no
//! build step). `static/index.html` carries the domain's description; `static/app.js`
//! builds one task form per command from it, sends each command to `POST /commands`
//! with a client-made command id, shows the change at once (optimistic), and settles
//! it when the WebSocket (`GET /ws`) confirms or rejects the command.

use axum::http::header;
use axum::response::IntoResponse;

const INDEX: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");
const APP_CSS: &str = include_str!("../static/app.css");

/// Scripts and styles only from this service; connections only back to it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn page(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}

/// `GET /`: the page.
pub async fn index() -> impl IntoResponse {
    page("text/html; charset=utf-8", INDEX)
}

/// `GET /app.js`.
pub async fn app_js() -> impl IntoResponse {
    page("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /app.css`.
pub async fn app_css() -> impl IntoResponse {
    page("text/css; charset=utf-8", APP_CSS)
}
