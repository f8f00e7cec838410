//! Session records kept in memory between requests, so that the guard does
//! not read the database on every call.
//!
//! On SQLite, one server holds the file for itself (`db::ServingLock`) and
//! so sees every change, since it makes them. On PostgreSQL, several
//! instances share the sessions; each hears the others' changes
//! (`changes`) and serves from memory only once it has caught up with every
//! change committed before the request.
//!
//! What it promises:
//! - A change made through the store evicts the record after the write, so
//!   the next load reads what was written.
//! - A fill never stores a record older than an eviction: every eviction
//!   bumps an epoch, and a load that started before it does not fill.
//! - Entries live at most the policy's time to live (`Memory`), which bounds
//!   how long a change made behind the server's back goes unseen (on SQLite,
//!   an operator's SQL; PostgreSQL's trigger reports those too).
//!
//! The guard re-reads the database before ending a session on what memory
//! said (`SessionRecords::end_if_due` deletes only what the database still
//! holds past its deadline), so even such a copy can never end a session
//! early.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

use moka::sync::Cache;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};

use crate::session::server::policy::Memory;

#[derive(Debug, Clone)]
pub struct SessionCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    records: Cache<Id, Record>,
    /// Bumped by every eviction; guards fills, see [`SessionCache::fill`].
    epoch: Mutex<u64>,
    hits: AtomicU64,
}

/// Taken before reading the database, handed back to [`SessionCache::fill`].
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl SessionCache {
    pub fn new(memory: Memory) -> Self {
        SessionCache {
            inner: Arc::new(Inner {
                records: Cache::builder()
                    .max_capacity(memory.capacity)
                    .time_to_live(memory.time_to_live)
                    .build(),
                epoch: Mutex::new(0),
                hits: AtomicU64::new(0),
            }),
        }
    }

    fn epoch(&self) -> MutexGuard<'_, u64> {
        // A plain counter, consistent after any panic.
        self.inner
            .epoch
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The record, if memory holds it.
    pub fn get(&self, id: &Id) -> Option<Record> {
        let record = self.inner.records.get(id)?;
        // The store's own filter, which a database read would apply.
        if record.expiry_date <= OffsetDateTime::now_utc() {
            return None;
        }
        self.inner.hits.fetch_add(1, Ordering::Relaxed);
        Some(record)
    }

    /// Marks the start of a database read whose result may fill the cache.
    pub fn ticket(&self) -> Ticket {
        Ticket(*self.epoch())
    }

    /// Keeps `record`, read from the database after `ticket` was taken,
    /// unless something was evicted since: the read may predate that change.
    pub fn fill(&self, ticket: Ticket, record: Record) {
        let epoch = self.epoch();
        if *epoch == ticket.0 {
            self.inner.records.insert(record.id, record);
        }
    }

    /// Forgets `id`: it changed.
    pub fn evict(&self, id: &Id) {
        let mut epoch = self.epoch();
        *epoch += 1;
        self.inner.records.invalidate(id);
    }

    /// Forgets everything: what changed is not known.
    pub fn clear(&self) {
        let mut epoch = self.epoch();
        *epoch += 1;
        self.inner.records.invalidate_all();
    }

    /// Loads answered from memory since start-up.
    pub fn hits(&self) -> u64 {
        self.inner.hits.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn cache() -> SessionCache {
        SessionCache::new(Memory {
            time_to_live: std::time::Duration::from_secs(10),
            capacity: 100,
        })
    }

    fn record() -> Record {
        Record {
            id: Id::default(),
            data: HashMap::new(),
            expiry_date: OffsetDateTime::now_utc() + time::Duration::hours(1),
        }
    }

    #[test]
    fn serves_what_was_filled_until_it_is_evicted() {
        let cache = cache();
        let record = record();
        cache.fill(cache.ticket(), record.clone());
        assert_eq!(cache.get(&record.id), Some(record.clone()));
        cache.evict(&record.id);
        assert_eq!(cache.get(&record.id), None);
    }

    #[test]
    fn clearing_forgets_every_record_and_refuses_fills_begun_before() {
        let cache = cache();
        let (kept, late) = (record(), record());
        cache.fill(cache.ticket(), kept.clone());
        let ticket = cache.ticket();
        cache.clear();
        cache.fill(ticket, late.clone());
        assert_eq!(cache.get(&kept.id), None);
        assert_eq!(cache.get(&late.id), None);
    }

    #[test]
    fn a_read_that_started_before_an_eviction_does_not_fill() {
        let cache = cache();
        let record = record();
        let ticket = cache.ticket();
        // Meanwhile a request changed a session.
        cache.evict(&Id::default());
        cache.fill(ticket, record.clone());
        assert_eq!(cache.get(&record.id), None);
    }

    #[test]
    fn a_record_past_its_expiry_date_is_not_served() {
        let cache = cache();
        let mut record = record();
        record.expiry_date = OffsetDateTime::now_utc() - time::Duration::seconds(1);
        cache.fill(cache.ticket(), record.clone());
        assert_eq!(cache.get(&record.id), None);
    }
}
