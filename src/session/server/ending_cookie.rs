//! A short-lived cookie naming why the last session ended, so that the
//! reason outlives the session cookie.
//!
//! tower-sessions removes the session cookie from the browser as soon as a
//! request finds its record gone. After that the browser sends nothing that
//! leads to the reason kept on the server (`store::endings`), and a
//! reload, a status check or another tab would be told "never signed in"
//! instead of "inactivity". So whenever the guard answers that a session has
//! ended, it also sets this cookie:
//! - it names only the reason (`idle`, `absolute`, `signed_out`,
//!   `revoked`): no id, nothing that opens anything, so reading it needs no
//!   trust;
//! - `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` with the session cookie,
//!   and kept as long as the server keeps reasons (12 hours);
//! - the next sign-in removes it.

use tower_cookies::{cookie::time::Duration, Cookies};

use super::{policy::Policy, removals};
use crate::session::EndReason;

/// The reason the request's cookie names, if any.
pub fn read(cookies: &Cookies, policy: &Policy) -> Option<EndReason> {
    cookies
        .get(&policy.cookie.ending_name())
        .and_then(|cookie| EndReason::parse(cookie.value()))
}

/// Remembers `reason` in the browser. `Missing` says nothing worth keeping,
/// and a cookie that already says `reason` is left as it is.
pub fn keep(cookies: &Cookies, policy: &Policy, reason: EndReason) {
    if reason == EndReason::Missing || read(cookies, policy) == Some(reason) {
        return;
    }
    let mut cookie = removals::cookie(
        &policy.cookie,
        policy.cookie.ending_name(),
        reason.as_str().to_owned(),
    );
    cookie.set_max_age(Duration::seconds(policy.reason_retention));
    cookies.add(cookie);
}

/// Removes the cookie (a new session has begun), if the browser has one:
/// with the attributes it was set with, or a browser keeps it.
pub fn forget(cookies: &Cookies, policy: &Policy) {
    if read(cookies, policy).is_some() {
        let name = policy.cookie.ending_name();
        cookies.remove(removals::cookie(&policy.cookie, name, String::new()));
    }
}
