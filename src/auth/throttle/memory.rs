//! The buckets of one server, in memory (SQLite: one server serves), with
//! the table's size bounded ([`MAX_KEYS`]).

use std::{collections::HashMap, time::Instant};

use super::{gcra::Millis, keys::Key, MAX_KEYS};

#[derive(Debug)]
pub(super) struct Counts {
    /// Time zero of the buckets in memory.
    began: Instant,
    pub(super) buckets: HashMap<Key, Millis>,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            began: Instant::now(),
            buckets: HashMap::new(),
        }
    }
}

impl Counts {
    pub(super) fn now(&self) -> Millis {
        self.began.elapsed().as_millis() as Millis
    }

    /// Forgets buckets that have refilled completely.
    pub(super) fn prune(&mut self, now: Millis) {
        self.buckets.retain(|_, tat| *tat > now);
    }

    /// Makes room for one more bucket: what has refilled goes, then, if
    /// that is not enough, the half closest to full.
    pub(super) fn make_room(&mut self, now: Millis) {
        if self.buckets.len() < MAX_KEYS {
            return;
        }
        self.prune(now);
        if self.buckets.len() < MAX_KEYS {
            return;
        }
        let mut tats: Vec<Millis> = self.buckets.values().copied().collect();
        let middle = tats.len() / 2;
        let (_, median, _) = tats.select_nth_unstable(middle);
        let median = *median;
        self.buckets.retain(|_, tat| *tat > median);
    }
}
