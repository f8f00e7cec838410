//! Defences in front of the application that are not about sessions:
//! server functions refuse cross-site posts, every answer carries the
//! browser security headers, and request bodies and durations are bounded.
//!
//! The Content-Security-Policy is set per page in [`crate::app::shell`],
//! because it carries the nonce Leptos puts on its inline scripts.

use std::time::Duration;

use axum::{
    extract::Request,
    http::{header, HeaderMap, HeaderValue, Method},
    middleware::Next,
    response::Response,
};
use leptos::prelude::LeptosOptions;

use crate::{error::AppError, session::guard::json_error};

/// The largest request body accepted (a 20,000-character description,
/// form-encoded, stays well below it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A request that takes longer than this is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Refuses a server-function POST that a browser says comes from another
/// site: `Sec-Fetch-Site: cross-site`, or (for browsers that do not send it)
/// an `Origin` whose host is not the one the request was sent to. Requests
/// without either (other programs) and same-site forms pass.
pub async fn same_site_only(req: Request, next: Next) -> Response {
    if req.method() == Method::POST && req.uri().path().starts_with("/api/") {
        if let Some(reason) = cross_site(req.headers()) {
            return json_error(&AppError::Forbidden {
                reason: reason.into(),
            });
        }
    }
    next.run(req).await
}

fn cross_site(headers: &HeaderMap) -> Option<&'static str> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return (site.as_bytes() == b"cross-site")
            .then_some("cross-site requests are not accepted");
    }
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    if origin_host.is_none() || origin_host != host {
        return Some("the request's Origin is another site");
    }
    None
}

/// Pages and server-function answers are never kept by the browser or a
/// cache: after signing out on a shared computer, Back and the back-forward
/// cache must not show the items again. Every HTML answer (pages are
/// rendered per session; the static files hold none) and every `/api/`
/// answer gets `Cache-Control: no-store`; static files are left to their
/// own caching.
pub async fn no_store(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut res = next.run(req).await;
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if api || html {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// The policy for pages: scripts only from this site or with this
/// response's nonce (Leptos's hydration script), WebAssembly allowed, no
/// framing, no plugins, forms only to this site.
pub fn content_security_policy(nonce: &str, options: &LeptosOptions) -> String {
    // `cargo leptos watch` reloads the page over a WebSocket on its own port.
    let reload = match options.env {
        leptos::config::Env::DEV => {
            format!(" ws://{}:{}", options.site_addr.ip(), options.reload_port)
        }
        leptos::config::Env::PROD => String::new(),
    };
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'{reload}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )
}

/// Headers every answer carries.
pub fn common_headers() -> [(header::HeaderName, HeaderValue); 3] {
    [
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn tells_cross_site_from_same_site() {
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")])).is_some());
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-origin")])).is_none());
        assert!(cross_site(&headers(&[("sec-fetch-site", "none")])).is_none());
        assert!(cross_site(&headers(&[
            ("origin", "http://evil.example"),
            ("host", "app.example")
        ]))
        .is_some());
        assert!(cross_site(&headers(&[("origin", "null"), ("host", "app.example")])).is_some());
        assert!(cross_site(&headers(&[
            ("origin", "https://app.example"),
            ("host", "app.example")
        ]))
        .is_none());
        assert!(cross_site(&headers(&[])).is_none());
    }
}
