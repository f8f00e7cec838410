//! The session store: tower-sessions' SQLite or PostgreSQL store, in layers
//! that each keep one promise, in the manner of tower-sessions'
//! `CachingSessionStore`:
//!
//! - [`SqlStore`] (`sql`): the records in the database under the policy.
//!   Each record's expiry is the policy's deadline (plus the time its reason
//!   is kept), so the store's own filter and the sweep agree with the guard.
//!   Every update of an existing record is a compare-and-set (`writes`): a
//!   session deleted while a request was running (sign-out in another tab,
//!   expiry seen by a parallel request, ended from the sessions page) is
//!   never written back, and `last_activity` never moves backwards.
//! - [`Counted`] (`counted`): counts every write and every database read,
//!   so tests and benchmarks can prove the store is not touched on every
//!   request. Under the memory, so that what it counts reached the database.
//! - [`Remembered`] (`remembered`): records read from memory between
//!   changes (`cache`); on PostgreSQL, shared by several instances, only
//!   once this instance has heard every change committed before the load
//!   (`changes`), else from the database.
//!
//! [`GuardedStore`] is the three together, as the app uses them. The guard
//! makes its writes through [`SessionRecords::touch`] and
//! [`SessionRecords::end_if_due`] inside the request, where a failure
//! answers 503.

mod cache;
mod changes;
mod counted;
pub mod endings;
mod owners;
pub mod race;
mod records;
mod remembered;
mod schema;
mod sql;
pub mod writes;

pub use counted::{Counted, Counts};
pub use endings::Swept;
pub use owners::Listed;
pub use records::SessionRecords;
pub use remembered::Remembered;
pub use schema::SESSIONS_TABLE;
pub use sql::SqlStore;
pub use writes::{Ending, Touched};

use super::policy::Policy;
use crate::db::SessionPool;

/// The store as the app uses it: the database, counted, remembered.
pub type GuardedStore = Remembered<Counted<SqlStore>>;

impl GuardedStore {
    /// The store over `pool`; on PostgreSQL it starts hearing changes, so
    /// it needs a Tokio runtime.
    pub fn open(pool: &SessionPool, policy: Policy) -> Self {
        Remembered::new(Counted::new(SqlStore::new(pool, policy)), pool, policy)
    }

    /// How many records were created, saved or deleted, and how many loads
    /// went to the database, since start-up.
    pub fn counts(&self) -> &Counts {
        self.inner().counts()
    }

    /// The database layer itself: migrations, the owners' fill-in, the race
    /// window.
    pub fn sql(&self) -> &SqlStore {
        self.inner().inner()
    }
}
