//! Counts what reaches the database: every write and every read, so tests
//! and benchmarks can prove the store is not touched on every request. It
//! sits under the memory (`remembered`), so a load memory answered is not
//! counted as a read.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use async_trait::async_trait;
use tower_sessions::{
    session::{Id, Record},
    session_store::{self, SessionStore},
};

use super::{
    owners::Listed,
    records::SessionRecords,
    writes::{Ending, Touched},
};
use crate::clock::UnixSecs;

/// Writes and database reads since start-up.
#[derive(Debug, Default)]
pub struct Counts {
    writes: AtomicU64,
    reads: AtomicU64,
}

impl Counts {
    /// How many records were created, saved or deleted.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// How many reads went to the database.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn wrote(&self, count: usize) {
        self.writes.fetch_add(count as u64, Ordering::Relaxed);
    }

    fn read(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone)]
pub struct Counted<S> {
    inner: S,
    counts: Arc<Counts>,
}

impl<S> Counted<S> {
    pub fn new(inner: S) -> Self {
        Counted {
            inner,
            counts: Arc::default(),
        }
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait]
impl<S: SessionRecords> SessionStore for Counted<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.counts.wrote(1);
        self.inner.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.save_changed(record).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.counts.read();
        self.inner.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.counts.wrote(1);
        self.inner.delete(id).await
    }
}

#[async_trait]
impl<S: SessionRecords> SessionRecords for Counted<S> {
    async fn load_fresh(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.counts.read();
        self.inner.load_fresh(id).await
    }

    async fn save_changed(&self, record: &Record) -> session_store::Result<bool> {
        self.counts.read();
        let saved = self.inner.save_changed(record).await;
        if let Ok(true) = saved {
            self.counts.wrote(1);
        }
        saved
    }

    async fn touch(&self, id: &Id, at: UnixSecs) -> session_store::Result<Touched> {
        self.counts.read();
        let touched = self.inner.touch(id, at).await;
        if let Ok(Touched::Written) = touched {
            self.counts.wrote(1);
        }
        touched
    }

    async fn end_if_due(&self, id: &Id, now: UnixSecs) -> session_store::Result<Ending> {
        self.counts.read();
        let ending = self.inner.end_if_due(id, now).await;
        if let Ok(Ending::Ended(_)) = ending {
            self.counts.wrote(1);
        }
        ending
    }

    async fn sessions_of(&self, user_id: i64, now: UnixSecs) -> session_store::Result<Vec<Listed>> {
        self.counts.read();
        self.inner.sessions_of(user_id, now).await
    }

    async fn revoke(
        &self,
        user_id: i64,
        ids: &[Id],
        now: UnixSecs,
    ) -> session_store::Result<Vec<Id>> {
        let ended = self.inner.revoke(user_id, ids, now).await;
        if let Ok(ended) = &ended {
            self.counts.wrote(ended.len());
        }
        ended
    }
}
