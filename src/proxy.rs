//! The client's address when the app runs behind reverse proxies.
//!
//! Behind a proxy every connection comes from the proxy, so a per-client
//! limit would count everyone together. The proxy names the client in
//! `X-Forwarded-For` (or `Forwarded`), but any client can send those headers
//! too. So they are read only when the TCP peer is one of the proxies named
//! in `TRUSTED_PROXIES`; otherwise they are ignored.
//!
//! What it promises ([`TrustedProxies::client`]):
//! - A peer that is not a trusted proxy is the client, whatever it sent.
//! - From a trusted proxy, the client is the right-most address of the one
//!   header the operator names (`TRUSTED_PROXY_HEADER`: `X-Forwarded-For`,
//!   the default, or `Forwarded`'s `for=` values) that is not itself a
//!   trusted proxy (each proxy appends the address it saw; what lies to the
//!   left of an untrusted address was written by the client and proves
//!   nothing).
//! - The other header is never read: a proxy that writes one passes the
//!   other on from the client untouched, so reading it would let the client
//!   pick its own address.
//! - An entry that is not an address (`unknown`, a hidden name, garbage)
//!   ends the walk: the client is the last trusted address before it, so
//!   a forgery counts against the proxy (stricter), never against someone
//!   else.
//!
//! [`layer`] puts the answer in each request as [`ClientAddr`], which the
//! sign-in throttle and the sessions page read, and in the request's log
//! span, so that every line logged while serving it names the client (the
//! span is on from `RUST_LOG=info`; the sign-in events name it themselves).

use std::{net::IpAddr, str::FromStr, sync::Arc};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::HeaderMap,
    middleware::Next,
    response::Response,
};
use forwarded_header_value::ForwardedHeaderValue;
use ipnet::IpNet;

/// The proxies whose forwarding header is believed, and which header that
/// is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ProxyHeader,
}

/// The one header the trusted proxies write (`TRUSTED_PROXY_HEADER`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For` (nginx's `$proxy_add_x_forwarded_for`).
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239; HAProxy's `option forwarded`).
    Forwarded,
}

impl FromStr for ProxyHeader {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ProxyHeader::XForwardedFor),
            "forwarded" => Ok(ProxyHeader::Forwarded),
            _ => Err(format!("{text:?} is not one of x-forwarded-for, forwarded")),
        }
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated addresses (`10.0.0.7`, `::1`) or CIDR blocks
    /// (`10.0.0.0/8`); empty means none.
    fn from_str(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!("{entry:?} is neither an IP address nor a CIDR block (such as 10.0.0.0/8)")
                    })
            })
            .collect::<Result<_, _>>()
            .map(|nets| TrustedProxies {
                nets,
                header: ProxyHeader::default(),
            })
    }
}

impl TrustedProxies {
    /// The same proxies, believed in `header` only.
    pub fn reading(self, header: ProxyHeader) -> Self {
        TrustedProxies { header, ..self }
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.nets.iter().any(|net| net.contains(&addr))
    }

    /// The client of a request that came from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let hops = match self.header {
            ProxyHeader::XForwardedFor => x_forwarded_for(headers),
            ProxyHeader::Forwarded => forwarded(headers),
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            let Some(hop) = hop else {
                break;
            };
            client = hop.to_canonical();
            if !self.contains(client) {
                break;
            }
        }
        client
    }
}

/// The addresses `X-Forwarded-For` records, left (the first) to right (the
/// nearest); `None` for an entry that is not an address, or a line that
/// cannot be read.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|line| match line.to_str() {
            // A bare address per entry (what proxies append); anything
            // else, such as `unknown` or `addr:port`, is not one.
            Ok(text) => text
                .split(',')
                .map(|entry| entry.trim().parse::<IpAddr>().ok())
                .collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// The same for `Forwarded`'s `for=` values.
fn forwarded(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let Some(forwarded) = headers
        .get_all("forwarded")
        .iter()
        .map(|line| line.to_str().ok())
        .collect::<Option<Vec<&str>>>()
        .filter(|lines| !lines.is_empty())
        .map(|lines| lines.join(","))
    else {
        // None, or a line that cannot be read: nothing to believe.
        return if headers.contains_key("forwarded") {
            vec![None]
        } else {
            Vec::new()
        };
    };
    match ForwardedHeaderValue::from_forwarded(&forwarded) {
        Ok(value) => value
            .iter()
            .map(|stanza| stanza.forwarded_for_ip())
            .collect(),
        // Unreadable: as if its only entry were not an address.
        Err(_) => vec![None],
    }
}

/// The client's address, after the trusted proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Puts [`ClientAddr`] in every request.
pub async fn layer(
    State(proxies): State<Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .copied()
    {
        let client = proxies.client(peer.ip(), req.headers());
        req.extensions_mut().insert(ClientAddr(client));
        // The span `server.rs` opens for the request's log lines.
        tracing::Span::current().record("client", tracing::field::display(client));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn settings_name_addresses_and_blocks_or_are_refused() {
        let proxies: TrustedProxies = " 10.0.0.0/8, 127.0.0.1 ,::1,".parse().unwrap();
        assert!(proxies.contains(ip("10.1.2.3")));
        assert!(proxies.contains(ip("127.0.0.1")));
        assert!(proxies.contains(ip("::ffff:127.0.0.1")));
        assert!(proxies.contains(ip("::1")));
        assert!(!proxies.contains(ip("127.0.0.2")));
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
        for bad in ["10.0.0.0/33", "localhost", "10.0.0.1 10.0.0.2", "*"] {
            let err = bad.parse::<TrustedProxies>().unwrap_err();
            assert!(err.contains("CIDR"), "{bad}: {err}");
        }
    }

    #[test]
    fn forwarding_headers_count_only_from_a_trusted_peer() {
        let proxies: TrustedProxies = "127.0.0.1".parse().unwrap();
        let forged = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            proxies.client(ip("198.51.100.7"), &forged),
            ip("198.51.100.7")
        );
        assert_eq!(proxies.client(ip("127.0.0.1"), &forged), ip("203.0.113.9"));
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &headers(&[])),
            ip("127.0.0.1")
        );
        let none: TrustedProxies = "".parse().unwrap();
        assert_eq!(none.client(ip("127.0.0.1"), &forged), ip("127.0.0.1"));
    }

    #[test]
    fn the_client_is_the_right_most_address_that_is_not_a_proxy() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        // The client wrote the first entry itself; two proxies appended.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.5")]);
        assert_eq!(proxies.client(ip("10.0.0.9"), &chain), ip("198.51.100.7"));
        // Several header lines read as one list, in order.
        let split = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.8, 10.0.0.5"),
        ]);
        assert_eq!(proxies.client(ip("10.0.0.9"), &split), ip("198.51.100.8"));
        // Only proxies: the left-most of them.
        let inside = headers(&[("x-forwarded-for", "10.0.0.7, 10.0.0.5")]);
        assert_eq!(proxies.client(ip("10.0.0.9"), &inside), ip("10.0.0.7"));
        // Garbage ends the walk at the last trusted address.
        let junk = headers(&[("x-forwarded-for", "1.2.3.4, unknown, 10.0.0.5")]);
        assert_eq!(proxies.client(ip("10.0.0.9"), &junk), ip("10.0.0.5"));
        let unreadable = headers(&[("x-forwarded-for", "%%%")]);
        assert_eq!(proxies.client(ip("10.0.0.9"), &unreadable), ip("10.0.0.9"));
    }

    #[test]
    fn an_unreadable_x_forwarded_for_never_lets_forwarded_speak() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        // What nginx passes on when a client sends a header it cannot read
        // (appending to it) and a Forwarded of its own choosing.
        let mut map = HeaderMap::new();
        map.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff, 198.51.100.7").unwrap(),
        );
        map.append("forwarded", HeaderValue::from_static("for=203.0.113.7"));
        assert_eq!(proxies.client(ip("10.0.0.9"), &map), ip("10.0.0.9"));
        let reading_forwarded = proxies.reading(ProxyHeader::Forwarded);
        let mut unreadable = HeaderMap::new();
        unreadable.append("forwarded", HeaderValue::from_bytes(b"for=\xff").unwrap());
        assert_eq!(
            reading_forwarded.client(ip("10.0.0.9"), &unreadable),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn only_the_header_the_operator_names_is_read() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        // A proxy that writes Forwarded passes the client's own
        // X-Forwarded-For on untouched.
        let both = headers(&[
            ("x-forwarded-for", "203.0.113.66"),
            (
                "forwarded",
                "for=192.0.2.60;proto=https, for=\"[2001:db8::1]:4711\", for=10.0.0.5",
            ),
        ]);
        let by_forwarded = proxies.clone().reading(ProxyHeader::Forwarded);
        assert_eq!(
            by_forwarded.client(ip("10.0.0.9"), &both),
            ip("2001:db8::1")
        );
        assert_eq!(proxies.client(ip("10.0.0.9"), &both), ip("203.0.113.66"));
        // Without the named header the proxy itself is the client.
        let only_forwarded = headers(&[("forwarded", "for=192.0.2.60")]);
        assert_eq!(
            proxies.client(ip("10.0.0.9"), &only_forwarded),
            ip("10.0.0.9")
        );
        let only_xff = headers(&[("x-forwarded-for", "192.0.2.60")]);
        assert_eq!(
            by_forwarded.client(ip("10.0.0.9"), &only_xff),
            ip("10.0.0.9")
        );
        assert_eq!(
            "Forwarded".parse::<ProxyHeader>().unwrap(),
            ProxyHeader::Forwarded
        );
        assert!("x-real-ip"
            .parse::<ProxyHeader>()
            .unwrap_err()
            .contains("forwarded"));
    }
}
