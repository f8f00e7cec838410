//! The counting: GCRA, the algorithm of governor (and so tower_governor),
//! where a bucket is one instant, its "theoretical arrival time". Written
//! out here because governor can neither give a spent attempt back nor
//! spend from two limits as one step, and the throttle's promises rest on
//! both.

use std::time::Duration;

use super::{keys::Key, ADDRESS_BURST, ADDRESS_REFILL, USER_BURST, USER_REFILL};

/// Milliseconds on the clock the buckets are counted on: since the
/// throttle began in memory, the database's clock when shared.
pub(super) type Millis = i64;

/// An allowance: `burst` attempts at once, then one per `refill`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limit {
    burst: u32,
    refill: Duration,
}

pub(super) const PER_USER: Limit = Limit {
    burst: USER_BURST,
    refill: USER_REFILL,
};
pub(super) const PER_ADDRESS: Limit = Limit {
    burst: ADDRESS_BURST,
    refill: ADDRESS_REFILL,
};

impl Limit {
    pub(super) fn refill_ms(&self) -> Millis {
        self.refill.as_millis() as Millis
    }

    /// GCRA: the bucket's time after spending one attempt at `now`, or how
    /// long until it could.
    pub(super) fn spend(&self, tat: Option<Millis>, now: Millis) -> Result<Millis, Duration> {
        let tat = tat.map_or(now, |tat| tat.max(now));
        let tolerance = self.refill_ms() * Millis::from(self.burst.saturating_sub(1));
        let ahead = tat - now;
        if ahead > tolerance {
            Err(Duration::from_millis((ahead - tolerance) as u64))
        } else {
            Ok(tat + self.refill_ms())
        }
    }

    /// The bucket's time with one attempt given back; `None` once that is
    /// a full allowance, which needs no entry.
    pub(super) fn refund(&self, tat: Millis, now: Millis) -> Option<Millis> {
        Some(tat - self.refill_ms()).filter(|back| *back > now)
    }
}

/// Spends one attempt from every bucket of `keys` at `now`, or from none;
/// answers the buckets' new times, or how long until it could.
pub(super) fn spend_all(
    keys: &[Key],
    tat_of: impl Fn(&Key) -> Option<Millis>,
    now: Millis,
) -> Result<Vec<Millis>, Duration> {
    let mut spent = Vec::with_capacity(keys.len());
    let mut wait = Duration::ZERO;
    for key in keys {
        match key.limit().spend(tat_of(key), now) {
            Ok(tat) => spent.push(tat),
            Err(until) => wait = wait.max(until),
        }
    }
    if wait > Duration::ZERO {
        Err(wait)
    } else {
        Ok(spent)
    }
}
