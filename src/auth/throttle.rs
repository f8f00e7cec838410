//! Sign-in throttling: attempts are counted per username and client
//! address, and per address. Past its allowance a client is refused with 429
//! and `Retry-After`, even with the right password, until the allowance
//! refills by one attempt; so guessing is slowed to a trickle and then
//! refused, and nothing is locked for good.
//!
//! What it promises, however many requests arrive at once:
//! - An attempt spends from both allowances *before* its password is
//!   verified, and gets it back when the password was right (or when it
//!   could not be verified at all: an outage or a full queue). So at most
//!   the allowance is ever verified per key: 99 simultaneous guesses for one
//!   name from one address verify 5, not 99.
//! - At most [`MAX_IN_FLIGHT_PER_ADDRESS`] verifications per address run or
//!   wait at once; more are refused at once (429, `Retry-After: 1`).
//! - Memory is bounded: a key is the parsed username (lower case; every
//!   name that does not parse shares one bucket, so a 256 KiB "name" costs
//!   what `alice` costs) and the address (IPv6 by its /64, which one client
//!   usually holds whole). Keys whose allowance has refilled are pruned
//!   every minute (the sweeper), and the table never holds more than
//!   [`MAX_KEYS`]: past it, the buckets closest to full go first.
//!
//! A user's count is kept per address: an attacker's failures lock the
//! attacker's address out of that account, never the account itself, so no
//! one can keep a real user from signing in.
//!
//! The counting is GCRA, the algorithm of governor (and so tower_governor),
//! in [`Limit::spend`]: a bucket is one instant, its "theoretical arrival
//! time". It is written out here because governor can neither give a spent
//! attempt back nor spend from two limits as one step, and both are what
//! the promises above rest on.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use super::Username;

/// Attempts one address may make for one username at once, then one more
/// per [`USER_REFILL`].
pub const USER_BURST: u32 = 5;
pub const USER_REFILL: Duration = Duration::from_secs(30);
/// Attempts one address may make across all usernames at once, then one
/// more per [`ADDRESS_REFILL`].
pub const ADDRESS_BURST: u32 = 20;
pub const ADDRESS_REFILL: Duration = Duration::from_secs(10);
/// Sign-ins from one address being verified (or waiting to be) at once.
/// Eight: the benchmark's concurrent sign-ins, far above a person's one.
pub const MAX_IN_FLIGHT_PER_ADDRESS: usize = 8;
/// Buckets kept at most (a few MiB).
pub const MAX_KEYS: usize = 100_000;

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
pub struct Client(IpAddr);

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
enum Key {
    User(Who, Client),
    Address(Client),
}

/// An allowance: `burst` attempts at once, then one per `refill`.
#[derive(Debug, Clone, Copy)]
struct Limit {
    burst: u32,
    refill: Duration,
}

const PER_USER: Limit = Limit {
    burst: USER_BURST,
    refill: USER_REFILL,
};
const PER_ADDRESS: Limit = Limit {
    burst: ADDRESS_BURST,
    refill: ADDRESS_REFILL,
};

impl Limit {
    /// GCRA: the bucket's time after spending one attempt at `now`, or how
    /// long until it could.
    fn spend(&self, tat: Option<Instant>, now: Instant) -> Result<Instant, Duration> {
        let tat = tat.map_or(now, |tat| tat.max(now));
        let tolerance = self.refill * self.burst.saturating_sub(1);
        let ahead = tat - now;
        if ahead > tolerance {
            Err(ahead - tolerance)
        } else {
            Ok(tat + self.refill)
        }
    }

    /// The bucket's time with one attempt given back; `None` once that is
    /// a full allowance, which needs no entry.
    fn refund(&self, tat: Instant, now: Instant) -> Option<Instant> {
        tat.checked_sub(self.refill).filter(|back| *back > now)
    }

    fn limit_of(key: &Key) -> Limit {
        match key {
            Key::User(..) => PER_USER,
            Key::Address(_) => PER_ADDRESS,
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    buckets: HashMap<Key, Instant>,
    in_flight: HashMap<Client, usize>,
}

impl Counts {
    /// Forgets buckets that have refilled completely.
    fn prune(&mut self, now: Instant) {
        self.buckets.retain(|_, tat| *tat > now);
    }

    /// Makes room for one more bucket: what has refilled goes, then, if
    /// that is not enough, the half closest to full.
    fn make_room(&mut self, now: Instant) {
        if self.buckets.len() < MAX_KEYS {
            return;
        }
        self.prune(now);
        if self.buckets.len() < MAX_KEYS {
            return;
        }
        let mut tats: Vec<Instant> = self.buckets.values().copied().collect();
        let middle = tats.len() / 2;
        let (_, median, _) = tats.select_nth_unstable(middle);
        let median = *median;
        self.buckets.retain(|_, tat| *tat > median);
    }
}

#[derive(Debug, Clone, Default)]
pub struct SignInThrottle {
    counts: Arc<Mutex<Counts>>,
}

/// Why an attempt may not be made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// How long until it may.
    pub wait: Duration,
}

impl SignInThrottle {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        // Plain counters, consistent after any panic.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Before the password is verified: spends one attempt from both
    /// allowances, or neither and answers how long to wait. The attempt
    /// counts as failed unless [`Attempt::succeeded`] is called.
    pub fn begin(&self, who: Who, client: Client) -> Result<Attempt, Refused> {
        let now = Instant::now();
        let mut counts = self.counts();
        if counts.in_flight.get(&client).copied().unwrap_or(0) >= MAX_IN_FLIGHT_PER_ADDRESS {
            return Err(Refused {
                wait: Duration::from_secs(1),
            });
        }
        let keys = [Key::User(who, client), Key::Address(client)];
        let mut spent = Vec::with_capacity(keys.len());
        let mut wait = Duration::ZERO;
        for key in &keys {
            match Limit::limit_of(key).spend(counts.buckets.get(key).copied(), now) {
                Ok(tat) => spent.push(tat),
                Err(until) => wait = wait.max(until),
            }
        }
        if wait > Duration::ZERO {
            return Err(Refused { wait });
        }
        for (key, tat) in keys.iter().zip(spent) {
            if !counts.buckets.contains_key(key) {
                counts.make_room(now);
            }
            counts.buckets.insert(key.clone(), tat);
        }
        *counts.in_flight.entry(client).or_insert(0) += 1;
        Ok(Attempt {
            throttle: self.clone(),
            keys,
            client,
        })
    }

    /// Forgets what has refilled; the sweeper calls it every minute.
    pub fn prune(&self) {
        self.counts().prune(Instant::now());
    }

    /// How many buckets are kept now.
    pub fn keys(&self) -> usize {
        self.counts().buckets.len()
    }
}

/// One sign-in attempt being verified. Dropped without
/// [`give_back`](Attempt::give_back) (a wrong password, a client that went
/// away), it stays spent.
#[derive(Debug)]
pub struct Attempt {
    throttle: SignInThrottle,
    keys: [Key; 2],
    client: Client,
}

impl Attempt {
    /// The attempt does not count: the password was right, or it was never
    /// verified (an outage, a full queue).
    pub fn give_back(self) {
        let now = Instant::now();
        let mut counts = self.throttle.counts();
        for key in &self.keys {
            if let Some(tat) = counts.buckets.get(key).copied() {
                match Limit::limit_of(key).refund(tat, now) {
                    Some(back) => counts.buckets.insert(key.clone(), back),
                    None => counts.buckets.remove(key),
                };
            }
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let mut counts = self.throttle.counts();
        if let Some(n) = counts.in_flight.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.in_flight.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> Client {
        Client::of([10, 0, 0, 1].into())
    }

    #[test]
    fn an_allowance_is_spent_before_verifying_and_only_once_per_attempt() {
        let throttle = SignInThrottle::default();
        let alice = || Who::of("alice");
        // Five at once (all still being verified), the sixth refused.
        let attempts: Vec<Attempt> = (0..USER_BURST)
            .map(|_| {
                throttle
                    .begin(alice(), here())
                    .expect("within the allowance")
            })
            .collect();
        let refused = throttle.begin(alice(), here()).unwrap_err();
        assert!(refused.wait > Duration::ZERO && refused.wait <= USER_REFILL);
        drop(attempts);
        assert!(
            throttle.begin(alice(), here()).is_err(),
            "failures stay spent"
        );
        assert!(
            throttle.begin(Who::of("bob"), here()).is_ok(),
            "other names are not refused"
        );
        assert!(
            throttle
                .begin(alice(), Client::of([10, 0, 0, 2].into()))
                .is_ok(),
            "other addresses are not refused"
        );
    }

    #[test]
    fn a_right_password_gives_its_attempt_back() {
        let throttle = SignInThrottle::default();
        for _ in 0..100 {
            throttle
                .begin(Who::of("alice"), here())
                .expect("successes never use up the allowance")
                .give_back();
        }
        assert_eq!(throttle.keys(), 0, "a full allowance needs no entry");
    }

    #[test]
    fn one_address_trying_many_names_is_refused() {
        let throttle = SignInThrottle::default();
        for n in 0..ADDRESS_BURST {
            drop(
                throttle
                    .begin(Who::of(&format!("user{n}")), here())
                    .unwrap(),
            );
        }
        let refused = throttle
            .begin(Who::of("somebody-else"), here())
            .unwrap_err();
        assert!(refused.wait <= ADDRESS_REFILL);
    }

    #[test]
    fn in_flight_attempts_per_address_are_capped() {
        let throttle = SignInThrottle::default();
        let held: Vec<Attempt> = (0..MAX_IN_FLIGHT_PER_ADDRESS)
            .map(|n| throttle.begin(Who::of(&format!("u{n}")), here()).unwrap())
            .collect();
        let refused = throttle.begin(Who::of("another"), here()).unwrap_err();
        assert_eq!(refused.wait, Duration::from_secs(1));
        drop(held);
        assert!(throttle.begin(Who::of("another"), here()).is_ok());
    }

    #[test]
    fn keys_are_bounded_whatever_is_submitted() {
        assert_eq!(Who::of(&"x".repeat(300_000)), Who::Unparsed);
        assert_eq!(Who::of("a\u{0}b"), Who::Unparsed);
        assert_eq!(Who::of(" Alice "), Who::Name("alice".into()));
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Client::of(a), Client::of(b), "one /64, one client");
        assert_ne!(Client::of(a), Client::of(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(Client::of(mapped), here());
    }

    #[test]
    fn ten_thousand_failures_with_long_names_from_as_many_addresses_keep_a_few_mib() {
        let throttle = SignInThrottle::default();
        let long = "x".repeat(256 * 1024);
        for n in 0..10_000u32 {
            // A distinct 256 KiB "name" each time, from a distinct address.
            let name = format!("{n}{long}");
            let client = Client::of(IpAddr::V4((0x0a00_0000 + n).into()));
            drop(throttle.begin(Who::of(&name), client).unwrap());
        }
        // Two fixed-size keys per address, no name among them: what grew
        // by 77 MiB for 300 such failures before keeps this.
        assert_eq!(throttle.keys(), 20_000);
        let counts = throttle.counts();
        assert!(counts
            .buckets
            .keys()
            .all(|key| matches!(key, Key::Address(_) | Key::User(Who::Unparsed, _))));
        let bytes = counts.buckets.capacity()
            * (std::mem::size_of::<Key>() + std::mem::size_of::<Instant>() + 8);
        assert!(bytes < 4 << 20, "{bytes} bytes");
    }

    #[test]
    fn the_table_is_capped_and_pruned() {
        let throttle = SignInThrottle::default();
        for n in 0..(MAX_KEYS as u32 + 10) {
            let client = Client::of(IpAddr::V4(n.into()));
            drop(throttle.begin(Who::Unparsed, client).unwrap());
        }
        assert!(throttle.keys() <= MAX_KEYS, "{} keys", throttle.keys());
    }
}
