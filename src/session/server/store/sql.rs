//! The records in the database, under the policy: tower-sessions' own
//! SQLite or PostgreSQL store for plain loads and deletes, and this app's
//! compare-and-set statements (`writes`, `owners`) for everything that
//! changes a record.

use std::sync::Arc;

use async_trait::async_trait;
use tower_sessions::{
    session::{Id, Record},
    session_store::{self, SessionStore},
};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::{
    owners::{self, Listed},
    race::RaceWindow,
    records::SessionRecords,
    schema::SESSIONS_TABLE,
    writes::{self, Ending, Touched},
};
use crate::{
    clock::UnixSecs,
    db::SessionPool,
    session::server::{policy::Policy, record::session_data},
};

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
pub struct SqlStore {
    inner: Backend,
    /// The store's own pool, for the compare-and-set writes.
    pool: SessionPool,
    policy: Policy,
    race_window: Arc<RaceWindow>,
}

impl SqlStore {
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
        SqlStore {
            inner,
            pool: pool.clone(),
            policy,
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

    /// Gives records written without their user's id that id (see
    /// `owners::fill_in_owners`); answers how many.
    pub async fn fill_in_owners(&self) -> session_store::Result<u64> {
        owners::fill_in_owners(&self.pool, 1_000).await
    }

    /// Where tests hold a request between a read and a write.
    pub fn race_window(&self) -> &RaceWindow {
        &self.race_window
    }
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        if let Some(date) = session_data(record).and_then(|data| self.policy.expiry_date(&data)) {
            record.expiry_date = date;
        }
        writes::create(&self.pool, record).await
    }

    /// Never inserts (see `writes::save`).
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.save_changed(record).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        on_backend!(&self.inner, store => store.load(id).await)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        on_backend!(&self.inner, store => store.delete(id).await)
    }
}

#[async_trait]
impl SessionRecords for SqlStore {
    async fn load_fresh(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.load(id).await
    }

    async fn save_changed(&self, record: &Record) -> session_store::Result<bool> {
        writes::save(&self.pool, &self.policy, record).await
    }

    async fn touch(&self, id: &Id, at: UnixSecs) -> session_store::Result<Touched> {
        writes::touch(&self.pool, &self.policy, &self.race_window, id, at).await
    }

    async fn end_if_due(&self, id: &Id, now: UnixSecs) -> session_store::Result<Ending> {
        writes::end_if_due(&self.pool, &self.policy, &self.race_window, id, now).await
    }

    async fn sessions_of(&self, user_id: i64, now: UnixSecs) -> session_store::Result<Vec<Listed>> {
        owners::of_user(&self.pool, &self.policy, user_id, now).await
    }

    async fn revoke(
        &self,
        user_id: i64,
        ids: &[Id],
        now: UnixSecs,
    ) -> session_store::Result<Vec<Id>> {
        owners::revoke(&self.pool, user_id, ids, now).await
    }
}
