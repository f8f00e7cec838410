//! Cookie removals that browsers obey.
//!
//! A removal is a cookie like any other (the same name, an empty value,
//! `Max-Age=0`), and browsers refuse a `__Host-` cookie that lacks
//! `Secure`, removals included: `__Host-session_guard=; Max-Age=0; Path=/`
//! is dropped, and the cookie it was meant to remove stays. tower-sessions
//! 0.14 writes its removal of the session cookie that way (later releases
//! fixed it). So the guard's two cookies are built in one place,
//! [`cookie`], and [`layer`], just outside the session layer, gives every
//! removal of either the attributes of the cookie it removes.

use axum::{
    extract::{Request, State},
    http::{header::SET_COOKIE, HeaderValue},
    middleware::Next,
    response::Response,
};
use tower_cookies::cookie::{time::Duration, Cookie, SameSite};

use super::{policy::CookiePolicy, sessions::Sessions};

/// A cookie of the guard's (the session cookie, or the one naming why the
/// last session ended) with the attributes both carry: `HttpOnly`,
/// `SameSite=Lax`, `Path=/`, and `Secure` when the policy says so.
pub fn cookie(policy: &CookiePolicy, name: String, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(policy.secure)
        .build()
}

/// Whether a `Set-Cookie` value removes one of the guard's cookies.
fn removes_ours(set_cookie: &Cookie<'_>, policy: &CookiePolicy, ending: &str) -> bool {
    (set_cookie.name() == policy.name || set_cookie.name() == ending)
        && set_cookie.max_age() == Some(Duration::ZERO)
}

/// Rewrites each removal of the guard's cookies in the answer with the
/// attributes of the cookie it removes; every other `Set-Cookie` is left
/// as it is.
pub async fn layer(State(sessions): State<Sessions>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if !res.headers().contains_key(SET_COOKIE) {
        return res;
    }
    let policy = &sessions.policy.cookie;
    let ending = policy.ending_name();
    let values: Vec<HeaderValue> = res.headers().get_all(SET_COOKIE).iter().cloned().collect();
    let headers = res.headers_mut();
    headers.remove(SET_COOKIE);
    for value in values {
        let mended = value
            .to_str()
            .ok()
            .and_then(|text| Cookie::parse(text).ok())
            .filter(|set| removes_ours(set, policy, &ending))
            .and_then(|set| {
                let mut removal = cookie(policy, set.name().to_owned(), String::new());
                removal.make_removal();
                HeaderValue::from_str(&removal.to_string()).ok()
            });
        headers.append(SET_COOKIE, mended.unwrap_or(value));
    }
    res
}
