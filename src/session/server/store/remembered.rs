//! Records remembered between requests (`cache`), so that the guard does not
//! read the database on every call; on PostgreSQL, trusted only once this
//! instance has heard every change committed before the load (`changes`).
//!
//! Every change made through this layer forgets the record after the write
//! (whether or not the write answered well: it may have happened), so a
//! load racing with it cannot keep the old.

use async_trait::async_trait;
use tower_sessions::{
    session::{Id, Record},
    session_store::{self, SessionStore},
};

use super::{
    cache::SessionCache,
    changes::Changes,
    owners::Listed,
    records::SessionRecords,
    writes::{Ending, Touched},
};
use crate::{clock::UnixSecs, db::SessionPool, session::server::policy::Policy};

#[derive(Debug, Clone)]
pub struct Remembered<S> {
    inner: S,
    cache: SessionCache,
    /// On PostgreSQL: what other instances changed, before memory is trusted.
    changes: Option<Changes>,
}

impl<S> Remembered<S> {
    /// Remembers what `inner` holds; on PostgreSQL it starts hearing the
    /// changes made on `pool`, so it needs a Tokio runtime.
    pub fn new(inner: S, pool: &SessionPool, policy: Policy) -> Self {
        let cache = SessionCache::new(policy.memory);
        // On SQLite this server is the only writer (`db::ServingLock`).
        let changes = match pool {
            SessionPool::Sqlite(_) => None,
            SessionPool::Postgres(pool) => Some(Changes::hear(pool.clone(), cache.clone())),
        };
        Remembered {
            inner,
            cache,
            changes,
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// How many loads memory answered since start-up.
    pub fn cache_hits(&self) -> u64 {
        self.cache.hits()
    }

    /// How many round trips catching up took since start-up (PostgreSQL).
    pub fn round_trips(&self) -> u64 {
        self.changes.as_ref().map_or(0, Changes::round_trips)
    }

    /// Whether memory holds every change made before now; on PostgreSQL,
    /// waits for a round trip on the listening connection.
    async fn memory_is_current(&self) -> bool {
        match &self.changes {
            None => true,
            Some(changes) => changes.caught_up().await,
        }
    }
}

#[async_trait]
impl<S: SessionRecords> SessionStore for Remembered<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let written = self.inner.create(record).await;
        self.cache.evict(&record.id);
        if written.is_ok() {
            // A new id: nobody else can hold or have changed this record.
            self.cache.fill(self.cache.ticket(), record.clone());
        }
        written
    }

    /// The session layer saves a session changed in the request: only a
    /// sign-in changes one, and it has saved already (`check::start`), so
    /// this finds the data stored (in memory, without a read that could
    /// fail after the answer was decided) and writes nothing. Never inserts.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.save_changed(record).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if self.memory_is_current().await {
            if let Some(record) = self.cache.get(id) {
                return Ok(Some(record));
            }
        }
        let ticket = self.cache.ticket();
        let record = self.inner.load(id).await?;
        if let Some(record) = &record {
            self.cache.fill(ticket, record.clone());
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let deleted = self.inner.delete(id).await;
        self.cache.evict(id);
        deleted
    }
}

#[async_trait]
impl<S: SessionRecords> SessionRecords for Remembered<S> {
    async fn load_fresh(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.inner.load_fresh(id).await
    }

    async fn save_changed(&self, record: &Record) -> session_store::Result<bool> {
        if self
            .cache
            .get(&record.id)
            .is_some_and(|stored| stored.data == record.data)
        {
            return Ok(false);
        }
        let saved = self.inner.save_changed(record).await;
        if let Ok(true) = saved {
            self.cache.evict(&record.id);
        }
        saved
    }

    async fn touch(&self, id: &Id, at: UnixSecs) -> session_store::Result<Touched> {
        let touched = self.inner.touch(id, at).await;
        if let Ok(Touched::Written) = touched {
            self.cache.evict(id);
        }
        touched
    }

    async fn end_if_due(&self, id: &Id, now: UnixSecs) -> session_store::Result<Ending> {
        let ending = self.inner.end_if_due(id, now).await;
        if let Ok(Ending::Ended(_)) = ending {
            self.cache.evict(id);
        }
        ending
    }

    async fn sessions_of(&self, user_id: i64, now: UnixSecs) -> session_store::Result<Vec<Listed>> {
        self.inner.sessions_of(user_id, now).await
    }

    async fn revoke(
        &self,
        user_id: i64,
        ids: &[Id],
        now: UnixSecs,
    ) -> session_store::Result<Vec<Id>> {
        let ended = self.inner.revoke(user_id, ids, now).await;
        match &ended {
            Ok(ended) => ended.iter().for_each(|id| self.cache.evict(id)),
            // The commit may have happened though its answer was lost.
            Err(_) => ids.iter().for_each(|id| self.cache.evict(id)),
        }
        ended
    }
}
