//! A user's sessions, found and ended by the user id each record carries
//! (OWASP ASVS 3.3.4; the page is `account/`).
//!
//! What it promises:
//! - [`of_user`] finds a user's records through the indexed `user_id`
//!   column (written when a record is created, `writes::create`, and filled
//!   in for older records by [`fill_in_owners`] at start-up and every
//!   minute), never by decoding the whole table, and lists only live
//!   sessions: the policy decides, as for every request, so a record past
//!   its deadline that the sweep has not removed yet is not listed.
//! - [`revoke`] deletes only records of the user it is given, and records
//!   the reason `revoked` in the same transaction, so the device signed out
//!   is told why on its next request. On PostgreSQL the other instances hear
//!   the deletion through the table's trigger (`changes`), as they hear a
//!   sign-out.

use tower_sessions::{session::Id, session_store};

use super::schema::{backend, decode, RECORD_ENDING, SESSIONS_TABLE};
use crate::{
    clock::UnixSecs,
    db::{on_session_pool, SessionPool},
    session::{
        server::{
            policy::{Activity, Policy, Verdict},
            record::{session_data, SessionData},
        },
        EndReason,
    },
};

/// One live session of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: Id,
    pub data: SessionData,
}

/// The live sessions of `user_id` at `now`, the most recently active first.
pub async fn of_user(
    pool: &SessionPool,
    policy: &Policy,
    user_id: i64,
    now: UnixSecs,
) -> session_store::Result<Vec<Listed>> {
    let sql = format!("SELECT id, data FROM {SESSIONS_TABLE} WHERE user_id = $1");
    let rows: Vec<(String, Vec<u8>)> = on_session_pool!(pool, p => sqlx::query_as(&sql)
        .bind(user_id)
        .fetch_all(p)
        .await
        .map_err(backend)?);
    let mut listed: Vec<Listed> = rows
        .into_iter()
        .filter_map(|(id, bytes)| {
            let record = decode(&bytes).ok()?;
            let data = session_data(&record)?;
            let live = matches!(
                policy.verdict(&data, now, Activity::Passive),
                Verdict::Live { .. }
            );
            (live && data.user_id == user_id).then_some(Listed {
                id: id.parse().ok()?,
                data,
            })
        })
        .collect();
    listed.sort_by_key(|session| std::cmp::Reverse(session.data.last_activity));
    Ok(listed)
}

/// Records written without their user's id (by a version before the column
/// existed, or by one still running during a rolling deploy) get it now,
/// so that they are listed and can be ended. At most `batch` per call;
/// answers how many it gave one.
pub async fn fill_in_owners(pool: &SessionPool, batch: i64) -> session_store::Result<u64> {
    let select = format!("SELECT id, data FROM {SESSIONS_TABLE} WHERE user_id IS NULL LIMIT $1");
    let update =
        format!("UPDATE {SESSIONS_TABLE} SET user_id = $1 WHERE id = $2 AND user_id IS NULL");
    on_session_pool!(pool, p => {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(&select)
            .bind(batch)
            .fetch_all(p)
            .await
            .map_err(backend)?;
        let mut filled = 0;
        for (id, bytes) in rows {
            let owner = decode(&bytes)
                .ok()
                .and_then(|record| session_data(&record))
                .map(|data| data.user_id);
            // A record without our data opens nothing and is left alone.
            let Some(owner) = owner else { continue };
            filled += sqlx::query(&update)
                .bind(owner)
                .bind(id)
                .execute(p)
                .await
                .map_err(backend)?
                .rows_affected();
        }
        Ok(filled)
    })
}

/// Ends the sessions `ids` that belong to `user_id`, recording the reason
/// `revoked` with each, all in one transaction; answers those it ended. An
/// id of another user's session, or of one already gone, ends nothing.
pub async fn revoke(
    pool: &SessionPool,
    user_id: i64,
    ids: &[Id],
    now: UnixSecs,
) -> session_store::Result<Vec<Id>> {
    let delete = format!("DELETE FROM {SESSIONS_TABLE} WHERE id = $1 AND user_id = $2");
    on_session_pool!(pool, p => {
        let mut tx = p.begin().await.map_err(backend)?;
        let mut ended = Vec::new();
        for id in ids {
            let deleted = sqlx::query(&delete)
                .bind(id.to_string())
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
            if deleted == 1 {
                sqlx::query(RECORD_ENDING)
                    .bind(id.to_string())
                    .bind(EndReason::Revoked.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                ended.push(*id);
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(ended)
    })
}
