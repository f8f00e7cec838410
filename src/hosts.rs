//! Only the host names this server is meant to serve.
//!
//! Browsers keep origins apart by host name. A page on a name an attacker
//! controls that resolves to this server (DNS rebinding:
//! `rebind.attacker.example` answers first with the attacker's address, then
//! with this server's) is, to the browser, an origin of its own whose
//! `Origin` matches the `Host` it sends: compared with each other, they let
//! that page sign in and post. So every request must name a host the server
//! serves before anything else looks at it.
//!
//! What it promises ([`layer`]):
//! - the hosts served are the `PUBLIC_URL` host when it is set; otherwise
//!   the site address and the loopback names (`localhost`, `127.0.0.1`,
//!   `[::1]`); plus every entry of `ALLOWED_HOSTS` ([`AllowedHosts`]);
//! - names are compared without the port and case, as Django's
//!   `ALLOWED_HOSTS` compares them (rebinding keeps the port; a proxy may
//!   change it);
//! - a request whose `Host` (or absolute URI) names another host, or no
//!   host at all, is answered 400 (JSON, or an HTML page for a browser)
//!   before any session, sign-in or form is touched.

use std::{net::SocketAddr, str::FromStr, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{header, uri::Authority, HeaderMap},
    middleware::Next,
    response::Response,
};

use crate::error::{
    http::{asks_for_html, error_page, json_error},
    AppError,
};

/// One entry of the hosts served.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `*`: every host (the check is off).
    Any,
    /// `items.example.com`, `127.0.0.1`, `[::1]`: that host alone.
    Exact(String),
    /// `.example.com`: `example.com` and every name under it.
    Domain(String),
}

impl Pattern {
    fn matches(&self, host: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(name) => name == host,
            Pattern::Domain(domain) => {
                host == domain
                    || host
                        .strip_suffix(domain.as_str())
                        .is_some_and(|sub| sub.ends_with('.'))
            }
        }
    }
}

/// The host names requests may name (`ALLOWED_HOSTS`, then the site's own
/// with [`AllowedHosts::with_site`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<Pattern>);

impl FromStr for AllowedHosts {
    type Err = String;

    /// Comma-separated names (`items.example.com`), addresses (`10.0.0.7`,
    /// `[::1]`), `.example.com` for a domain and its subdomains, or `*` for
    /// any; no scheme, port or path. Empty means none beyond the site's own.
    fn from_str(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let refused = || {
                    format!(
                        "{entry:?} is not a host name: write the name alone, such as \
                         items.example.com, .example.com (and its subdomains) or *"
                    )
                };
                if entry == "*" {
                    return Ok(Pattern::Any);
                }
                let (domain, name) = match entry.strip_prefix('.') {
                    Some(name) => (true, name),
                    None => (false, entry),
                };
                // A bare IPv6 address is written as browsers send it.
                let name = match name.parse::<std::net::Ipv6Addr>() {
                    Ok(v6) => format!("[{v6}]"),
                    Err(_) => name.to_owned(),
                };
                let host = match host_of(&name) {
                    Some(host) if host == name.to_ascii_lowercase().trim_end_matches('.') => host,
                    _ => return Err(refused()),
                };
                Ok(if domain {
                    Pattern::Domain(host)
                } else {
                    Pattern::Exact(host)
                })
            })
            .collect::<Result<_, _>>()
            .map(AllowedHosts)
    }
}

impl AllowedHosts {
    /// These entries, plus the site's own hosts: the `PUBLIC_URL` host
    /// (`public_host`) when there is one, else the address the server
    /// listens on (unless it is the unspecified `0.0.0.0` or `::`) and the
    /// loopback names.
    pub fn with_site(mut self, public_host: Option<&str>, site_addr: SocketAddr) -> Self {
        let mut own = Vec::new();
        match public_host {
            Some(host) => own.push(host.to_owned()),
            None => {
                match site_addr.ip() {
                    ip if ip.is_unspecified() => {}
                    std::net::IpAddr::V4(v4) => own.push(v4.to_string()),
                    std::net::IpAddr::V6(v6) => own.push(format!("[{v6}]")),
                }
                own.extend(["localhost", "127.0.0.1", "[::1]"].map(str::to_owned));
            }
        }
        for host in own.into_iter().filter_map(|text| host_of(&text)) {
            let pattern = Pattern::Exact(host);
            if !self.0.contains(&pattern) {
                self.0.push(pattern);
            }
        }
        self
    }

    /// Whether a request with these headers and URI names a host served.
    pub fn allow(&self, uri: &axum::http::Uri, headers: &HeaderMap) -> bool {
        let mut named = Vec::with_capacity(2);
        // An absolute URI (`GET http://host/ HTTP/1.1`) names a host too:
        // both must be served.
        if let Some(authority) = uri.authority() {
            named.push(Some(authority.as_str()));
        }
        for value in headers.get_all(header::HOST) {
            named.push(value.to_str().ok());
        }
        !named.is_empty()
            && named.into_iter().all(|text| {
                text.and_then(host_of)
                    .is_some_and(|host| self.0.iter().any(|pattern| pattern.matches(&host)))
            })
    }
}

/// The host of a `Host` value (`name`, `name:port`, `[v6]:port`), lower
/// case, without a trailing dot; `None` when it is not one.
fn host_of(text: &str) -> Option<String> {
    let authority: Authority = text.trim().parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let addr: std::net::Ipv6Addr = v6.parse().ok()?;
        return Some(format!("[{addr}]"));
    }
    let host = host.strip_suffix('.').unwrap_or(&host);
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
    valid.then(|| host.to_owned())
}

/// Refuses, with 400, a request for a host this server does not serve.
pub async fn layer(State(hosts): State<Arc<AllowedHosts>>, req: Request, next: Next) -> Response {
    if hosts.allow(req.uri(), req.headers()) {
        return next.run(req).await;
    }
    tracing::warn!("request for a host this server does not serve, refused");
    let err = AppError::bad_request(
        "This server does not answer for that host name. Use the address the site is published at.",
    );
    if !req.uri().path().starts_with("/api/") && asks_for_html(req.headers()) {
        error_page(&err)
    } else {
        json_error(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, Uri};

    fn allows(hosts: &AllowedHosts, host: &'static str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static(host));
        hosts.allow(&Uri::from_static("/items"), &headers)
    }

    fn loopback() -> SocketAddr {
        "127.0.0.1:3000".parse().unwrap()
    }

    #[test]
    fn without_a_public_url_the_site_and_loopback_names_are_served() {
        let hosts = AllowedHosts::default().with_site(None, loopback());
        for host in [
            "127.0.0.1:3000",
            "localhost:3000",
            "LOCALHOST",
            "[::1]:3000",
        ] {
            assert!(allows(&hosts, host), "{host}");
        }
        for host in [
            "rebind.attacker.example",
            "rebind.attacker.example:3000",
            "127.0.0.2:3000",
            "localhost.attacker.example",
            "user@localhost",
            "",
        ] {
            assert!(!allows(&hosts, host), "{host}");
        }
        assert!(
            !hosts.allow(&Uri::from_static("/items"), &HeaderMap::new()),
            "no host at all"
        );
        let lan = AllowedHosts::default().with_site(None, "10.0.0.7:3000".parse().unwrap());
        assert!(allows(&lan, "10.0.0.7:3000"));
    }

    #[test]
    fn with_a_public_url_only_its_host_and_the_list_are_served() {
        let hosts: AllowedHosts = "admin.example.net, .example.org".parse().unwrap();
        let hosts = hosts.with_site(Some("items.example.com"), loopback());
        for host in [
            "items.example.com",
            "items.example.com.",
            "ITEMS.example.com:8443",
            "admin.example.net",
            "example.org",
            "a.b.example.org",
        ] {
            assert!(allows(&hosts, host), "{host}");
        }
        for host in [
            "localhost:3000",
            "127.0.0.1:3000",
            "badexample.org",
            "example.net",
        ] {
            assert!(!allows(&hosts, host), "{host}");
        }
        // An absolute URI must name a served host too.
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("items.example.com"));
        assert!(!hosts.allow(&Uri::from_static("http://evil.example/items"), &headers));
    }

    #[test]
    fn the_setting_takes_names_domains_addresses_or_any() {
        let any: AllowedHosts = "*".parse().unwrap();
        assert!(allows(&any, "whatever.example"));
        let v6: AllowedHosts = "::1, 10.0.0.7".parse().unwrap();
        assert!(allows(&v6, "[::1]:3000"));
        assert!(allows(&v6, "10.0.0.7"));
        assert_eq!("".parse::<AllowedHosts>().unwrap(), AllowedHosts::default());
        for bad in [
            "https://items.example.com",
            "items.example.com:443",
            "items.example.com/app",
            "a b",
            "user@host",
        ] {
            let err = bad.parse::<AllowedHosts>().unwrap_err();
            assert!(err.contains("host name"), "{bad}: {err}");
        }
    }
}
