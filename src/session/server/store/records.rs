//! The one interface every layer of the store keeps: tower-sessions'
//! [`SessionStore`], and what the guard and the sessions page do beyond it.

use async_trait::async_trait;
use tower_sessions::{
    session::{Id, Record},
    session_store, SessionStore,
};

use super::{
    owners::Listed,
    writes::{Ending, Touched},
};
use crate::clock::UnixSecs;

/// What the guard and the sessions page do with records beyond
/// tower-sessions' [`SessionStore`]; every layer passes them down and adds
/// its own part (counting, forgetting what changed).
#[async_trait]
pub trait SessionRecords: SessionStore {
    /// The record as the database holds it now, never from memory.
    async fn load_fresh(&self, id: &Id) -> session_store::Result<Option<Record>>;

    /// The session layer's save; answers whether it wrote (see
    /// `writes::save`).
    async fn save_changed(&self, record: &Record) -> session_store::Result<bool>;

    /// Moves the session's `last_activity` forward to `at`, never inserting
    /// a record that has gone (see `writes::touch`).
    async fn touch(&self, id: &Id, at: UnixSecs) -> session_store::Result<Touched>;

    /// Ends the session if the database says it is past a deadline at
    /// `now`, recording why; never deletes a record renewed meanwhile (see
    /// `writes::end_if_due`).
    async fn end_if_due(&self, id: &Id, now: UnixSecs) -> session_store::Result<Ending>;

    /// The live sessions of `user_id`, read from the database (see
    /// `owners::of_user`).
    async fn sessions_of(&self, user_id: i64, now: UnixSecs) -> session_store::Result<Vec<Listed>>;

    /// Ends those of `ids` that are sessions of `user_id`, with the reason
    /// `revoked` (see `owners::revoke`); answers the ones it ended.
    async fn revoke(
        &self,
        user_id: i64,
        ids: &[Id],
        now: UnixSecs,
    ) -> session_store::Result<Vec<Id>>;
}
