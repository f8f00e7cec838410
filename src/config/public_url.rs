//! `PUBLIC_URL`: the origin users reach, parsed once, so that the cookie,
//! the origin check, the host check and HSTS all read the same answer.

/// `PUBLIC_URL`: the scheme, host and port users reach, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `https://host` or `https://host:port`, lower case, without a default
    /// port: as a browser writes it in `Origin`.
    origin: String,
    /// The host alone, lower case (an IPv6 address in brackets): what a
    /// request's `Host` must name (`hosts`).
    host: String,
    https: bool,
}

impl PublicUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = |why: &str| {
            format!(
                "{text:?} {why}; write the origin users reach, such as https://items.example.com"
            )
        };
        let uri: http::Uri = text.parse().map_err(|_| invalid("is not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid("does not start with https:// or http://")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("names no host"))?;
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return Err(invalid("must name a host and nothing else"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(invalid(
                "has a path or query: the app is served at the root",
            ));
        }
        let host = authority.host().to_ascii_lowercase();
        // An IPv6 address as browsers write it: `[0:0::1]` is `[::1]`.
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => {
                let addr: std::net::Ipv6Addr =
                    v6.parse().map_err(|_| invalid("names no valid host"))?;
                format!("[{addr}]")
            }
            None => host,
        };
        let default_port = if https { 443 } else { 80 };
        let origin = match authority.port_u16() {
            Some(port) if port != default_port => {
                format!("{}://{host}:{port}", uri.scheme_str().unwrap_or_default())
            }
            _ => format!("{}://{host}", uri.scheme_str().unwrap_or_default()),
        };
        Ok(PublicUrl {
            origin,
            host,
            https,
        })
    }

    /// As a browser sends it in `Origin`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The host users reach, without the port.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn is_https(&self) -> bool {
        self.https
    }
}
