//! Sign-in throttling: failed sign-ins are counted per username and client
//! address, and per address. Past its allowance a client is refused with 429
//! and `Retry-After`, even with the right password, until the allowance
//! refills by one attempt; so guessing is slowed to a trickle and then
//! refused, and nothing is locked for good.
//!
//! The counting is governor's GCRA (the engine of tower_governor); governor
//! cannot look at a key without spending from it, so this module also
//! remembers, per key, until when it refused.
//!
//! A user's count is kept per address: an attacker's failures lock the
//! attacker's address out of that account, never the account itself, so no
//! one can keep a real user from signing in.

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota};

/// Failed sign-ins one address may make for one username at once, then one
/// more per [`USER_REFILL`].
pub const USER_BURST: u32 = 5;
pub const USER_REFILL: Duration = Duration::from_secs(30);
/// Failed sign-ins one address may make across all usernames at once, then
/// one more per [`ADDRESS_REFILL`].
pub const ADDRESS_BURST: u32 = 20;
pub const ADDRESS_REFILL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String, IpAddr),
    Address(IpAddr),
}

#[derive(Clone)]
pub struct SignInThrottle {
    per_user: Arc<DefaultKeyedRateLimiter<(String, IpAddr)>>,
    per_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    refused_until: Arc<Mutex<HashMap<Key, Instant>>>,
}

impl std::fmt::Debug for SignInThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInThrottle").finish_non_exhaustive()
    }
}

impl Default for SignInThrottle {
    fn default() -> Self {
        SignInThrottle {
            per_user: Arc::new(DefaultKeyedRateLimiter::keyed(quota(
                USER_BURST,
                USER_REFILL,
            ))),
            per_address: Arc::new(DefaultKeyedRateLimiter::keyed(quota(
                ADDRESS_BURST,
                ADDRESS_REFILL,
            ))),
            refused_until: Arc::default(),
        }
    }
}

fn quota(burst: u32, refill: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(refill)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl SignInThrottle {
    /// Before the password is checked: how long this username from this
    /// address must still wait, if it must.
    pub fn wait(&self, username: &str, addr: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let Ok(refused) = self.refused_until.lock() else {
            return None;
        };
        [Key::User(username.to_owned(), addr), Key::Address(addr)]
            .iter()
            .filter_map(|key| refused.get(key).copied())
            .filter(|until| *until > now)
            .max()
            .map(|until| until - now)
    }

    /// After a failed sign-in: counts it, and answers how long to wait when
    /// it used up an allowance.
    pub fn failed(&self, username: &str, addr: IpAddr) -> Option<Duration> {
        let user_key = (username.to_owned(), addr);
        let verdicts = [
            (
                Key::User(username.to_owned(), addr),
                self.per_user
                    .check_key(&user_key)
                    .err()
                    .map(|n| n.wait_time_from(self.per_user.clock().now())),
            ),
            (
                Key::Address(addr),
                self.per_address
                    .check_key(&addr)
                    .err()
                    .map(|n| n.wait_time_from(self.per_address.clock().now())),
            ),
        ];
        let now = Instant::now();
        let mut longest = None;
        if let Ok(mut refused) = self.refused_until.lock() {
            // Forget refusals that have run out before the map grows large.
            if refused.len() > 10_000 {
                refused.retain(|_, until| *until > now);
            }
            for (key, wait) in verdicts {
                if let Some(wait) = wait {
                    refused.insert(key, now + wait);
                    longest = longest.max(Some(wait));
                }
            }
        }
        longest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_burst_are_refused_for_that_user_and_address_only() {
        let throttle = SignInThrottle::default();
        let here: IpAddr = [10, 0, 0, 1].into();
        let there: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..USER_BURST {
            assert_eq!(throttle.wait("alice", here), None);
            assert_eq!(throttle.failed("alice", here), None);
        }
        let wait = throttle.failed("alice", here).expect("refused");
        assert!(wait > Duration::ZERO && wait <= USER_REFILL, "{wait:?}");
        assert!(throttle.wait("alice", here).is_some());
        assert_eq!(
            throttle.wait("alice", there),
            None,
            "other addresses are not locked out"
        );
        assert_eq!(throttle.wait("bob", here), None, "other users are not");
    }

    #[test]
    fn one_address_trying_many_names_is_refused() {
        let throttle = SignInThrottle::default();
        let here: IpAddr = [10, 0, 0, 1].into();
        let mut refused = None;
        for n in 0..=ADDRESS_BURST {
            refused = throttle.failed(&format!("user{n}"), here);
        }
        assert!(refused.is_some_and(|wait| wait <= ADDRESS_REFILL));
        assert!(throttle.wait("somebody-else", here).is_some());
    }
}
