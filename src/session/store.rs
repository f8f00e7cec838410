//! The session store: tower-sessions' SQLite store, wrapped to keep our promises.
//!
//! - Each record's expiry is the policy's deadline (plus the time its reason
//!   is kept), so the store's own filter and our sweep agree with the guard.
//! - A session deleted while a request was running (sign-out in another tab,
//!   expiry seen by a parallel request) is never written back: `save` of a
//!   record that no longer exists is dropped.
//! - `last_activity` never moves backwards: a slow request saving an older
//!   time keeps the newer one already stored.
//! - Every write is counted, so tests and benchmarks can prove the store is
//!   not touched on every request.

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
use tower_sessions_sqlx_store::SqliteStore;

use super::{
    guard::SESSION_KEY,
    policy::{Policy, SessionData},
    EndReason,
};
use crate::{clock::UnixSecs, db::Pool};

/// How long the reason a session ended is remembered (12 hours): a user back
/// from lunch, or the next morning, is told why rather than "please sign in".
pub const REASON_RETENTION_SECS: i64 = 12 * 3600;

#[derive(Debug, Clone)]
pub struct GuardedStore {
    inner: SqliteStore,
    policy: Policy,
    writes: Arc<AtomicU64>,
}

impl GuardedStore {
    pub fn new(pool: Pool, policy: Policy) -> Self {
        GuardedStore {
            inner: SqliteStore::new(pool),
            policy,
            writes: Arc::default(),
        }
    }

    pub async fn migrate(&self) -> sqlx::Result<()> {
        self.inner.migrate().await
    }

    /// How many records were created or saved since start-up.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    fn set_expiry(&self, record: &mut Record) {
        if let Some(data) = session_data(record) {
            let keep_until = self
                .policy
                .deadline(&data)
                .saturating_add(REASON_RETENTION_SECS);
            if let Ok(date) = OffsetDateTime::from_unix_timestamp(keep_until) {
                record.expiry_date = date;
            }
        }
    }
}

fn session_data(record: &Record) -> Option<SessionData> {
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
        self.inner.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let Some(stored) = self.inner.load(&record.id).await? else {
            tracing::debug!("not saving a session that ended meanwhile");
            return Ok(());
        };
        let mut record = record.clone();
        if let (Some(mut mine), Some(theirs)) = (session_data(&record), session_data(&stored)) {
            if theirs.last_activity > mine.last_activity {
                mine.last_activity = theirs.last_activity;
                let value = serde_json::to_value(&mine)
                    .map_err(|err| session_store::Error::Encode(err.to_string()))?;
                record.data.insert(SESSION_KEY.to_owned(), value);
            }
        }
        self.set_expiry(&mut record);
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.save(&record).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner.delete(id).await
    }
}

/// Remembers why the session `id` ended.
pub async fn record_ending(
    pool: &Pool,
    id: &str,
    reason: EndReason,
    now: UnixSecs,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO session_endings (session_id, reason, ended_at) VALUES (?, ?, ?) \
         ON CONFLICT (session_id) DO UPDATE SET reason = excluded.reason, ended_at = excluded.ended_at",
    )
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
    let row: Option<(String,)> =
        sqlx::query_as("SELECT reason FROM session_endings WHERE session_id = ? AND ended_at >= ?")
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
pub async fn sweep(pool: &Pool, now: UnixSecs) -> sqlx::Result<Swept> {
    let now_date = OffsetDateTime::from_unix_timestamp(now).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let sessions = sqlx::query("DELETE FROM tower_sessions WHERE expiry_date < ?")
        .bind(now_date)
        .execute(pool)
        .await?
        .rows_affected();
    let endings = sqlx::query("DELETE FROM session_endings WHERE ended_at < ?")
        .bind(now - REASON_RETENTION_SECS)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(Swept { sessions, endings })
}
