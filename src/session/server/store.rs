//! The session store: tower-sessions' SQLite or PostgreSQL store, wrapped to
//! keep our promises.
//!
//! - Each record's expiry is the policy's deadline (plus the time its reason
//!   is kept), so the store's own filter and our sweep agree with the guard.
//! - Every update of an existing record is a compare-and-set (`writes`): a
//!   session deleted while a request was running (sign-out in another tab,
//!   expiry seen by a parallel request, ended from the sessions page) is
//!   never written back, and
//!   `last_activity` never moves backwards. The guard makes its writes
//!   through [`GuardedStore::touch`] and [`GuardedStore::end_if_due`]
//!   inside the request, where a failure answers 503.
//! - Records are read from memory between changes (`cache`); on
//!   PostgreSQL, shared by several instances, only once this instance has
//!   heard every change committed before the load (`changes`), else from
//!   the database.
//! - Every write and every database read is counted, so tests and
//!   benchmarks can prove the store is not touched on every request.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions::{
    session::{Id, Record},
    session_store::{self, SessionStore},
};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::{
    cache::SessionCache,
    changes::Changes,
    devices,
    guard::SESSION_KEY,
    policy::{Policy, SessionData},
    writes::{self, Ending, RaceWindow, Touched},
};
use crate::session::EndReason;
use crate::{
    clock::UnixSecs,
    db::{Database, Pool, SessionPool},
};

/// How long the reason a session ended is remembered (12 hours): a user back
/// from lunch, or the next morning, is told why rather than "please sign in".
pub const REASON_RETENTION_SECS: i64 = 12 * 3600;

/// The table holding session records, the same name on both backends so
/// that the sweep and the tests read one name.
pub const SESSIONS_TABLE: &str = "tower_sessions";

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// Forwards one store call to whichever backend is in use.
macro_rules! on_backend {
    ($backend:expr, $store:ident => $call:expr) => {
        match $backend {
            Backend::Sqlite($store) => $call,
            Backend::Postgres($store) => $call,
        }
    };
}

#[derive(Debug, Clone)]
pub struct GuardedStore {
    inner: Backend,
    /// The store's own pool, for the guard's conditional writes.
    pool: SessionPool,
    policy: Policy,
    cache: SessionCache,
    /// On PostgreSQL: what other instances changed, before memory is trusted.
    changes: Option<Changes>,
    writes: Arc<AtomicU64>,
    reads: Arc<AtomicU64>,
    race_window: Arc<RaceWindow>,
}

impl GuardedStore {
    /// The store over `pool`; on PostgreSQL it starts hearing changes, so
    /// it needs a Tokio runtime.
    pub fn new(pool: &SessionPool, policy: Policy) -> Self {
        let inner = match pool {
            // The SQLite store's default table is already `tower_sessions`.
            SessionPool::Sqlite(pool) => Backend::Sqlite(SqliteStore::new(pool.clone())),
            SessionPool::Postgres(pool) => Backend::Postgres(
                PostgresStore::new(pool.clone())
                    .with_schema_name("public")
                    .and_then(|store| store.with_table_name(SESSIONS_TABLE))
                    .unwrap_or_else(|_| PostgresStore::new(pool.clone())),
            ),
        };
        let cache = SessionCache::default();
        // On SQLite this server is the only writer (`db::ServingLock`).
        let changes = match pool {
            SessionPool::Sqlite(_) => None,
            SessionPool::Postgres(pool) => Some(Changes::hear(pool.clone(), cache.clone())),
        };
        GuardedStore {
            inner,
            pool: pool.clone(),
            policy,
            cache,
            changes,
            writes: Arc::default(),
            reads: Arc::default(),
            race_window: Arc::default(),
        }
    }

    /// Creates the sessions table if it is missing, and gives records
    /// written before they carried their user's id that id.
    pub async fn migrate(&self) -> sqlx::Result<()> {
        on_backend!(&self.inner, store => store.migrate().await)?;
        // Bounded per call; the sweeper goes on with what is left.
        if let Err(err) = self.fill_in_owners().await {
            tracing::warn!(error = %err, "cannot fill in the owners of older sessions");
        }
        Ok(())
    }

    /// How many records were created, saved or deleted since start-up.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// How many loads went to the database since start-up.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// How many loads memory answered since start-up.
    pub fn cache_hits(&self) -> u64 {
        self.cache.hits()
    }

    /// Whether memory holds every change made before now; on PostgreSQL,
    /// waits for a round trip on the listening connection.
    async fn memory_is_current(&self) -> bool {
        match &self.changes {
            None => true,
            Some(changes) => changes.caught_up().await,
        }
    }

    /// The record as the database holds it now, never from memory.
    pub async fn load_fresh(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        on_backend!(&self.inner, store => store.load(id).await)
    }

    /// Moves the session's `last_activity` forward to `at`, never inserting
    /// a record that has gone (see `writes::touch`).
    pub async fn touch(&self, id: &Id, at: UnixSecs) -> session_store::Result<Touched> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let touched = writes::touch(&self.pool, &self.policy, &self.race_window, id, at).await;
        if let Ok(Touched::Written) = touched {
            self.wrote(id);
        }
        touched
    }

    /// Ends the session if the database says it is past a deadline at
    /// `now`, recording why; never deletes a record renewed meanwhile (see
    /// `writes::end_if_due`).
    pub async fn end_if_due(&self, id: &Id, now: UnixSecs) -> session_store::Result<Ending> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let ending = writes::end_if_due(&self.pool, &self.policy, &self.race_window, id, now).await;
        if let Ok(Ending::Ended(_)) = ending {
            self.wrote(id);
        }
        ending
    }

    /// The live sessions of `user_id`, read from the database (see
    /// `devices::of_user`).
    pub async fn sessions_of(
        &self,
        user_id: i64,
        now: UnixSecs,
    ) -> session_store::Result<Vec<devices::Listed>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        devices::of_user(&self.pool, &self.policy, user_id, now).await
    }

    /// Ends those of `ids` that are sessions of `user_id`, with the reason
    /// `revoked` (see `devices::revoke`); answers the ones it ended.
    pub async fn revoke(
        &self,
        user_id: i64,
        ids: &[Id],
        now: UnixSecs,
    ) -> session_store::Result<Vec<Id>> {
        let ended = devices::revoke(&self.pool, user_id, ids, now).await;
        match &ended {
            Ok(ended) => ended.iter().for_each(|id| self.wrote(id)),
            // The commit may have happened though its answer was lost.
            Err(_) => ids.iter().for_each(|id| self.cache.evict(id)),
        }
        ended
    }

    /// Gives records written without their user's id that id (see
    /// `devices::fill_in_owners`); answers how many.
    pub async fn fill_in_owners(&self) -> session_store::Result<u64> {
        devices::fill_in_owners(&self.pool, 1_000).await
    }

    /// Where tests hold a request between a read and a write.
    pub fn race_window(&self) -> &RaceWindow {
        &self.race_window
    }

    /// Counts a write and forgets the record's copy in memory. After the
    /// write, so that a load racing with it cannot keep the old.
    fn wrote(&self, id: &Id) {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.cache.evict(id);
    }

    fn set_expiry(&self, record: &mut Record) {
        if let Some(date) =
            session_data(record).and_then(|data| writes::expiry_date(&self.policy, &data))
        {
            record.expiry_date = date;
        }
    }
}

/// Our data in a record, if it holds any.
pub fn session_data(record: &Record) -> Option<SessionData> {
    record
        .data
        .get(SESSION_KEY)
        .and_then(|value| serde_json::from_value(value.clone()).ok())
}

#[async_trait]
impl SessionStore for GuardedStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.set_expiry(record);
        self.writes.fetch_add(1, Ordering::Relaxed);
        let written = writes::create(&self.pool, record).await;
        // After the write (whether or not it answered well: it may have
        // happened), so that a load racing with it cannot keep the old.
        self.cache.evict(&record.id);
        if written.is_ok() {
            // A new id: nobody else can hold or have changed this record.
            self.cache.fill(self.cache.ticket(), record.clone());
        }
        written
    }

    /// The session layer saves a session changed in the request: only a
    /// sign-in changes one, and it has saved already (`guard::start`), so
    /// this finds the data stored (in memory, without a read that could
    /// fail after the answer was decided) and writes nothing. Never inserts.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        if self
            .cache
            .get(&record.id)
            .is_some_and(|stored| stored.data == record.data)
        {
            return Ok(());
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        let saved = writes::save(&self.pool, &self.policy, record).await;
        if let Ok(true) = saved {
            self.wrote(&record.id);
        }
        saved.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if self.memory_is_current().await {
            if let Some(record) = self.cache.get(id) {
                return Ok(Some(record));
            }
        }
        let ticket = self.cache.ticket();
        let record = self.load_fresh(id).await?;
        if let Some(record) = &record {
            self.cache.fill(ticket, record.clone());
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let deleted = on_backend!(&self.inner, store => store.delete(id).await);
        self.cache.evict(id);
        deleted
    }
}

/// The statement that remembers why a session ended ($1 id, $2 reason, $3
/// when); also run inside the guard's ending transaction (`writes`).
pub const RECORD_ENDING: &str =
    "INSERT INTO session_endings (session_id, reason, ended_at) VALUES ($1, $2, $3) \
     ON CONFLICT (session_id) DO UPDATE SET reason = excluded.reason, ended_at = excluded.ended_at";

/// Remembers why the session `id` ended.
pub async fn record_ending(
    pool: &Pool,
    id: &str,
    reason: EndReason,
    now: UnixSecs,
) -> sqlx::Result<()> {
    sqlx::query(RECORD_ENDING)
        .bind(id)
        .bind(reason.as_str())
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Why the session `id` ended, if that is still remembered.
pub async fn ending_reason(
    pool: &Pool,
    id: &str,
    now: UnixSecs,
) -> sqlx::Result<Option<EndReason>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT reason FROM session_endings WHERE session_id = $1 AND ended_at >= $2",
    )
    .bind(id)
    .bind(now - REASON_RETENTION_SECS)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(reason,)| EndReason::parse(&reason)))
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub endings: u64,
}

/// Deletes session records past their deadline (and retention) and reasons
/// older than the retention.
///
/// Expiry dates are compared on the session store's own pool: each backend
/// stores them in its own date type, which the portable pool cannot bind.
pub async fn sweep(db: &Database, now: UnixSecs) -> sqlx::Result<Swept> {
    let now_date = OffsetDateTime::from_unix_timestamp(now).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let delete = format!("DELETE FROM {SESSIONS_TABLE} WHERE expiry_date < $1");
    let sessions = match &db.sessions {
        SessionPool::Sqlite(pool) => sqlx::query(&delete)
            .bind(now_date)
            .execute(pool)
            .await?
            .rows_affected(),
        SessionPool::Postgres(pool) => sqlx::query(&delete)
            .bind(now_date)
            .execute(pool)
            .await?
            .rows_affected(),
    };
    let endings = sqlx::query("DELETE FROM session_endings WHERE ended_at < $1")
        .bind(now - REASON_RETENTION_SECS)
        .execute(&db.pool)
        .await?
        .rows_affected();
    Ok(Swept { sessions, endings })
}
