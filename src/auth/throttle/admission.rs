//! Places among the password verifications of one server, shared fairly.
//!
//! A verification costs tens of milliseconds of a hashing thread, so at
//! most [`MAX_QUEUED`] wait or run at once; past that a sign-in is answered
//! `503` with `Retry-After` at once rather than joining a queue that grows.
//! Those places are what a flood of wrong passwords competes for, and a
//! refusal costs its sender nothing, so who may hold them matters:
//!
//! - Each network holds a bounded share, at every size an attacker can
//!   cheaply hold many addresses of: an IPv4 address and its /24; an IPv6
//!   /64, its /48 and its /32 ([`networks`]). A /48 holds 65,536 /64s, so a
//!   cap per /64 alone would let one site fill every place.
//! - [`RESERVED_FOR_CLEAN`] places are kept for clients none of whose
//!   networks failed a sign-in lately ([`RECENT_FAILURE`]): however many
//!   networks a flood comes from, once they have failed, an uninvolved
//!   client still finds a place.
//!
//! Places are per server (each verifies on its own threads); the allowances
//! of the other modules are what every instance shares.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use ipnet::IpNet;

use super::keys::Client;

/// Verifications waiting or running at once, at most: about a second of
/// work for one hashing thread.
pub const MAX_QUEUED: usize = 32;
/// Of those, the places only clients without recent failures may take.
pub const RESERVED_FOR_CLEAN: usize = 8;
/// Sign-ins from one address (an IPv6 /64) being verified or waiting at
/// once. Eight: the benchmark's concurrent sign-ins, far above a person's
/// one.
pub const MAX_IN_FLIGHT_PER_ADDRESS: usize = 8;
/// The same for a network: an IPv4 /24, an IPv6 /48 or /32.
pub const MAX_IN_FLIGHT_PER_NETWORK: usize = 16;
/// How long a failed sign-in marks its address and networks.
pub const RECENT_FAILURE: Duration = Duration::from_secs(300);
/// Networks remembered as having failed, at most.
const MAX_MARKS: usize = 100_000;

/// The networks a client counts in, each with its cap: the address (an
/// IPv6 client is already its /64, see [`Client`]) and the larger
/// networks around it.
fn networks(client: Client) -> Vec<(IpNet, usize)> {
    let prefixes: &[(u8, usize)] = match client.0 {
        IpAddr::V4(_) => &[
            (32, MAX_IN_FLIGHT_PER_ADDRESS),
            (24, MAX_IN_FLIGHT_PER_NETWORK),
        ],
        IpAddr::V6(_) => &[
            (64, MAX_IN_FLIGHT_PER_ADDRESS),
            (48, MAX_IN_FLIGHT_PER_NETWORK),
            (32, MAX_IN_FLIGHT_PER_NETWORK),
        ],
    };
    prefixes
        .iter()
        .filter_map(|&(len, cap)| IpNet::new(client.0, len).ok().map(|net| (net.trunc(), cap)))
        .collect()
}

#[derive(Debug, Default)]
struct Places {
    taken: usize,
    per_network: HashMap<IpNet, usize>,
    /// When each network last failed a sign-in.
    failed: HashMap<IpNet, Instant>,
}

/// The places of one server's verifications.
#[derive(Debug, Clone, Default)]
pub(super) struct Admission(Arc<Mutex<Places>>);

/// Why no place was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Full;

impl Admission {
    fn places(&self) -> MutexGuard<'_, Places> {
        // Plain counters, consistent after any panic.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place for one verification of `client`'s, or [`Full`]: its share
    /// of some network is taken, or every place it may take is.
    pub(super) fn admit(&self, client: Client) -> Result<Place, Full> {
        let networks = networks(client);
        let now = Instant::now();
        let mut places = self.places();
        let clean = networks.iter().all(|(net, _)| {
            places
                .failed
                .get(net)
                .is_none_or(|at| now.duration_since(*at) > RECENT_FAILURE)
        });
        let open = if clean {
            MAX_QUEUED
        } else {
            MAX_QUEUED - RESERVED_FOR_CLEAN
        };
        let share_left = networks
            .iter()
            .all(|(net, cap)| places.per_network.get(net).copied().unwrap_or(0) < *cap);
        if places.taken >= open || !share_left {
            return Err(Full);
        }
        places.taken += 1;
        for (net, _) in &networks {
            *places.per_network.entry(*net).or_insert(0) += 1;
        }
        Ok(Place {
            admission: self.clone(),
            networks: networks.into_iter().map(|(net, _)| net).collect(),
        })
    }

    /// Marks `client`'s address and networks as having failed a sign-in now.
    pub(super) fn failed(&self, client: Client) {
        let now = Instant::now();
        let mut places = self.places();
        if places.failed.len() >= MAX_MARKS {
            places.prune(now);
        }
        if places.failed.len() >= MAX_MARKS {
            // Still full of fresh marks: the oldest half go.
            let mut times: Vec<Instant> = places.failed.values().copied().collect();
            let middle = times.len() / 2;
            let (_, median, _) = times.select_nth_unstable(middle);
            let median = *median;
            places.failed.retain(|_, at| *at > median);
        }
        for (net, _) in networks(client) {
            places.failed.insert(net, now);
        }
    }

    /// Forgets failures that are no longer recent.
    pub(super) fn prune(&self) {
        self.places().prune(Instant::now());
    }

    /// Places taken now.
    #[cfg(test)]
    pub(super) fn taken(&self) -> usize {
        self.places().taken
    }
}

impl Places {
    fn prune(&mut self, now: Instant) {
        self.failed
            .retain(|_, at| now.duration_since(*at) <= RECENT_FAILURE);
    }
}

/// A verification's place, given back when dropped.
#[derive(Debug)]
pub(super) struct Place {
    admission: Admission,
    networks: Vec<IpNet>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut places = self.admission.places();
        places.taken = places.taken.saturating_sub(1);
        for net in &self.networks {
            if let Some(n) = places.per_network.get_mut(net) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    places.per_network.remove(net);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(text: &str) -> Client {
        Client::of(text.parse().unwrap())
    }

    /// Takes places for `clients` until refused; answers those taken.
    fn fill(admission: &Admission, clients: impl Iterator<Item = Client>) -> Vec<Place> {
        clients.map_while(|c| admission.admit(c).ok()).collect()
    }

    #[test]
    fn one_ipv6_site_holds_its_share_however_many_64s_it_uses() {
        let admission = Admission::default();
        // Forty /64s of one /48, eight attempts each.
        let mut held = Vec::new();
        for n in 0..40u16 {
            for _ in 0..8 {
                if let Ok(place) = admission.admit(client(&format!("2001:db8:7:{n:x}::1"))) {
                    held.push(place);
                }
            }
        }
        assert_eq!(held.len(), MAX_IN_FLIGHT_PER_NETWORK);
        assert!(
            admission.admit(client("2001:db8:7:ffff::1")).is_err(),
            "the /48's share is taken"
        );
        assert!(
            admission.admit(client("2001:db8:8::1")).is_err(),
            "and so is its /32's"
        );
        assert!(admission.admit(client("2001:db9::1")).is_ok());
        assert!(admission.admit(client("198.51.100.7")).is_ok());
        drop(held);
        assert_eq!(admission.taken(), 0, "every place comes back");
        assert!(admission.places().per_network.is_empty());
    }

    #[test]
    fn an_ipv4_address_and_its_24_have_shares_of_their_own() {
        let admission = Admission::default();
        let one = fill(&admission, std::iter::repeat(client("203.0.113.9")));
        assert_eq!(one.len(), MAX_IN_FLIGHT_PER_ADDRESS);
        let block = fill(
            &admission,
            (10..=255).map(|n| client(&format!("203.0.113.{n}"))),
        );
        assert_eq!(one.len() + block.len(), MAX_IN_FLIGHT_PER_NETWORK);
        assert!(admission.admit(client("203.0.114.1")).is_ok());
    }

    #[test]
    fn clients_that_failed_lately_leave_the_reserve_to_the_others() {
        let admission = Admission::default();
        // Flooders from many networks, each of which has failed already.
        let flooders: Vec<Client> = (0..64u8).map(|n| client(&format!("10.{n}.0.1"))).collect();
        for flooder in &flooders {
            admission.failed(*flooder);
        }
        // A fresh address in a network that failed counts as failed too.
        let fresh = admission.admit(client("10.0.0.99")).unwrap();
        let held = fill(&admission, flooders.iter().cycle().copied());
        assert_eq!(held.len() + 1, MAX_QUEUED - RESERVED_FOR_CLEAN);
        drop(fresh);
        assert!(
            admission.admit(client("10.0.0.99")).is_ok(),
            "its place is back"
        );
        let retaken = fill(&admission, flooders.iter().copied());
        assert_eq!(held.len() + retaken.len(), MAX_QUEUED - RESERVED_FOR_CLEAN);
        // An uninvolved client still gets a place, up to the last one.
        let clean = fill(
            &admission,
            (1..=255u8).map(|n| client(&format!("192.0.{n}.1"))),
        );
        assert_eq!(clean.len(), RESERVED_FOR_CLEAN);
        assert!(
            admission.admit(client("198.51.100.1")).is_err(),
            "all taken"
        );
    }

    #[test]
    fn failures_are_forgotten_once_they_are_no_longer_recent() {
        let admission = Admission::default();
        admission.failed(client("2001:db8::1"));
        {
            let mut places = admission.places();
            assert_eq!(places.failed.len(), 3, "the /64, /48 and /32");
            let long_ago = Instant::now() - RECENT_FAILURE - Duration::from_secs(1);
            for at in places.failed.values_mut() {
                *at = long_ago;
            }
        }
        admission.prune();
        assert!(admission.places().failed.is_empty());
    }
}
