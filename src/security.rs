//! Defences in front of the application that are not about sessions:
//! server functions refuse cross-site posts, every answer carries the
//! browser security headers, and request bodies and durations are bounded.
//!
//! The Content-Security-Policy is set per page in [`crate::app::shell`],
//! because it carries the nonce Leptos puts on its inline scripts.

use std::time::Duration;

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method},
    middleware::Next,
    response::Response,
};
use leptos::prelude::LeptosOptions;

use crate::{
    error::{http::json_error, AppError},
    state::AppState,
};

/// The largest request body accepted (a 20,000-character description,
/// form-encoded, stays well below it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A request that takes longer than this is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Refuses a server-function POST that a browser says comes from another
/// origin: `Sec-Fetch-Site` other than `same-origin` or `none` (a sibling
/// subdomain or another port of the same host is `same-site`, and refused
/// too), or an `Origin` other than this app's. This app's origin is
/// `PUBLIC_URL` when it is set (scheme, host and port exactly: a proxy may
/// rewrite `Host`), else the `Host` the request was sent to. Requests
/// without either header (other programs) pass.
pub async fn same_origin_only(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() == Method::POST && req.uri().path().starts_with("/api/") {
        let public = state.settings.public_url.as_ref().map(|url| url.origin());
        if let Some(reason) = cross_origin(req.headers(), public) {
            return json_error(&AppError::Forbidden {
                reason: reason.into(),
            });
        }
    }
    next.run(req).await
}

fn cross_origin(headers: &HeaderMap, public_origin: Option<&str>) -> Option<&'static str> {
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return Some("requests from another origin are not accepted");
        }
    }
    let origin = headers.get(header::ORIGIN)?;
    let refused = Some("the request's Origin is not this site");
    let Ok(origin) = origin.to_str() else {
        return refused;
    };
    let same = match public_origin {
        Some(public) => origin.eq_ignore_ascii_case(public),
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin_host = origin.split_once("://").map(|(_, rest)| rest);
            origin_host.is_some() && origin_host == host
        }
    };
    if same {
        None
    } else {
        refused
    }
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

/// Headers every answer carries; with `hsts` (an https `PUBLIC_URL`) also
/// `Strict-Transport-Security`, so browsers never try plain HTTP again.
pub fn common_headers(hsts: bool) -> Vec<(header::HeaderName, HeaderValue)> {
    let mut headers = vec![
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ];
    if hsts {
        headers.push((
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    headers
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
    fn tells_another_origin_from_this_one() {
        let refused =
            |pairs: &[(&'static str, &'static str)]| cross_origin(&headers(pairs), None).is_some();
        assert!(refused(&[("sec-fetch-site", "cross-site")]));
        assert!(refused(&[("sec-fetch-site", "same-site")]));
        assert!(!refused(&[("sec-fetch-site", "same-origin")]));
        assert!(!refused(&[("sec-fetch-site", "none")]));
        assert!(refused(&[
            ("origin", "http://evil.example"),
            ("host", "app.example")
        ]));
        assert!(refused(&[("origin", "null"), ("host", "app.example")]));
        assert!(!refused(&[
            ("origin", "https://app.example"),
            ("host", "app.example")
        ]));
        assert!(refused(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://other.example"),
            ("host", "app.example")
        ]));
        assert!(!refused(&[]));
    }

    #[test]
    fn behind_a_proxy_only_the_public_origin_is_this_site() {
        let public = Some("https://items.example.com");
        let refused = |pairs: &[(&'static str, &'static str)]| {
            cross_origin(&headers(pairs), public).is_some()
        };
        // The proxy rewrote Host; the Origin is still the public one.
        assert!(!refused(&[
            ("origin", "https://items.example.com"),
            ("host", "127.0.0.1:3000")
        ]));
        assert!(!refused(&[("origin", "https://ITEMS.example.com")]));
        for other in [
            "http://items.example.com",
            "https://items.example.com:8443",
            "https://evil.items.example.com",
            "https://127.0.0.1:3000",
        ] {
            let mut map = headers(&[("host", "127.0.0.1:3000")]);
            map.insert("origin", HeaderValue::from_str(other).unwrap());
            assert!(cross_origin(&map, public).is_some(), "{other}");
        }
    }
}
