//! Reading answers: JSON bodies, `Set-Cookie` lines and the headers the
//! guard adds.

use reqwest::{header, Response};
use session_guard::session::IDLE_REMAINING_HEADER;

/// The JSON body of an error answer.
pub async fn json(res: Response) -> serde_json::Value {
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        ct.starts_with("application/json"),
        "expected JSON, got {ct:?}"
    );
    res.json().await.unwrap()
}

/// Every `Set-Cookie` line of an answer.
pub fn set_cookies(res: &Response) -> Vec<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

/// Whether a `Set-Cookie` line (or a `name=value` pair) is cookie `name`.
pub fn is_cookie(line: &str, name: &str) -> bool {
    line.strip_prefix(name)
        .is_some_and(|rest| rest.starts_with('='))
}

/// The cookie `name` (`name=value`) an answer sets, if any; a removal
/// (`Max-Age=0`, an `Expires` in 1970) does not count.
pub fn session_cookie(res: &Response, name: &str) -> Option<String> {
    set_cookies(res)
        .into_iter()
        .find(|c| is_cookie(c, name) && !c.contains("Max-Age=0") && !c.contains("1970"))
        .and_then(|c| c.split(';').next().map(str::to_owned))
}

/// What the guard says in the headers of an answer.
pub trait ResponseExt {
    /// Whole seconds until the idle deadline ([`IDLE_REMAINING_HEADER`]).
    fn idle_remaining(&self) -> i64;
    /// The seconds `Retry-After` asks to wait.
    fn retry_after(&self) -> u64;
    /// Whether the answer sets session cookie `name` (a removal does not
    /// count).
    fn sets_session_cookie(&self, name: &str) -> bool;
}

impl ResponseExt for Response {
    fn idle_remaining(&self) -> i64 {
        self.headers()[IDLE_REMAINING_HEADER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    fn retry_after(&self) -> u64 {
        self.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    fn sets_session_cookie(&self, name: &str) -> bool {
        set_cookies(self)
            .iter()
            .any(|c| is_cookie(c, name) && !c.contains("Max-Age=0"))
    }
}
