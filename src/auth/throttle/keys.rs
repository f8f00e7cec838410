//! What the throttle counts by: who an attempt is for ([`Who`]), where it
//! comes from ([`Client`]), and the buckets ([`Key`]) those two make. Every
//! key is small and bounded, whatever a client submits.

use std::net::IpAddr;

use super::gcra::{Limit, PER_ADDRESS, PER_USER};
use crate::auth::Username;

/// Who an attempt is for, as the throttle counts it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    /// A name that parses, in lower case (case does not reset the count).
    Name(String),
    /// Every submitted name that is not a username at all.
    Unparsed,
}

impl Who {
    pub fn of(submitted: &str) -> Who {
        match Username::parse(submitted.trim()) {
            Ok(name) => Who::Name(name.as_str().to_ascii_lowercase()),
            Err(_) => Who::Unparsed,
        }
    }
}

/// Where an attempt comes from, as the throttle counts it: an IPv4 address,
/// or an IPv6 address's /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client(pub(super) IpAddr);

impl Client {
    pub fn of(addr: IpAddr) -> Client {
        match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Client(IpAddr::V6(prefix.into()))
                }
            },
            v4 => Client(v4),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Key {
    User(Who, Client),
    Address(Client),
}

impl Key {
    pub(super) fn limit(&self) -> Limit {
        match self {
            Key::User(..) => PER_USER,
            Key::Address(_) => PER_ADDRESS,
        }
    }

    /// Its name in the shared table: neither part can hold a space, and `*`
    /// is no username.
    pub(super) fn shared_name(&self) -> String {
        match self {
            Key::User(Who::Name(name), client) => format!("user {} {name}", client.0),
            Key::User(Who::Unparsed, client) => format!("user {} *", client.0),
            Key::Address(client) => format!("address {}", client.0),
        }
    }
}
