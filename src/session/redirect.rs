//! Where to send a user after signing in, and the login page's address:
//! where a session that has ended sends its page.
//!
//! `next` is honoured only for same-site relative paths: anything that a
//! browser could resolve to another origin (`//evil`, `/\evil`, `https:`...)
//! is ignored, so the login page is no open redirect.

use super::EndReason;

/// The login page, part of the session's contract with the app: where an
/// ended session sends its page.
pub const LOGIN_PATH: &str = "/login";

/// `raw` if it is a safe same-site path to return to, else `None`.
pub fn safe_next(raw: &str) -> Option<String> {
    let ok = raw.starts_with('/')
        && !raw.starts_with("//")
        && raw.len() <= 2048
        && raw.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    ok.then(|| raw.to_owned())
}

/// `/login?reason=...&next=...`, leaving out what is not known or not safe.
/// (`reason=missing` is kept: the contract promises a reason; the login page
/// shows no message for it.)
pub fn login_url(reason: Option<EndReason>, next: Option<&str>) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(reason) = reason {
        pairs.push(("reason", reason.as_str().to_owned()));
    }
    if let Some(next) = next.and_then(safe_next) {
        pairs.push(("next", next));
    }
    match serde_urlencoded::to_string(&pairs) {
        Ok(query) if !query.is_empty() => format!("{LOGIN_PATH}?{query}"),
        _ => LOGIN_PATH.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_site_paths_are_kept() {
        assert_eq!(safe_next("/items?page=2").as_deref(), Some("/items?page=2"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil",
            "",
            "/a b",
            "/\u{7}",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn login_url_encodes_next() {
        assert_eq!(
            login_url(Some(EndReason::Idle), Some("/items?page=2")),
            "/login?reason=idle&next=%2Fitems%3Fpage%3D2"
        );
        assert_eq!(
            login_url(Some(EndReason::Missing), Some("//evil")),
            "/login?reason=missing"
        );
        assert_eq!(login_url(None, None), "/login");
    }
}
