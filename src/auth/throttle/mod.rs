//! Sign-in throttling: attempts are counted per username and client
//! address, and per address. Past its allowance a client is refused with 429
//! and `Retry-After`, even with the right password, until the allowance
//! refills by one attempt; so guessing is slowed to a trickle and then
//! refused, and nothing is locked for good.
//!
//! What it promises, however many requests arrive at once:
//! - An attempt spends from both allowances *before* its password is
//!   verified, and gets it back when the password was right (or when it
//!   could not be verified at all: an outage). So at most
//!   the allowance is ever verified per key: 99 simultaneous guesses for one
//!   name from one address verify 5, not 99.
//! - Verifications are admitted to a bounded queue whose places are shared
//!   fairly across addresses and networks, with a reserve for clients
//!   without recent failures (`admission`); an attempt that finds no place
//!   is refused at once (503, `Retry-After: 1`) and spends nothing.
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
//! With several instances on one PostgreSQL database the buckets live in
//! that database ([`SignInThrottle::shared`]): every instance spends from
//! the same allowance, in one transaction per attempt that holds the two
//! rows, so the allowances are those of one instance however many serve
//! and wherever an attempt lands. Only the attempts in flight are counted
//! per instance. The counts use a small pool of their own
//! (`db::throttle_pool`), so a crowd of sign-ins never holds the
//! connections signed-in requests need. On SQLite one server serves, and
//! counts in memory.
//!
//! The modules: `keys` (what is counted), `gcra` (the counting), `memory`
//! and `shared` (where the buckets live), `admission` (the places among the
//! verifications).

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use sqlx::PgPool;

mod admission;
mod gcra;
mod keys;
mod memory;
mod shared;

use admission::{Admission, Place};
use gcra::spend_all;
use keys::Key;
use memory::Counts;

pub use admission::{
    MAX_IN_FLIGHT_PER_ADDRESS, MAX_IN_FLIGHT_PER_NETWORK, MAX_QUEUED, RECENT_FAILURE,
    RESERVED_FOR_CLEAN,
};
pub use keys::{Client, Who};

/// Attempts one address may make for one username at once, then one more
/// per [`USER_REFILL`].
pub const USER_BURST: u32 = 5;
pub const USER_REFILL: Duration = Duration::from_secs(30);
/// Attempts one address may make across all usernames at once, then one
/// more per [`ADDRESS_REFILL`].
pub const ADDRESS_BURST: u32 = 20;
pub const ADDRESS_REFILL: Duration = Duration::from_secs(10);
/// Buckets kept at most (a few MiB).
pub const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Default)]
pub struct SignInThrottle {
    counts: Arc<Mutex<Counts>>,
    /// This server's places among the verifications.
    admission: Admission,
    /// On PostgreSQL: the buckets, in the database every instance shares.
    shared: Option<PgPool>,
}

/// Why an attempt may not be made now.
#[derive(Debug)]
pub enum Denied {
    /// Past the allowance: how long until an attempt may be made.
    Throttled { wait: Duration },
    /// No place among the verifications for this client now: retry in a
    /// second. Nothing was spent.
    Busy,
    /// The shared counts could not be read (the database is out of reach).
    Unavailable(sqlx::Error),
}

impl SignInThrottle {
    /// Counts kept in the database on `pool`, shared by every instance
    /// using it (the places among the verifications stay per instance).
    pub fn shared(pool: PgPool) -> Self {
        SignInThrottle {
            shared: Some(pool),
            ..Default::default()
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // Plain counters, consistent after any panic.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Before the password is verified: a place among the verifications,
    /// then one attempt spent from both allowances, or neither and why not.
    /// The attempt counts as failed unless [`Attempt::give_back`] is called.
    pub async fn begin(&self, who: Who, client: Client) -> Result<Attempt, Denied> {
        // The place first: held (and given back by dropping it) across the
        // shared spend's round trips and the verification.
        let place = self.admission.admit(client).map_err(|_| Denied::Busy)?;
        let keys = [Key::User(who, client), Key::Address(client)];
        match &self.shared {
            None => self.spend_in_memory(&keys)?,
            Some(pool) => shared::spend(pool, &keys)
                .await
                .map_err(Denied::Unavailable)?
                .map_err(|wait| Denied::Throttled { wait })?,
        }
        Ok(Attempt {
            throttle: self.clone(),
            keys,
            client,
            _place: place,
            given_back: false,
        })
    }

    fn spend_in_memory(&self, keys: &[Key]) -> Result<(), Denied> {
        let mut counts = self.counts();
        let now = counts.now();
        let spent = spend_all(keys, |key| counts.buckets.get(key).copied(), now)
            .map_err(|wait| Denied::Throttled { wait })?;
        for (key, tat) in keys.iter().zip(spent) {
            if !counts.buckets.contains_key(key) {
                counts.make_room(now);
            }
            counts.buckets.insert(key.clone(), tat);
        }
        Ok(())
    }

    /// Forgets what has refilled, and failures no longer recent; the
    /// sweeper calls it every minute.
    pub async fn prune(&self) -> sqlx::Result<()> {
        {
            let mut counts = self.counts();
            let now = counts.now();
            counts.prune(now);
        }
        self.admission.prune();
        match &self.shared {
            None => Ok(()),
            Some(pool) => shared::prune(pool).await,
        }
    }

    /// How many buckets are kept in memory now.
    pub fn keys(&self) -> usize {
        self.counts().buckets.len()
    }
}

/// One sign-in attempt being verified. Dropped without
/// [`give_back`](Attempt::give_back) (a wrong password, a client that went
/// away), it stays spent, and marks the client's networks as having failed.
#[derive(Debug)]
pub struct Attempt {
    throttle: SignInThrottle,
    keys: [Key; 2],
    client: Client,
    _place: Place,
    given_back: bool,
}

impl Attempt {
    /// The attempt does not count: the password was right, or it was never
    /// verified (an outage). Shared counts that cannot be reached keep it
    /// spent (logged): stricter, never looser.
    pub async fn give_back(mut self) {
        self.given_back = true;
        if let Some(pool) = &self.throttle.shared {
            if let Err(err) = shared::refund(pool, &self.keys).await {
                tracing::warn!(error = %err, "cannot give a sign-in attempt back");
            }
            return;
        }
        let mut counts = self.throttle.counts();
        let now = counts.now();
        for key in &self.keys {
            if let Some(tat) = counts.buckets.get(key).copied() {
                match key.limit().refund(tat, now) {
                    Some(back) => counts.buckets.insert(key.clone(), back),
                    None => counts.buckets.remove(key),
                };
            }
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.given_back {
            self.throttle.admission.failed(self.client);
        }
    }
}

#[cfg(test)]
mod tests;
