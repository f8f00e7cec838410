//! Where a user is signed in: each of their live sessions, and ending any of
//! them from another (OWASP ASVS 3.3.4).
//!
//! What it promises:
//! - The store finds a user's sessions and ends them (`store::owners`).
//! - The page names a session by [`handle`], a hash of its id, never the id
//!   itself: that is the session cookie's value, and a page that listed it
//!   would hand every other session to whoever reads the page.
//! - [`Origin`]: the browser and system are read from the User-Agent once,
//!   at sign-in, by a maintained parser (woothee); only that short
//!   description is kept, never the raw header.

use std::net::IpAddr;

use blake2::{Blake2s256, Digest};
use tower_sessions::session::Id;

/// Longest User-Agent read; past it the header is cut (the parser's
/// patterns need only its start, and a huge one is no browser).
const MAX_USER_AGENT_BYTES: usize = 512;

/// Where a session was signed in, kept in its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The browser and system, for example `Chrome 156 on Linux`.
    pub device: String,
    /// The client's address.
    pub address: String,
}

impl Origin {
    pub fn of(user_agent: Option<&str>, address: IpAddr) -> Origin {
        Origin {
            device: describe(user_agent),
            address: address.to_string(),
        }
    }
}

/// The browser and system a User-Agent names, in a few words.
pub fn describe(user_agent: Option<&str>) -> String {
    let agent = user_agent.map(|agent| {
        let mut end = agent.len().min(MAX_USER_AGENT_BYTES);
        while !agent.is_char_boundary(end) {
            end -= 1;
        }
        &agent[..end]
    });
    let Some(parsed) = agent.and_then(|agent| woothee::parser::Parser::new().parse(agent)) else {
        return "Unknown browser".to_owned();
    };
    let known = |text: &str| !text.is_empty() && text != woothee::woothee::VALUE_UNKNOWN;
    let browser = if known(parsed.name) {
        let major = parsed.version.split('.').next();
        match major.filter(|major| major.starts_with(|c: char| c.is_ascii_digit())) {
            Some(major) => format!("{} {major}", parsed.name),
            None => parsed.name.to_owned(),
        }
    } else {
        "Unknown browser".to_owned()
    };
    if known(parsed.os) {
        format!("{browser} on {}", parsed.os)
    } else {
        browser
    }
}

/// The name the page knows a session by: 32 hex digits of a hash of its id.
pub fn handle(id: &Id) -> String {
    Blake2s256::digest(id.to_string().as_bytes())[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `text` could be a [`handle`] at all.
pub fn is_handle(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_become_a_browser_and_a_system() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.8078.73 Safari/537.36";
        assert_eq!(describe(Some(chrome)), "Chrome 156 on Linux");
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(describe(Some(firefox)), "Firefox 133 on Windows 10");
        assert_eq!(describe(None), "Unknown browser");
        assert_eq!(describe(Some("curl/8.5.0")), "HTTP Library");
        assert_eq!(describe(Some("")), "Unknown browser");
        // Markup is text like any other (the page escapes it), and a huge
        // header is cut on a character boundary.
        let hostile = format!("<script>alert(1)</script>{}", "é".repeat(1000));
        assert_eq!(describe(Some(&hostile)), "Unknown browser");
    }

    #[test]
    fn handles_are_stable_distinct_and_not_the_id() {
        let (a, b) = (Id::default(), Id::default());
        assert_eq!(handle(&a), handle(&a));
        assert_ne!(handle(&a), handle(&b));
        assert!(is_handle(&handle(&a)));
        assert!(!handle(&a).contains(&a.to_string()));
        assert!(!is_handle("not-a-handle"));
        assert!(!is_handle(&"A".repeat(32)));
    }
}
